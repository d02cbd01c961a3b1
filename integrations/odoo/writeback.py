"""orderchat -> ERP: the supplier's answers written to the purchase order.

The queue is a durable JetStream consumer on the tenant's order events (explicit acks, one
event at a time, so one order's events reach the ERP in their order). While the ERP cannot be
reached, the event at the head is retried in place with a growing pause (its ack deadline
extended), so nothing behind it overtakes it and nothing is lost; the consumer's pending count
is the write-back queue the monitor shows.

Idempotent twice over: a KV record per written event (`<t>.done.<order>.<n>`) and, before
every write, a look at the ERP's state (lines already as agreed, PO no longer an RFQ, the
chatter note already there), so an event handled again after a crash writes nothing twice.

Per event:
  confirmed         -> PO lines must be the confirmed revision's; button_confirm if still an
                       RFQ (action_acknowledge on Odoo 19+); chatter note
  changes_accepted  -> line changes (qty, date, price, product; rejected lines removed) in one
                       write, then as confirmed
  changes_proposed,
  rejected          -> chatter note (a rejected PO is left for the buyer)
An Odoo refusal (UserError, ValidationError, AccessError, MissingError) is told to the buyer
as an order event in the inbox (`erp_error`) and recorded; the service keeps going. AccessDenied
(the connector's own key refused) is told to the buyer too, but the event stays at the head of
the queue and is retried until the credentials work again: no answer is dropped for it.
Other order events for the buyer: erp_confirmed, erp_needs_approval (double validation),
erp_po_cancelled (the PO was cancelled in the ERP: left for the buyer), erp_noted (a proposal
or rejection noted in the chatter), erp_conflict (the PO changed under the answer)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode
from orderchat.schemas.orders import EventType, Order, OrderEvent, OrderLine
from orderchat.services.framework.dead_letters import park
from orderchat.services.framework.pull import bind, fetch, rebind
from orderchat.services.framework.stream_consumer import RECOVERABLE

from . import chatter
from .config import ErpConfig
from .errors import ACCESS_DENIED, ErpUnavailable, OdooError
from .gateway import OrdersGateway
from .purchases import ErpPurchase, product_ids_by_sku, read_purchase, same_terms
from .store import ErpStore, PoLink, WritebackDone
from .transport import OdooTransport

log = logging.getLogger(__name__)

SERVICE = "erp"
DURABLE_PREFIX = "writeback"
HANDLED = frozenset({EventType.CONFIRMED, EventType.CHANGES_ACCEPTED, EventType.CHANGES_PROPOSED, EventType.REJECTED})
# A bug (not the ERP) failing the same event this often parks it in the DLQ.
MAX_DELIVER = 5
RETRY_PAUSES = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
ACK_WAIT = 30.0
# What the buyer is told when the PO ends up other than confirmed.
CONFIRM_NOTICES = {"to approve": "erp_needs_approval", "cancel": "erp_po_cancelled"}
# How the connector refers to a refusal of its own (not Odoo's), e.g. an unknown SKU.
CONNECTOR_REFUSAL = "orderchat.erp.Refused"


def durable_for(tenant: str) -> str:
    return names.service_consumer(SERVICE, f"{DURABLE_PREFIX}_{tenant}")


class CredentialsRefused(ErpUnavailable):
    """The ERP refused the connector's login (AccessDenied): retried like an outage."""


class Conflict(Exception):
    """The PO in the ERP is not what the answer was given to: write nothing, tell the buyer."""


# PO states whose lines Odoo refuses to delete (purchase.order.line.unlink).
LOCKED_LINES = frozenset({"purchase", "done"})


def po_matches(po: ErpPurchase, lines: tuple[OrderLine, ...]) -> bool:
    return same_terms(po.order_lines(), lines)


class WriteBack:
    def __init__(self, config: ErpConfig, transport: OdooTransport, store: ErpStore, gateway: OrdersGateway,
                 busy: set[str], version: tuple[int, int]) -> None:
        self.config = config
        self.transport = transport
        self.store = store
        self.gateway = gateway
        self.busy = busy
        self.version = version
        self.durable = durable_for(store.tenant)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sub: Any = None
        self.erp_up = True
        self.last_error: str | None = None
        self.written = 0
        self.refused = 0

    # -- the queue ----------------------------------------------------------------------------

    async def start(self) -> None:
        js = self.gateway.js
        await js.add_consumer(names.STREAM_ORDERS, ConsumerConfig(
            durable_name=self.durable, description="ERP write-back of the suppliers' answers",
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT,
            max_deliver=-1, max_ack_pending=1, filter_subjects=[names.order_events(self.store.tenant, names.ANY)],
        ))
        self._sub = await bind(js, names.STREAM_ORDERS, self.durable)
        self._task = asyncio.create_task(self._run(), name=f"erp:{self.durable}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 15)
            except asyncio.TimeoutError:
                self._task.cancel()
        if self._sub is not None:
            try:
                await self._sub.close()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass

    async def pending(self) -> int:
        """Events still to write back (the monitor's write-back queue)."""
        info = await self.gateway.js.consumer_info(names.STREAM_ORDERS, self.durable)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                # One at a time, answered the moment an event is stored (one pull request each).
                msgs = await fetch(self._sub, 1, 1.0)
                backoff = 0.1
            except (NatsTimeoutError, asyncio.TimeoutError):
                continue
            except RECOVERABLE as exc:
                log.warning("erp write-back: fetch failed (%r); again in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                try:
                    self._sub = await rebind(self.gateway.js, names.STREAM_ORDERS, self.durable, self._sub)
                except RECOVERABLE:
                    pass  # the old one fails again and backs off further
                continue
            for msg in msgs:
                await self._handle(msg)

    async def _handle(self, msg: Msg) -> None:
        try:
            event = OrderEvent.model_validate_json(msg.data)
        except ValidationError as exc:
            await park(self.gateway.js, SERVICE, msg.subject, msg.data, ErrorCode.INVALID, f"not an order event: {exc}", strict=True)
            await msg.term()
            return
        pauses = iter(RETRY_PAUSES)
        pause = RETRY_PAUSES[0]
        while True:
            try:
                await self.write_back(event)
                await msg.ack()
                return
            except ErpUnavailable as exc:
                self.erp_up, self.last_error = False, str(exc)
                pause = next(pauses, RETRY_PAUSES[-1])
                log.info("erp write-back: ERP unavailable for order %s event #%d (%s); retrying in %.1fs", event.order_id, event.n, exc, pause)
                await msg.in_progress()
                try:
                    await asyncio.wait_for(self._stopping.wait(), pause)
                    await msg.nak()  # stopping: the next start takes it from here
                    return
                except asyncio.TimeoutError:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - our bug or NATS trouble: retried, then parked
                delivered = msg.metadata.num_delivered
                log.warning("erp write-back: order %s event #%d failed (delivery %d): %r", event.order_id, event.n, delivered, exc, exc_info=True)
                if delivered >= MAX_DELIVER:
                    await park(self.gateway.js, SERVICE, msg.subject, msg.data, ErrorCode.INTERNAL,
                               f"write-back failed {delivered} times: {type(exc).__name__}: {exc}", strict=True)
                    await msg.term()
                else:
                    await msg.nak(delay=2.0 * delivered)
                return

    # -- one event ----------------------------------------------------------------------------

    async def write_back(self, event: OrderEvent) -> WritebackDone | None:
        if event.type not in HANDLED:
            return None
        link = await self.store.link(event.order_id)
        if link is None:
            return None  # not an ERP order
        key = self.store.done_key(event.order_id, event.n)
        found = await self.store.done.get(key)
        if found is not None:
            return found[0]
        self.busy.add(event.order_id)
        try:
            order = await self.gateway.show(link.buyer, event.order_id)
            try:
                state, notice, data = await self._write(event, link)
                outcome = "written"
                self.written += 1
            except OdooError as err:
                if err.name == ACCESS_DENIED:
                    # The connector's own login was refused (key revoked, user archived): no
                    # fault of this order. Tell the buyer once, then keep the event at the head
                    # of the queue until the credentials work again.
                    await self._tell(order, event, link, "erp_error", self._refusal(err))
                    raise CredentialsRefused(str(err)) from err
                outcome, state, notice = "refused", None, "erp_error"
                data = self._refusal(err)
                self.refused += 1
                log.info("erp write-back: %s refused order %s event #%d: %s", link.po_name, event.order_id, event.n, err)
            except Conflict as why:
                outcome, state, notice = "skipped", None, "erp_conflict"
                data = {"message": str(why)}
            self.erp_up, self.last_error = True, None
            await self._tell(order, event, link, notice, data)
            done = WritebackDone(outcome=outcome, erp_state=state, detail=data.get("message"), ts=datetime.now(timezone.utc))
            await self.store.done.put(key, done)
            return done
        finally:
            self.busy.discard(event.order_id)

    @staticmethod
    def _refusal(err: OdooError) -> dict[str, Any]:
        return {"error": err.short_name, "odoo_exception": err.name, "message": err.message}

    async def _tell(self, order: Order, event: OrderEvent, link: PoLink, notice: str, data: dict[str, Any]) -> None:
        """The outcome as an order event in the buyer's inbox (once per event and kind)."""
        data = {"po": link.po_name, "po_id": link.po_id, "answer": str(event.type), "event_n": event.n, **data}
        await self.gateway.notify(order, notice, f"{event.n}:{notice}", data)

    async def _write(self, event: OrderEvent, link: PoLink) -> tuple[str, str, dict[str, Any]]:
        """Carry the event to the PO; (PO state after, notice kind, notice data)."""
        po = await read_purchase(self.transport, link.po_id)  # MissingError when deleted
        lines: tuple[OrderLine, ...] = ()
        extra = None
        state = po.state
        notice, data = "erp_noted", {}
        await self._supplier_ref(event, po)
        if event.type in (EventType.CONFIRMED, EventType.CHANGES_ACCEPTED):
            if po.state == "cancel":
                # button_confirm would skip it silently: nothing is written, the buyer decides.
                state, extra = po.state, f"{po.name} is cancelled in the ERP: it was left as it is for the buyer"
            else:
                lines = await self._agree_lines(event, link, po)
                state, extra = await self._confirm(po)
            notice = CONFIRM_NOTICES.get(state, "erp_confirmed")
            data = {"erp_state": state, **({"message": extra} if extra else {})}
        await self._note(event, link, po, lines, extra)
        return state, notice, data

    async def _supplier_ref(self, event: OrderEvent, po: ErpPurchase) -> None:
        """The supplier's own order number becomes the PO's vendor reference (written once)."""
        if event.supplier_ref and po.partner_ref != event.supplier_ref:
            await self.transport.call("purchase.order", "write", [po.id], vals={"partner_ref": event.supplier_ref})

    async def _agree_lines(self, event: OrderEvent, link: PoLink, po: ErpPurchase) -> tuple[OrderLine, ...]:
        """Make the PO's lines the agreed ones (or check that they are); the agreed lines."""
        if event.type is EventType.CONFIRMED:
            terms = await self.gateway.terms_at(link.buyer, event.order_id, event.revision)
            assert terms is not None
            if not po_matches(po, terms.lines):
                raise Conflict(f"{po.name} was changed in the ERP after revision {event.revision} was sent; "
                               "the supplier is asked to confirm the new version")
            return terms.lines
        assert event.terms is not None
        after = event.terms.lines
        if po_matches(po, after):
            return after  # written before (a repeat after a crash)
        before = await self.gateway.terms_at(link.buyer, event.order_id, event.revision - 1)
        if before is None or not po_matches(po, before.lines):
            raise Conflict(f"{po.name} was changed in the ERP while the supplier's changes were agreed; "
                           "nothing was written")
        await self._write_lines(po, after)
        return after

    async def _write_lines(self, po: ErpPurchase, after: tuple[OrderLine, ...]) -> None:
        """All line changes in one `write` (one transaction: all or nothing). A line the
        supplier rejected is deleted from an RFQ; a confirmed PO's lines cannot be deleted
        (Odoo: "Cannot delete a purchase order line which is in state ..."), so there it is
        set to quantity 0, as a buyer would do by hand, and reading the PO leaves it out."""
        agreed = {line.line_id: line for line in after}
        new_skus = [line.sku for line in after if (old := po.line(line.line_id)) is not None and old.sku != line.sku]
        products = await product_ids_by_sku(self.transport, new_skus)
        unknown = [sku for sku in new_skus if sku not in products]
        if unknown:
            raise OdooError(CONNECTOR_REFUSAL, f"no product with internal reference {', '.join(unknown)} in the ERP")
        commands: list[Any] = []
        for old in po.lines:
            new = agreed.get(old.line_id)
            if new is None:  # rejected by the supplier, accepted by the buyer
                commands.append([1, old.id, {"product_qty": 0}] if po.state in LOCKED_LINES else [2, old.id, 0])
                continue
            if (new.sku, new.quantity, new.unit_price, new.requested_date) == (old.sku, old.quantity, old.price, old.planned):
                continue
            vals: dict[str, Any] = {"product_qty": float(new.quantity)}
            if new.unit_price is not None:
                vals["price_unit"] = float(new.unit_price)
            if new.requested_date is not None and new.requested_date != old.planned:
                vals["date_planned"] = f"{new.requested_date.isoformat()} 00:00:00"  # a changed date only: keep the ERP's time
            if new.sku != old.sku:
                vals["product_id"] = products[new.sku]
            commands.append([1, old.id, vals])
        if commands:
            await self.transport.call("purchase.order", "write", [po.id], vals={"order_line": commands})

    async def _confirm(self, po: ErpPurchase) -> tuple[str, str | None]:
        """button_confirm while the PO is an RFQ (a cancelled one never gets here: Odoo would
        skip it silently). (state after, a remark for the buyer)"""
        if po.state in ("draft", "sent"):
            await self.transport.call("purchase.order", "button_confirm", [po.id])
            if self.version[0] >= 19:
                await self.transport.call("purchase.order", "action_acknowledge", [po.id])
        state = (await self.transport.call("purchase.order", "read", [po.id], fields=["state"]))[0]["state"]
        if state == "to approve":
            return state, f"{po.name} needs a second approval in the ERP (double validation) before it is a purchase order"
        return state, None

    async def _note(self, event: OrderEvent, link: PoLink, po: ErpPurchase, lines: tuple[OrderLine, ...], extra: str | None) -> None:
        mark = chatter.marker(event.order_id, event.n)
        posted = await self.transport.call(
            "mail.message", "search_count",
            domain=[["model", "=", "purchase.order"], ["res_id", "=", po.id], ["body", "ilike", mark]],
        )
        if posted:
            return
        await self.transport.call(
            "purchase.order", "message_post", [po.id],
            body=chatter.note_body(event, link.supplier, lines, extra), message_type="comment", subtype_xmlid="mail.mt_note", body_is_html=True,
        )
