"""Stream consumers (services.framework.stream_consumer): a consumer process SIGKILLed
mid-batch gets its unacknowledged messages redelivered and handles them idempotently; a
poison message ends in the DLQ stream after its max deliveries while the rest flows."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from pydantic import BaseModel

from orderchat.schemas import names
from orderchat.services.framework.context import ServiceContext
from orderchat.services.framework.dead_letters import HDR_CODE, HDR_SUBJECT
from orderchat.services.framework.stream_consumer import StreamConsumer

from . import stream_worker as worker
from .harness import ServiceProcess, Tally, new_server, provisioned, read_subject, wait_until

ITEMS = 3000


async def work_streams(js: JetStreamContext) -> None:
    await js.add_stream(StreamConfig(name=worker.WORK_STREAM, subjects=["oc.*.fault.work"], duplicate_window=900))
    await js.add_stream(StreamConfig(name=worker.EFFECT_STREAM, subjects=["oc.*.fault.effect"], duplicate_window=900))


async def stored_count(js: JetStreamContext, stream: str) -> int:
    return (await js.stream_info(stream)).state.messages


async def test_consumer_killed_mid_batch_redelivers_and_handles_once(tmp_path: Path, fault_tenant: str, report) -> None:
    tally = Tally("stream consumer SIGKILLed mid-batch, restarted")
    server = new_server(tmp_path / "nats").start()
    admin = await provisioned(server.url)
    js = admin.jetstream(timeout=10)
    journal = tmp_path / "journal.txt"
    proc = ServiceProcess.python_module(
        "tests.faults.stream_worker", [server.url, fault_tenant, str(journal)], tmp_path / "worker.log", b"consuming"
    )
    try:
        await work_streams(js)
        subject = worker.work_subject(fault_tenant)
        acks = await asyncio.gather(
            *(js.publish(subject, f"item-{i}".encode(), headers={"Nats-Msg-Id": f"item-{i}"}) for i in range(ITEMS))
        )
        tally.sent = ITEMS
        tally.acknowledged = sum(1 for a in acks if not a.duplicate)
        await proc.start()
        assert await wait_until(lambda: journal.exists() and journal.stat().st_size > 0, 30)
        await wait_until(lambda: sum(1 for _ in journal.open()) >= ITEMS // 3, 60)
        await proc.kill()
        tally.notes["handled_before_kill"] = sum(1 for _ in journal.open())
        await proc.start()
        done = time.monotonic()
        effects_stored = 0
        while time.monotonic() - done < 60:
            effects_stored = await stored_count(js, worker.EFFECT_STREAM)
            if effects_stored >= ITEMS:
                break
            await asyncio.sleep(0.2)
        await proc.stop()

        effects = await read_subject(js, worker.EFFECT_STREAM, worker.effect_subject(fault_tenant))
        bodies = Counter(m.data.decode() for m in effects)
        handled = [tuple(map(int, line.split())) for line in journal.read_text().splitlines()]
        per_seq = Counter(seq for seq, _ in handled)
        tally.received = len(bodies)
        tally.lost = len({f"item-{i}" for i in range(ITEMS)} - set(bodies))
        tally.duplicates = sum(n - 1 for n in bodies.values() if n > 1)
        tally.notes["redelivered"] = sum(1 for _, delivered in handled if delivered > 1)
        tally.notes["handled_twice"] = sum(1 for n in per_seq.values() if n > 1)
        info = await js.consumer_info(worker.WORK_STREAM, worker.DURABLE)
        tally.notes["consumer_pending"] = info.num_pending + info.num_ack_pending
        report(tally)

        assert tally.acknowledged == ITEMS
        assert tally.lost == 0 and tally.duplicates == 0
        assert tally.received == ITEMS and effects_stored == ITEMS
        assert tally.notes["redelivered"] > 0, "the kill did not land inside a batch"
        assert tally.notes["consumer_pending"] == 0
    finally:
        await proc.kill()
        await admin.close()
        server.stop()


class Work(BaseModel):
    n: int


async def test_poison_message_ends_in_dlq_after_max_deliveries(tmp_path: Path, fault_tenant: str, report) -> None:
    tally = Tally("poison message parked after max deliveries")
    server = new_server(tmp_path / "nats").start()
    admin = await provisioned(server.url)
    js = admin.jetstream(timeout=10)
    calls: Counter[int] = Counter()
    order: list[int] = []

    async def handle(work: Work, msg: Msg) -> None:
        calls[work.n] += 1
        if work.n < 0:
            raise RuntimeError(f"cannot apply work item {work.n}")
        order.append(work.n)

    consumer = StreamConsumer(
        ServiceContext(nc=admin, js=js), "faultworker", worker.spec(fault_tenant, max_deliver=3), handle, model=Work
    )
    try:
        await work_streams(js)
        await consumer.start()
        subject = worker.work_subject(fault_tenant)
        bad = {b'{"n": -1}': "internal", b"not json {": "bad_json", b'{"n": "many"}': "invalid"}
        payloads = [f'{{"n": {i}}}'.encode() for i in range(20)] + list(bad) + [f'{{"n": {i}}}'.encode() for i in range(20, 40)]
        for data in payloads:
            await js.publish(subject, data)
        tally.sent = tally.acknowledged = len(payloads)
        dlq = names.dlq(fault_tenant, "faultworker")
        assert await wait_until(lambda: len(order) == 40 and consumer.parked == 3, 30), (order, consumer.parked)
        await js.publish(subject, b'{"n": 40}')  # a normal message afterwards still flows
        assert await wait_until(lambda: len(order) == 41, 10)
        tally.sent += 1
        tally.acknowledged += 1

        parked = await read_subject(js, names.STREAM_DLQ, dlq)
        codes = {m.data: (m.headers or {}).get(HDR_CODE) for m in parked}
        tally.received = len(order) + len(parked)
        tally.lost = tally.acknowledged - tally.received
        tally.duplicates = len(order) - len(set(order)) + len(parked) - len(codes)
        tally.notes["poison_deliveries"] = calls[-1]
        tally.notes["parked"] = len(parked)
        report(tally)

        assert order == list(range(41)), "good messages were not handled once each, in order"
        assert calls[-1] == 3, "the poison message was not tried exactly max_deliver times"
        assert codes == bad
        assert all((m.headers or {}).get(HDR_SUBJECT) == subject for m in parked)
        assert tally.lost == 0 and tally.duplicates == 0
        info = await js.consumer_info(worker.WORK_STREAM, worker.DURABLE)
        assert info.num_pending == 0 and info.num_ack_pending == 0
    finally:
        await consumer.stop()
        await admin.close()
        server.stop()
