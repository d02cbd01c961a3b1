"""The live feed (typing) of core NATS events addressed to this user."""

from __future__ import annotations

import asyncio
import time

from nats.aio.subscription import Subscription
from pydantic import TypeAdapter, ValidationError

from orderchat.schemas.receipts import LiveEvent, TypingEvent

_LIVE_EVENT = TypeAdapter(LiveEvent)


class TypingTracker:
    """Who is typing where: an indicator lasts `expires_in` seconds after the last event."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, str], float] = {}

    def seen(self, event: TypingEvent) -> None:
        self._until[(event.conv, event.user)] = time.monotonic() + event.expires_in

    def typing_in(self, conv: str) -> list[str]:
        now = time.monotonic()
        for key in [k for k, until in self._until.items() if until <= now]:
            del self._until[key]
        return sorted(user for (c, user) in self._until if c == conv)


class LiveFeed:
    """Live events for this user over core NATS (never stored: missed while away = gone).

        async with client.live() as live:
            async for event in live: ...        # TypingEvent
            live.typing.typing_in(conv)          # who is typing now
    """

    def __init__(self, nc, subject: str) -> None:
        self.nc = nc
        self.subject = subject
        self.typing = TypingTracker()
        self._sub: Subscription | None = None

    async def __aenter__(self) -> "LiveFeed":
        self._sub = await self.nc.subscribe(self.subject)
        await self.nc.flush()  # the subscription is registered before anyone types
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # noqa: BLE001 - the connection may be closed already
                pass

    def __aiter__(self) -> "LiveFeed":
        return self

    async def __anext__(self) -> TypingEvent:
        assert self._sub is not None
        while True:
            msg = await self._sub.next_msg(timeout=None)
            try:
                event = _LIVE_EVENT.validate_json(msg.data)
            except ValidationError:
                continue  # a newer server's event kind this client does not know
            if isinstance(event, TypingEvent):
                self.typing.seen(event)
            return event

    async def next(self, timeout: float) -> TypingEvent:
        return await asyncio.wait_for(self.__anext__(), timeout)
