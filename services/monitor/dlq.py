"""Dead letters: list, show, replay (once), purge.

Replay re-submits a parked input as a request on its original subject (header
`Oc-Original-Subject`), optionally with a repaired payload. Each DLQ entry (its stream
sequence) has a record in KV `OC_DLQ_REPLAYS`, claimed by compare-and-set before anything is
sent, so a replay happens at most once even when two operators press the key together:

    (none) --claim--> started --reply ok--> done     (replaying again: a no-op)
                         |  --error reply / no responder--> failed   (nothing was processed:
                         |                                  may be replayed again, e.g. repaired)
                         +-- timeout: stays `started` (outcome unknown; `--force` to send again)

A replayed input that is still bad is answered with an error and parked again as a new entry,
so nothing is lost. The request carries `Oc-Replayed: <seq>` for tracing."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timezone
from typing import Literal

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel

from orderchat.schemas import names
from orderchat.schemas.base import Stored
from orderchat.schemas.catalog import subject_matches
from orderchat.schemas.streams import Topology
from orderchat.services.framework.dead_letters import (
    HDR_CODE,
    HDR_REASON,
    HDR_REPLAYED,
    HDR_SERVICE,
    HDR_SUBJECT,
)
from orderchat.services.framework.request_server import error_reply
from orderchat.services.framework.typed_kv import TypedKV

from .stream_reader import count_matching, read_matching

SCAN_LIMIT = 10_000
REPLY_KEEP = 2000


class ReplayRecord(Stored):
    state: Literal["started", "done", "failed"]
    started: datetime
    finished: datetime | None = None
    repaired: bool = False
    payload_digest: str
    ok: bool | None = None
    reply: str | None = None
    attempts: int = 1


class DeadLetter(BaseModel):
    seq: int
    ts: datetime | None
    tenant: str
    service: str
    code: str
    reason: str
    original_subject: str
    size: int
    replay: ReplayRecord | None = None


class ReplayOutcome(BaseModel):
    seq: int
    sent: bool
    state: str
    message: str
    reply: str | None = None


class ReplayRefused(Exception):
    pass


def stream_of(subject: str) -> str | None:
    """The stream that captures `subject`, if any."""
    for stream in Topology().streams():
        if any(subject_matches(pattern, subject) for pattern in stream.subjects or []):
            return stream.name
    return None


def dlq_filter(tenant: str | None, service: str | None = None) -> str:
    return names.dlq(tenant or names.ANY, service or names.ANY)


def tenant_of_dlq_subject(subject: str) -> str:
    return subject.split(".")[1]


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def now() -> datetime:
    return datetime.now(timezone.utc)


def _entry(seq: int, subject: str, headers: dict[str, str] | None, size: int, ts: datetime | None) -> DeadLetter:
    h = headers or {}
    return DeadLetter(
        seq=seq,
        ts=ts,
        tenant=tenant_of_dlq_subject(subject),
        service=h.get(HDR_SERVICE, subject.rsplit(".", 1)[-1]),
        code=h.get(HDR_CODE, "unknown"),
        reason=h.get(HDR_REASON, ""),
        original_subject=h.get(HDR_SUBJECT, ""),
        size=size,
    )


def _from_scan(msg: Msg) -> DeadLetter:
    h = msg.headers or {}
    meta = msg.metadata
    size = int(h.get("Nats-Msg-Size", len(msg.data)))
    return _entry(meta.sequence.stream, msg.subject, h, size, meta.timestamp)


class DeadLetters:
    def __init__(self, js: JetStreamContext, replays: KeyValue) -> None:
        self.js = js
        self.replays = TypedKV(replays, ReplayRecord)

    @classmethod
    async def open(cls, js: JetStreamContext) -> "DeadLetters":
        return cls(js, await js.key_value(names.KV_DLQ_REPLAYS))

    @staticmethod
    def _key(tenant: str, seq: int) -> str:
        return names.kv_key(tenant, str(seq))

    async def count(self, tenant: str | None = None, service: str | None = None) -> int:
        return await count_matching(self.js, names.STREAM_DLQ, dlq_filter(tenant, service))

    async def list(self, tenant: str | None = None, service: str | None = None, limit: int = 50, with_replays: bool = True) -> list[DeadLetter]:
        """The newest `limit` entries (scanning at most the oldest SCAN_LIMIT matches)."""
        msgs = await read_matching(self.js, names.STREAM_DLQ, dlq_filter(tenant, service), headers_only=True, limit=SCAN_LIMIT)
        entries = [_from_scan(m) for m in msgs][-limit:] if limit else []
        if with_replays:
            entries = [e.model_copy(update={"replay": await self._record(e.tenant, e.seq)}) for e in entries]
        return entries

    async def reasons(self, tenant: str | None = None, top: int = 5) -> list[dict[str, object]]:
        """The most frequent (service, code) pairs, with the newest reason text of each."""
        msgs = await read_matching(self.js, names.STREAM_DLQ, dlq_filter(tenant), headers_only=True, limit=SCAN_LIMIT)
        entries = [_from_scan(m) for m in msgs]
        counts = Counter((e.service, e.code) for e in entries)
        latest = {(e.service, e.code): e.reason for e in entries}
        return [
            {"service": service, "code": code, "count": n, "example": latest[(service, code)]}
            for (service, code), n in counts.most_common(top)
        ]

    async def get(self, seq: int) -> tuple[DeadLetter, bytes, dict[str, str]]:
        try:
            raw = await self.js.get_msg(names.STREAM_DLQ, seq)
        except NotFoundError:
            raise ReplayRefused(f"no dead letter with sequence {seq}") from None
        headers = dict(raw.headers or {})
        data = raw.data or b""
        entry = _entry(seq, raw.subject or "", headers, len(data), raw.time)
        entry = entry.model_copy(update={"replay": await self._record(entry.tenant, seq)})
        return entry, data, headers

    async def _record(self, tenant: str, seq: int) -> ReplayRecord | None:
        found = await self.replays.get(self._key(tenant, seq))
        return found[0] if found else None

    async def replay(self, nc: Client, seq: int, payload: bytes | None = None, *, force: bool = False, timeout: float = 10.0) -> ReplayOutcome:
        entry, original, _ = await self.get(seq)
        if not entry.original_subject:
            raise ReplayRefused(f"dead letter {seq} has no {HDR_SUBJECT} header: nothing to replay it to")
        stream = stream_of(entry.original_subject)
        if stream is not None:
            # Publishing it again would append a second copy to that stream (for ORDERS: a
            # forged line in the evidence), seen by every consumer, not only the one that failed.
            raise ReplayRefused(
                f"dead letter {seq} came from stream {stream} ({entry.original_subject}); replay re-sends requests only. "
                "The stored original is still in that stream: fix the consumer and re-read it from there."
            )
        data = original if payload is None else payload
        key = self._key(entry.tenant, seq)
        claimed = await self._claim(key, data, repaired=payload is not None, force=force)
        if isinstance(claimed, ReplayOutcome):
            return claimed
        try:
            reply = await nc.request(entry.original_subject, data, timeout=timeout, headers={HDR_REPLAYED: str(seq)})
        except NoRespondersError:
            await self._finish(key, "failed", ok=False, reply="no responder on the original subject")
            return ReplayOutcome(seq=seq, sent=False, state="failed", message=f"nobody serves {entry.original_subject} right now; nothing was processed, replay again later")
        except (NatsTimeoutError, TimeoutError):
            return ReplayOutcome(seq=seq, sent=True, state="started", message="no reply in time: the outcome is unknown (check the target, then `--force` to send again)")
        text = reply.data[:REPLY_KEEP].decode("utf-8", "replace")
        failed = error_reply(reply.data)
        if failed is not None:
            await self._finish(key, "failed", ok=False, reply=text)
            return ReplayOutcome(seq=seq, sent=True, state="failed", message=f"refused again: {failed.code}: {failed.message}", reply=text)
        await self._finish(key, "done", ok=True, reply=text)
        return ReplayOutcome(seq=seq, sent=True, state="done", message="replayed", reply=text)

    async def _claim(self, key: str, data: bytes, *, repaired: bool, force: bool) -> ReplayRecord | ReplayOutcome:
        """Compare-and-set on the entry's record: only one replay proceeds."""
        seq = int(key.rsplit(".", 1)[-1])
        fresh = ReplayRecord(state="started", started=now(), repaired=repaired, payload_digest=digest(data))
        current = await self.replays.get(key)
        if current is None:
            if await self.replays.create(key, fresh) is None:
                return ReplayOutcome(seq=seq, sent=False, state="started", message="another replay of this entry is under way")
            return fresh
        record, revision = current
        if record.state == "done":
            return ReplayOutcome(seq=seq, sent=False, state="done", message=f"already replayed at {record.finished:%Y-%m-%d %H:%M:%S}; nothing sent", reply=record.reply)
        if record.state == "started" and not force:
            return ReplayOutcome(seq=seq, sent=False, state="started", message="a replay of this entry started and its outcome is unknown; use --force to send again")
        again = fresh.model_copy(update={"attempts": record.attempts + 1})
        try:
            await self.replays.kv.update(key, again.model_dump_json().encode(), last=revision)
        except KeyWrongLastSequenceError:
            return ReplayOutcome(seq=seq, sent=False, state=record.state, message="another replay of this entry is under way")
        return again

    async def _finish(self, key: str, state: Literal["done", "failed"], *, ok: bool, reply: str) -> None:
        def settle(record: ReplayRecord | None) -> ReplayRecord | None:
            if record is None:
                return None
            return record.model_copy(update={"state": state, "ok": ok, "reply": reply, "finished": now()})

        await self.replays.update(key, settle)

    async def purge(self, tenant: str | None, *, service: str | None = None, seqs: list[int] | None = None, replayed_only: bool = False) -> int:
        """Remove entries: the given sequences, the replayed ones, or all of a tenant/service."""
        if seqs:
            return sum([await self._delete(seq) for seq in seqs])
        if replayed_only:
            entries = await self.list(tenant, service, limit=SCAN_LIMIT)
            return sum([await self._delete(e.seq) for e in entries if e.replay and e.replay.state == "done"])
        before = await self.count(tenant, service)
        await self.js.purge_stream(names.STREAM_DLQ, subject=dlq_filter(tenant, service))
        return before

    async def _delete(self, seq: int) -> int:
        try:
            return 1 if await self.js.delete_msg(names.STREAM_DLQ, seq) else 0
        except NotFoundError:
            return 0

