"""Category visibility: a supplier limited to product categories (`User.categories`) sees
only the order lines of those categories, in the cards and notices posted for it and in
what the order queries answer it. Everyone else (buyers, ops, unlimited suppliers) sees
every line.

Fail closed: a line with no category is hidden from a limited supplier, since an order's
lines are commercial secrets and "unknown" is not one of its categories. Categories compare
case-insensitively ("paper" = "Paper"), as people type them."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol, TypeVar

from orderchat.schemas.cards import CardLine, OrderCardView
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import Order, OrderAction
from orderchat.schemas.users import PartyRole, User


class HasCategory(Protocol):
    @property
    def category(self) -> str | None: ...


L = TypeVar("L", bound=HasCategory)


def limited(viewer: User | None) -> bool:
    """True when `viewer` is a supplier restricted to some categories."""
    return viewer is not None and viewer.role is PartyRole.SUPPLIER and bool(viewer.categories)


def _allowed(viewer: User) -> frozenset[str]:
    return frozenset(c.casefold() for c in viewer.categories)


def visible_lines(viewer: User | None, lines: Iterable[L]) -> tuple[L, ...]:
    """The lines `viewer` may see, in their order."""
    lines = tuple(lines)
    if not limited(viewer):
        return lines
    allowed = _allowed(viewer)  # type: ignore[arg-type]
    return tuple(line for line in lines if line.category is not None and line.category.casefold() in allowed)


# What a supplier commits to line by line: it can only be done on an order seen whole.
ANSWERS_ON_LINES = frozenset({OrderAction.CONFIRM, OrderAction.PROPOSE})


def require_whole_view(viewer: User, order: Order, action: OrderAction) -> None:
    """A limited supplier cannot confirm or answer lines it cannot see (its signature covers
    the whole order's terms): say so plainly, instead of failing later on a signature over
    the lines it saw, or asking it for answers to lines it never saw. Rejecting the whole
    order stays open to it."""
    if action not in ANSWERS_ON_LINES or not limited(viewer):
        return
    hidden = len(order.lines) - len(visible_lines(viewer, order.lines))
    if hidden:
        raise OrderchatError(
            ErrorCode.FORBIDDEN,
            f"order {order.id} has {hidden} line(s) outside {viewer.id}'s categories "
            f"({', '.join(viewer.categories)}): a supplier answers an order it sees whole. "
            "Reject it, or ask the buyer to split the order or to widen your categories.",
            {"hidden_lines": hidden},
        )


def visible_line_ids(viewer: User | None, order: Order) -> frozenset[str]:
    return frozenset(line.line_id for line in visible_lines(viewer, order.lines))


def _total(lines: tuple[CardLine, ...]) -> Decimal | None:
    if not lines or any(line.unit_price is None for line in lines):
        return None
    return sum((line.quantity * line.unit_price for line in lines), Decimal(0))  # type: ignore[operator]


def card_for(viewer: User | None, card: OrderCardView) -> OrderCardView:
    """The card as `viewer` may see it: its lines, the changed ones among them, and a total
    over them only (the full total would reveal the hidden lines' value)."""
    if not limited(viewer):
        return card
    lines = visible_lines(viewer, card.lines)
    ids = {line.line_id for line in lines}
    return card.model_copy(
        update={"lines": lines, "total": _total(lines), "changed_lines": tuple(i for i in card.changed_lines if i in ids)}
    )


def line_ids_for(viewer: User | None, order: Order, line_ids: Iterable[str]) -> tuple[str, ...]:
    """`line_ids` (e.g. an event's changed lines) without the ones hidden from `viewer`."""
    line_ids = tuple(line_ids)
    if not limited(viewer):
        return line_ids
    visible = visible_line_ids(viewer, order)
    return tuple(i for i in line_ids if i in visible)


def order_for(viewer: User | None, order: Order) -> Order:
    """The order as `viewer` may see it: visible lines and the answers to them. Signatures
    stay (they prove who agreed); a limited supplier cannot recompute their digests, which
    cover every line."""
    if not limited(viewer):
        return order
    visible = visible_line_ids(viewer, order)
    return order.model_copy(
        update={
            "lines": tuple(line for line in order.lines if line.line_id in visible),
            "answers": tuple(a for a in order.answers if a.line_id in visible),
        }
    )
