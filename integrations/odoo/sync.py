"""ERP -> orderchat: find new and changed purchase orders and make the orders match.

The recipe of ODOO.md 8: poll `write_date >= cursor - overlap` (late commits start earlier
than they become visible), on purchase.order and on purchase.order.line (a line edit stamps
the line), page on (write_date, id), skip (id, write_date) pairs already handled, and move the
cursor to the largest write_date seen, never to the local clock. Then per purchase order:

  unknown + in a state to send  -> create the order (sent to the supplier at once)
  known, cancelled in the ERP   -> cancel the order (if still open)
  known, lines or notes changed -> amend: the supplier is asked to confirm again
Everything keyed by ERP database + PO id (+ order revision), so repeating it is harmless."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import (
    OPEN_STATES,
    AmendOrder,
    CancelOrder,
    CreateOrder,
    OrderState,
    order_id_for_ref,
)

from . import chatter
from .config import ErpConfig
from .gateway import OrdersGateway, command_id
from .mapping import Parties, load_parties
from .purchases import ODOO_DATETIME, ErpPurchase, read_purchases, same_terms
from .store import ErpStore, PoLink, SyncCursor
from .transport import OdooTransport

log = logging.getLogger(__name__)

PARTIES_TTL = 10.0
PARTIES_RETRY = 5.0  # while some purchase order waits for its supplier
REFUSED_RETRY = 30.0
# Order states whose last event the write-back still has to carry to the ERP.
ANSWERED = frozenset({OrderState.CONFIRMED, OrderState.CHANGES_PROPOSED, OrderState.REJECTED})


@dataclass
class SyncReport:
    changed: int = 0
    created: int = 0
    amended: int = 0
    cancelled: int = 0
    unmapped: set[str] = field(default_factory=set)
    retry: set[int] = field(default_factory=set)  # PO ids to look at again next time


# The orders service refusing a command for one of these reasons refuses it again next time
# (a missing signing key, a supplier unknown to orderchat, a line it cannot take): the PO
# waits in `Syncer.refused` instead of holding the cursor back for every later change.
LASTING_REFUSALS = frozenset({
    ErrorCode.BAD_JSON, ErrorCode.INVALID, ErrorCode.TOO_LARGE, ErrorCode.UNKNOWN_USER, ErrorCode.NOT_MEMBER,
    ErrorCode.FORBIDDEN, ErrorCode.UNKNOWN_CONVERSATION, ErrorCode.ILLEGAL_TRANSITION,
})


def external_ref(database: str, po_id: int) -> str:
    return f"erp:{database}:{po_id}"


def _shift(stamp: str, seconds: float) -> str:
    return (datetime.strptime(stamp[:19], ODOO_DATETIME) - timedelta(seconds=seconds)).strftime(ODOO_DATETIME)


class Syncer:
    def __init__(self, config: ErpConfig, transport: OdooTransport, store: ErpStore, gateway: OrdersGateway, busy: set[str]) -> None:
        self.config = config
        self.transport = transport
        self.store = store
        self.gateway = gateway
        self.busy = busy  # orders whose write-back is running: not to be amended meanwhile
        self._parallel = asyncio.Semaphore(8)
        self._parties: Parties | None = None
        self._parties_at = 0.0
        self._mapping_rev = 0
        # Purchase orders whose partner maps to no supplier (yet): po id -> the partner.
        self.waiting: dict[int, str] = {}
        # Purchase orders the orders service refused for a lasting reason: po id -> why.
        self.refused: dict[int, str] = {}
        self._refused_retry_at = 0.0

    async def parties(self) -> tuple[Parties, bool]:
        """Who is who, and whether that was read afresh. Read again when the explicit mapping
        changed (one KV read tells), every PARTIES_TTL seconds (a new supplier user), and soon
        after a partner was not found; not per purchase order: the user directory is one read
        per user."""
        found = await self.store.mappings.get(self.store.mapping_key())
        mapping_rev = found[1] if found else 0
        age = time.monotonic() - self._parties_at
        expired = age >= (PARTIES_RETRY if self.waiting else PARTIES_TTL)
        if self._parties is None or mapping_rev != self._mapping_rev or expired:
            parties = await load_parties(self.gateway.js, self.store, self.config.buyer)
            changed = parties != self._parties
            self._parties, self._parties_at, self._mapping_rev = parties, time.monotonic(), mapping_rev
            return parties, changed
        return self._parties, False

    async def sync_ids(self, po_ids: list[int]) -> SyncReport:
        """Apply these purchase orders now (a webhook named them): no change scan, no cursor.
        The regular poll still sees them and finds nothing left to do."""
        report = SyncReport()
        parties, _ = await self.parties()
        purchases = await read_purchases(self.transport, sorted(set(po_ids)))
        for gone in set(po_ids) - {po.id for po in purchases}:
            self.waiting.pop(gone, None)  # deleted in the ERP
            self.refused.pop(gone, None)
        report.changed = len(purchases)
        await asyncio.gather(*(self._guarded(po, parties, report) for po in purchases))
        return report

    # -- finding what changed ----------------------------------------------------------------

    async def _changed(self, model: str, fields: list[str], since: str) -> list[dict]:
        rows: list[dict] = []
        domain: list = [["write_date", ">=", since]]
        while True:
            page = await self.transport.call(
                model, "search_read", domain=domain, fields=fields, order="write_date asc, id asc", limit=self.config.page_size,
            )
            rows.extend(page)
            if len(page) < self.config.page_size:
                return rows
            last = page[-1]
            domain = [
                ["write_date", ">=", since], "|", ["write_date", ">", last["write_date"]],
                "&", ["write_date", "=", last["write_date"]], ["id", ">", last["id"]],
            ]

    async def sync_once(self) -> SyncReport:
        report = SyncReport()
        again: set[int] = set()
        if self.waiting and (await self.parties())[1]:
            again |= set(self.waiting)  # partners unknown until now: their supplier may be known now
        if self.refused and time.monotonic() >= self._refused_retry_at:
            again |= set(self.refused)  # refused: the cause may be fixed by now
            self._refused_retry_at = time.monotonic() + REFUSED_RETRY
        if again:
            report = await self.sync_ids(sorted(again))
        found = await self.store.cursors.get(self.store.cursor_key())
        cursor, revision = found if found else (SyncCursor(), 0)
        since = _shift(cursor.write_date, self.config.overlap_seconds)
        orders = await self._changed("purchase.order", ["id", "write_date"], since)
        lines = await self._changed("purchase.order.line", ["id", "order_id", "write_date"], since)
        seen = set(cursor.seen)
        stamps: dict[str, str] = {}
        key_po: dict[str, int] = {}
        for row in orders:
            key = f"po:{row['id']}@{row['write_date']}"
            stamps[key], key_po[key] = row["write_date"], int(row["id"])
        for row in lines:
            order = row.get("order_id")
            if order:
                key = f"line:{row['id']}@{row['write_date']}"
                stamps[key], key_po[key] = row["write_date"], int(order[0] if isinstance(order, list) else order)
        newest = max(stamps.values(), default=cursor.write_date)
        todo: dict[int, list[str]] = {}
        for key, po_id in key_po.items():
            # New pairs, and those stamped in or after the second the last poll ran in: a PO
            # changed again within that second keeps its stamp (one-second write_date), so it
            # is read again and its content digest, not the stamp, tells whether it changed.
            if key not in seen or stamps[key] >= cursor.write_date:
                todo.setdefault(po_id, []).append(key)
        fresh: dict[str, str] = {}
        if todo:
            parties, _ = await self.parties()
            ids_all = sorted(todo)
            for start in range(0, len(ids_all), self.config.page_size):
                purchases = await read_purchases(self.transport, ids_all[start:start + self.config.page_size])
                changed = [po for po in purchases if cursor.fresh.get(str(po.id)) != po.digest()]
                report.changed += len(changed)
                await asyncio.gather(*(self._guarded(po, parties, report) for po in changed))
                fresh.update({
                    str(po.id): po.digest() for po in purchases
                    if po.id not in report.retry and any(stamps[k] == newest for k in todo[po.id])
                })
        # Done pairs are remembered for the overlap; pairs of POs to retry are not.
        retry_keys = {k for po in report.retry for k in todo.get(po, [])}
        if retry_keys:  # never move past something still to do
            newest = min([newest, *(stamps[k] for k in retry_keys)])
        newest = max(newest, cursor.write_date)
        horizon = _shift(newest, self.config.overlap_seconds)
        kept = {k for k in seen | {k for keys in todo.values() for k in keys} if k not in retry_keys}
        new_cursor = SyncCursor(
            write_date=newest, seen=sorted(k for k in kept if k in stamps and stamps[k] >= horizon), fresh=fresh,
        )
        if new_cursor != cursor:
            if revision:
                await self.store.cursors.kv.update(self.store.cursor_key(), new_cursor.model_dump_json().encode(), last=revision)
            else:
                await self.store.cursors.put(self.store.cursor_key(), new_cursor)
        return report

    async def _guarded(self, po: ErpPurchase, parties: Parties, report: SyncReport) -> None:
        async with self._parallel:
            try:
                await self.apply(po, parties, report)
                self.refused.pop(po.id, None)
            except OrderchatError as exc:
                if exc.code not in LASTING_REFUSALS:
                    log.warning("erp sync: purchase order %s (%s) not applied yet: %s", po.name, po.id, exc)
                    report.retry.add(po.id)
                    return
                why = f"{po.name} (purchase.order {po.id}): {exc.code}: {exc.message}"
                if self.refused.get(po.id) != why:
                    log.warning("erp sync: orderchat refused %s; tried again every %.0fs and when it changes", why, REFUSED_RETRY)
                self.refused[po.id] = why
            except (asyncio.TimeoutError, OSError) as exc:
                log.warning("erp sync: purchase order %s (%s) not applied yet: %s", po.name, po.id, exc)
                report.retry.add(po.id)
            except Exception as exc:  # noqa: BLE001 - NATS hiccups: the next poll tries again
                log.warning("erp sync: purchase order %s (%s) failed: %r", po.name, po.id, exc, exc_info=True)
                report.retry.add(po.id)

    async def _note_unmapped(self, po: ErpPurchase) -> None:
        """Tell the ERP's own user, on the PO, why it did not reach the supplier: otherwise
        it only shows in `orderchat erp status`. Once per PO (a marker in the note)."""
        mark = chatter.unmapped_marker(po.id)
        posted = await self.transport.call(
            "mail.message", "search_count",
            domain=[["model", "=", "purchase.order"], ["res_id", "=", po.id], ["body", "ilike", mark]],
        )
        if not posted:
            await self.transport.call(
                "purchase.order", "message_post", [po.id],
                body=chatter.unmapped_body(po.id, po.name, po.partner_name, po.partner_id, self.config.database), message_type="comment",
                subtype_xmlid="mail.mt_note", body_is_html=True,
            )

    # -- making one order match its purchase order ----------------------------------------

    async def apply(self, po: ErpPurchase, parties: Parties, report: SyncReport) -> None:
        supplier = parties.supplier_for(po.partner_id, po.partner_name)
        if supplier is None:
            partner = f"{po.partner_name} (res.partner {po.partner_id})"
            report.unmapped.add(partner)
            first = po.id not in self.waiting
            self.waiting[po.id] = partner  # tried again when the mapping or the suppliers change
            if first and po.state in self.config.states:
                try:
                    await self._note_unmapped(po)
                except Exception as exc:  # noqa: BLE001 - a courtesy note: the PO waits either way
                    log.warning("erp sync: could not note on %s why it waits: %r", po.name, exc)
            return
        self.waiting.pop(po.id, None)
        db = self.config.database
        ref = external_ref(db, po.id)
        order_id = order_id_for_ref(ref)
        link = await self.store.link(order_id)
        if link is None:
            if po.state in self.config.states and po.lines:
                await self._create(po, ref, order_id, supplier, parties.buyer)
                report.created += 1
            return
        if order_id in self.busy:
            report.retry.add(po.id)
            return
        order = await self.gateway.show(link.buyer, order_id)
        if order.state in ANSWERED and await self.store.done.get(self.store.done_key(order_id, order.events)) is None:
            report.retry.add(po.id)  # the supplier's answer is on its way to the ERP: wait for it
            return
        if po.state == "cancel":
            if order.state in OPEN_STATES:
                await self.gateway.cancel(link.buyer, CancelOrder(
                    command_id=command_id(db, po.id, "cancel", order.revision), order_id=order_id,
                    expected_version=order.version, reason=f"{po.name} was cancelled in the ERP",
                ))
                report.cancelled += 1
            return
        lines, notes = po.order_lines(), po.order_notes()
        lines_changed = not same_terms(lines, order.lines)
        if not lines or (not lines_changed and notes == order.notes):
            return
        if order.state not in OPEN_STATES:
            log.info("erp sync: %s changed in the ERP, but order %s is %s: not amended", po.name, order_id, order.state)
            return
        await self.gateway.amend(link.buyer, AmendOrder(
            command_id=command_id(db, po.id, "amend", order.revision, [line.model_dump(mode="json") for line in lines], notes),
            order_id=order_id, expected_version=order.version, reason=f"{po.name} was changed in the ERP",
            lines=lines if lines_changed else None, notes=notes if notes != order.notes else None,
        ), order)
        await self.store.links.put(self.store.link_key(order_id), link.model_copy(update={"synced_revision": order.revision + 1}))
        report.amended += 1

    async def _create(self, po: ErpPurchase, ref: str, order_id: str, supplier: str, buyer: str) -> None:
        db = self.config.database
        await self.gateway.create(buyer, CreateOrder(
            command_id=command_id(db, po.id, "create"), order_id=order_id, external_ref=ref, supplier=supplier,
            currency=po.currency, notes=po.order_notes(), lines=po.order_lines(), send=True,
        ))
        link = PoLink(database=db, po_id=po.id, po_name=po.name, order_id=order_id, supplier=supplier, buyer=buyer)
        await self.store.links.put(self.store.link_key(order_id), link)
