"""A sender has read what they themselves sent: their read cursor follows their own messages.

Without this, a user's own messages would count as unread for them until they marked the
conversation read. Delivery moves the cursor as it appends, at most once per FLUSH_EVERY per
(conversation, sender): a busy conversation costs a few cursor writes a second, not one per
message (the conversation list shows a conversation whose last message is the user's own as
read meanwhile). Each pair's write falls due on its own clock, a FLUSH_EVERY after its first
unwritten message, so the writes are spread out rather than bunched.

Why here and not in the receipts service, which did it until 7 Dec 2026 by reading every
message back from CHAT through a consumer of its own: that was one more delivery per message
for nats-server and the services, and its quarter-second batches (a few hundred messages
parsed and a few dozen cursors written in one go) held chat requests up. Measured at 1,000
one-to-one msgs/s under `sync_interval: always`, delivery and receipts alone: p99 5.9-6.4 ms
with that consumer, 3.3-4.9 ms without (bench/README.md).

Cursors only move forward (compare-and-set on max), so several delivery instances, or a
receipt that got there first, are harmless. What is owed when delivery stops is written before
it stops; a crash loses at most the last FLUSH_EVERY of moves, which the sender's next message
or read covers, as a power cut may lose a receipt cursor's last moments (its bucket is stored
with async persistence)."""

from __future__ import annotations

import asyncio
import logging

from orderchat.schemas.receipts import ReadCursor
from orderchat.services.receipts.cursors import CursorStore

log = logging.getLogger(__name__)

FLUSH_EVERY = 0.25  # seconds between two moves of one sender's cursor in one conversation
MAX_ATTEMPTS = 5  # a write that keeps failing (KV unreachable) is given up after this many tries

Key = tuple[str, str, str]  # tenant, conversation, sender


class OwnReads:
    def __init__(self, cursors: CursorStore[ReadCursor]) -> None:
        self.cursors = cursors
        self._owed: dict[Key, int] = {}  # the highest sequence each pair sent and is not written yet
        self._tries: dict[Key, int] = {}
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self._closing = False

    def sent(self, tenant: str, conv: str, sender: str, seq: int) -> None:
        """`sender` appended message `seq` to `conv` (and is a member of it)."""
        key = (tenant, conv, sender)
        if seq <= self._owed.get(key, 0):
            return
        self._owed[key] = seq
        if key not in self._timers and not self._closing:  # closing writes all that is owed
            self._timers[key] = asyncio.get_running_loop().call_later(FLUSH_EVERY, self._due, key)

    def _due(self, key: Key) -> None:
        self._timers.pop(key, None)
        task = asyncio.create_task(self._write(key))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, key: Key) -> None:
        seq = self._owed.pop(key, 0)
        if not seq:
            return
        tenant, conv, sender = key
        try:
            await self.cursors.advance(tenant, conv, sender, seq)
            self._tries.pop(key, None)
        except Exception:  # noqa: BLE001 - KV unreachable for now: try again a little later
            tries = self._tries[key] = self._tries.get(key, 0) + 1
            if tries >= MAX_ATTEMPTS:
                self._tries.pop(key, None)
                log.warning("gave up moving %s's read cursor in %s to %d", sender, conv, seq, exc_info=True)
                return
            self.sent(tenant, conv, sender, seq)

    async def close(self) -> None:
        """Write everything owed now (delivery is stopping)."""
        self._closing = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        owed, self._owed = self._owed, {}
        results = await asyncio.gather(
            *(self.cursors.advance(t, c, s, seq) for (t, c, s), seq in owed.items()), return_exceptions=True
        )
        for failed in (r for r in results if isinstance(r, Exception)):
            log.warning("a read cursor was not moved before stopping: %s", failed)
