"""History pages by per-conversation sequence.

Conversation sequences are gapless and rise with stream sequences, so the stream position of
any conversation sequence is found by searching the stream with direct "next message on this
subject" gets (interpolation, bisection as the fallback): a few round trips, no index to build
or keep in sync, and any instance can answer. Positions already seen are kept as anchors to
narrow later searches; the page itself is one batched direct get. Where the archive can say
at which stream sequences a page's messages are (framework.archive_positions), they are read
by exact sequence instead: at a million messages that is several times faster."""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections import OrderedDict

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from orderchat.schemas import names
from orderchat.schemas.chat import ChatMessage

from .archive_positions import ArchivePositions
from .conversation_log import HDR_SEQ, ConversationLog, Tail
from .direct_get import batch_get

logger = logging.getLogger(__name__)

MAX_ANCHORED_CONVS = 10_000
MAX_ANCHORS = 256


def conv_seq_of(msg: RawStreamMsg) -> int:
    return int((msg.headers or {}).get(HDR_SEQ, 0))


class History:
    """`positions`: where the archive saw messages (framework.archive_positions); pages it
    covers are read by exact stream sequence, the rest by searching the stream."""

    def __init__(self, js: JetStreamContext, log: ConversationLog, positions: ArchivePositions | None = None) -> None:
        self.js = js
        self.log = log
        self.positions = positions
        self._anchors: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()
        self.pages_by_position = 0  # pages read (partly) at positions the archive gave

    async def _next(self, subject: str, from_stream_seq: int) -> RawStreamMsg | None:
        try:
            return await self.js.get_msg(
                names.STREAM_CHAT, seq=max(1, from_stream_seq), subject=subject, next=True, direct=True
            )
        except NotFoundError:
            return None

    def _anchor(self, subject: str, conv_seq: int, stream_seq: int) -> None:
        anchors = self._anchors.setdefault(subject, [])
        self._anchors.move_to_end(subject)
        i = bisect.bisect_left(anchors, (conv_seq, stream_seq))
        if i < len(anchors) and anchors[i][0] == conv_seq:
            return
        anchors.insert(i, (conv_seq, stream_seq))
        if len(anchors) > MAX_ANCHORS:
            del anchors[len(anchors) // 2]
        if len(self._anchors) > MAX_ANCHORED_CONVS:
            self._anchors.popitem(last=False)

    def _known(self, subject: str, target: int, tail: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """The nearest known (conversation seq, stream seq) points below and at-or-above target."""
        anchors = self._anchors.get(subject, [])
        i = bisect.bisect_left(anchors, (target, 0))
        below = anchors[i - 1] if i > 0 else (0, 0)
        above = anchors[i] if i < len(anchors) else tail
        return below, above

    async def locate(self, subject: str, target: int, tail: tuple[int, int]) -> int | None:
        """Stream sequence of the first message with conversation sequence >= target.

        Interpolation between the nearest known points (a conversation's messages spread
        fairly evenly through the stream), alternating with bisection so the worst case stays
        logarithmic: a handful of direct gets at a million messages instead of twenty."""
        (lo_conv, lo_stream), (hi_conv, hi_stream) = self._known(subject, target, tail)
        if hi_conv == target:
            return hi_stream
        window_lo, window_hi = lo_stream + 1, hi_stream
        best: int | None = hi_stream if hi_conv >= target else None
        for step in range(128):
            if window_lo > window_hi:
                return best
            if step % 2 == 0 and hi_conv > lo_conv:
                guess = lo_stream + -(-(target - lo_conv) * (hi_stream - lo_stream) // (hi_conv - lo_conv))
            else:
                guess = (window_lo + window_hi) // 2
            probe = min(max(guess, window_lo), window_hi)
            msg = await self._next(subject, probe)
            if msg is None or msg.seq is None:
                window_hi = probe - 1
                continue
            seq = conv_seq_of(msg)
            self._anchor(subject, seq, msg.seq)
            if seq == target:
                return msg.seq
            if seq > target:
                best = msg.seq if best is None else min(best, msg.seq)
                hi_conv, hi_stream = seq, msg.seq
                window_hi = probe - 1
            else:
                lo_conv, lo_stream = seq, msg.seq
                window_lo = msg.seq + 1
        return best

    async def page(
        self, tenant: str, conv_id: str, before: int | None, after: int | None, limit: int
    ) -> tuple[list[ChatMessage], int, bool]:
        """Messages in ascending order, plus the last sequence and whether more lie beyond."""
        subject = names.conv(tenant, conv_id)
        tail = await self.log.tail(subject, fresh=True)
        last = tail.conv_seq
        if last == 0:
            return [], 0, False
        if after is not None:
            first, end = after + 1, min(after + limit, last)
            more = end < last
        else:
            end = min((before - 1) if before else last, last)
            first = max(1, end - limit + 1)
            more = first > 1
        if first > end:
            return [], last, False
        # The fresh tail read brought the last message along: a page that ends there needs
        # one message less (a conversation list's "last message" needs none).
        newest = [ChatMessage.model_validate_json(tail.data)] if tail.data and end == last else []
        messages = await self._range(tenant, conv_id, subject, first, end - len(newest), tail)
        return messages + newest, last, more

    async def _range(self, tenant: str, conv_id: str, subject: str, first: int, end: int, tail: Tail) -> list[ChatMessage]:
        if first > end:
            return []
        known = await self._at_positions(tenant, conv_id, subject, first, end)
        if known:
            self.pages_by_position += 1
            first = known[-1].seq + 1
            if first > end:
                return known
        position = await self.locate(subject, first, (tail.conv_seq, tail.stream_seq))
        if position is None:
            return known
        raw = await self._batch(subject, position, end - first + 1)
        messages = [ChatMessage.model_validate_json(data) for data in raw]
        return known + [m for m in messages if first <= m.seq <= end]

    async def _at_positions(self, tenant: str, conv_id: str, subject: str, first: int, end: int) -> list[ChatMessage]:
        """Messages first.. (up to end) read by the stream sequences the archive gave, all at
        once; the gapless run from `first`, or nothing if the archive does not know it."""
        if self.positions is None:
            return []
        try:
            where = await self.positions.of(tenant, conv_id, first, end)
        except Exception:  # noqa: BLE001 - an optimisation: the stream search still answers
            logger.warning("archive positions failed; searching the stream", exc_info=True)
            return []
        if not where:
            return []
        found = await asyncio.gather(*(self._exact(subject, stream_seq) for _, stream_seq in where))
        run: list[ChatMessage] = []
        for (seq, stream_seq), msg in zip(where, found):
            # The archive may be of another stream (restored, recreated): trust only matches.
            if msg is None or msg.subject != subject or conv_seq_of(msg) != seq:
                break
            run.append(ChatMessage.model_validate_json(msg.data))
            self._anchor(subject, seq, stream_seq)
        return run

    async def _exact(self, subject: str, stream_seq: int) -> RawStreamMsg | None:
        try:
            return await self.js.get_msg(names.STREAM_CHAT, seq=stream_seq, direct=True)
        except NotFoundError:
            return None

    async def _batch(self, subject: str, from_stream_seq: int, count: int) -> list[bytes]:
        """Up to `count` messages of `subject` from a stream position in ONE round trip."""
        found = await batch_get(self.js._nc, names.STREAM_CHAT, from_stream_seq, count, subject)
        return [msg.data for msg in found]
