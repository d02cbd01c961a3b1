"""Per-line answers (855/ORDRSP): accepted, accepted with changes, backordered, rejected."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import LineAnswer, LineAnswerCode, LineChange, OrderState

from .conftest import order_events, order_in, snapshot


def mixed_answers() -> list[LineAnswer]:
    return [
        LineAnswer(line_id="1", answer=LineAnswerCode.ACCEPTED),
        LineAnswer(
            line_id="2", answer=LineAnswerCode.ACCEPTED_WITH_CHANGES,
            change=LineChange(quantity=Decimal("250"), unit_price=Decimal("1.05"), delivery_date=date(2026, 3, 2),
                              substitute_sku="PEN-BLK-07", substitute_description="黑色中性笔 0.7mm"),
        ),
        LineAnswer(line_id="3", answer=LineAnswerCode.BACKORDERED, note="三月到货"),
        LineAnswer(line_id="4", answer=LineAnswerCode.REJECTED, note="停产"),
    ]


def test_a_change_is_present_exactly_when_the_answer_is_accepted_with_changes():
    with pytest.raises(ValidationError, match="carries the `change`"):
        LineAnswer(line_id="1", answer=LineAnswerCode.ACCEPTED_WITH_CHANGES)
    for code in (LineAnswerCode.ACCEPTED, LineAnswerCode.BACKORDERED, LineAnswerCode.REJECTED):
        with pytest.raises(ValidationError, match="carries no `change`"):
            LineAnswer(line_id="1", answer=code, change=LineChange(quantity=Decimal("1")))
    with pytest.raises(ValidationError, match="at least one"):
        LineChange()


async def test_mixed_answers_propose_changes_and_accepting_makes_the_next_revision(parties, admin_nc):
    p = parties
    order = await order_in(p, admin_nc, "seen")
    proposed = await p.supplier.orders.propose(order.id, mixed_answers(), "部分调整")
    assert proposed.order.state is OrderState.CHANGES_PROPOSED
    assert proposed.event.changed_lines == ("2", "3", "4")
    assert proposed.event.signature.act == "propose"
    assert [a.answer for a in proposed.order.answers] == ["accepted", "accepted_with_changes", "backordered", "rejected"]

    accepted = await p.buyer.orders.accept_changes(order.id)
    new = accepted.order
    assert new.state is OrderState.CONFIRMED and new.revision == 2
    assert [line.line_id for line in new.lines] == ["1", "2", "3"]  # the rejected line left the order
    line2 = new.line("2")
    assert (line2.sku, line2.description, line2.quantity, line2.unit_price, line2.requested_date) == (
        "PEN-BLK-07", "黑色中性笔 0.7mm", Decimal("250"), Decimal("1.05"), date(2026, 3, 2)
    )
    assert [a.answer for a in new.answers] == ["accepted", "accepted", "backordered"]
    assert accepted.event.changed_lines == ("2", "3", "4")
    assert new.total() == Decimal("200") * Decimal("1.20") + Decimal("250") * Decimal("1.05") + Decimal("50") * Decimal("3.50")
    # Both parties signed the same proposal document.
    propose_sig, accept_sig = new.signatures[-2:]
    assert (propose_sig.signer, accept_sig.signer) == ("hongyun", "lin")
    assert propose_sig.digest == accept_sig.digest


async def test_declined_changes_go_back_to_the_supplier(parties, admin_nc):
    p = parties
    order = await order_in(p, admin_nc, "changes_proposed")
    declined = await p.buyer.orders.decline_changes(order.id, "必须按原数量")
    assert declined.order.state is OrderState.SEEN and declined.order.answers == ()
    confirmed = await p.supplier.orders.confirm(order.id)
    assert confirmed.order.state is OrderState.CONFIRMED and confirmed.order.revision == 1
    assert [e.type for e in await order_events(admin_nc, p.tenant, order.id)][-3:] == ["changes_proposed", "changes_declined", "confirmed"]


async def test_all_lines_rejected_is_a_rejection_and_all_accepted_a_confirmation(parties, admin_nc):
    p = parties
    first = await order_in(p, admin_nc, "sent")
    rejected = await p.supplier.orders.propose(first.id, [LineAnswer(line_id=l.line_id, answer=LineAnswerCode.REJECTED) for l in first.lines])
    assert rejected.event.type == "rejected" and rejected.order.state is OrderState.REJECTED
    second = await order_in(p, admin_nc, "sent")
    confirmed = await p.supplier.orders.propose(second.id, [LineAnswer(line_id=l.line_id, answer=LineAnswerCode.ACCEPTED) for l in second.lines])
    assert confirmed.event.type == "confirmed" and confirmed.event.signature.act == "confirm"


async def test_answers_must_cover_every_line_once(parties, admin_nc):
    p = parties
    order = await order_in(p, admin_nc, "sent")
    before = await snapshot(admin_nc, p.tenant, order.id)
    cases = [
        (mixed_answers()[:3], "missing: 4"),
        ([*mixed_answers(), LineAnswer(line_id="1", answer=LineAnswerCode.ACCEPTED)], "answered twice"),
        ([*mixed_answers()[:3], LineAnswer(line_id="9", answer=LineAnswerCode.ACCEPTED)], "no line '9'"),
    ]
    for answers, message in cases:
        with pytest.raises(OrderchatError) as failure:
            await p.supplier.orders.propose(order.id, answers)
        assert failure.value.code is ErrorCode.INVALID and message in failure.value.message
    assert await snapshot(admin_nc, p.tenant, order.id) == before


async def test_bad_input_is_answered_parked_and_the_service_keeps_going(parties, admin_nc):
    p = parties
    order = await order_in(p, admin_nc, "sent")
    subject = names.order_command(p.tenant, "hongyun", "propose")
    bad = {
        "command_id": "bad-1", "order_id": order.id, "revision": 1,
        "answers": [{"line_id": "1", "answer": "accepted", "change": {"quantity": "5"}}],
    }
    reply = json.loads((await admin_nc.request(subject, json.dumps(bad).encode(), timeout=5)).data)
    assert reply["ok"] is False and reply["code"] == "invalid" and "carries no `change`" in reply["message"]
    reply = json.loads((await admin_nc.request(subject, b"{not json", timeout=5)).data)
    assert reply["code"] == "bad_json"

    js = admin_nc.jetstream()
    parked = await js.get_last_msg(names.STREAM_DLQ, names.dlq(p.tenant, "orders"))
    assert parked.headers["Oc-Original-Subject"] == subject and parked.data == b"{not json"
    assert (await p.supplier.orders.confirm(order.id)).order.state is OrderState.CONFIRMED
