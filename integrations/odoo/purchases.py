"""Reading purchase orders from the ERP in batches (one call for the orders, one for their
lines, one for their products), and what an order line looks like in orderchat."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from orderchat.schemas.orders import OrderLine

from .errors import MISSING_ERROR, OdooError
from .transport import OdooTransport

PO_FIELDS = ["id", "name", "state", "partner_id", "partner_ref", "currency_id", "write_date", "date_planned"]
LINE_FIELDS = [
    "id", "order_id", "name", "sequence", "product_id", "product_qty", "price_unit",
    "date_planned", "display_type", "qty_received", "write_date",
]
PRODUCT_FIELDS = ["id", "default_code", "name", "categ_id"]
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class ErpLine:
    id: int
    product_id: int | None
    sku: str
    description: str
    category: str | None
    quantity: Decimal
    unit: str
    price: Decimal
    planned: date | None
    received: Decimal

    @property
    def line_id(self) -> str:
        return line_id_of(self.id)

    def as_order_line(self) -> OrderLine:
        return OrderLine(
            line_id=self.line_id, sku=self.sku, description=self.description, category=self.category,
            quantity=self.quantity, unit=self.unit, unit_price=self.price, requested_date=self.planned,
        )


@dataclass(frozen=True)
class ErpPurchase:
    id: int
    name: str
    state: str
    partner_id: int
    partner_name: str
    partner_ref: str | None
    currency: str
    notes: str | None
    write_date: str
    lines: tuple[ErpLine, ...]

    def order_lines(self) -> tuple[OrderLine, ...]:
        return tuple(line.as_order_line() for line in self.lines)

    def order_notes(self) -> str:
        return f"Purchase order {self.name}" + (f"\n{self.notes}" if self.notes else "")

    def digest(self) -> str:
        content = [self.state, self.partner_id, self.partner_ref, self.currency, self.notes,
                   [(l.id, l.product_id, str(l.quantity), str(l.price), str(l.planned), l.description) for l in self.lines]]
        return hashlib.blake2s(repr(content).encode(), digest_size=12).hexdigest()

    def line(self, line_id: str) -> ErpLine | None:
        return next((line for line in self.lines if line.line_id == line_id), None)


def agreed_terms(lines: tuple[OrderLine, ...]) -> list[tuple[object, ...]]:
    """What of a line the ERP holds as agreed: product, quantity, price, date. Descriptions
    and categories follow the product in the ERP, so they do not count as a change."""
    return [(line.line_id, line.sku, line.quantity, line.unit_price, line.requested_date) for line in lines]


def same_terms(a: tuple[OrderLine, ...], b: tuple[OrderLine, ...]) -> bool:
    return agreed_terms(a) == agreed_terms(b)


def line_id_of(erp_line_id: int) -> str:
    return f"L{erp_line_id}"


def erp_line_id(line_id: str) -> int | None:
    return int(line_id[1:]) if re.fullmatch(r"L\d+", line_id) else None


def notes_field(version: tuple[int, int]) -> str:
    """The PO's terms and conditions: `notes` up to 18, `note` from 19 (ODOO.md 4)."""
    return "note" if version[0] >= 19 else "notes"


def uom_field(version: tuple[int, int]) -> str:
    """A line's unit: `product_uom` up to 18, `product_uom_id` from 19 (ODOO.md 5)."""
    return "product_uom_id" if version[0] >= 19 else "product_uom"


def _many2one(value: Any) -> tuple[int | None, str]:
    if isinstance(value, (list, tuple)) and value:
        return int(value[0]), str(value[1]) if len(value) > 1 else ""
    if isinstance(value, int) and value:
        return value, ""
    return None, ""


def _decimal(value: Any) -> Decimal:
    # Floats over the wire: round to what Odoo's decimal precision shows.
    number = Decimal(str(round(float(value or 0.0), 6)))
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def _date(value: Any) -> date | None:
    if not value:
        return None
    return datetime.strptime(str(value)[:19], ODOO_DATETIME).date() if len(str(value)) > 10 else date.fromisoformat(str(value))


def plain_text(value: Any) -> str | None:
    """Odoo's Html notes as plain text (the card shows text)."""
    if not value:
        return None
    text = html.unescape(re.sub(r"<[^>]+>", " ", str(value)))
    text = re.sub(r"\s+", " ", text).strip()
    return text[:3000] or None


def _po_fields(transport: OdooTransport) -> list[str]:
    return [*PO_FIELDS, notes_field(transport.version)]


async def read_purchases(transport: OdooTransport, po_ids: list[int]) -> list[ErpPurchase]:
    """The purchase orders with these ids (missing ones are left out), lines and products."""
    if not po_ids:
        return []
    orders = await transport.call("purchase.order", "search_read", domain=[["id", "in", po_ids]], fields=_po_fields(transport))
    return await _with_lines(transport, orders)


async def read_purchase(transport: OdooTransport, po_id: int) -> ErpPurchase:
    """One purchase order; Odoo's MissingError when it is gone (read of a deleted record)."""
    orders = await transport.call("purchase.order", "read", [po_id], fields=_po_fields(transport))
    if not orders:  # some servers leave a deleted id out of `read` instead of raising
        raise OdooError(MISSING_ERROR, f"Record does not exist or has been deleted.\n(Record: purchase.order({po_id},))")
    return (await _with_lines(transport, orders))[0]


async def _with_lines(transport: OdooTransport, orders: list[dict[str, Any]]) -> list[ErpPurchase]:
    if not orders:
        return []
    ids = [o["id"] for o in orders]
    lines = await transport.call(
        "purchase.order.line", "search_read", domain=[["order_id", "in", ids]], fields=[*LINE_FIELDS, uom_field(transport.version)],
        order="order_id, sequence, id",
    )
    product_ids = sorted({pid for line in lines if (pid := _many2one(line.get("product_id"))[0])})
    products = {
        p["id"]: p for p in (
            await transport.call("product.product", "search_read", domain=[["id", "in", product_ids]], fields=PRODUCT_FIELDS, context={"active_test": False})
            if product_ids else []
        )
    }
    by_order: dict[int, list[ErpLine]] = {}
    for line in lines:
        if line.get("display_type"):
            continue  # sections and notes are layout, not goods
        if _decimal(line.get("product_qty")) <= 0:
            continue  # nothing ordered: how a line leaves a confirmed PO (it cannot be deleted)
        order_id, _ = _many2one(line.get("order_id"))
        product_id, product_name = _many2one(line.get("product_id"))
        product = products.get(product_id or 0, {})
        _, category = _many2one(product.get("categ_id"))
        _, unit = _many2one(line.get(uom_field(transport.version)))
        description = (str(line.get("name") or product_name or "?").splitlines() or ["?"])[0][:500]
        by_order.setdefault(order_id or 0, []).append(ErpLine(
            id=int(line["id"]), product_id=product_id, sku=str(product.get("default_code") or f"odoo-product-{product_id}")[:64],
            description=description, category=category.split(" / ")[-1] or None if category else None,
            quantity=_decimal(line.get("product_qty")), unit=(unit or "Units")[:16], price=_decimal(line.get("price_unit")),
            planned=_date(line.get("date_planned")), received=_decimal(line.get("qty_received")),
        ))
    result = []
    for o in orders:
        partner_id, partner_name = _many2one(o.get("partner_id"))
        _, currency = _many2one(o.get("currency_id"))
        result.append(ErpPurchase(
            id=int(o["id"]), name=str(o.get("name") or o["id"]), state=str(o.get("state")), partner_id=partner_id or 0,
            partner_name=partner_name, partner_ref=o.get("partner_ref") or None, currency=(currency or "CNY")[:3].upper(),
            notes=plain_text(o.get(notes_field(transport.version))), write_date=str(o.get("write_date") or ""), lines=tuple(by_order.get(int(o["id"]), [])),
        ))
    return result


async def product_ids_by_sku(transport: OdooTransport, skus: list[str]) -> dict[str, int]:
    if not skus:
        return {}
    found = await transport.call("product.product", "search_read", domain=[["default_code", "in", skus]], fields=["id", "default_code"])
    return {p["default_code"]: int(p["id"]) for p in found}
