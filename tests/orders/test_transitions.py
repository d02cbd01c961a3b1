"""Every legal transition does what it says and shows in the chat; every illegal one is
refused with a clear error and changes nothing."""

from __future__ import annotations

import pytest

from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import LineAnswer, LineAnswerCode, OrderAction, OrderState
from orderchat.services.orders.state_machine import RULES

from .conftest import order_events, order_in, pens, snapshot


def blue_pens():
    lines = pens()
    lines[0] = lines[0].model_copy(update={"sku": "PEN-BLU", "description": "蓝色中性笔 0.5mm"})
    return lines


async def act(p, order, action: OrderAction):
    """Carry out `action` on `order` as the party the rules name."""
    o = p.buyer.orders if RULES[action].party == "buyer" else p.supplier.orders
    calls = {
        OrderAction.SEND: lambda: o.send(order.id),
        OrderAction.CONFIRM: lambda: o.confirm(order.id),
        OrderAction.PROPOSE: lambda: o.propose(order.id, [
            LineAnswer(line_id=line.line_id, answer=LineAnswerCode.BACKORDERED if i == 0 else LineAnswerCode.ACCEPTED)
            for i, line in enumerate(order.lines)
        ]),
        OrderAction.REJECT: lambda: o.reject(order.id, "无货"),
        OrderAction.ACCEPT_CHANGES: lambda: o.accept_changes(order.id),
        OrderAction.DECLINE_CHANGES: lambda: o.decline_changes(order.id, "数量不对"),
        OrderAction.AMEND: lambda: o.amend(order.id, reason="red pens out, blue instead", lines=blue_pens()),
        OrderAction.CANCEL: lambda: o.cancel(order.id, "不需要了"),
        OrderAction.SHIP: lambda: o.ship(order.id),
        OrderAction.RECEIVE: lambda: o.receive(order.id),
        OrderAction.CLOSE: lambda: o.close_order(order.id),
    }
    return await calls[action]()


LEGAL = [
    ("draft", OrderAction.SEND, "sent", "sent", 1),
    ("draft", OrderAction.AMEND, "amended", "sent", 2),
    ("draft", OrderAction.CANCEL, "cancelled", "cancelled", 1),
    ("sent", OrderAction.CONFIRM, "confirmed", "confirmed", 1),
    ("sent", OrderAction.PROPOSE, "changes_proposed", "changes_proposed", 1),
    ("sent", OrderAction.REJECT, "rejected", "rejected", 1),
    ("sent", OrderAction.AMEND, "amended", "sent", 2),
    ("sent", OrderAction.CANCEL, "cancelled", "cancelled", 1),
    ("seen", OrderAction.CONFIRM, "confirmed", "confirmed", 1),
    ("seen", OrderAction.PROPOSE, "changes_proposed", "changes_proposed", 1),
    ("seen", OrderAction.REJECT, "rejected", "rejected", 1),
    ("seen", OrderAction.AMEND, "amended", "sent", 2),
    ("seen", OrderAction.CANCEL, "cancelled", "cancelled", 1),
    ("changes_proposed", OrderAction.ACCEPT_CHANGES, "changes_accepted", "confirmed", 2),
    ("changes_proposed", OrderAction.DECLINE_CHANGES, "changes_declined", "seen", 1),
    ("changes_proposed", OrderAction.CONFIRM, "confirmed", "confirmed", 1),
    ("changes_proposed", OrderAction.PROPOSE, "changes_proposed", "changes_proposed", 1),
    ("changes_proposed", OrderAction.REJECT, "rejected", "rejected", 1),
    ("changes_proposed", OrderAction.AMEND, "amended", "sent", 2),
    ("changes_proposed", OrderAction.CANCEL, "cancelled", "cancelled", 1),
    ("confirmed", OrderAction.SHIP, "shipped", "shipped", 1),
    ("confirmed", OrderAction.AMEND, "amended", "sent", 2),
    ("confirmed", OrderAction.CANCEL, "cancelled", "cancelled", 1),
    ("shipped", OrderAction.RECEIVE, "received", "received", 1),
    ("received", OrderAction.CLOSE, "closed", "closed", 1),
]


def test_the_legal_table_covers_every_rule():
    covered = {(state, action) for state, action, *_ in LEGAL}
    expected = {(str(state), action) for action, rule in RULES.items() for state in rule.allowed_from}
    assert covered == expected


@pytest.mark.parametrize(("start", "action", "event_type", "end", "revision"), LEGAL, ids=[f"{s}-{a}" for s, a, *_ in LEGAL])
async def test_legal_transition(parties, admin_nc, start, action, event_type, end, revision):
    order = await order_in(parties, admin_nc, start)
    reply = await act(parties, order, action)
    expected_event = "sent" if action is OrderAction.SEND else event_type
    assert reply.event.type == expected_event
    assert reply.order.state == end
    assert reply.order.revision == revision
    shown = await parties.supplier.orders.show(order.id)
    assert shown.state == end and shown.revision == revision
    events = await order_events(admin_nc, parties.tenant, order.id)
    assert events[-1].type == ("sent" if end == "sent" else event_type)
    assert events[-1].actor in ("lin", "hongyun")

    # The chat shows it: a new card for (re)sent orders, a short notice for the rest.
    if order.conv is None:  # a draft never sent: nothing in any chat yet
        assert reply.order.conv is None or reply.order.state is OrderState.SENT
        return
    page = await parties.buyer.history(order.conv, limit=200)
    if end == "sent":
        cards = [m for m in page.messages if m.body.kind == "order_card" and m.body.card.order_id == order.id]
        assert cards[-1].body.card.revision == revision
        if action is OrderAction.AMEND:
            assert cards[-1].body.card.changed_lines == ("1",)
            assert cards[-1].body.card.lines[0].sku == "PEN-BLU"
    else:
        notices = [m for m in page.messages if m.body.kind == "notice" and m.body.order_id == order.id]
        assert notices and notices[-1].body.code == f"order.{event_type}"
        assert notices[-1].sender == "system"


ILLEGAL_STATES = ["draft", "sent", "seen", "confirmed", "changes_proposed", "rejected", "shipped", "received", "closed", "cancelled"]


@pytest.mark.parametrize("state", ILLEGAL_STATES)
async def test_illegal_transitions_are_refused_and_change_nothing(parties, admin_nc, state):
    order = await order_in(parties, admin_nc, state)
    illegal = [a for a, rule in RULES.items() if state not in {str(s) for s in rule.allowed_from}]
    assert illegal, state
    for action in illegal:
        before = await snapshot(admin_nc, parties.tenant, order.id)
        with pytest.raises(OrderchatError) as failure:
            await act(parties, await parties.buyer.orders.show(order.id), action)
        assert failure.value.code is ErrorCode.ILLEGAL_TRANSITION, (action, failure.value)
        assert f"is {state}" in failure.value.message
        assert failure.value.detail["state"] == state
        assert await snapshot(admin_nc, parties.tenant, order.id) == before


async def test_only_the_right_party_may_act(parties, admin_nc, make_user, client_for):
    from orderchat.schemas.users import PartyRole

    order = await order_in(parties, admin_nc, "sent")
    await make_user("sunrise", PartyRole.SUPPLIER)
    stranger = await client_for("sunrise")
    before = await snapshot(admin_nc, parties.tenant, order.id)
    attempts = [
        (parties.buyer, lambda o: o.confirm(order.id, order=order), "supplier"),
        (parties.buyer, lambda o: o.reject(order.id, "x", order=order), "supplier"),
        (parties.supplier, lambda o: o.amend(order.id, reason="x", notes="y", order=order), "buyer"),
        (parties.supplier, lambda o: o.cancel(order.id, "x", order=order), "buyer"),
        (stranger, lambda o: o.confirm(order.id, order=order), "supplier"),
    ]
    for client, call, owner in attempts:
        with pytest.raises(OrderchatError) as failure:
            await call(client.orders)
        assert failure.value.code is ErrorCode.FORBIDDEN
        assert f"only the order's {owner}" in failure.value.message
    with pytest.raises(OrderchatError) as failure:
        await stranger.orders.show(order.id)
    assert failure.value.code is ErrorCode.FORBIDDEN
    assert await snapshot(admin_nc, parties.tenant, order.id) == before
    # The service kept serving: the rightful party goes through.
    assert (await parties.supplier.orders.confirm(order.id)).order.state is OrderState.CONFIRMED


async def test_only_buyers_create_and_only_for_suppliers(parties, make_user, client_for):
    with pytest.raises(OrderchatError) as failure:
        await parties.supplier.orders.create("lin", pens())
    assert failure.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(OrderchatError) as failure:
        await parties.buyer.orders.create("nobody", pens())
    assert failure.value.code is ErrorCode.UNKNOWN_USER
    assert [o.id for o in await parties.buyer.orders.list()] == []
