"""Reading a run of stored messages in one round trip: a batched direct get (nats-server 2.11+),
answered as a stream of replies that ends with an end-of-batch status. nats-py reads one
message per request only."""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client
from nats.aio.msg import Msg

from orderchat.schemas import names

HDR_SEQUENCE = "Nats-Sequence"
HDR_SUBJECT = "Nats-Subject"


async def batch_get(
    nc: Client, stream: str, from_seq: int, count: int, subject: str | None = None, timeout: float = 5.0
) -> list[Msg]:
    """Up to `count` messages stored at or after stream sequence `from_seq` (only `subject`'s,
    if given), ascending. Each carries its stream sequence and subject in the headers
    `Nats-Sequence` and `Nats-Subject`. The server may end a batch early (a size limit):
    ask again from past the last one."""
    inbox = nc.new_inbox()
    done = asyncio.get_running_loop().create_future()
    found: list[Msg] = []

    async def collect(msg: Msg) -> None:
        if (msg.headers or {}).get("Status") is None:
            found.append(msg)
            if len(found) >= count and not done.done():
                done.set_result(None)
        elif not done.done():  # 204 end of batch, 404 nothing (more), 408 ...
            done.set_result(None)

    request: dict[str, object] = {"seq": max(1, from_seq), "batch": count}
    if subject is not None:
        request["next_by_subj"] = subject
    sub = await nc.subscribe(inbox, cb=collect)
    try:
        await nc.publish(names.js_direct_get(stream), json.dumps(request).encode(), reply=inbox)
        await asyncio.wait_for(done, timeout)
    finally:
        await sub.unsubscribe()
    return found
