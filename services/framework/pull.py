"""Fetching from a JetStream consumer: one pull request per fetch, and a loop told to stop
does stop.

The services' consumers fetch through the client's `PullRequests` (see its docstring): nats-py's
`fetch` could leave a lingering pull request behind after a quiet spell, which then held the
next message until it expired, and it sends two requests per fetch on a quiet consumer.

Python 3.11's asyncio waits with a time limit can swallow a cancellation that arrives as the
wait completes (fixed in 3.12). A consumer loop that fetches again after such a fetch
never ends, and whoever awaits its cancelled task waits forever: seen as services that would
not stop and a benchmark reader that hung. The task still counts the cancellation request
(`Task.cancelling()`), so it is raised here, after the fetch, either way."""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from orderchat.client.pull import PullRequests

__all__ = ["PullRequests", "bind", "fetch", "raise_if_cancelling", "rebind"]


def raise_if_cancelling() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def bind(js: JetStreamContext, stream: str, consumer: str) -> PullRequests:
    """Pull requests to an existing consumer (durable or ephemeral), on the connection of
    `js` (nats-py keeps it as `_nc`; services are handed the JetStream context)."""
    return await PullRequests(js._nc, stream, consumer).open()


async def rebind(js: JetStreamContext, stream: str, consumer: str, old: PullRequests | None) -> PullRequests:
    """A fresh subscription to the consumer, then the old one closed (quietly: it may be gone
    with its connection). If binding fails, that error is raised and `old` is left as it was,
    still usable for the next attempt."""
    fresh = await bind(js, stream, consumer)
    if old is not None:
        with contextlib.suppress(Exception):
            await old.close()
    return fresh


async def fetch(sub: PullRequests, batch: int, timeout: float) -> list[Msg]:
    """Up to `batch` messages, the first within `timeout` seconds; [] when none came."""
    try:
        msgs = await sub.fetch(batch, timeout)
    except BaseException:
        raise_if_cancelling()
        raise
    raise_if_cancelling()
    return msgs
