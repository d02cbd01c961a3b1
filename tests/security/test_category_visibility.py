"""Category visibility: a supplier limited to product categories sees only those lines, in
the card the orders service posts for it and in what the order queries answer it."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from orderchat.schemas.cards import CardLine, OrderCardView
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import LineAnswer, LineAnswerCode, OrderLine
from orderchat.schemas.users import PartyRole, User
from orderchat.services.orders.visibility import card_for, visible_lines

from .conftest import BUYER, SUPPLIER


def line(line_id: str, category: str | None, qty: int = 10, price: str = "2") -> OrderLine:
    return OrderLine(
        line_id=line_id, sku=f"SKU-{line_id}", description=f"item {line_id}", category=category,
        quantity=Decimal(qty), unit_price=Decimal(price),
    )


MIXED = [line("p1", "Paper", 40, "25"), line("n1", "notebooks"), line("g1", "Pens", 200, "1.5"), line("x1", None)]


def user(role: PartyRole, *categories: str) -> User:
    return User(id="u", display_name="U", role=role, categories=categories, created_at=datetime.now(timezone.utc))


def test_a_limited_supplier_sees_its_categories_only_and_fails_closed_on_uncategorized():
    paper_mill = user(PartyRole.SUPPLIER, "Paper", "Notebooks")
    assert [ln.line_id for ln in visible_lines(paper_mill, MIXED)] == ["p1", "n1"]  # case-insensitive


def test_buyers_ops_and_unlimited_suppliers_see_every_line():
    for viewer in (user(PartyRole.BUYER, "Paper"), user(PartyRole.OPS), user(PartyRole.SUPPLIER), None):
        assert visible_lines(viewer, MIXED) == tuple(MIXED)


def test_the_card_total_and_changed_lines_cover_visible_lines_only():
    lines = tuple(CardLine(**ln.model_dump()) for ln in MIXED[:3])
    card = OrderCardView(order_id="o1", revision=2, state="sent", buyer="lin", supplier="mill", lines=lines,
                         total=Decimal("1320"), changed_lines=("p1", "g1"))
    seen = card_for(user(PartyRole.SUPPLIER, "Paper"), card)
    assert [ln.line_id for ln in seen.lines] == ["p1"]
    assert seen.total == Decimal("1000") and seen.changed_lines == ("p1",)
    assert card_for(user(PartyRole.BUYER), card) == card


async def test_the_paper_mill_sees_only_paper_lines_of_an_order(admit, client_as):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER, {"categories": ("Paper",)}))
    lin, sunrise = await client_as("lin", seeds["lin"]), await client_as("sunrise", seeds["sunrise"])

    created = await lin.orders.create("sunrise", MIXED)
    order = created.order
    assert len(order.lines) == 4  # the buyer's own reply: everything

    page = await sunrise.history(order.conv)
    card = next(m.body.card for m in page.messages if m.body.kind == "order_card")
    assert [ln.line_id for ln in card.lines] == ["p1"]
    assert card.total == Decimal("1000")
    assert {ln.category for ln in card.lines} == {"Paper"}

    shown = await sunrise.orders.show(order.id)
    assert [ln.line_id for ln in shown.lines] == ["p1"]
    listed = await sunrise.orders.list()
    assert [[ln.line_id for ln in o.lines] for o in listed] == [["p1"]]
    assert [ln.line_id for ln in (await lin.orders.show(order.id)).lines] == ["p1", "n1", "g1", "x1"]

    # The raw event log (hash-chained over every line) is not trimmed: it is refused instead.
    with pytest.raises(OrderchatError) as refused:
        await sunrise.orders.events(order.id)
    assert refused.value.code == ErrorCode.FORBIDDEN and "outside your categories" in refused.value.message
    assert len((await lin.orders.events(order.id)).events) >= 2

    # Answering lines it cannot see is refused plainly (its signature would cover terms it
    # never saw); rejecting the whole order stays open to it.
    visible_answer = [LineAnswer(line_id="p1", answer=LineAnswerCode.ACCEPTED)]
    for act in (sunrise.orders.confirm(order.id), sunrise.orders.propose(order.id, visible_answer)):
        with pytest.raises(OrderchatError) as cannot:
            await act
        assert cannot.value.code == ErrorCode.FORBIDDEN
        assert "3 line(s) outside sunrise's categories (Paper)" in cannot.value.message and "Reject it" in cannot.value.message
    rejected = await sunrise.orders.reject(order.id, "we only sell paper")
    assert rejected.order.state == "rejected"


async def test_a_limited_supplier_confirms_an_order_it_sees_whole(admit, client_as):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER, {"categories": ("Paper",)}))
    lin, sunrise = await client_as("lin", seeds["lin"]), await client_as("sunrise", seeds["sunrise"])
    order = (await lin.orders.create("sunrise", MIXED[:1])).order
    confirmed = await sunrise.orders.confirm(order.id)
    assert confirmed.order.state == "confirmed"
