"""Raw nats-py baselines, measured in the same run and on the same server as orderchat.

- `pipeline` (the issue's, the one the targets use): publish to stream A, a relay process
  fetches batches and re-publishes them to stream B, one consumer fetches B.
- `request` (orderchat's own path, without orderchat): core request to a relay process that
  appends to a stream with dedupe and compare-and-set headers and replies after the PubAck;
  one filtered durable consumer per recipient fetches the stream (fan-out on read), stored in
  memory as orderchat's device inboxes are.

Producers use the same concurrency as orderchat's senders (one sequential sender per pair),
the same message count and the stored size of an orderchat chat message."""

from __future__ import annotations

import asyncio
import os
import struct
import time
from pathlib import Path

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from . import raw_names
from .load import FETCH_TIMEOUTS, Arrivals, paced, shares, stop_tasks
from .processes import CpuMeter, relay_process
from .stats import Latency, Throughput

INDEX = struct.Struct(">Q")
ACK_WAIT = 30.0


def payload(index: int, size: int) -> bytes:
    return INDEX.pack(index) + b"x" * max(0, size - INDEX.size)


def index_of(data: bytes) -> int:
    return INDEX.unpack_from(data)[0]


async def _stream(js: JetStreamContext, name: str, subjects: str) -> None:
    try:
        await js.delete_stream(name)
    except Exception:  # noqa: BLE001 - first use on this server
        pass
    await js.add_stream(
        StreamConfig(name=name, subjects=[subjects], storage=StorageType.FILE, duplicate_window=900.0, allow_direct=True)
    )


async def _consumer(
    js: JetStreamContext,
    stream: str,
    durable: str,
    subject: str | None = None,
    policy: DeliverPolicy = DeliverPolicy.ALL,
    in_memory: bool = False,
) -> None:
    await js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name=durable,
            deliver_policy=policy,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT,
            max_ack_pending=20_000,
            filter_subject=subject,
            mem_storage=in_memory or None,
        ),
    )


async def _consume(js: JetStreamContext, stream: str, durable: str, batch: int, on_message) -> None:
    sub = await js.pull_subscribe_bind(durable=durable, stream=stream)
    try:
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=1.0)
            except FETCH_TIMEOUTS:
                continue
            for msg in msgs:
                on_message(msg)
                await msg.ack()
    finally:
        await sub.unsubscribe()


class RawBaseline:
    """One raw pipeline on one server: set up, then throughput and latency runs."""

    def __init__(self, url: str, mode: str, pairs: int, size: int, batch: int, log_dir: Path, server_pid: int) -> None:
        self.url, self.mode, self.pairs, self.size, self.batch = url, mode, pairs, size, batch
        self.log_dir = log_dir
        self.server_pid = server_pid
        self._run = 0

    async def __aenter__(self) -> "RawBaseline":
        self.producer = await nats.connect(self.url, name="bench-raw-producer")
        self.consumer = await nats.connect(self.url, name="bench-raw-consumer")
        self.js = self.producer.jetstream()
        if self.mode == "pipeline":
            await _stream(self.js, raw_names.STREAM_A, raw_names.SUBJECTS_A)
            await _stream(self.js, raw_names.STREAM_B, raw_names.SUBJECTS_B)
            await _consumer(self.js, raw_names.STREAM_A, raw_names.RELAY_CONSUMER)
        else:
            await _stream(self.js, raw_names.STREAM_CONV, raw_names.SUBJECTS_CONV)
        self.relay = await relay_process(self.url, self.mode, self.batch, self.log_dir).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.relay.astop()
        await self.producer.drain()
        await self.consumer.drain()

    async def _consumers(self, on_message) -> list[asyncio.Task]:
        """Fresh consumers for each run (starting at the present), so that a pull request
        left open by the previous run's consumer cannot hold this run's messages."""
        cjs = self.consumer.jetstream()
        if self.mode == "pipeline":
            plan = [(raw_names.STREAM_B, f"{raw_names.SINK_CONSUMER}_{self._run}", None)]
        else:
            plan = [
                (raw_names.STREAM_CONV, f"{raw_names.recipient_consumer(k)}_{self._run}", raw_names.conv(k))
                for k in range(self.pairs)
            ]
        for stream, durable, subject in plan:
            await _consumer(self.js, stream, durable, subject, DeliverPolicy.NEW, in_memory=self.mode == "request")
        return [asyncio.create_task(_consume(cjs, stream, durable, self.batch, on_message)) for stream, durable, _ in plan]

    async def _send(self, key: int, index: int) -> None:
        data = payload(index, self.size)
        if self.mode == "pipeline":
            await self.js.publish(raw_names.a(key), data, stream=raw_names.STREAM_A)
        else:
            msg_id = f"r{self._run}-{index}"
            await self.producer.request(raw_names.request(key), data, timeout=10, headers={"Nats-Msg-Id": msg_id})

    async def throughput(self, messages: int, timeout: float = 300.0) -> tuple[Throughput, dict[str, float]]:
        self._run += 1
        arrivals = Arrivals(messages)
        consumers = await self._consumers(lambda msg: arrivals.add())
        meter = CpuMeter({"relay": self.relay.pid, "nats-server": self.server_pid, "load-generator": os.getpid()}).start()
        started = time.perf_counter()

        async def sender(key: int, count: int, first: int) -> None:
            for i in range(count):
                await self._send(key, first + i)

        counts = shares(messages, self.pairs)
        firsts = [sum(counts[:k]) for k in range(self.pairs)]
        try:
            await asyncio.gather(*(sender(k, counts[k], firsts[k]) for k in range(self.pairs)))
            await arrivals.wait(timeout)
        finally:
            await stop_tasks(consumers)
        cpu = meter.stop()
        return Throughput(messages, arrivals.finished_at - started, messages), cpu

    async def latency(self, rate: float, seconds: float, timeout: float = 60.0) -> Latency:
        self._run += 1
        count = max(1, int(rate * seconds))
        scheduled = [0.0] * count
        millis: list[float] = []
        arrivals = Arrivals(count)

        def arrived(msg) -> None:
            millis.append((time.perf_counter() - scheduled[index_of(msg.data)]) * 1000)
            arrivals.add()

        consumers = await self._consumers(arrived)

        async def fire(i: int, due: float) -> None:
            scheduled[i] = due
            await self._send(i % self.pairs, i)

        try:
            await paced(rate, count, fire)
            try:
                await arrivals.wait(timeout)
            except RuntimeError:
                pass  # reported as lost
        finally:
            await stop_tasks(consumers)
        return Latency.of(rate, millis, count)
