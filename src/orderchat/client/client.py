"""A user's connection to orderchat."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError, NoRespondersError, StaleConnectionError, TimeoutError as NatsTimeoutError
from nats.js.errors import APIError
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

from .orders import OrdersApi
from .pull import PullRequests, nak_all
from orderchat.security.refusals import RefusalLog, connect_or_refused, with_refusal_log
from orderchat.schemas.base import Ok
from orderchat.schemas.receipts import (
    PRESENCE_TTL,
    TYPING_TTL,
    CursorReply,
    DeliveredRequest,
    PresenceBeat,
    PresenceReply,
    PresenceRequest,
    ReadRequest,
    StatusReply,
    StatusRequest,
    TypingRequest,
)

from .live import LiveFeed

R = TypeVar("R", bound=BaseModel)

_INBOX_EVENT = TypeAdapter(InboxEvent)
DELIVERED_COALESCE = 0.25  # seconds between two delivered receipts of one device
# Each wait is drawn from ±20 % around it, so that many devices started together do not
# send their receipts in step (a burst the receipts service would answer all at once).
DELIVERED_JITTER = 0.2
RETRYABLE = (NatsTimeoutError, NoRespondersError, asyncio.TimeoutError)
# Fetch failures an inbox rides out (server restarting, JetStream not ready, reconnecting).
RECOVERABLE = (NoRespondersError, APIError, ConnectionClosedError, StaleConnectionError, OSError)
# Inbox events (stream sequences) an inbox remembers having shown, to drop repeats.
SHOWN_MEMORY = 100_000
# How long an inbox keeps re-binding through consecutive fetch errors before it gives up.
MAX_OUTAGE = 120.0
# A message after a gap that history could not fill (delivery unreachable) comes back after
# this long, and the fill is tried again then.
GAP_RETRY = 1.0


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


def connection_seed(nats_options: dict[str, Any]) -> bytes | None:
    """The nkey seed a connection authenticates with (a `.nk` or `.creds` file, or the seed
    itself), if any."""
    from orderchat.security.keys import read_seed

    if nats_options.get("nkeys_seed_str"):
        return str(nats_options["nkeys_seed_str"]).strip().encode()
    path = nats_options.get("nkeys_seed") or nats_options.get("user_credentials")
    if not isinstance(path, (str, Path)):
        return None
    try:
        return read_seed(Path(path)).encode()
    except (OSError, ValueError):
        return None  # nats-py reports an unusable key file itself


class OrderchatClient:
    def __init__(self, nc: Client, user: str, tenant: str, device: str, owns_connection: bool) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.user = user
        self.tenant = tenant
        self.device = device
        self._owns = owns_connection
        self._send_locks: dict[str, asyncio.Lock] = {}
        self.refusals = RefusalLog()  # permission violations NATS reported (see connect)
        self.orders = OrdersApi(self)
        self._delivered_sent: dict[str, int] = {}  # conversation -> highest delivered receipt sent
        self._delivered_pending: dict[str, int] = {}  # conversation -> highest delivered not yet sent
        self._delivered_flusher: asyncio.Task[None] | None = None
        self._typing_sent: dict[str, float] = {}  # conversation -> when the last typing event went
        self._heartbeat: asyncio.Task[None] | None = None
        self._stop_beats = asyncio.Event()

    @classmethod
    async def connect(
        cls,
        url: str,
        user: str,
        tenant: str = "shop",
        device: str = "main",
        **nats_options: Any,
    ) -> "OrderchatClient":
        # Replies come to the user's own prefix: NATS permissions let a party subscribe there
        # only, so no one can listen in on another party's replies.
        nats_options.setdefault("inbox_prefix", names.reply_inbox_prefix(tenant, user))
        nats_options, refusals = with_refusal_log(nats_options)
        nc = await connect_or_refused(
            url, refusals, name=f"orderchat-client-{user}", max_reconnect_attempts=-1, reconnect_time_wait=0.25, **nats_options
        )
        client = cls(nc, user, tenant, device, owns_connection=True)
        client.refusals = refusals
        # The device key that authenticates this connection also signs the party's orders.
        client.orders.use_seed(connection_seed(nats_options))
        return client

    @classmethod
    def over(cls, nc: Client, user: str, tenant: str = "shop", device: str = "main") -> "OrderchatClient":
        """Act as `user` over an existing connection (tests, services, tools)."""
        return cls(nc, user, tenant, device, owns_connection=False)

    async def close(self) -> None:
        await self.flush_receipts()
        await self.stop_presence()
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
                self.refusals.raise_if_refused(subject)  # refused by NATS: retrying cannot help
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

    async def _after_batch(self, marks: dict[str, int]) -> None:
        """Delivered receipts, sent by the client itself once a fetched batch is handled and
        acknowledged (`marks`: conversation → highest sequence from someone else handed out):
        per conversation only its highest sequence, sent in the background and coalesced over
        DELIVERED_COALESCE seconds. Reading never waits on the receipts service, and a busy
        group costs a few receipts a second per member, not one per message. A failure is not
        fatal: the next receipt covers this one."""
        for conv, seq in marks.items():
            if seq > max(self._delivered_sent.get(conv, 0), self._delivered_pending.get(conv, 0)):
                self._delivered_pending[conv] = seq
        if self._delivered_pending and (self._delivered_flusher is None or self._delivered_flusher.done()):
            self._delivered_flusher = asyncio.create_task(self._flush_delivered())

    async def _flush_delivered(self) -> None:
        while self._delivered_pending:
            marks, self._delivered_pending = self._delivered_pending, {}
            await self._send_delivered(marks)
            await asyncio.sleep(DELIVERED_COALESCE * random.uniform(1 - DELIVERED_JITTER, 1 + DELIVERED_JITTER))

    async def _send_delivered(self, marks: dict[str, int]) -> None:
        results = await asyncio.gather(
            *(
                self.request(
                    names.OP_DELIVERED, DeliveredRequest(conv=conv, up_to=seq, device=self.device), CursorReply, attempts=8
                )
                for conv, seq in marks.items()
            ),
            return_exceptions=True,
        )
        for (conv, seq), result in zip(marks.items(), results):
            if isinstance(result, CursorReply):
                self._delivered_sent[conv] = max(seq, self._delivered_sent.get(conv, 0))

    async def flush_receipts(self, timeout: float = 5.0) -> None:
        """Send the delivered receipts still owed now (close() and leaving the inbox do this)."""
        flusher = self._delivered_flusher
        if flusher is not None and not flusher.done():
            await asyncio.wait({flusher}, timeout=timeout)  # it sends all that is pending, then ends
        if self._delivered_pending:
            marks, self._delivered_pending = self._delivered_pending, {}
            try:
                await asyncio.wait_for(self._send_delivered(marks), timeout)
            except asyncio.TimeoutError:
                pass

    # -- receipts, typing, presence --------------------------------------------------------

    async def mark_read(self, conv: str, up_to: int | None = None) -> CursorReply:
        """Mark `conv` read up to `up_to` (default: its last message). Cursors only move
        forward: a late or repeated mark changes nothing (`moved` is False)."""
        return await self.request(names.OP_READ, ReadRequest(conv=conv, up_to=up_to), CursorReply)

    async def receipt_status(
        self, conv: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> StatusReply:
        """Per message and member of a history page: sent / delivered / read, with times."""
        request = StatusRequest(conv=conv, before=before, after=after, limit=limit)
        return await self.request(names.OP_RECEIPT_STATUS, request, StatusReply, timeout=10)

    async def typing(self, conv: str, *, force: bool = False) -> bool:
        """A keystroke: tells the other members you are typing. Call it on every keystroke;
        it sends at most one event per half indicator lifetime. True when one was sent."""
        now = asyncio.get_running_loop().time()
        if not force and now - self._typing_sent.get(conv, float("-inf")) < TYPING_TTL / 2:
            return False
        self._typing_sent[conv] = now
        await self.request(names.OP_TYPING, TypingRequest(conv=conv), Ok, attempts=1)
        return True

    def live(self) -> LiveFeed:
        """Typing and other volatile events for this user (core NATS)."""
        return LiveFeed(self.nc, names.live(self.tenant, self.user))

    async def heartbeat(self, state: str = "online", ttl: int = PRESENCE_TTL) -> Ok:
        beat = PresenceBeat(device=self.device, state=state, ttl=ttl)  # type: ignore[arg-type]
        return await self.request(names.OP_PRESENCE, beat, Ok)

    def start_presence(self, ttl: int = PRESENCE_TTL) -> None:
        """Beat in the background (three beats per TTL) until `stop_presence` or `close`."""
        if self._heartbeat is not None:
            return
        stopping = self._stop_beats = asyncio.Event()

        async def beat_forever() -> None:
            # Ends on the event, not only on cancel: CPython 3.11's `wait_for` (which nats-py's
            # request awaits through) can swallow a cancel that lands as the reply arrives
            # (gh-86296), and the loop would then beat on while `close()` waits for it.
            while not stopping.is_set():
                try:
                    await self.heartbeat("online", ttl)
                except (OrderchatError, *RETRYABLE):
                    pass  # a missed beat; the TTL covers two more
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), ttl / 3)

        self._heartbeat = asyncio.create_task(beat_forever())

    async def stop_presence(self) -> None:
        """Stop beating and say goodbye, so others see this device offline at once."""
        task, self._heartbeat = self._heartbeat, None
        if task is None:
            return
        self._stop_beats.set()
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping regardless
            pass
        if not (self.nc.is_closed or self.nc.is_draining):
            try:
                await self.request(names.OP_PRESENCE, PresenceBeat(device=self.device, state="offline"), Ok, attempts=1)
            except (OrderchatError, *RETRYABLE):
                pass  # the TTL ends it instead

    async def presence(self, users: list[str]) -> PresenceReply:
        return await self.request(names.OP_PRESENCE_GET, PresenceRequest(users=users), PresenceReply)


class Inbox:
    """A device's inbox: fetches from the device's durable consumer, acknowledges what the
    loop body handled, and shows every conversation gapless, in order, and once.

    JetStream delivers at least once, and after a nats-server crash it may redeliver late
    (after the consumer's ack wait) or hand out again what was shown already (acks or the
    delivered position lost with the crash). Conversation sequences are gapless, so the inbox
    knows what it has shown per conversation: an older sequence is dropped, a gap is filled
    from history before the newer message is shown."""

    def __init__(self, client: OrderchatClient, *, follow: bool, batch: int, idle: float) -> None:
        self.client = client
        self.follow = follow
        self.batch = batch
        self.idle = idle
        self.session: SessionReply | None = None
        self._pull: PullRequests | None = None
        self._buffer: deque[Msg] = deque()
        self._ready: deque[tuple[Msg | None, InboxItem]] = deque()
        self._handed: Msg | None = None
        self._fetched: list[Msg] = []
        self._delivered: dict[str, int] = {}  # conversation -> highest sequence from someone else handed out
        self._last_seq: dict[str, int] = {}  # conversation -> last sequence shown
        self._events_shown: set[int] = set()  # stream sequences of events shown (bounded)
        self._events_order: deque[int] = deque()
        self._failing_since: float | None = None
        self._backoff = 0.1
        self.filled_from_history = 0
        self.dropped_repeats = 0

    async def __aenter__(self) -> "Inbox":
        self.session = await self.client.open_session()
        await self._bind()
        return self

    async def _bind(self) -> None:
        assert self.session is not None
        self._pull = await PullRequests(self.client.nc, self.session.stream, self.session.consumer).open()

    async def __aexit__(self, *exc: object) -> None:
        await self._ack_handed()
        # Fetched and never shown: handed back now, not redelivered only after the ack wait.
        unshown = [*self._buffer, *(msg for msg, _ in self._ready if msg is not None)]
        self._buffer.clear()
        self._ready.clear()
        handed_back = {id(m) for m in unshown}
        self._fetched = [m for m in self._fetched if id(m) not in handed_back]
        await nak_all(unshown)
        await self._batch_done()
        # Reading never waits for receipts, but leaving the inbox sends what is owed.
        await self.client.flush_receipts()
        try:
            await self._pull.close()  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - the connection may be gone already
            pass

    def __aiter__(self) -> "Inbox":
        return self

    async def _ack_handed(self) -> None:
        if self._handed is not None:
            msg, self._handed = self._handed, None
            await msg.ack()

    async def _batch_done(self) -> None:
        if self._fetched and not self._buffer and not self._ready and self._handed is None:
            self._fetched = []
            marks, self._delivered = self._delivered, {}
            await self.client._after_batch(marks)

    async def __anext__(self) -> InboxItem:
        await self._ack_handed()
        await self._batch_done()
        while not self._ready:
            while not self._buffer:
                await self._refill()
            await self._admit(self._buffer.popleft())
        msg, item = self._ready.popleft()
        self._handed = msg
        message = item.message
        if message is not None and message.sender != self.client.user and message.seq > self._delivered.get(message.conv, 0):
            self._delivered[message.conv] = message.seq
        return item

    async def _admit(self, msg: Msg) -> None:
        """Queue what `msg` makes showable: nothing (a repeat), or the history it skipped
        over followed by itself."""
        item = parse_inbox(msg)
        if item.message is None:
            if self._event_seen(item.stream_seq):
                self.dropped_repeats += 1
                await msg.ack()
            else:
                self._ready.append((msg, item))
            return
        conv, seq = item.message.conv, item.message.seq
        last = self._last_seq.get(conv)
        if last is not None and seq <= last:
            self.dropped_repeats += 1
            await msg.ack()
            return
        if last is not None and seq > last + 1:
            found, unreachable = await self._from_history(conv, last, seq)
            for missing in found:
                self._ready.append((None, InboxItem(names.conv(self.client.tenant, conv), 0, message=missing)))
            if found:
                self._last_seq[conv] = found[-1].seq
            if unreachable:
                # Not filled: showing this message now would put it before the missing ones,
                # and their late copies would then be dropped as repeats. It comes back later.
                self._fetched = [m for m in self._fetched if m is not msg]
                await msg.nak(delay=GAP_RETRY)
                return
        self._last_seq[conv] = seq
        self._ready.append((msg, item))

    async def _from_history(self, conv: str, last: int, upto: int) -> tuple[list[ChatMessage], bool]:
        """Messages last+1 .. upto-1 of `conv`, in order, and whether history was unreachable
        before they were all found (then the rest is tried again later). A refusal (no longer
        a member) is final: what was found is all there will be."""
        found: list[ChatMessage] = []
        after, unreachable = last, False
        try:
            while after < upto - 1:
                page = await self.client.history(conv, after=after, limit=min(500, upto - 1 - after))
                batch = [m for m in page.messages if after < m.seq < upto]
                if not batch:
                    break
                found.extend(batch)
                after = batch[-1].seq
        except RETRYABLE:
            unreachable = True
        except OrderchatError:
            pass
        self.filled_from_history += len(found)
        return found, unreachable

    def _event_seen(self, stream_seq: int) -> bool:
        if stream_seq in self._events_shown:
            return True
        self._events_shown.add(stream_seq)
        self._events_order.append(stream_seq)
        if len(self._events_order) > SHOWN_MEMORY:
            self._events_shown.discard(self._events_order.popleft())
        return False

    async def _refill(self) -> None:
        """One fetch; errors back off and re-bind for at most `MAX_OUTAGE` seconds in a row."""
        try:
            if self._pull is None:  # a re-bind failed during an outage: bind again first
                await self._bind()
            assert self._pull is not None
            if self.follow:
                # One pull request stays open while messages trickle in: each is handed on
                # as it comes, at one message from the server per message.
                msg = await self._pull.next(self.batch, self.idle)
                msgs = [msg] if msg is not None else []
            else:
                msgs = await self._pull.fetch(self.batch, self.idle)
        except (NatsTimeoutError, asyncio.TimeoutError):
            msgs = []  # the request's answer was lost (a reconnect): as an empty fetch
        except RECOVERABLE as err:
            await self._recover(err)
            return
        if not msgs:
            # An empty inbox, or NATS refused this key the device's consumer: say which.
            self.client.refusals.raise_if_refused(names.js_consumer_next(self.session.stream, self.session.consumer))  # type: ignore[union-attr]
            self._failing_since = None
            if not self.follow:
                raise StopAsyncIteration from None
            return
        self._failing_since = None
        self._buffer.extend(msgs)
        self._fetched.extend(msgs)

    async def _recover(self, err: BaseException) -> None:
        now = asyncio.get_running_loop().time()
        if self._failing_since is None:
            self._failing_since, self._backoff = now, 0.1
        elif now - self._failing_since > MAX_OUTAGE:
            raise err
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, 2.0)
        try:
            # No responders to a pull: the device consumer is not there. It is stored in
            # memory, so a nats-server restart forgets it; opening the session again makes
            # delivery re-create it from the device's checkpointed position.
            await self._rebind(reopen=isinstance(err, NoRespondersError))
        except (*RECOVERABLE, *RETRYABLE):
            pass  # still down: the next fetch fails again and backs off further

    async def _rebind(self, reopen: bool) -> None:
        old, self._pull = self._pull, None
        try:
            await old.close()  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - the old subscription may be gone with its connection
            pass
        if reopen:
            self.session = await self.client.open_session()
        await self._bind()
