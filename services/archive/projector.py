"""Projecting one stream into the archive store through a durable pull consumer.

Why raw nats-py and not FastStream's `PullSub(batch=True)`: the consumer's start position is
decided at run time from the store itself (its last applied stream sequence), and a rebuild
deletes and re-creates the consumer at sequence 1; FastStream declares its subscribers once,
up front. Measured on this machine (30k chat messages into SQLite, batches of 1000, acks after
each commit): ~9.2k messages/s here, ~9.5k/s with FastStream's batch subscriber doing the
same work; the store write dominates either way. The loop is the same either way: fetch up to `batch` messages, turn them into
records, write them and the batch's last sequence in ONE store transaction, and only then ack.

A crash between commit and ack redelivers messages the store already has; records are keyed
by stream sequence, so applying them again changes nothing. The durable consumer's name
carries the store's id: two stores (SQLite here, PostgreSQL there) each get their own
position, while several instances on one PostgreSQL store share one consumer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError, NotFoundError

from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode
from orderchat.services.framework.dead_letters import park
from orderchat.services.framework.direct_get import HDR_SEQUENCE, HDR_SUBJECT, batch_get
from orderchat.services.framework.metrics import BATCH_SIZE, STREAM_MESSAGES
from orderchat.services.framework.pull import fetch, rebind

from .extract import Unreadable, add_chat, add_order_event
from .metrics import LAST_APPLIED, PENDING
from .records import Batch
from .store import SOURCE_CHAT, SOURCE_ORDERS, ArchiveStore

log = logging.getLogger(__name__)

SERVICE = "archive"
DEFAULT_BATCH = 1000
# A consumer nobody fetched from for this long belongs to a dropped store: the server removes it.
ABANDONED_AFTER = 7 * 86400.0
# Rows applied in one catch-up after which the store's planner statistics are refreshed.
BULK_ROWS = 20_000
# Once caught up, the projector lets messages gather this long before it fetches again,
# unless a search is waiting for them: under steady traffic that makes one fetch and one store
# transaction per 20 ms instead of per few messages (measured: the archive was ~20 % of the
# services' CPU at 1,000 msgs/s), at no cost to read-your-writes. Not longer: a fetch arrives
# as one burst on the connection the chat requests share and is parsed, extracted and acked in
# one go, and a send that lands behind it waits. Measured at 1,000 one-to-one msgs/s: with
# delivery and the archive alone, p99 10.9-11.7 ms with 0.1 s against 5.2-11.9 ms with 20 ms;
# with every service, a median of 7.8 against 6.9 ms (bench/README.md).
GATHER = 0.02
# Messages read (parsed, tokenized) between two returns to the event loop: the services
# sharing the process answer chat requests in between, so a gathered batch of a hundred
# messages or a catch-up batch of a thousand never holds a send up for its whole length.
SLICE = 32

Extractor = Callable[[Batch, str, int, bytes], None]


@dataclass(frozen=True)
class Source:
    name: str
    stream: str
    subjects: tuple[str, ...]  # filter subjects; none: the whole stream
    extract: Extractor


SOURCE_SPECS: dict[str, Source] = {
    # All of CHAT (its conversation and inbox subjects), read without a filter: a consumer
    # filtered on several wildcard subjects made nats-server count its pending messages
    # across every subject of the stream at each delivery (measured: a million-message
    # replay ran at ~2,500 msgs/s with nats-server at 100 % CPU and the archive idle).
    SOURCE_CHAT: Source(SOURCE_CHAT, names.STREAM_CHAT, (), add_chat),
    SOURCE_ORDERS: Source(SOURCE_ORDERS, names.STREAM_ORDERS, (names.ORDER_EVENT_SUBJECTS,), add_order_event),
}


class Projector:
    def __init__(
        self, js: JetStreamContext, store: ArchiveStore, source: Source, store_id: str,
        batch: int = DEFAULT_BATCH, idle: float = 1.0,
    ) -> None:
        self.js = js
        self.store = store
        self.source = source
        self.consumer = names.archive_consumer(source.name, store_id)
        self.batch = batch
        self.idle = idle
        self.applied = 0
        self.pending: int | None = None
        self._since_statistics = 0
        self._progress = asyncio.Condition()
        self._wanted = asyncio.Event()  # a reader waits for something not applied yet
        self._task: asyncio.Task[None] | None = None
        self._sub = None
        # The only reader of a whole stream acks each batch at once (ack-all; one ack instead
        # of one per message, measured ~7 % more one-to-one throughput): everything up to the
        # store's last applied sequence is then in the store, and a message a batch lacks is
        # read from the stream (`_missing`). Readers sharing one consumer (a shared store)
        # ack each message: one's ack-all would cover another's batch still in flight.
        self.ack_all = not store.shared and not source.subjects
        self.ack_policy = AckPolicy.ALL if self.ack_all else AckPolicy.EXPLICIT

    # -- consumer --------------------------------------------------------------------------

    def _config(self, start: int) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.consumer,
            description=f"archive projection of {self.source.stream} into the search store",
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start > 1 else DeliverPolicy.ALL,
            opt_start_seq=start if start > 1 else None,
            ack_policy=self.ack_policy,
            ack_wait=60,
            max_ack_pending=self.batch * 4,
            max_waiting=64,
            filter_subjects=list(self.source.subjects) or None,
            inactive_threshold=ABANDONED_AFTER,
        )

    async def _ensure_consumer(self) -> None:
        """Start right after the store's last applied sequence. A consumer that acked past it
        (the store was restored from an older copy) is re-created at the store's position."""
        start = self.applied + 1
        try:
            info = await self.js.consumer_info(self.source.stream, self.consumer)
            if info.ack_floor is not None and (info.ack_floor.stream_seq or 0) > self.applied:
                log.warning("archive %s: consumer acked past the store (%s > %s); re-reading from %s",
                            self.source.name, info.ack_floor.stream_seq, self.applied, start)
                await self.js.delete_consumer(self.source.stream, self.consumer)
                raise NotFoundError
            if info.config.ack_policy != self.ack_policy:
                # nats-server does not change a consumer's ack policy in place (an earlier
                # version acked every message): a new consumer starts where the store stands.
                log.info("archive %s: consumer acks %s, wanted %s; re-creating it at %s",
                         self.source.name, info.config.ack_policy, self.ack_policy, start)
                await self.js.delete_consumer(self.source.stream, self.consumer)
                raise NotFoundError
            await self._refilter(info.config)
        except NotFoundError:
            await self.js.add_consumer(self.source.stream, self._config(start))

    async def _refilter(self, config: ConsumerConfig) -> None:
        """A consumer made with other filter subjects (before CHAT was read unfiltered) gets
        this source's, in place."""
        have = sorted(config.filter_subjects or ([config.filter_subject] if config.filter_subject else []))
        if have != sorted(self.source.subjects):
            config.filter_subjects = list(self.source.subjects) or None
            config.filter_subject = None
            await self.js.add_consumer(self.source.stream, config)

    async def _bind(self) -> None:
        self._sub = await rebind(self.js, self.source.stream, self.consumer, self._sub)

    async def start(self) -> None:
        self.applied = await self.store.last_applied(self.source.name)
        LAST_APPLIED.labels(self.source.name).set(self.applied)
        await self._ensure_consumer()
        await self._bind()
        self._task = asyncio.create_task(self._run(), name=f"archive-{self.source.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.close()
            self._sub = None

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                msgs = await fetch(self._sub, self.batch, self.idle)
            except (FetchTimeoutError, NatsTimeoutError, asyncio.TimeoutError):
                await self._caught_up_idle()
                continue
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - connection trouble; a fresh subscription after a pause
                log.warning("archive %s: fetch failed; re-binding", self.source.name, exc_info=True)
                await asyncio.sleep(min(0.25 * 2**failures, 5))
                failures += 1
                with contextlib.suppress(Exception):
                    await self._ensure_consumer()
                    await self._bind()
                continue
            if not msgs:  # nats-py can end a fetch with an empty list instead of a timeout
                await self._caught_up_idle()
                continue
            try:
                await self._apply(msgs)
                failures = 0
                if not msgs[-1].metadata.num_pending:  # caught up: let the next ones gather
                    await self._gather()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the store is down: hand the batch back, retry later
                failures += 1
                delay = min(0.25 * 2**failures, 10)
                log.exception("archive %s: applying a batch of %d failed; retrying in %.1fs", self.source.name, len(msgs), delay)
                for msg in msgs:
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=delay)
                await asyncio.sleep(delay)

    async def _apply(self, msgs: list[Msg]) -> None:
        entries = [(msg.metadata.sequence.stream, msg.subject, msg.data) for msg in msgs]
        if self.ack_all:
            entries = sorted(entries + await self._missing({seq for seq, _, _ in entries}))
        batch = Batch(source=self.source.name, last_seq=self.applied)
        unreadable: list[tuple[str, bytes, str]] = []
        for i, (seq, subject, data) in enumerate(entries):
            if i and not i % SLICE:
                await asyncio.sleep(0)  # let chat requests in between slices of a batch
            try:
                self.source.extract(batch, subject, seq, data)
            except Unreadable as exc:
                unreadable.append((subject, data, str(exc)))
            batch.last_seq = max(batch.last_seq, seq)
        for subject, data, reason in unreadable:
            await park(self.js, SERVICE, subject, data, ErrorCode.INVALID, reason)
        await self.store.apply(batch)
        if self.ack_all:
            await max(msgs, key=lambda m: m.metadata.sequence.stream).ack()
        else:
            for msg in msgs:
                await msg.ack()
        self._since_statistics += len(msgs)
        BATCH_SIZE.labels(SERVICE, self.consumer).observe(len(msgs))
        STREAM_MESSAGES.labels(SERVICE, self.consumer, "ok").inc(len(msgs) - len(unreadable))
        if unreadable:
            STREAM_MESSAGES.labels(SERVICE, self.consumer, "parked").inc(len(unreadable))
        self.pending = msgs[-1].metadata.num_pending
        PENDING.labels(self.source.name).set(self.pending)
        async with self._progress:
            self.applied = max(self.applied, batch.last_seq)
            LAST_APPLIED.labels(self.source.name).set(self.applied)
            self._progress.notify_all()

    async def _missing(self, have: set[int]) -> list[tuple[int, str, bytes]]:
        """(sequence, subject, data) of what the stream holds between the last applied
        sequence and this batch's last that the batch lacks: handed earlier to a subscription
        that is gone (a reconnect; it would come back only after the ack wait), which the
        batch's ack-all would cover unread. Read from the stream itself; a deleted message is
        simply not there. Usually nothing is missing, and nothing is read."""
        newer = [seq for seq in have if seq > self.applied]
        if not newer or max(newer) - self.applied == len(newer):
            return []
        found: list[tuple[int, str, bytes]] = []
        next_seq, last = self.applied + 1, max(newer)
        while next_seq < last:
            stored = await batch_get(self.js._nc, self.source.stream, next_seq, min(last - next_seq, self.batch))
            if not stored:
                break
            for msg in stored:
                seq = int(msg.headers[HDR_SEQUENCE])  # type: ignore[index]
                if seq < last and seq not in have:
                    found.append((seq, msg.headers[HDR_SUBJECT], msg.data))  # type: ignore[index]
            next_seq = int(stored[-1].headers[HDR_SEQUENCE]) + 1  # type: ignore[index]
        if found:
            log.warning("archive %s: %d messages handed out before were missing from a batch; read them from %s",
                        self.source.name, len(found), self.source.stream)
        return found

    async def _gather(self) -> None:
        if not self._wanted.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), GATHER)
        self._wanted.clear()

    async def _caught_up_idle(self) -> None:
        if self._since_statistics >= BULK_ROWS:
            self._since_statistics = 0
            try:
                await self.store.refresh_statistics()
            except Exception:  # noqa: BLE001 - an optimisation; searching works without it
                log.warning("archive %s: refreshing planner statistics failed", self.source.name, exc_info=True)
        self.pending = 0
        PENDING.labels(self.source.name).set(0)
        async with self._progress:
            self._progress.notify_all()

    # -- waiting for progress --------------------------------------------------------------

    async def wait_for(self, stream_seq: int, timeout: float) -> bool:
        """True once everything up to `stream_seq` is applied (read-your-writes)."""
        deadline = time.monotonic() + timeout
        async with self._progress:
            while self.applied < stream_seq:
                self._wanted.set()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), remaining)
        return True

    async def wait_caught_up(self, timeout: float) -> bool:
        """True once the consumer has nothing pending (a rebuild is complete)."""
        last = (await self.js.stream_info(self.source.stream)).state.last_seq
        return await self.wait_for(last, timeout) if last else True
