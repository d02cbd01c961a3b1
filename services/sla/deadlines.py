"""Firing SLA deadlines exactly once, across restarts and several instances.

Every instance reads the timer keys of KV `OC_SLA` to the end (kv_snapshot, so a restarted
instance knows every open deadline before it says it has loaded them), follows their changes
from there, and sleeps until the earliest deadline.
At the deadline it claims the breach by compare-and-set on the key's revision: of all
instances, and of a racing "supplier answered" update, exactly one write wins. Only then are
the effects sent (alert, chat notice), each with a message id derived from the timer, and
the timer is marked `notified`. A crash between claim and `notified` leaves a breached,
un-notified timer that the next watcher re-sends; the message ids make that resend a no-op
inside the streams' duplicate window (15 minutes).

Why not nats-server's message schedules (2.12+)? They also survive restarts, but a schedule
still needs a consumer to turn the fired message into an alert and a notice, cancelling one
means deleting the schedule message when the supplier answers, and the schedule's stream
must hold both the schedule and its target. The KV timer is one record per deadline that the
monitor and the stats read directly, and the claim is the same CAS either way."""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from nats.js.errors import KeyWrongLastSequenceError

from orderchat.services.framework import kv_snapshot

from .store import TIMER_KEYS, SlaStore, SlaTimer, utcnow

log = logging.getLogger(__name__)

Notify = Callable[[SlaTimer], Awaitable[None]]
RETRY_AFTER = 5.0
CATCH_UP_RECHECK = 0.25
MAX_SLEEP = 30.0


class Deadlines:
    def __init__(self, store: SlaStore, notify: Notify, may_fire: Callable[[], bool] = lambda: True) -> None:
        self.store = store
        self.notify = notify
        # False while the order events are still being read: a deadline may look missed
        # only because the supplier's answer is a few events further on.
        self.may_fire = may_fire
        self._heap: list[tuple[float, str]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.caught_up = asyncio.Event()
        self._changes: kv_snapshot.KvChanges | None = None
        self.fired = 0

    async def start(self) -> None:
        snap = await kv_snapshot.snapshot(self.store.kv, TIMER_KEYS)
        for entry in snap.entries:
            self._consider(entry)
        self.caught_up.set()
        self._changes = await kv_snapshot.watch_changes(self.store.kv, TIMER_KEYS, after=snap.through)
        self._tasks = [asyncio.create_task(self._watch()), asyncio.create_task(self._run())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping
                pass
        if self._changes is not None:
            await self._changes.stop()

    def _schedule(self, at: datetime, key: str) -> None:
        heapq.heappush(self._heap, (at.timestamp(), key))
        self._wake.set()

    async def _watch(self) -> None:
        async for entry in self._changes:
            self._consider(entry)

    def _consider(self, entry: kv_snapshot.KvEntry) -> None:
        if not entry.value:
            return
        try:
            timer = SlaTimer.model_validate_json(entry.value)
        except ValueError:
            log.warning("unreadable SLA timer %s", entry.key)
            return
        if timer.state == "pending":
            self._schedule(timer.due, entry.key)
        elif timer.state == "breached" and not timer.notified:
            self._schedule(utcnow(), entry.key)

    async def _run(self) -> None:
        while True:
            now = utcnow().timestamp()
            while self._heap and self._heap[0][0] <= now:
                _, key = heapq.heappop(self._heap)
                try:
                    await self._due(key)
                except Exception:  # noqa: BLE001 - NATS trouble: try this key again shortly
                    log.exception("SLA deadline %s failed; retrying", key)
                    heapq.heappush(self._heap, (now + RETRY_AFTER, key))
            delay = min(MAX_SLEEP, self._heap[0][0] - utcnow().timestamp()) if self._heap else MAX_SLEEP
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), max(delay, 0.0))
            except asyncio.TimeoutError:
                pass

    async def _due(self, key: str) -> None:
        found = await self.store.timers.get(key)
        if found is None:
            return
        timer, revision = found
        if timer.state == "pending":
            if timer.due > utcnow():
                self._schedule(timer.due, key)  # re-armed for a later revision
                return
            if not self.may_fire():
                heapq.heappush(self._heap, (utcnow().timestamp() + CATCH_UP_RECHECK, key))
                return
            claimed = timer.model_copy(update={"state": "breached", "breached_at": datetime.now(timezone.utc)})
            try:
                revision = await self.store.kv.update(key, claimed.model_dump_json().encode(), last=revision)
            except KeyWrongLastSequenceError:
                return  # another instance claimed it, or the supplier answered just now
            timer = claimed
        if timer.state != "breached" or timer.notified:
            return
        await self.notify(timer)
        self.fired += 1
        done = timer.model_copy(update={"notified": True})
        try:
            await self.store.kv.update(key, done.model_dump_json().encode(), last=revision)
        except KeyWrongLastSequenceError:
            # Changed meanwhile (resolved by an answer): keep that change, add the flag.
            await self.store.timers.update(key, lambda t: t.model_copy(update={"notified": True}) if t and not t.notified else None)
