"""The orders service: order commands and queries (request/reply), the `seen` watcher, and
the reactor that makes sure every event's card or notice reaches the chat."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Any

from faststream import AckPolicy, Context
from faststream.nats import DeliverPolicy, JStream, NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg

from orderchat.schemas import names
from orderchat.schemas.base import Inbound
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import (
    COMMAND_MODELS,
    ListOrders,
    Order,
    OrderAction,
    OrderEvent,
    OrderEventsReply,
    OrderEventsRequest,
    OrderListReply,
    OrderQuery,
    OrderReply,
    Party,
    ShowOrder,
)
from orderchat.schemas.users import PartyRole
from orderchat.security import ledger
from orderchat.services.framework.context import ServiceContext
from orderchat.services.framework.metrics import BATCH_SIZE, STREAM_MESSAGES
from orderchat.services.framework.request_server import Caller, RequestServer

from .cards import ChatPoster
from . import evidence
from .commands import Commands
from .event_log import OrderLog
from .projection import Projection
from .seen import PendingCards
from .visibility import order_for

log = logging.getLogger(__name__)

NAME = "orders"
REACTOR = names.service_consumer(NAME, "reactor")
COMMAND_MAX_BYTES = 256 * 1024
REDELIVER_AFTER = 2.0


class OrdersService:
    name = NAME

    def __init__(self) -> None:
        self.server: RequestServer | None = None
        self.commands: Commands | None = None
        self.pending: PendingCards | None = None
        self._stopping = False
        self.router = NatsRouter()
        self.router.subscriber(
            names.ORDER_EVENT_SUBJECTS,
            stream=JStream(names.STREAM_ORDERS, declare=False),
            durable=REACTOR,
            deliver_policy=DeliverPolicy.NEW,
            pull_sub=PullSub(batch_size=100, timeout=1.0, batch=True),
            ack_policy=AckPolicy.MANUAL,
        )(self._react)

    async def start(self, ctx: ServiceContext) -> None:
        js = ctx.js
        self.log = OrderLog(js)
        self.projection = Projection(js, self.log)
        await self.projection.start()
        self.pending = PendingCards(js)
        self.commands = Commands(js, self.log, self.projection, ChatPoster(ctx.nc), self.pending)
        await self.commands.start()
        # Device keys registered before the signing-key ledger existed sign too.
        await ledger.backfill(js)
        await self.pending.start(self.commands.mark_seen)

        server = RequestServer(ctx, NAME)
        q = names.QUEUE_ORDERS
        for action, model in COMMAND_MODELS.items():
            server.add(
                names.ingress_pattern(names.order_command_op(action)), str(action), model, self._command(action),
                queue=q, max_bytes=COMMAND_MAX_BYTES,
            )
        server.add(names.ingress_pattern(names.order_command_op(OrderQuery.SHOW)), "show", ShowOrder, self.show, queue=q)
        server.add(names.ingress_pattern(names.order_command_op(OrderQuery.LIST)), "list", ListOrders, self.list, queue=q)
        server.add(names.ingress_pattern(names.order_command_op(OrderQuery.EVENTS)), "events", OrderEventsRequest, self.events, queue=q)
        await server.start()
        self.server = server

    async def stop(self) -> None:
        self._stopping = True  # the reactor hands back what it has not done yet
        if self.server is not None:
            await self.server.stop()
        if self.pending is not None:
            await self.pending.stop()

    # -- commands --------------------------------------------------------------------------

    def _command(self, action: OrderAction):
        async def handle(command: Inbound, caller: Caller) -> OrderReply:
            assert self.commands is not None
            reply = await self.commands.run(caller.tenant, caller.user, action, command)
            if caller.user == reply.order.supplier:
                reply = reply.model_copy(update={"order": order_for(await self.commands.user(caller.tenant, caller.user), reply.order)})
            return reply

        return handle

    # -- queries ---------------------------------------------------------------------------

    async def _readable(self, caller: Caller, order_id: str, rebuild: bool = False) -> Order:
        order, _ = await self.projection.load(caller.tenant, order_id, rebuild=rebuild)
        if order is None:
            raise OrderchatError(ErrorCode.NOT_FOUND, f"no order {order_id!r}")
        if caller.user not in (order.buyer, order.supplier) and not await self._is_ops(caller):
            raise OrderchatError(ErrorCode.FORBIDDEN, f"order {order_id} is between {order.buyer} and {order.supplier}")
        return order

    async def _is_ops(self, caller: Caller) -> bool:
        assert self.commands is not None
        user = await self.commands.user(caller.tenant, caller.user)
        return user is not None and user.role is PartyRole.OPS

    async def show(self, request: ShowOrder, caller: Caller) -> OrderReply:
        order = await self._readable(caller, request.order_id, request.rebuild)
        return OrderReply(order=await self._as_seen_by(caller, order))

    async def _as_seen_by(self, caller: Caller, order: Order) -> Order:
        """A category-limited supplier sees only its categories' lines (visibility)."""
        if caller.user != order.supplier:
            return order
        assert self.commands is not None
        return order_for(await self.commands.user(caller.tenant, caller.user), order)

    async def list(self, request: ListOrders, caller: Caller) -> OrderListReply:
        everyone = await self._is_ops(caller)
        orders = [
            o for o in await self.projection.of_tenant(caller.tenant)
            if (everyone or caller.user in (o.buyer, o.supplier)) and (request.state is None or o.state is request.state)
        ]
        orders.sort(key=lambda o: o.updated_at, reverse=True)
        viewer = await self.commands.user(caller.tenant, caller.user)  # type: ignore[union-attr]
        page = orders[: request.limit]
        return OrderListReply(orders=[order_for(viewer, o) if o.supplier == caller.user else o for o in page])

    async def events(self, request: OrderEventsRequest, caller: Caller) -> OrderEventsReply:
        order = await self._readable(caller, request.order_id)
        if len((await self._as_seen_by(caller, order)).lines) != len(order.lines):
            # The log is evidence: hash-chained over every line, so it cannot be trimmed to the
            # supplier's categories without breaking verification. Fail closed (visibility).
            raise OrderchatError(
                ErrorCode.FORBIDDEN,
                f"order {order.id} has lines outside your categories; its event log is open to {order.buyer} and ops",
            )
        stored = await self.log.read(caller.tenant, order.id)
        return OrderEventsReply(
            order_id=order.id,
            events=[json.loads(s.data) for s in stored],
            buyer=await self._party(caller.tenant, order.buyer),
            supplier=await self._party(caller.tenant, order.supplier),
        )

    async def _party(self, tenant: str, user_id: str) -> Party:
        assert self.commands is not None
        user = await self.commands.user(tenant, user_id)
        if user is None:
            return Party(id=user_id, display_name=user_id)
        keys = evidence.keyring(await self.commands.keys_of(tenant, user_id), user.public_key)
        return Party(id=user.id, display_name=user.display_name, company=user.company, public_key=user.public_key, keys=keys.keys)

    # -- reactor ---------------------------------------------------------------------------

    async def _react(self, body: Any, message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        """Every event's card or notice, again: a no-op when the command path already posted
        it (same message ids), the repair when the service died in between."""
        msgs = message.raw_message
        BATCH_SIZE.labels(NAME, REACTOR).observe(len(msgs))
        if self._stopping:  # delivery may be gone already: leave the batch for the next start
            for msg in msgs:
                await msg.nak()
            return
        # Orders are independent: each order's events in turn, different orders at once.
        by_order: dict[str, list[Msg]] = {}
        for msg in msgs:
            by_order.setdefault(msg.subject, []).append(msg)
        await asyncio.gather(*(self._react_in_turn(group) for group in by_order.values()))

    async def _react_in_turn(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            outcome = "ok"
            try:
                await self._react_one(msg.data)
                await msg.ack()
            except Exception:  # noqa: BLE001 - retried after a pause (delivery down, ...)
                log.warning("orders reactor: event on %s failed; will retry", msg.subject, exc_info=True)
                outcome = "retry"
                await msg.nak(delay=REDELIVER_AFTER)
            STREAM_MESSAGES.labels(NAME, REACTOR, outcome).inc()

    async def _react_one(self, data: bytes) -> None:
        assert self.commands is not None
        event = OrderEvent.model_validate_json(data)
        if event.type.value in ("sent", "seen"):
            return
        order, _ = await self.projection.load(event.tenant, event.order_id)
        if order is not None:
            await self.commands.react(order, event, strict=True)
