"""Where a conversation's messages sit in stream CHAT, asked of the archive.

A conversation's messages are spread through CHAT among everyone else's, so reading a page
by "next message on this subject" makes nats-server walk its blocks message by message
(measured at 1M messages in 10,000 conversations: ~13-20 ms for a page of 50, much more for
blocks not in memory). The archive already keeps (conversation, seq) → stream sequence for
every message it projected; with those, a page is read by exact sequence, all at once
(~2.4 ms for 50). The archive is an optimisation, never the source of truth: when it is not
running, slow, or has not seen a message yet, history falls back to searching the stream."""

from __future__ import annotations

import logging
import time

from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError as NatsTimeoutError

from orderchat.schemas import names
from orderchat.schemas.chat import PositionsReply, PositionsRequest
from .request_server import error_reply

log = logging.getLogger(__name__)

ANSWER_WITHIN = 0.25  # seconds; past that, searching the stream is as quick
# After the archive did not answer, history does without it for this long.
RETRY_AFTER = 5.0


class ArchivePositions:
    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self._away_until = 0.0

    async def of(self, tenant: str, conv: str, first: int, last: int) -> list[tuple[int, int]]:
        """(seq, stream seq) for first..last, gapless from `first`; empty when unknown."""
        if time.monotonic() < self._away_until:
            return []
        request = PositionsRequest(conv=conv, first=first, last=last)
        subject = names.service_request(tenant, "archive", names.SVC_POSITIONS)
        try:
            msg = await self.nc.request(subject, request.model_dump_json().encode(), timeout=ANSWER_WITHIN)
        except (NoRespondersError, NatsTimeoutError) as exc:
            self._away_until = time.monotonic() + RETRY_AFTER
            log.debug("archive positions unavailable (%s); searching the stream for %.0f s", type(exc).__name__, RETRY_AFTER)
            return []
        if error_reply(msg.data) is not None:
            return []
        return [tuple(p) for p in PositionsReply.model_validate_json(msg.data).positions]  # type: ignore[misc]
