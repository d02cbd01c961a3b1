"""The raw nats-py stand-in for orderchat's services, run in its own process.

`--mode pipeline` (the issue's baseline): fetch batches from stream A, re-publish each message
to stream B (asynchronous publishes, all PubAcks awaited), then ack the batch.

`--mode request` (orderchat's own path without orderchat): answer core requests, each in its
own task, by appending the payload to a stream with the same headers delivery sets (message
id for dedupe, expected last subject sequence for the per-conversation order) and replying
once the PubAck is in."""

from __future__ import annotations

import argparse
import asyncio
import signal

import nats
from nats.aio.msg import Msg

from orderchat.runtime import tuning

from . import raw_names
from .load import FETCH_TIMEOUTS

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
    uvloop = None  # type: ignore[assignment]


async def run_pipeline(nc: nats.NATS, batch: int, stop: asyncio.Event) -> None:
    js = nc.jetstream()
    sub = await js.pull_subscribe_bind(durable=raw_names.RELAY_CONSUMER, stream=raw_names.STREAM_A)
    tuning.settle()  # as `orderchat serve` does
    print("ready", flush=True)
    while not stop.is_set():
        try:
            msgs = await sub.fetch(batch, timeout=0.5)
        except FETCH_TIMEOUTS:
            continue
        acks = [
            await js.publish_async(raw_names.b(msg.subject.rsplit(".", 1)[1]), msg.data) for msg in msgs
        ]
        await asyncio.gather(*acks)
        for msg in msgs:
            await msg.ack()


async def run_request(nc: nats.NATS, stop: asyncio.Event) -> None:
    js = nc.jetstream()
    tails: dict[str, int] = {}
    locks: dict[str, asyncio.Lock] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def append(msg: Msg) -> None:
        key = msg.subject.rsplit(".", 1)[1]
        subject = raw_names.conv(key)
        lock = locks.setdefault(subject, asyncio.Lock())
        async with lock:
            headers = {
                "Nats-Msg-Id": (msg.headers or {}).get("Nats-Msg-Id", ""),
                "Nats-Expected-Last-Subject-Sequence": str(tails.get(subject, 0)),
            }
            ack = await js.publish(subject, msg.data, headers=headers, stream=raw_names.STREAM_CONV)
            tails[subject] = ack.seq
        await nc.publish(msg.reply, b'{"ok":true,"seq":%d}' % ack.seq)

    async def dispatch(msg: Msg) -> None:
        task = asyncio.create_task(append(msg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    await nc.subscribe(raw_names.REQUEST_PATTERN, queue=raw_names.REQUEST_QUEUE, cb=dispatch)
    tuning.settle()  # as `orderchat serve` does
    print("ready", flush=True)
    await stop.wait()


async def main(url: str, mode: str, batch: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    nc = await nats.connect(url, name=f"orderchat-bench-relay-{mode}")
    try:
        if mode == "pipeline":
            await run_pipeline(nc, batch, stop)
        else:
            await run_request(nc, stop)
    finally:
        await nc.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=("pipeline", "request"), required=True)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    coro = main(args.url, args.mode, args.batch)
    if uvloop is not None:
        uvloop.run(coro)
    else:
        asyncio.run(coro)


if __name__ == "__main__":
    cli()
