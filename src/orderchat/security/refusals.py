"""NATS reports a refused publish or subscribe asynchronously (a `-ERR 'Permissions
Violation ...'` the client sees in its error callback), while the request that caused it just
waits for a reply that never comes. This log lets a client turn that into a clear, immediate
error instead of retrying until it times out."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client

from orderchat.schemas.errors import ErrorCode, OrderchatError

ErrorCallback = Callable[[Exception], Awaitable[None]]


class RefusalLog:
    def __init__(self, size: int = 64) -> None:
        self._seen: deque[str] = deque(maxlen=size)
        # Set when the server refused the credentials themselves (unknown or revoked key).
        self.credentials_refused = asyncio.Event()
        self.last_refusal = ""

    def callback(self, chained: ErrorCallback | None = None) -> ErrorCallback:
        """An error callback for `nats.connect` that records permission violations (and
        passes every error on to `chained`)."""

        async def on_error(err: Exception) -> None:
            text = str(err)
            if "authorization violation" in text.lower():
                self.last_refusal = text
                self.credentials_refused.set()
            if "permissions violation" in text.lower():
                self._seen.append(text)
            elif chained is None:
                return
            if chained is not None:
                await chained(err)

        return on_error

    def raise_if_refused(self, subject: str) -> None:
        """Raise FORBIDDEN when NATS refused publishing on `subject` (nats-py reports the
        subject lower-cased) or refused the reply subscription."""
        wanted = f'"{subject.lower()}"'
        for text in self._seen:
            lowered = text.lower()
            if wanted in lowered or 'for subscription to "_inbox' in lowered:
                raise OrderchatError(ErrorCode.FORBIDDEN, f"NATS refused this connection's credentials: {text.strip()}")


def with_refusal_log(options: dict[str, Any]) -> tuple[dict[str, Any], RefusalLog]:
    log = RefusalLog()
    return {**options, "error_cb": log.callback(options.get("error_cb"))}, log


async def connect_or_refused(url: str, refusals: RefusalLog, **options: Any) -> Client:
    """`nats.connect`, except that credentials the server refuses end the attempt with a
    clear FORBIDDEN error, where a client set to reconnect forever would retry them forever."""
    nc = Client()
    servers = [u.strip() for u in url.split(",") if u.strip()]
    connecting = asyncio.ensure_future(nc.connect(servers, **options))
    refused = asyncio.ensure_future(refusals.credentials_refused.wait())
    try:
        await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        refused.cancel()
    if connecting.done():
        connecting.result()
        return nc
    connecting.cancel()
    with contextlib.suppress(BaseException):
        await connecting
    with contextlib.suppress(Exception):
        await nc.close()
    raise OrderchatError(ErrorCode.FORBIDDEN, f"NATS refused the credentials: {refusals.last_refusal.strip()}")
