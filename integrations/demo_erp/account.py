"""A minimal vendor bill (account.move + account.move.line), linked to purchase lines.

Enough to reproduce what purchase.order depends on: `invoice_ids`, `qty_invoiced`,
`invoice_status`, and button_cancel's refusal while a posted bill exists. Tests create a
bill with `move_type='in_invoice'` and lines pointing at `purchase_line_id`, then call
`action_post`.
"""

from __future__ import annotations

from typing import Any

from .errors import UserError
from .orm import Char, Date, Env, Float, Many2one, Model, Monetary, One2many, Selection, rpc
from .purchase import recompute_orders
from .store import Record

MOVE_TYPES = [
    ("entry", "Journal Entry"),
    ("out_invoice", "Customer Invoice"),
    ("out_refund", "Customer Credit Note"),
    ("in_invoice", "Vendor Bill"),
    ("in_refund", "Vendor Credit Note"),
]
_PREFIX = {"in_invoice": "BILL", "in_refund": "RBILL", "out_invoice": "INV", "out_refund": "RINV", "entry": "MISC"}


def _move_lines(env: Env, move_id: int) -> list[Record]:
    return [line for line in env.tx.records("account.move.line") if line.get("move_id") == move_id]


def _move_total(env: Env, move: Record) -> float:
    return round(sum(float(ln.get("quantity") or 0) * float(ln.get("price_unit") or 0) for ln in _move_lines(env, move["id"])), 2)


def _purchase_orders_of(env: Env, move_ids: list[int]) -> list[int]:
    """Orders whose billing status depends on these moves (through purchase_line_id)."""
    orders = []
    for move_id in move_ids:
        for line in _move_lines(env, move_id):
            pol = env.tx.get("purchase.order.line", line.get("purchase_line_id") or 0)
            if pol:
                orders.append(pol["order_id"])
    return orders


class AccountMove(Model):
    _name = "account.move"
    _description = "Journal Entry"
    _order = "date desc, name desc, id desc"

    name = Char("Number", default="/")
    move_type = Selection(MOVE_TYPES, "Type", required=True, default="entry")
    state = Selection([("draft", "Draft"), ("posted", "Posted"), ("cancel", "Cancelled")], "Status", required=True, default="draft")
    partner_id = Many2one("res.partner", "Partner")
    ref = Char("Reference")
    invoice_origin = Char("Origin")
    invoice_date = Date("Invoice/Bill Date")
    date = Date("Date", required=True, default=lambda env: env.tx.now[:10])
    currency_id = Many2one("res.currency", "Currency")
    company_id = Many2one("res.company", "Company", default=lambda env: env.user.get("company_id") or False)
    invoice_line_ids = One2many("account.move.line", "move_id", "Invoice lines")
    amount_total = Monetary("Total", compute=_move_total)

    def _set_state(self, env: Env, ids: list[int], state: str, extra: dict[str, Any] | None = None) -> None:
        orders = _purchase_orders_of(env, ids)
        self.write(env, ids, {"state": state, **(extra or {})})
        recompute_orders(env, orders)  # invoice_status / qty_invoiced are stored on the PO in Odoo

    @rpc
    def action_post(self, env: Env, ids: list[int]) -> bool:
        for move in self._browse(env, ids):
            if move.get("state") == "posted":
                raise UserError(f"The entry {move.get('name')} (id {move['id']}) is already posted.")
            if not _move_lines(env, move["id"]):
                raise UserError("You need to add a line before posting.")
            extra: dict[str, Any] = {}
            if move.get("name") in (None, False, "/"):
                year = env.tx.now[:4]
                number = env.tx.next_value(f"sequence:account.move:{move.get('move_type')}:{year}")
                extra["name"] = f"{_PREFIX.get(move.get('move_type') or 'entry', 'MISC')}/{year}/{number:05d}"
            if move.get("move_type") in ("in_invoice", "in_refund") and not move.get("invoice_date"):
                extra["invoice_date"] = env.tx.now[:10]
            self._set_state(env, [move["id"]], "posted", extra)
        return False

    @rpc
    def button_draft(self, env: Env, ids: list[int]) -> None:
        self._set_state(env, ids, "draft")
        return None

    @rpc
    def button_cancel(self, env: Env, ids: list[int]) -> None:
        self._set_state(env, ids, "cancel")
        return None

    def _before_unlink(self, env: Env, records: list[Record]) -> None:
        for move in records:
            if move.get("state") == "posted":
                raise UserError("You cannot delete an entry which has been posted once.")


class AccountMoveLine(Model):
    _name = "account.move.line"
    _description = "Journal Item"
    _order = "move_id, id"

    move_id = Many2one("account.move", "Journal Entry", required=True, ondelete="cascade")
    name = Char("Label")
    product_id = Many2one("product.product", "Product")
    quantity = Float("Quantity", default=1.0)
    price_unit = Float("Unit Price", default=0.0)
    price_subtotal = Monetary(
        "Subtotal", compute=lambda env, rec: round(float(rec.get("quantity") or 0) * float(rec.get("price_unit") or 0), 2)
    )
    purchase_line_id = Many2one("purchase.order.line", "Purchase Order Line", ondelete="set null")
    purchase_order_id = Many2one(
        "purchase.order", "Purchase Order",
        compute=lambda env, rec: (env.tx.get("purchase.order.line", rec.get("purchase_line_id") or 0) or {}).get("order_id") or False,
    )

    def _after_create(self, env: Env, ids: list[int]) -> None:
        recompute_orders(env, [
            (env.tx.get("purchase.order.line", r.get("purchase_line_id") or 0) or {}).get("order_id") or 0
            for r in self._browse_existing(env, ids)
        ])
