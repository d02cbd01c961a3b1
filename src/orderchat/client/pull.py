"""Pull requests to a JetStream consumer, each answered on a reply subject of its own.

nats-py's `fetch` sends all pull requests of a subscription to one reply subject and gives up
at the moment the server expires its request (expires = timeout - 0.1 ms). On an idle
consumer the server's "408 Request Timeout" then often lands just after the client gave up,
during the next fetch, which takes it for the answer to its own no-wait request and sends a
second, lingering one. From then on two requests wait on the server: the next message goes
to the older one, which the server does not close with "404 No Messages" as it closes a
no-wait request, so the fetch holds a message it has until that request expires (up to a
whole wait; seen as order cards reaching the supplier's inbox hundreds of ms late, a few
per run, after a quiet spell). Here every fetch is one no-wait request with a reply subject
of its own and waits a little longer than the server, so a late end of an earlier request is
recognised and ignored, and no request is left behind to take messages."""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.js.api import Header, StatusCode
from nats.js.errors import APIError

from orderchat.schemas import names

# How long past its expiry a request's own end may take to come before it counts as lost
# (a reconnect in between: the server forgot the request, or its answer went nowhere).
GRACE = 1.0


class PullRequests:
    """Fetches from one consumer of one stream; `open()` first, `close()` at the end. A
    reader uses either `fetch` (a batch at a time) or `next` (a message at a time), not both."""

    def __init__(self, nc: Client, stream: str, consumer: str) -> None:
        self.nc = nc
        self.stream = stream
        self.consumer = consumer
        self.subject = names.js_consumer_next(stream, consumer)
        self._sub: Subscription | None = None
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()
        self.prefix = ""  # request n is answered on <prefix>.<n>
        self._n = 0
        # The request `next()` keeps open: its reply subject, messages it may still bring,
        # and when its end is overdue.
        self._open: str | None = None
        self._open_left = 0
        self._open_until = 0.0

    async def open(self) -> PullRequests:
        # Under the connection's inbox prefix, which the user's permissions allow. One queue
        # for every subscription: what reached an old one before it ended is still handed out.
        self.prefix = self.nc.new_inbox()
        self._open = None
        self._sub = await self.nc.subscribe(f"{self.prefix}.*", cb=self._queue.put)
        return self

    async def close(self) -> None:
        """Stop reading. Messages that came and were never taken are handed back (nak), so
        the server redelivers them now rather than after the consumer's ack wait: `next()`
        keeps a request open between calls, and what it brought after the last call is here."""
        await self._unsubscribe()
        await nak_all(self._untaken())

    def _untaken(self) -> list[Msg]:
        """The messages that came and were not taken (statuses dropped)."""
        left: list[Msg] = []
        while not self._queue.empty():
            msg = self._queue.get_nowait()
            if not (msg.headers or {}).get(Header.STATUS):
                left.append(msg)
        return left

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            await sub.unsubscribe()

    async def fetch(self, batch: int, wait: float) -> list[Msg]:
        """Up to `batch` messages: those the consumer has now, else the first to come
        within `wait` seconds (with any that came along); [] when none came. `wait=0` asks
        only for what the consumer has now."""
        if self._sub is None:
            raise RuntimeError("PullRequests.fetch before open()")
        self._n += 1
        reply = f"{self.prefix}.{self._n}"
        # no_wait with expires: the server answers at once when it has messages and ends the
        # request ("404") as soon as it runs out, else waits for the first one until expiry.
        request: dict[str, object] = {"batch": batch, "no_wait": True}
        if wait > 0:
            request["expires"] = int(wait * 1e9)
        await self.nc.publish(self.subject, json.dumps(request).encode(), reply=reply)
        msgs: list[Msg] = []
        deadline = asyncio.get_running_loop().time() + wait + GRACE
        while len(msgs) < batch:  # a filled batch ends the request without a status
            try:
                msg = await self._take(deadline)
            except TimeoutError:
                if msgs:
                    return msgs
                raise
            status = (msg.headers or {}).get(Header.STATUS)
            if not status:
                msgs.append(msg)
            elif msg.subject != reply or status == StatusCode.CONTROL_MESSAGE:
                continue  # an earlier request's end, or a heartbeat
            elif status in (StatusCode.NO_MESSAGES, StatusCode.REQUEST_TIMEOUT) or msgs:
                return msgs
            else:
                raise _failure(msg, status)
        return msgs

    async def next(self, batch: int, wait: float) -> Msg | None:
        """The next message, as soon as the consumer has it; None when none came within
        `wait` seconds. One request for up to `batch` messages stays open across calls (not
        one request per message, nor a "no messages" answer after each), and a new one goes
        out only once it has ended: filled, or expired after `wait` seconds."""
        if self._sub is None:
            raise RuntimeError("PullRequests.next before open()")
        loop = asyncio.get_running_loop()
        if self._open is None:
            self._n += 1
            self._open, self._open_left = f"{self.prefix}.{self._n}", batch
            self._open_until = loop.time() + wait + GRACE
            request = {"batch": batch, "expires": int(wait * 1e9)}
            await self.nc.publish(self.subject, json.dumps(request).encode(), reply=self._open)
        while True:
            try:
                msg = await self._take(self._open_until)
            except TimeoutError:
                self._open = None  # its end is lost (a reconnect); the next call asks anew
                raise
            status = (msg.headers or {}).get(Header.STATUS)
            if not status:
                # A message carries its stream subject, not the request's: it counts against
                # the open request (an ended one brings nothing after its end).
                self._open_left -= 1
                if self._open_left <= 0:  # filled: the server ends it without a status
                    self._open = None
                return msg
            if msg.subject != self._open or status == StatusCode.CONTROL_MESSAGE:
                continue  # an earlier request's end, or a heartbeat
            self._open = None
            if status in (StatusCode.NO_MESSAGES, StatusCode.REQUEST_TIMEOUT):
                return None
            raise _failure(msg, status)

    async def _take(self, until: float) -> Msg:
        """What arrives next on any of this reader's reply subjects, by loop time `until`.
        Past it the answer is lost and the request may still wait on the server: a fresh
        subscription leaves it no one to deliver to (then TimeoutError)."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
        try:
            async with asyncio.timeout(until - asyncio.get_running_loop().time()):
                return await self._queue.get()
        except TimeoutError:
            await self._renew()
            raise

    async def _renew(self) -> None:
        try:
            await self._unsubscribe()  # what already came stays queued and is handed out
        except Exception:  # noqa: BLE001 - the connection may be gone; a new one has no such sub
            pass
        await self.open()


async def nak_all(msgs: list[Msg]) -> None:
    for msg in msgs:
        try:
            await msg.nak()
        except Exception:  # noqa: BLE001 - the connection may be gone: then the ack wait redelivers
            return


def _failure(msg: Msg, status: str) -> Exception:
    if status == StatusCode.SERVICE_UNAVAILABLE:  # no responders: no such consumer (yet)
        return NoRespondersError()
    return APIError.from_msg(msg)
