"""Fetching from a JetStream pull subscription so that a loop told to stop does stop.

Python 3.11's asyncio.wait_for (inside nats-py's fetch) can swallow a cancellation that arrives
as the wait completes (fixed in 3.12). A consumer loop that fetches again after such a fetch
never ends, and whoever awaits its cancelled task waits forever: seen as services that would
not stop and a benchmark reader that hung. The task still counts the cancellation request
(`Task.cancelling()`), so it is raised here, after the fetch, either way."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.msg import Msg


def raise_if_cancelling() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def fetch(sub: Any, batch: int, timeout: float) -> list[Msg]:
    try:
        msgs = await sub.fetch(batch, timeout=timeout)
    except BaseException:
        raise_if_cancelling()
        raise
    raise_if_cancelling()
    return msgs
