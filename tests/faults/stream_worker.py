"""A stand-alone process running one `StreamConsumer` (the fault tests SIGKILL it mid-batch).

Each work item's effect is a message on `oc.<t>.fault.effect` carrying the work item's stream
sequence as its Nats-Msg-Id, so handling a redelivered item again stores nothing twice; every
handling is also appended to a journal file (stream seq, delivery count), which shows the
redeliveries the crash caused.

    python -m tests.faults.stream_worker NATS_URL TENANT JOURNAL"""

from __future__ import annotations

import asyncio
import os
import sys

import nats
from nats.aio.msg import Msg

from orderchat.services.framework.context import ServiceContext
from orderchat.services.framework.stream_consumer import ConsumerSpec, StreamConsumer

WORK_STREAM = "FAULT_WORK"
EFFECT_STREAM = "FAULT_EFFECTS"
DURABLE = "fault_worker"


def work_subject(tenant: str) -> str:
    return f"oc.{tenant}.fault.work"


def effect_subject(tenant: str) -> str:
    return f"oc.{tenant}.fault.effect"


def spec(tenant: str, max_deliver: int = 5) -> ConsumerSpec:
    return ConsumerSpec(
        stream=WORK_STREAM,
        durable=DURABLE,
        filter_subjects=[work_subject(tenant)],
        max_deliver=max_deliver,
        ack_wait=3.0,
        retry_delays=(0.1,),
        batch=100,
        fetch_wait=0.5,
    )


async def main(url: str, tenant: str, journal_path: str) -> None:
    nc = await nats.connect(url, name="orderchat-fault-worker", max_reconnect_attempts=-1, reconnect_time_wait=0.25)
    js = nc.jetstream(timeout=10)
    journal = open(journal_path, "a", buffering=1)  # noqa: SIM115 - line-buffered, lives as long as the process

    async def apply(data: bytes, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        await asyncio.sleep(0.002)  # some work, so a SIGKILL lands inside a batch
        await js.publish(effect_subject(tenant), data, headers={"Nats-Msg-Id": f"effect-{seq}"})
        journal.write(f"{seq} {msg.metadata.num_delivered}\n")

    consumer = StreamConsumer(ServiceContext(nc=nc, js=js), "faultworker", spec(tenant), apply)
    await consumer.start()
    print("consuming", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await consumer.stop()
    await nc.drain()
    journal.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main(*sys.argv[1:4]))
