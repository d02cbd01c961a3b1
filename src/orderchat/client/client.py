"""A user's connection to orderchat."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError, TimeoutError as NatsTimeoutError
from nats.js.errors import FetchTimeoutError
from pydantic import BaseModel, TypeAdapter

from orderchat.schemas import names
from orderchat.schemas.chat import (
    AttachmentBody,
    BroadcastReply,
    BroadcastRequest,
    ChatMessage,
    HistoryReply,
    HistoryRequest,
    SendAccepted,
    SendRequest,
    TextBody,
)
from orderchat.schemas.conversations import (
    ConvCreate,
    ConvKind,
    ConvListReply,
    ConvListRequest,
    ConvMembersChange,
    ConvReply,
    MemberSpec,
    SessionOpen,
    SessionReply,
)
from orderchat.schemas.errors import ErrorReply, OrderchatError
from orderchat.schemas.inbox import InboxEvent

R = TypeVar("R", bound=BaseModel)

_INBOX_EVENT = TypeAdapter(InboxEvent)
RETRYABLE = (NatsTimeoutError, NoRespondersError, asyncio.TimeoutError)


@dataclass(frozen=True)
class InboxItem:
    """One thing from the inbox: a chat message of one of your conversations, or an event
    addressed to you (receipt, membership change, order update)."""

    subject: str
    stream_seq: int
    message: ChatMessage | None = None
    event: Any = None

    @property
    def kind(self) -> str:
        return "message" if self.message is not None else self.event.type


def parse_inbox(msg: Msg) -> InboxItem:
    family = msg.subject.split(".")[2]
    seq = msg.metadata.sequence.stream if msg.metadata else 0
    if family == "conv":
        return InboxItem(msg.subject, seq, message=ChatMessage.model_validate_json(msg.data))
    return InboxItem(msg.subject, seq, event=_INBOX_EVENT.validate_json(msg.data))


def new_msg_id() -> str:
    return uuid.uuid4().hex


class OrderchatClient:
    def __init__(self, nc: Client, user: str, tenant: str, device: str, owns_connection: bool) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.user = user
        self.tenant = tenant
        self.device = device
        self._owns = owns_connection
        self._send_locks: dict[str, asyncio.Lock] = {}

    @classmethod
    async def connect(
        cls,
        url: str,
        user: str,
        tenant: str = "shop",
        device: str = "main",
        **nats_options: Any,
    ) -> "OrderchatClient":
        nc = await nats.connect(
            url, name=f"orderchat-client-{user}", max_reconnect_attempts=-1, reconnect_time_wait=0.25, **nats_options
        )
        return cls(nc, user, tenant, device, owns_connection=True)

    @classmethod
    def over(cls, nc: Client, user: str, tenant: str = "shop", device: str = "main") -> "OrderchatClient":
        """Act as `user` over an existing connection (tests, services, tools)."""
        return cls(nc, user, tenant, device, owns_connection=False)

    async def close(self) -> None:
        if self._owns and not (self.nc.is_closed or self.nc.is_draining):
            await self.nc.drain()

    async def __aenter__(self) -> "OrderchatClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- requests --------------------------------------------------------------------------

    async def request(
        self, op: str, payload: BaseModel | bytes, reply: type[R], timeout: float = 5.0, attempts: int = 5
    ) -> R:
        """Ask a service; retried on time-outs. Every request is idempotent (sends carry
        their client message id), so a retry after a lost reply is safe."""
        subject = names.ingress(self.tenant, self.user, op)
        data = payload if isinstance(payload, bytes) else payload.model_dump_json(exclude_none=True).encode()
        delay = 0.1
        for attempt in range(attempts):
            try:
                msg = await self.nc.request(subject, data, timeout=timeout)
                break
            except RETRYABLE:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        if b'"ok":false' in msg.data[:32]:
            raise OrderchatError.from_reply(ErrorReply.model_validate_json(msg.data))
        return reply.model_validate_json(msg.data)

    # -- chat ------------------------------------------------------------------------------

    async def send(
        self,
        text: str | None = None,
        *,
        conv: str | None = None,
        to: str | None = None,
        attachment: AttachmentBody | None = None,
        client_msg_id: str | None = None,
        reply_to: int | None = None,
    ) -> SendAccepted:
        """Send a message; returns once it is stored with its conversation sequence.
        Sends to one conversation are serialized here, so they keep the order they were made."""
        body = attachment if attachment is not None else TextBody(text=text or "")
        request = SendRequest(
            client_msg_id=client_msg_id or new_msg_id(), conv=conv, to=to, body=body, reply_to=reply_to
        )
        key = conv or f"to:{to}"
        lock = self._send_locks.setdefault(key, asyncio.Lock())
        async with lock:
            return await self.request(names.OP_SEND, request, SendAccepted)

    async def broadcast(self, to: list[str], text: str, client_msg_id: str | None = None) -> BroadcastReply:
        request = BroadcastRequest(client_msg_id=client_msg_id or new_msg_id(), to=to, body=TextBody(text=text))
        return await self.request(names.OP_BROADCAST, request, BroadcastReply, timeout=30)

    async def create_conversation(
        self,
        members: list[str] | list[MemberSpec],
        *,
        kind: ConvKind = ConvKind.GROUP,
        title: str = "",
        conv_id: str | None = None,
    ) -> ConvReply:
        specs = [m if isinstance(m, MemberSpec) else MemberSpec(user=m) for m in members]
        return await self.request(
            names.OP_CONV_CREATE, ConvCreate(kind=kind, members=specs, title=title, id=conv_id), ConvReply, timeout=30
        )

    async def change_members(self, conv: str, add: list[str] = (), remove: list[str] = ()) -> ConvReply:  # type: ignore[assignment]
        request = ConvMembersChange(conv=conv, add=[MemberSpec(user=u) for u in add], remove=list(remove))
        return await self.request(names.OP_CONV_MEMBERS, request, ConvReply, timeout=30)

    async def conversations(self, limit: int = 200) -> ConvListReply:
        return await self.request(names.OP_CONV_LIST, ConvListRequest(limit=limit), ConvListReply)

    async def history(
        self, conv: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> HistoryReply:
        request = HistoryRequest(conv=conv, before=before, after=after, limit=limit)
        return await self.request(names.OP_HISTORY, request, HistoryReply)

    # -- inbox -----------------------------------------------------------------------------

    async def open_session(self) -> SessionReply:
        return await self.request(names.OP_SESSION_OPEN, SessionOpen(device=self.device), SessionReply)

    def inbox(self, *, follow: bool = True, batch: int = 256, idle: float = 1.0) -> "Inbox":
        """Everything addressed to this device since it last read, then (with `follow`) live.

            async with client.inbox() as inbox:
                async for item in inbox: ...

        An item is acknowledged when the next one is asked for or the block exits, i.e. after
        the loop body handled it; a crash before that redelivers it. Without `follow`,
        iteration stops once caught up."""
        return Inbox(self, follow=follow, batch=batch, idle=idle)

    async def _after_batch(self, msgs: list[Msg]) -> None:
        """Hook for delivered receipts (receipts service)."""
        return None


class Inbox:
    def __init__(self, client: OrderchatClient, *, follow: bool, batch: int, idle: float) -> None:
        self.client = client
        self.follow = follow
        self.batch = batch
        self.idle = idle
        self.session: SessionReply | None = None
        self._sub: Any = None
        self._buffer: list[Msg] = []
        self._handed: Msg | None = None
        self._fetched: list[Msg] = []

    async def __aenter__(self) -> "Inbox":
        self.session = await self.client.open_session()
        await self._bind()
        return self

    async def _bind(self) -> None:
        assert self.session is not None
        self._sub = await self.client.js.pull_subscribe_bind(
            durable=self.session.consumer, stream=self.session.stream
        )

    async def __aexit__(self, *exc: object) -> None:
        await self._ack_handed()
        await self._batch_done()
        try:
            await self._sub.unsubscribe()
        except Exception:  # noqa: BLE001 - the connection may be gone already
            pass

    def __aiter__(self) -> "Inbox":
        return self

    async def _ack_handed(self) -> None:
        if self._handed is not None:
            msg, self._handed = self._handed, None
            await msg.ack()

    async def _batch_done(self) -> None:
        if self._fetched and not self._buffer and self._handed is None:
            done, self._fetched = self._fetched, []
            await self.client._after_batch(done)

    async def __anext__(self) -> InboxItem:
        await self._ack_handed()
        await self._batch_done()
        while not self._buffer:
            try:
                msgs = await self._sub.fetch(self.batch, timeout=self.idle)
            except (FetchTimeoutError, NatsTimeoutError):
                if not self.follow:
                    raise StopAsyncIteration from None
                continue
            self._buffer = list(msgs)
            self._fetched = list(msgs)
        msg = self._buffer.pop(0)
        self._handed = msg
        return parse_inbox(msg)
