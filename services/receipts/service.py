"""The receipts service: delivered and read cursors, receipt events, receipt status,
typing relay and presence. Stateless: everything it knows lives in KV and stream CHAT."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone

from nats.js.errors import NotFoundError

from orderchat.schemas import names
from orderchat.schemas.base import Ok
from orderchat.schemas.conversations import Conversation
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.inbox import ReceiptEvent
from orderchat.schemas.receipts import (
    CursorReply,
    DeliveredCursor,
    DeliveredRequest,
    PresenceBeat,
    PresenceReply,
    PresenceRequest,
    ReadCursor,
    ReadRequest,
    StatusReply,
    StatusRequest,
    TypingEvent,
    TypingRequest,
)
from orderchat.services.framework.directory import Directory
from orderchat.services.framework.archive_positions import ArchivePositions
from orderchat.services.framework.conversation_history import History
from orderchat.services.framework.conversation_log import ConversationLog
from orderchat.services.framework.context import ServiceContext
from orderchat.services.framework.request_server import Caller, RequestServer

from .announcer import Announcer, SenderIndex
from .cursors import CursorStore
from .presence import Presence
from .status import cursors_of, message_status

NAME = "receipts"
STATUS_ROW_BUDGET = 5000
# The consumer through which receipts followed senders' own messages until delivery took that
# over (services/delivery/own_reads.py): left behind, it would hold every message as pending.
RETIRED_OWN_READS = names.service_consumer("receipts", "own_reads")


class ConversationEnds:
    """The last sequence of each conversation, read fresh only when a receipt points past
    what is known: sequences only grow, so a cached end is a safe lower bound."""

    def __init__(self, log: ConversationLog) -> None:
        self.log = log
        self._known: dict[tuple[str, str], int] = {}

    async def last(self, tenant: str, conv: str) -> int:
        tail = await self.log.tail(names.conv(tenant, conv), fresh=True)
        if len(self._known) > 100_000:
            self._known.clear()
        self._known[(tenant, conv)] = tail.conv_seq
        return tail.conv_seq

    async def within(self, tenant: str, conv: str, up_to: int) -> int:
        known = self._known.get((tenant, conv), 0)
        if up_to <= known:
            return known
        last = await self.last(tenant, conv)
        if up_to > last:
            raise OrderchatError(
                ErrorCode.INVALID,
                f"cursor {up_to} is beyond the end of {conv} (last message #{last})",
                {"conv": conv, "up_to": up_to, "last_seq": last},
            )
        return last


class ReceiptsService:
    name = NAME

    def __init__(self) -> None:
        self.server: RequestServer | None = None

    async def start(self, ctx: ServiceContext) -> None:
        js = ctx.js
        self.nc = ctx.nc
        self.directory = Directory(js)
        await self.directory.start()
        log = ConversationLog(js)
        self.ends = ConversationEnds(log)
        self.history = History(js, log, ArchivePositions(ctx.nc))
        self.read = CursorStore(await js.key_value(names.KV_READ), ReadCursor)
        self.delivered = CursorStore(await js.key_value(names.KV_DELIVERED), DeliveredCursor)
        self.announcer = Announcer(js, SenderIndex(self.history))
        self.presence = Presence(js, await js.key_value(names.KV_PRESENCE))
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(names.STREAM_CHAT, RETIRED_OWN_READS)

        server = RequestServer(ctx, NAME)
        q = names.QUEUE_RECEIPTS
        server.add(names.ingress_pattern(names.OP_READ), "read", ReadRequest, self.mark_read, queue=q)
        server.add(names.ingress_pattern(names.OP_DELIVERED), "delivered", DeliveredRequest, self.mark_delivered, queue=q)
        server.add(names.ingress_pattern(names.OP_RECEIPT_STATUS), "status", StatusRequest, self.status, queue=q)
        server.add(names.ingress_pattern(names.OP_TYPING), "typing", TypingRequest, self.typing, queue=q)
        server.add(names.ingress_pattern(names.OP_PRESENCE), "presence_beat", PresenceBeat, self.beat, queue=q)
        server.add(names.ingress_pattern(names.OP_PRESENCE_GET), "presence_get", PresenceRequest, self.query_presence, queue=q)
        await server.start()
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
        await self.directory.stop()

    async def _conversation_of_member(self, caller: Caller, conv: str) -> Conversation:
        conversation = await self.directory.conversation(caller.tenant, conv)
        if conversation is None:
            raise OrderchatError(ErrorCode.UNKNOWN_CONVERSATION, f"no conversation {conv!r}", {"conv": conv})
        if conversation.member(caller.user) is None:
            raise OrderchatError(ErrorCode.NOT_MEMBER, f"{caller.user} is not a member of {conv}", {"conv": conv})
        return conversation

    # -- receipts --------------------------------------------------------------------------

    def _announcing(self, tenant: str, conversation: Conversation, status: str, device: str | None):
        async def before_move(prev: int, cursor: ReadCursor | DeliveredCursor) -> None:
            event = ReceiptEvent(
                conv=cursor.conv, user=cursor.user, device=device, status=status, up_to=cursor.up_to, ts=cursor.ts  # type: ignore[arg-type]
            )
            await self.announcer.announce(tenant, conversation, event, prev)

        return before_move

    async def mark_read(self, request: ReadRequest, caller: Caller) -> CursorReply:
        conversation = await self._conversation_of_member(caller, request.conv)
        if request.up_to is None:
            last = await self.ends.last(caller.tenant, request.conv)
            up_to = last
        else:
            last = await self.ends.within(caller.tenant, request.conv, request.up_to)
            up_to = request.up_to
        if up_to == 0:  # an empty conversation: nothing to read
            return CursorReply(conv=request.conv, user=caller.user, status="read", up_to=0, moved=False, last_seq=0)
        cursor, moved = await self.read.advance(
            caller.tenant, request.conv, caller.user, up_to,
            before_move=self._announcing(caller.tenant, conversation, "read", None),
        )
        return CursorReply(conv=request.conv, user=caller.user, status="read", up_to=cursor.up_to, moved=moved, last_seq=last)

    async def mark_delivered(self, request: DeliveredRequest, caller: Caller) -> CursorReply:
        conversation = await self._conversation_of_member(caller, request.conv)
        last = await self.ends.within(caller.tenant, request.conv, request.up_to)
        cursor, moved = await self.delivered.advance(
            caller.tenant, request.conv, caller.user, request.up_to,
            before_move=self._announcing(caller.tenant, conversation, "delivered", request.device),
            device=request.device,
        )
        return CursorReply(
            conv=request.conv, user=caller.user, status="delivered", up_to=cursor.up_to, moved=moved, last_seq=last
        )

    async def status(self, request: StatusRequest, caller: Caller) -> StatusReply:
        conversation = await self._conversation_of_member(caller, request.conv)
        members = conversation.member_ids()
        # Keep the reply well under NATS' 1 MB payload limit whatever the group size.
        limit = min(request.limit, max(1, STATUS_ROW_BUDGET // len(members)))
        (messages, last, more), read, delivered = await asyncio.gather(
            self.history.page(caller.tenant, request.conv, request.before, request.after, limit),
            self.read.timelines(caller.tenant, request.conv),
            self.delivered.timelines(caller.tenant, request.conv),
        )
        return StatusReply(
            conv=request.conv,
            last_seq=last,
            cursors=cursors_of(members, read, delivered),
            messages=[message_status(m, members, read, delivered) for m in messages],
            has_more=more,
        )

    # -- typing and presence ---------------------------------------------------------------

    async def typing(self, request: TypingRequest, caller: Caller) -> Ok:
        """Relayed over core NATS to the other members' live subjects; never stored."""
        conversation = await self._conversation_of_member(caller, request.conv)
        event = TypingEvent(conv=request.conv, user=caller.user, ts=datetime.now(timezone.utc))
        data = event.model_dump_json().encode()
        for member in conversation.member_ids():
            if member != caller.user:
                await self.nc.publish(names.live(caller.tenant, member), data)
        return Ok()

    async def beat(self, request: PresenceBeat, caller: Caller) -> Ok:
        await self.presence.beat(caller.tenant, caller.user, request)
        return Ok()

    async def query_presence(self, request: PresenceRequest, caller: Caller) -> PresenceReply:
        return PresenceReply(users=await self.presence.query(caller.tenant, request.users))
