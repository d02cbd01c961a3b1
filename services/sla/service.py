"""The SLA service: follows the order events (stream ORDERS, durable `sla_orders`, through
the project's StreamConsumer: per-message ack, bounded retries, poison events parked in the
DLQ) to arm and settle per-order deadlines in KV, and fires breaches exactly once (see
deadlines.py).

Deadlines are judged only once the consumer has read the event log up to its end: while it
is catching up (after downtime), a `sent` whose deadline already passed may be followed by
the supplier's answer a few events later, and judging early would report a false breach.

Why not FastStream's PullSub(batch=True) here: FastStream 0.7.8 catches nats-py's
`nats.errors.TimeoutError` around `fetch`, but nats-py 2.16 also raises the builtin
`TimeoutError` near the fetch deadline; that escapes, and the partial batch already fetched
is dropped until the server redelivers it after `ack_wait` (30 s) — observed here as SLA
events arriving 30 s late."""

from __future__ import annotations

import logging

from nats.aio.msg import Msg
from nats.js.errors import KeyWrongLastSequenceError

from orderchat.schemas import names
from orderchat.schemas.alerts import SLA_BREACH, SlaBreachAlert
from orderchat.schemas.chat import NoticeBody, PostRequest
from orderchat.schemas.ids import SYSTEM_USER
from orderchat.schemas.orders import OrderEvent
from orderchat.services.framework.context import ServiceContext
from orderchat.services.framework.request_server import error_reply
from orderchat.services.framework.stream_consumer import ConsumerSpec, StreamConsumer

from . import rules
from .deadlines import Deadlines
from .store import KINDS, OrderParties, SlaStore, SlaTimer, parties_key, timer_key

NAME = "sla"
CONSUMER = names.service_consumer(NAME, "orders")
WRITE_ATTEMPTS = 20

log = logging.getLogger(__name__)


def breach_msg_id(timer: SlaTimer) -> str:
    return f"sla-{timer.tenant}-{timer.order_id}-{timer.kind}-r{timer.revision}"


def notice_text(timer: SlaTimer) -> str:
    hours = timer.limit_s / 3600
    limit = f"{hours:g} h" if hours >= 1 else f"{timer.limit_s / 60:g} min"
    what = "read" if timer.kind == "read" else "answered"
    return f"{timer.supplier} has not {what} order {timer.order_id} (revision {timer.revision}) within {limit} of sending."


class SlaService:
    name = NAME

    def __init__(self) -> None:
        self.ctx: ServiceContext | None = None
        self.deadlines: Deadlines | None = None
        self.consumer: StreamConsumer | None = None
        self.backlog: int | None = None  # events not yet read; None = not known yet

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.store = await SlaStore.open(ctx.js)
        spec = ConsumerSpec(
            stream=names.STREAM_ORDERS, durable=CONSUMER, filter_subjects=[names.ORDER_EVENT_SUBJECTS],
            fetch_wait=0.5, description="SLA deadlines from order events",
        )
        self.consumer = StreamConsumer(ctx, NAME, spec, self.on_event, model=OrderEvent)
        await self.consumer.start()
        info = await ctx.js.consumer_info(names.STREAM_ORDERS, CONSUMER)
        self.backlog = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        self.deadlines = Deadlines(self.store, self.notify, may_fire=self.caught_up)
        await self.deadlines.start()

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.deadlines is not None:
            await self.deadlines.stop()

    def caught_up(self) -> bool:
        return self.backlog == 0

    async def readiness(self) -> dict[str, bool]:
        return {
            "consumer_bound": bool(self.consumer and self.consumer.bound),
            "deadlines_loaded": bool(self.deadlines and self.deadlines.caught_up.is_set()),
        }

    # -- order events ----------------------------------------------------------------------

    async def on_event(self, event: OrderEvent, msg: Msg) -> None:
        await self._apply(event.tenant, event.order_id, [event])
        self.backlog = int(msg.metadata.num_pending or 0)

    async def _apply(self, tenant: str, order_id: str, events: list[OrderEvent]) -> None:
        """Fold one order's events into its timers and write the changed ones by CAS; a lost
        race (the deadline fired meanwhile) re-reads and folds again."""
        parties = await self._parties(tenant, order_id, events)
        needs_policy = any(rules.starts_clock(e) for e in events)
        policy = await self.store.policy_for(tenant, parties.supplier) if parties and needs_policy else None
        for _ in range(WRITE_ATTEMPTS):
            current = {k: await self.store.timers.get(timer_key(tenant, order_id, k)) for k in KINDS}
            timers: rules.Timers = {k: (v[0] if v else None) for k, v in current.items()}
            for event in events:
                rules.apply(timers, event, parties, policy)
            try:
                for kind in KINDS:
                    await self._write(tenant, order_id, kind, current[kind], timers[kind])
                return
            except KeyWrongLastSequenceError:
                continue
        raise RuntimeError(f"SLA timers of {tenant}/{order_id}: too many conflicting writers")

    async def _write(self, tenant: str, order_id: str, kind: str, before: tuple[SlaTimer, int] | None, after: SlaTimer | None) -> None:
        if after is None or (before is not None and before[0] == after):
            return
        data = after.model_dump_json().encode()
        key = timer_key(tenant, order_id, kind)
        if before is None:
            await self.store.kv.create(key, data)
        else:
            await self.store.kv.update(key, data, last=before[1])

    async def _parties(self, tenant: str, order_id: str, events: list[OrderEvent]) -> OrderParties | None:
        for event in events:
            parties = rules.parties_of(event)
            if parties is not None:
                await self.store.parties.put(parties_key(tenant, order_id), parties)
                return parties
        found = await self.store.parties.get(parties_key(tenant, order_id))
        return found[0] if found else None

    # -- breach effects --------------------------------------------------------------------

    async def notify(self, timer: SlaTimer) -> None:
        """Alert event (stream ALERTS) and, while the breach is still open, a notice in the
        order's conversation. Both carry ids derived from the timer: resending is a no-op."""
        assert self.ctx is not None and timer.breached_at is not None
        msg_id = breach_msg_id(timer)
        alert = SlaBreachAlert(
            tenant=timer.tenant, order_id=timer.order_id, kind=timer.kind, supplier=timer.supplier, buyer=timer.buyer,
            revision=timer.revision, sent_at=timer.sent_at, due=timer.due, breached_at=timer.breached_at, limit_s=timer.limit_s,
        )
        await self.ctx.js.publish(
            names.alert(timer.tenant, SLA_BREACH), alert.model_dump_json().encode(), headers={"Nats-Msg-Id": msg_id}, timeout=5
        )
        if timer.resolved_at is not None:
            return  # made good before anyone could be told: the alert is the record
        post = PostRequest(
            msg_id=msg_id,
            conv=timer.conv,
            between=None if timer.conv else (timer.buyer, timer.supplier),
            sender=SYSTEM_USER,
            body=NoticeBody(
                text=notice_text(timer), code=SLA_BREACH, order_id=timer.order_id,
                data={"kind": timer.kind, "due": timer.due.isoformat(), "supplier": timer.supplier, "revision": timer.revision},
            ),
        )
        reply = await self.ctx.nc.request(
            names.service_request(timer.tenant, "delivery", names.SVC_POST), post.model_dump_json().encode(), timeout=5
        )
        failed = error_reply(reply.data)
        if failed is not None:
            raise RuntimeError(f"posting the SLA notice failed: {failed.code}: {failed.message}")
