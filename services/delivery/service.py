"""The delivery service: wires the request handlers to their subjects."""

from __future__ import annotations

import asyncio

from orderchat.schemas import names
from orderchat.schemas.chat import (
    BroadcastReply,
    BroadcastRequest,
    BroadcastResult,
    ChatMessage,
    HistoryReply,
    HistoryRequest,
    PostRequest,
    SendAccepted,
    SendRequest,
)
from orderchat.schemas.conversations import (
    ConvCreate,
    ConvListReply,
    ConvListRequest,
    ConvMembersChange,
    ConvReply,
    ConvSummary,
    Conversation,
    MemberRole,
    SessionOpen,
    SessionReply,
)
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.receipts import ReadCursor
from orderchat.services.framework.context import ServiceContext
from orderchat.services.framework.request_server import Caller, RequestServer
from orderchat.services.receipts.cursors import CursorStore

from .conversations import Conversations
from orderchat.services.framework.directory import Directory
from orderchat.services.framework.archive_positions import ArchivePositions
from orderchat.services.framework.conversation_history import History
from .inboxes import Inboxes
from .own_reads import OwnReads
from orderchat.services.framework.conversation_log import ConversationLog

NAME = "delivery"
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024


class DeliveryService:
    name = NAME

    def __init__(self) -> None:
        self.server: RequestServer | None = None
        self._positions: asyncio.Task[None] | None = None

    async def start(self, ctx: ServiceContext) -> None:
        js = ctx.js
        self.directory = Directory(js)
        await self.directory.start()
        self.inboxes = Inboxes(ctx.nc, js)
        # Read cursors: receipts moves them on a read receipt, delivery on the reader's own
        # messages (own_reads.py); listing conversations reads them.
        self.read_cursors = CursorStore(await js.key_value(names.KV_READ), ReadCursor)
        self.own_reads = OwnReads(self.read_cursors)
        await self.inboxes.start()
        self.log = ConversationLog(js)
        self.history = History(js, self.log, ArchivePositions(ctx.nc))
        self.conversations = Conversations(self.directory, self.inboxes, js)
        max_bytes = int(ctx.option("max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES))  # type: ignore[arg-type]

        server = RequestServer(ctx, NAME)
        q = names.QUEUE_DELIVERY
        server.add(names.ingress_pattern(names.OP_SEND), "send", SendRequest, self.send, queue=q, max_bytes=max_bytes)
        server.add(names.ingress_pattern(names.OP_BROADCAST), "broadcast", BroadcastRequest, self.broadcast, queue=q, max_bytes=max_bytes * 4)
        server.add(names.ingress_pattern(names.OP_HISTORY), "history", HistoryRequest, self.read_history, queue=q)
        server.add(names.ingress_pattern(names.OP_CONV_CREATE), "conv_create", ConvCreate, self.create_conv, queue=q, max_bytes=1024 * 1024)
        server.add(names.ingress_pattern(names.OP_CONV_MEMBERS), "conv_members", ConvMembersChange, self.change_members, queue=q, max_bytes=1024 * 1024)
        server.add(names.ingress_pattern(names.OP_CONV_LIST), "conv_list", ConvListRequest, self.list_convs, queue=q)
        server.add(names.ingress_pattern(names.OP_SESSION_OPEN), "session_open", SessionOpen, self.open_session, queue=q)
        server.add(
            names.service_request_pattern(NAME, names.SVC_POST), "post", PostRequest, self.post, queue=q,
            max_bytes=256 * 1024, identity="service",
        )
        await server.start()
        self.server = server
        self._positions = asyncio.create_task(self.inboxes.keep_positions(), name="device-positions")

    async def stop(self) -> None:
        if self._positions is not None:
            self._positions.cancel()
            await asyncio.gather(self._positions, return_exceptions=True)
        if self.server is not None:
            await self.server.stop()
            await self.own_reads.close()
        await self.directory.stop()

    # -- sending ---------------------------------------------------------------------------

    async def _target(self, caller: Caller, conv_id: str | None, to: str | None) -> Conversation:
        if to is not None:
            if to == caller.user:
                raise OrderchatError(ErrorCode.INVALID, "cannot open a direct conversation with yourself")
            return await self.conversations.direct(caller.tenant, caller.user, to)
        assert conv_id is not None
        conversation, member = await self.conversations.require_member(caller.tenant, conv_id, caller.user)
        if member.role is MemberRole.OBSERVER:
            raise OrderchatError(ErrorCode.FORBIDDEN, "observers read a conversation but do not post in it")
        await self.conversations.settled(caller.tenant, conversation)
        return conversation

    async def _append(
        self, tenant: str, conversation: Conversation, sender: str, msg_id: str, client_msg_id: str, body, reply_to=None
    ) -> SendAccepted:
        conv_id = conversation.id

        def render(seq: int, ts) -> bytes:
            return ChatMessage(
                conv=conv_id, seq=seq, sender=sender, client_msg_id=client_msg_id, ts=ts, body=body, reply_to=reply_to
            ).model_dump_json().encode()

        appended = await self.log.append(names.conv(tenant, conv_id), msg_id, render)
        ts = appended.ts
        if appended.duplicate:
            ts = ChatMessage.model_validate_json(appended.data).ts
        elif conversation.member(sender) is not None:  # not a service posting in a non-member's name
            self.own_reads.sent(tenant, conv_id, sender, appended.seq)
        return SendAccepted(conv=conv_id, seq=appended.seq, stream_seq=appended.stream_seq, ts=ts, duplicate=appended.duplicate)

    async def send(self, request: SendRequest, caller: Caller) -> SendAccepted:
        conversation = await self._target(caller, request.conv, request.to)
        msg_id = f"{caller.tenant}:{caller.user}:{request.client_msg_id}"
        return await self._append(
            caller.tenant, conversation, caller.user, msg_id, request.client_msg_id, request.body, request.reply_to
        )

    async def broadcast(self, request: BroadcastRequest, caller: Caller) -> BroadcastReply:
        async def one(recipient: str) -> BroadcastResult:
            try:
                conversation = await self._target(caller, None, recipient)
                msg_id = f"{caller.tenant}:{caller.user}:{request.client_msg_id}:{recipient}"
                accepted = await self._append(
                    caller.tenant, conversation, caller.user, msg_id, request.client_msg_id, request.body
                )
                return BroadcastResult(to=recipient, ok=True, conv=accepted.conv, seq=accepted.seq)
            except OrderchatError as err:
                return BroadcastResult(to=recipient, ok=False, error=f"{err.code}: {err.message}")

        results = await asyncio.gather(*(one(r) for r in dict.fromkeys(request.to)))
        return BroadcastReply(results=list(results))

    async def post(self, request: PostRequest, caller: Caller) -> SendAccepted:
        if request.between is not None:
            conversation = await self.conversations.direct(caller.tenant, *request.between)
        else:
            assert request.conv is not None
            conversation = await self.conversations.require(caller.tenant, request.conv)
            await self.conversations.settled(caller.tenant, conversation)
        return await self._append(caller.tenant, conversation, request.sender, request.msg_id, request.msg_id, request.body)

    # -- reading ---------------------------------------------------------------------------

    async def read_history(self, request: HistoryRequest, caller: Caller) -> HistoryReply:
        await self.conversations.require_member(caller.tenant, request.conv, caller.user)
        messages, last, more = await self.history.page(caller.tenant, request.conv, request.before, request.after, request.limit)
        return HistoryReply(conv=request.conv, messages=messages, last_seq=last, has_more=more)

    async def list_convs(self, request: ConvListRequest, caller: Caller) -> ConvListReply:
        conv_ids, _ = await self.inboxes.convs_of(caller.tenant, caller.user)

        async def summary(conv_id: str) -> ConvSummary | None:
            conversation = await self.directory.conversation(caller.tenant, conv_id)
            if conversation is None:
                return None
            (messages, last, _), (cursor, _) = await asyncio.gather(
                self.history.page(caller.tenant, conv_id, None, None, 1),
                self.read_cursors.get(caller.tenant, conv_id, caller.user),
            )
            last_message = messages[-1].model_dump(mode="json") if messages else None
            # The read cursor follows the user's own messages too (own_reads.py, a
            # moment behind), so everything past it was written by someone else; answering
            # covers what came before it.
            read_up_to = min(cursor.up_to, last) if cursor else 0
            if messages and messages[-1].sender == caller.user:
                read_up_to = last
            return ConvSummary(
                conversation=conversation, last_seq=last, last_message=last_message,
                read_up_to=read_up_to, unread=last - read_up_to,
            )

        found = await asyncio.gather(*(summary(c) for c in conv_ids[-request.limit :]))
        return ConvListReply(conversations=[s for s in found if s is not None])

    # -- membership ------------------------------------------------------------------------

    async def create_conv(self, request: ConvCreate, caller: Caller) -> ConvReply:
        conversation, created = await self.conversations.create(caller.tenant, caller.user, request)
        return ConvReply(conversation=conversation, created=created)

    async def change_members(self, request: ConvMembersChange, caller: Caller) -> ConvReply:
        conversation = await self.conversations.change_members(caller.tenant, caller.user, request)
        return ConvReply(conversation=conversation)

    async def open_session(self, request: SessionOpen, caller: Caller) -> SessionReply:
        if await self.directory.user(caller.tenant, caller.user) is None:
            raise OrderchatError(ErrorCode.UNKNOWN_USER, f"no user {caller.user!r}")
        consumer, convs = await self.inboxes.open_device(caller.tenant, caller.user, request.device)
        return SessionReply(stream=names.STREAM_CHAT, consumer=consumer, convs=convs)
