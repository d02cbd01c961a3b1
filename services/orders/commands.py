"""Carrying out order commands: load, decide, append with compare-and-set, then show it in
the chat. Idempotent by command id, authorized by the subject's user."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timezone

from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.base import Inbound, Stored
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import (
    CreateOrder,
    EventType,
    Order,
    OrderAction,
    OrderCommand,
    OrderEvent,
    OrderReply,
    OrderState,
    order_id_for_ref,
)
from orderchat.schemas.credentials import PartyKeys
from orderchat.schemas.users import PartyRole, User
from orderchat.security import ledger
from orderchat.services.framework.typed_kv import TypedKV

from . import evidence, state_machine
from .cards import ChatPoster
from .event_log import Behind, OrderLog
from .projection import Projection
from .seen import PendingCards
from .state_machine import Draft
from .visibility import require_whole_view

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
# Events after which the card goes out (again).
CARD_EVENTS = frozenset({EventType.CREATED, EventType.AMENDED})


class CommandRecord(Stored):
    """A processed command (KV OC_ORDER_COMMANDS, key `<tenant>.<user>.<command_id>`)."""

    order_id: str
    action: str
    digest: str
    event_n: int


def command_digest(action: OrderAction, command: Inbound) -> str:
    return evidence.sha256_hex(evidence.canonical({"action": str(action), "command": command.model_dump(mode="json")}))


def now() -> datetime:
    return datetime.now(timezone.utc)


class Commands:
    def __init__(self, js: JetStreamContext, log_: OrderLog, projection: Projection, poster: ChatPoster, pending: PendingCards) -> None:
        self.js = js
        self.log = log_
        self.projection = projection
        self.poster = poster
        self.pending = pending
        self.users: TypedKV[User]
        self.records: TypedKV[CommandRecord]
        self.keys: TypedKV[PartyKeys]

    async def start(self) -> None:
        self.users = TypedKV(await self.js.key_value(names.KV_USERS), User)
        self.records = TypedKV(await self.js.key_value(names.KV_ORDER_COMMANDS), CommandRecord)
        self.keys = await ledger.ledger(self.js)

    async def user(self, tenant: str, user_id: str) -> User | None:
        found = await self.users.get(names.kv_key(tenant, user_id))
        return found[0] if found else None

    async def keys_of(self, tenant: str, user_id: str) -> PartyKeys:
        """The party's signing-key ledger (one KV read)."""
        return await ledger.keys_of(self.keys, tenant, user_id)

    async def signing_keys(self, tenant: str, user: User) -> PartyKeys:
        """Who may sign for `user`: its ledger keys plus its directory key."""
        return evidence.keyring(await self.keys_of(tenant, user.id), user.public_key)

    # -- the command path ------------------------------------------------------------------

    async def run(self, tenant: str, actor: str, action: OrderAction, command: Inbound) -> OrderReply:
        record_key = names.kv_key(tenant, actor, command.command_id)  # type: ignore[attr-defined]
        digest = command_digest(action, command)
        earlier = await self.records.get(record_key)
        if earlier is not None:
            return await self._repeat(tenant, earlier[0], digest)
        user = await self.user(tenant, actor)
        if user is None:
            raise OrderchatError(ErrorCode.UNKNOWN_USER, f"no user {actor!r}")
        if action is OrderAction.CREATE:
            assert isinstance(command, CreateOrder)
            order_id = await self._check_create(tenant, user, command)
        else:
            assert isinstance(command, OrderCommand)
            order_id = command.order_id
        keys = await self.signing_keys(tenant, user)
        for _ in range(MAX_ATTEMPTS):
            order, _new = await self.projection.load(tenant, order_id)
            signer = state_machine.Signer(keys, now())
            repeated = await self._already_in_log(tenant, order, actor, command.command_id)  # type: ignore[attr-defined]
            if repeated is not None:
                return repeated
            if action is OrderAction.CREATE:
                if order is not None:
                    return await self._existing(tenant, order, command)  # type: ignore[arg-type]
                draft = state_machine.decide_create(tenant, order_id, command, actor, signer)  # type: ignore[arg-type]
            elif action is OrderAction.SEND:
                order = state_machine.authorize(order, action, command, actor)  # type: ignore[arg-type]
                order, sent = await self._deliver_card(order, command.command_id)  # type: ignore[attr-defined]
                if sent is not None:
                    await self.records.put(record_key, CommandRecord(order_id=order_id, action=str(action), digest=digest, event_n=sent.n))
                return OrderReply(order=order, event=sent)
            else:
                if order is not None and order.supplier == actor:
                    require_whole_view(user, order, action)
                draft = state_machine.decide(order, action, command, actor, signer)  # type: ignore[arg-type]
            # The event bears the moment its signature was checked at: the key was live then.
            draft = replace(draft, at=signer.at)
            try:
                order, event = await self.append(tenant, order_id, order, draft, f"{tenant}:{actor}:{command.command_id}")  # type: ignore[attr-defined]
            except Behind:
                continue  # someone else appended: decide again on the newer state
            await self.records.put(record_key, CommandRecord(order_id=order_id, action=str(action), digest=digest, event_n=event.n))
            order = await self.react(order, event)
            return OrderReply(order=order, event=event)
        raise OrderchatError(ErrorCode.CONFLICT, f"order {order_id} keeps changing; try again")

    async def append(self, tenant: str, order_id: str, order: Order | None, draft: Draft, msg_id: str) -> tuple[Order, OrderEvent]:
        """Append `draft` after `order`'s last event; Behind if someone else got there first."""
        n = (order.events if order else 0) + 1
        event = draft.event(tenant, order_id, n, now(), order.head_hash if order else None)
        event, data = evidence.seal(event)
        appended = await self.log.append(tenant, order_id, data, order.last_stream_seq if order else 0, msg_id)
        if appended.duplicate:
            stored = await self.log.stored(appended.stream_seq)
            event = OrderEvent.model_validate_json(stored.data)
            fresh, _ = await self.projection.load(tenant, order_id)
            assert fresh is not None
            return fresh, event
        new = state_machine.apply(order, event, appended.stream_seq)
        await self.projection.save(new)
        return new, event

    async def _check_create(self, tenant: str, buyer: User, command: CreateOrder) -> str:
        if buyer.role is not PartyRole.BUYER:
            raise OrderchatError(ErrorCode.FORBIDDEN, f"{buyer.id} is a {buyer.role}; only buyers create orders")
        supplier = await self.user(tenant, command.supplier)
        if supplier is None:
            raise OrderchatError(ErrorCode.UNKNOWN_USER, f"no supplier {command.supplier!r}")
        if supplier.role is not PartyRole.SUPPLIER:
            raise OrderchatError(ErrorCode.INVALID, f"{supplier.id} is not a supplier")
        if command.order_id:
            return command.order_id
        if command.external_ref:
            return order_id_for_ref(command.external_ref)
        return f"o-{evidence.sha256_hex(f'{tenant}:{buyer.id}:{command.command_id}'.encode())[:16]}"

    async def _existing(self, tenant: str, order: Order, command: CreateOrder) -> OrderReply:
        """Creating an order that exists: the same external reference is a repeat (answered
        with the order), anything else a conflict."""
        if command.external_ref is not None and order.erp_ref == command.external_ref and order.supplier == command.supplier:
            created = OrderEvent.model_validate_json((await self.log.read(tenant, order.id))[0].data)
            return OrderReply(order=order, event=created, duplicate=True)
        raise state_machine.conflict(order, f"order {order.id} already exists")

    async def _already_in_log(self, tenant: str, order: Order | None, actor: str, command_id: str) -> OrderReply | None:
        """A retry whose first attempt was appended but not yet recorded (a crash or a race)."""
        if order is None:
            return None
        for stored in reversed(await self.log.read(tenant, order.id, max(0, order.last_stream_seq - 1))):
            event = OrderEvent.model_validate_json(stored.data)
            if event.actor == actor and event.command_id == command_id:
                return OrderReply(order=order, event=event, duplicate=True)
        return None

    async def _repeat(self, tenant: str, record: CommandRecord, digest: str) -> OrderReply:
        if record.digest != digest:
            raise OrderchatError(ErrorCode.CONFLICT, "this command id was already used for a different command")
        order, _ = await self.projection.load(tenant, record.order_id)
        assert order is not None
        stored = await self.log.read(tenant, record.order_id)
        event = OrderEvent.model_validate_json(stored[record.event_n - 1].data)
        return OrderReply(order=order, event=event, duplicate=True)

    # -- what follows an event in the chat -------------------------------------------------

    async def react(self, order: Order, event: OrderEvent, strict: bool = False) -> Order:
        """Post the card or the notice an event calls for; idempotent (message ids derive from
        the event). On the command path (`strict` off) a delivery failure leaves the event in
        place for the reactor to retry; the command itself has happened."""
        try:
            if event.type in CARD_EVENTS:
                if event.send is not False and order.revision == event.revision and order.state is OrderState.DRAFT:
                    order, _ = await self._deliver_card(order, f"sent-r{order.revision}")
                return order
            await self.poster.post_notice(order, event, await self.user(order.tenant, order.supplier))
        except Exception:  # noqa: BLE001 - the event is stored; the reactor retries the post
            if strict:
                raise
            log.warning("could not post %s of order %s to the chat", event.type, order.id, exc_info=True)
        return order

    async def _deliver_card(self, order: Order, command_id: str) -> tuple[Order, OrderEvent | None]:
        """Post the card of the current revision, then record `sent` (None: it already was)."""
        posted_revision = order.revision
        accepted = await self.poster.post_card(
            order, await self._changed_lines(order), await self.user(order.tenant, order.supplier)
        )
        for _ in range(MAX_ATTEMPTS):
            draft = state_machine.card_sent(order, accepted.conv, accepted.seq, command_id)
            if draft is None or order.revision != posted_revision:  # already sent, or amended meanwhile
                return order, None
            try:
                order, event = await self.append(order.tenant, order.id, order, draft, f"{order.tenant}:{order.id}:sent:r{order.revision}")
            except Behind:
                fresh, _ = await self.projection.load(order.tenant, order.id)
                assert fresh is not None
                order = fresh
                continue
            await self.pending.register(order)
            return order, event
        raise OrderchatError(ErrorCode.CONFLICT, f"order {order.id} keeps changing; try again")

    async def _changed_lines(self, order: Order) -> tuple[str, ...]:
        if order.revision == 1:
            return ()
        for stored in reversed(await self.log.read(order.tenant, order.id)):
            event = OrderEvent.model_validate_json(stored.data)
            if event.revision == order.revision and event.type in (EventType.AMENDED, EventType.CHANGES_ACCEPTED):
                return event.changed_lines
        return ()

    async def mark_seen(self, tenant: str, order_id: str, reader: str, up_to: int) -> bool:
        """The supplier's read cursor reached `up_to`: record `seen` if the card is there."""
        for _ in range(MAX_ATTEMPTS):
            order, _new = await self.projection.load(tenant, order_id)
            if order is None:
                return False
            draft = state_machine.card_seen(order, reader, up_to)
            if draft is None:
                return False
            try:
                await self.append(tenant, order_id, order, draft, f"{tenant}:{order_id}:seen:r{order.revision}")
                return True
            except Behind:
                continue
        return False
