"""Per (conversation, user) cursors in KV, moved forward by compare-and-set on the revision.

A cursor never moves back: a late or duplicate receipt finds the cursor at or past its
position and changes nothing. The key's history (64 revisions) is the cursor's recent moves,
which is where per-message delivered / read times come from."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Generic, TypeVar

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from orderchat.schemas import names
from orderchat.schemas.receipts import DeliveredCursor, ReadCursor
from orderchat.services.framework import kv_snapshot

C = TypeVar("C", ReadCursor, DeliveredCursor)
CAS_ATTEMPTS = 50

# Called with (previous up_to, new cursor) before the new cursor is written, so whatever it
# announces is out before the cursor moves: a crash in between repeats the announcement on
# the client's retry (deduplicated by message id) instead of losing it.
BeforeMove = Callable[[int, C], Awaitable[None]]


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Timeline:
    """One member's cursor moves in ascending order: (up_to, time it got there)."""

    ups: list[int] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)

    def add(self, up_to: int, ts: datetime) -> None:
        if self.ups and up_to <= self.ups[-1]:
            return
        self.ups.append(up_to)
        self.times.append(ts)

    @property
    def top(self) -> int:
        return self.ups[-1] if self.ups else 0

    def reached(self, seq: int) -> datetime | None:
        """When the cursor first passed `seq` (the oldest retained move at or past it)."""
        i = bisect.bisect_left(self.ups, seq)
        return self.times[i] if i < len(self.ups) else None


# Cursors this process wrote or read last, with their KV revision (bounded; cleared when full).
KNOWN_CURSORS = 100_000


class CursorStore(Generic[C]):
    """Cursors live in KV; the last revision this process saw of each is kept, and a move is
    tried straight against it (a compare-and-set, so a cursor moved elsewhere meanwhile fails
    the write and is read again): one KV write per move instead of a read and a write. A
    receipt that would not move the remembered cursor is checked against the bucket."""

    def __init__(self, kv: KeyValue, model: type[C]) -> None:
        self.kv = kv
        self.model = model
        self._known: dict[str, tuple[C, int]] = {}

    def _remember(self, key: str, cursor: C, revision: int) -> None:
        known = self._known.get(key)
        if known is not None and known[1] > revision:
            return  # a read that started before a newer write finished after it
        if len(self._known) >= KNOWN_CURSORS:
            self._known.clear()
        self._known[key] = (cursor, revision)

    async def get(self, tenant: str, conv: str, user: str) -> tuple[C | None, int]:
        try:
            entry = await self.kv.get(names.kv_key(tenant, conv, user))
        except KeyNotFoundError:
            return None, 0
        if not entry.value:
            return None, 0
        return self.model.model_validate_json(entry.value), entry.revision

    async def advance(
        self,
        tenant: str,
        conv: str,
        user: str,
        up_to: int,
        before_move: BeforeMove | None = None,
        **extra: object,
    ) -> tuple[C, bool]:
        """Move the cursor to `up_to` unless it is already there or beyond.
        Returns the cursor as it stands afterwards and whether this call moved it."""
        key = names.kv_key(tenant, conv, user)
        known = self._known.get(key)
        for _ in range(CAS_ATTEMPTS):
            trusted = known is not None
            if known is not None:
                current, revision = known
                known = None  # trusted for one try: a failed write reads the cursor again
            else:
                current, revision = await self.get(tenant, conv, user)
                if current is not None:
                    self._remember(key, current, revision)
            if current is not None and current.up_to >= up_to:
                if trusted:
                    # "Already there" is answered from the bucket, not from memory: an
                    # async-persisted bucket may have lost recent writes in a server crash.
                    continue
                return current, False
            new = self.model(conv=conv, user=user, up_to=up_to, ts=now(), **extra)
            if before_move is not None:
                await before_move(current.up_to if current else 0, new)
            data = new.model_dump_json(exclude_none=True).encode()
            try:
                if revision:
                    written = await self.kv.update(key, data, last=revision)
                else:
                    written = await self.kv.create(key, data)
            except KeyWrongLastSequenceError:
                continue  # another instance or device moved it: look again
            self._remember(key, new, written)
            return new, True
        raise RuntimeError(f"gave up moving cursor {key!r} after {CAS_ATTEMPTS} conflicting writers")

    async def timelines(self, tenant: str, conv: str) -> dict[str, Timeline]:
        """Every member's cursor moves in one conversation: one read of the conversation's
        keys with their history, however many members it has."""
        snap = await kv_snapshot.snapshot(self.kv, f"{names.kv_key(tenant, conv)}.*", history=True)
        found: dict[str, Timeline] = {}
        for entry in snap.entries:
            if not entry.value:
                continue
            cursor = self.model.model_validate_json(entry.value)
            found.setdefault(cursor.user, Timeline()).add(cursor.up_to, cursor.ts)
        return found

    async def positions(self, tenant: str, user: str, convs: list[str]) -> dict[str, int]:
        """The user's cursor in each of `convs` (0 where none), one direct get each, in parallel."""
        found = await asyncio.gather(*(self.get(tenant, c, user) for c in convs))
        return {c: (cursor.up_to if cursor else 0) for c, (cursor, _) in zip(convs, found)}
