"""The current state of each order (KV OC_ORDERS, key `<tenant>.<order>`), projected from
its events. The KV copy is a cache of the log, never the truth: every load catches up with
the events stored after the copy's stream sequence (one direct get when it is current), and
`rebuild` replays the whole log."""

from __future__ import annotations

from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.orders import Order, OrderEvent
from orderchat.services.framework.typed_kv import TypedKV

from .event_log import OrderLog
from .state_machine import apply


class Projection:
    def __init__(self, js: JetStreamContext, log: OrderLog) -> None:
        self.js = js
        self.log = log
        self.kv: TypedKV[Order]

    async def start(self) -> None:
        self.kv = TypedKV(await self.js.key_value(names.KV_ORDERS), Order)

    async def load(self, tenant: str, order_id: str, rebuild: bool = False) -> tuple[Order | None, list[OrderEvent]]:
        """The order as its log says now, and the events the KV copy had not seen yet."""
        cached = None if rebuild else await self.kv.get(names.kv_key(tenant, order_id))
        order = cached[0] if cached else None
        stored = await self.log.read(tenant, order_id, order.last_stream_seq if order else 0)
        events = [OrderEvent.model_validate_json(s.data) for s in stored]
        for event, s in zip(events, stored, strict=True):
            order = apply(order, event, s.stream_seq)
        if events and order is not None:
            await self.save(order)
        return order, events

    async def save(self, order: Order) -> None:
        """Write `order` unless the copy is already further along (writers race; the log
        decides, so the copy only ever moves forward)."""

        def newer(current: Order | None) -> Order | None:
            if current is not None and current.last_stream_seq >= order.last_stream_seq:
                return None
            return order

        await self.kv.update(names.kv_key(tenant_of(order), order.id), newer)

    async def of_tenant(self, tenant: str) -> list[Order]:
        return [order for _, order in await self.kv.items(f"{tenant}.*")]


def tenant_of(order: Order) -> str:
    return order.tenant
