"""What a KV bucket holds now, read so that the end of the read is known, not guessed.

Why not nats-py's `kv.watch(...)` read until its first None (or `kv.keys()`, which does
that): right after subscribing its ordered push consumer, nats-py asks consumer_info and, when
it says nothing is pending and the client has parsed nothing yet, puts the "initial values
done" None at once. The server counts what it already pushed as no longer pending, so when
the client is busy the None comes before the entries, and the reader sees none or a part.

Here the read is an ephemeral pull consumer (ack none, memory storage, short inactivity
threshold, deleted at the end). Its create response says how many messages match; each
message it delivers says how many matching ones remained after it (`num_pending`), counted by
the server at that moment. The read ends at a message with nothing after it, or, when the
remaining messages vanish meanwhile (history pruned, a purge), when consumer_info says nothing
is pending and the server delivered no more than the reader got. Consumer sequences must run
without a gap, so a message dropped in transit (a reconnect) restarts the read instead of
silently missing an entry. Nothing here depends on timing; a fetch that waits in vain only
leads to asking the server again. The reader deletes its consumer when done (a stopped nats-py
watcher leaves its consumer to the 5-minute inactivity threshold, and a busy bucket can reach
the server's consumer limit that way).

Why not keep the watcher and, after its None, wait for consumer_info's `delivered.stream_seq`?
That needs the watcher's private subscription, and when the last delivered message is a
delete marker the watcher drops it (ignore_deletes): the loop would wait for it for ever.

`KvSnapshot.through` is the stream sequence the read is complete up to: every change after
the snapshot has a higher one, so `watch_changes(kv, pattern, after=snapshot.through)` follows
a snapshot without a gap and without replaying it (a service's mirror loaded by snapshot
knows when it is complete, then stays fresh from the watch).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.kv import KV_DEL, KV_MARKER_REASON, KV_OP, KV_PURGE, KeyValue

from .pull import PullRequests, bind, fetch

BATCH = 500
FETCH_WAIT = 2.0
READ_TIMEOUT = 60.0
RESTARTS = 3
# The server removes a reader left behind by a crashed process after this long.
INACTIVE_THRESHOLD = 30.0
# nats-server 2.11+ places its own markers (TTL expiry, purge) with this header instead.
MARKER_OPERATIONS = {"MaxAge": KV_PURGE, "Purge": KV_PURGE, "Remove": KV_DEL}


@dataclass(frozen=True, slots=True)
class KvEntry:
    key: str
    value: bytes  # empty for a delete marker and for a headers-only read
    revision: int  # the stream sequence, as in nats-py's KeyValue.Entry
    created: datetime
    operation: str | None = None  # None for a put, else "DEL" or "PURGE"

    @property
    def deleted(self) -> bool:
        return self.operation is not None


@dataclass(frozen=True, slots=True)
class KvSnapshot:
    entries: list[KvEntry] = field(default_factory=list)
    through: int = 0  # complete up to this stream sequence (0: nothing matched)

    def keys(self) -> list[str]:
        return list(dict.fromkeys(e.key for e in self.entries))


class SnapshotIncomplete(Exception):
    """Messages went missing in transit on every attempt (reconnects while reading)."""


class _Gap(Exception):
    pass


async def snapshot(
    kv: KeyValue,
    pattern: str = ">",
    *,
    history: bool = False,
    headers_only: bool = False,
    include_deletes: bool = False,
    batch: int = BATCH,
    timeout: float = READ_TIMEOUT,
) -> KvSnapshot:
    """The entries of `kv` whose keys match `pattern` (NATS wildcards, filtered by the server),
    in revision order. By default the latest value of each key, without deleted keys; with
    `history`, every stored revision (as far as the bucket's history keeps them).
    `include_deletes` keeps delete/purge markers (a mirror must drop those keys)."""
    js: JetStreamContext = kv._js  # the same handles nats-py's own KeyValue.watch uses
    deadline = time.monotonic() + timeout
    for _ in range(RESTARTS):
        try:
            msgs = await _read(js, kv._stream, f"{kv._pre}{pattern}", history, headers_only, batch, deadline)
        except _Gap:
            continue
        return _assemble(kv, msgs, history, include_deletes)
    raise SnapshotIncomplete(f"KV {kv._name} {pattern}: messages lost in transit on {RESTARTS} attempts")


async def keys(kv: KeyValue, pattern: str = ">") -> list[str]:
    """Keys that currently hold a value, matching `pattern`; values are not transferred."""
    return (await snapshot(kv, pattern, headers_only=True)).keys()


async def _read(
    js: JetStreamContext, stream: str, subject: str, history: bool, headers_only: bool, batch: int, deadline: float
) -> list[Msg]:
    config = api.ConsumerConfig(
        deliver_policy=api.DeliverPolicy.ALL if history else api.DeliverPolicy.LAST_PER_SUBJECT,
        ack_policy=api.AckPolicy.NONE,
        filter_subject=subject,
        headers_only=headers_only or None,
        inactive_threshold=INACTIVE_THRESHOLD,
        mem_storage=True,
        num_replicas=1,
    )
    info = await js.add_consumer(stream, config=config)  # no durable name: ephemeral
    if not info.num_pending:
        await _delete(js, stream, info.name)
        return []
    sub = await bind(js, stream, info.name)
    try:
        return await _drain(js, stream, sub, info.name, batch, deadline)
    finally:
        with contextlib.suppress(Exception):
            await sub.close()
        await _delete(js, stream, info.name)


async def _drain(js: JetStreamContext, stream: str, sub: PullRequests, name: str, batch: int, deadline: float) -> list[Msg]:
    got: list[Msg] = []
    while True:
        if time.monotonic() > deadline:
            raise asyncio.TimeoutError(f"KV reader {name}: still not complete")
        try:
            msgs = await fetch(sub, batch, timeout=FETCH_WAIT)
        except (asyncio.TimeoutError, NatsTimeoutError):
            msgs = []
        for msg in msgs:
            meta = msg.metadata
            if meta.sequence.consumer != len(got) + 1:
                raise _Gap
            got.append(msg)
            if meta.num_pending == 0:
                return got
        if not msgs:
            # What was still pending may have been removed (a purge, history pruned by newer
            # writes): the server's count decides, and only once it delivered nothing more.
            info = await js.consumer_info(stream, name)
            if info.num_pending == 0 and info.delivered.consumer_seq == len(got):
                return got
            if info.num_pending == 0 and info.delivered.consumer_seq > len(got):
                raise _Gap  # the last ones were delivered and lost in transit


async def _delete(js: JetStreamContext, stream: str, consumer: str) -> None:
    # Best effort: the inactivity threshold removes it anyway.
    with contextlib.suppress(Exception):
        await js.delete_consumer(stream, consumer)


def _assemble(kv: KeyValue, msgs: list[Msg], history: bool, include_deletes: bool) -> KvSnapshot:
    entries = [_entry(kv, msg) for msg in msgs]
    through = max((e.revision for e in entries), default=0)
    if not history:
        # A key written while it was being read comes twice: its newest revision wins.
        latest: dict[str, KvEntry] = {}
        for entry in entries:
            if entry.key not in latest or latest[entry.key].revision < entry.revision:
                latest[entry.key] = entry
        entries = sorted(latest.values(), key=lambda e: e.revision)
    if not include_deletes:
        entries = [e for e in entries if not e.deleted]
    return KvSnapshot(entries=entries, through=through)


def _entry(kv: KeyValue, msg: Msg) -> KvEntry:
    meta = msg.metadata
    return KvEntry(
        key=msg.subject[len(kv._pre) :],
        value=msg.data or b"",
        revision=meta.sequence.stream,
        created=meta.timestamp,
        operation=_operation(msg),
    )


def _operation(msg: Msg) -> str | None:
    headers = msg.headers or {}
    if KV_OP in headers:
        return headers[KV_OP]
    if KV_MARKER_REASON in headers:
        return MARKER_OPERATIONS.get(headers[KV_MARKER_REASON], KV_DEL)
    return None


class KvChanges:
    """Changes to matching keys after a stream sequence, as KvEntry, in order: an ordered push
    consumer, which nats-py recreates after the last message it saw if it loses track (before
    the first one, from the stream's start: a replay, never a gap). `stop()` when done."""

    def __init__(self, kv: KeyValue, sub: JetStreamContext.PushSubscription, include_deletes: bool) -> None:
        self._kv = kv
        self._sub = sub
        self._include_deletes = include_deletes

    def __aiter__(self) -> "KvChanges":
        return self

    async def __anext__(self) -> KvEntry:
        while True:
            msg = await self._sub.next_msg(timeout=None)
            entry = _entry(self._kv, msg)
            if self._include_deletes or not entry.deleted:
                return entry

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()


async def watch_changes(
    kv: KeyValue,
    pattern: str = ">",
    *,
    after: int,
    include_deletes: bool = False,
    inactive_threshold: float = 5 * 60,
) -> KvChanges:
    """Every change to keys matching `pattern` with a revision above `after` (a snapshot's
    `through`), including those made between the snapshot and this call."""
    config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
    sub = await kv._js.subscribe(
        f"{kv._pre}{pattern}",
        stream=kv._stream,
        config=config,
        ordered_consumer=True,
        inactive_threshold=inactive_threshold,
    )
    return KvChanges(kv, sub, include_deletes)
