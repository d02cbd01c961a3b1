"""Appending to a conversation's history with a gapless per-conversation sequence.

The history subject's last stream sequence is the compare-and-set token
(`Nats-Expected-Last-Subject-Sequence`): two delivery instances writing to one conversation
cannot both take the same number; the loser re-reads the tail and retries. Within one
instance a per-conversation lock keeps arrival order and saves the conflict round trip."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from orderchat.schemas import names
from orderchat.services.framework.keyed_locks import KeyedLocks
from orderchat.services.framework.server_errors import wrong_last_sequence

HDR_SEQ = "Oc-Seq"
MAX_CACHED_TAILS = 100_000


@dataclass(frozen=True)
class Tail:
    stream_seq: int
    conv_seq: int
    data: bytes = b""  # the last message itself, when read from the stream (not cached)


@dataclass(frozen=True)
class Appended:
    seq: int
    stream_seq: int
    ts: datetime
    duplicate: bool
    data: bytes


def now() -> datetime:
    return datetime.now(timezone.utc)


class ConversationLog:
    def __init__(self, js: JetStreamContext, stream: str = names.STREAM_CHAT) -> None:
        self.js = js
        self.stream = stream
        self._tails: OrderedDict[str, Tail] = OrderedDict()
        self._locks = KeyedLocks()

    async def tail(self, subject: str, fresh: bool = False) -> Tail:
        """The last (stream, conversation) sequence; `fresh` skips the cache, which only
        this instance's appends keep current."""
        cached = None if fresh else self._tails.get(subject)
        if cached is not None:
            return cached
        try:
            last = await self.js.get_last_msg(self.stream, subject, direct=True)
        except NotFoundError:
            return Tail(0, 0)
        headers = last.headers or {}
        return Tail(int(last.seq or 0), int(headers.get(HDR_SEQ, 0)), last.data or b"")

    def _remember(self, subject: str, tail: Tail) -> None:
        self._tails[subject] = tail
        self._tails.move_to_end(subject)
        if len(self._tails) > MAX_CACHED_TAILS:
            self._tails.popitem(last=False)

    async def append(
        self,
        subject: str,
        msg_id: str,
        render: Callable[[int, datetime], bytes],
        attempts: int = 20,
    ) -> Appended:
        """Store `render(seq, ts)` as the next message of `subject`, exactly once per msg_id."""
        async with await self._locks(subject):
            for _ in range(attempts):
                tail = await self.tail(subject)
                seq, ts = tail.conv_seq + 1, now()
                data = render(seq, ts)
                headers = {
                    "Nats-Msg-Id": msg_id,
                    "Nats-Expected-Last-Subject-Sequence": str(tail.stream_seq),
                    HDR_SEQ: str(seq),
                }
                try:
                    ack = await self.js.publish(subject, data, headers=headers, stream=self.stream)
                except APIError as err:
                    if wrong_last_sequence(err):
                        self._tails.pop(subject, None)  # another instance appended: re-read
                        continue
                    raise
                if ack.duplicate:
                    return await self._stored(ack.seq)
                self._remember(subject, Tail(ack.seq, seq))
                return Appended(seq, ack.seq, ts, False, data)
        raise RuntimeError(f"could not append to {subject} after {attempts} conflicting writers")

    async def _stored(self, stream_seq: int) -> Appended:
        """A retried send: answer with what was stored the first time."""
        stored = await self.js.get_msg(self.stream, seq=stream_seq, direct=True)
        headers = stored.headers or {}
        ts = stored.time or now()
        return Appended(int(headers.get(HDR_SEQ, 0)), stream_seq, ts, True, stored.data or b"")
