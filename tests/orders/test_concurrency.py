"""Two parties acting on the same version at once: exactly one wins, the other is told
which revision the order is at now. Retries with the same command id change nothing."""

from __future__ import annotations

import asyncio

import pytest

from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import OrderState

from .conftest import order_events, order_in, pens, snapshot
from .test_transitions import blue_pens


async def test_concurrent_confirm_and_amend_exactly_one_wins(parties, admin_nc):
    p = parties
    winners = set()
    for _ in range(6):
        order = await order_in(p, admin_nc, "sent")
        confirm = p.supplier.orders.confirm(order.id, order=order)
        amend = p.buyer.orders.amend(order.id, reason="red pens out, blue instead", lines=blue_pens(), order=order)
        results = await asyncio.gather(confirm, amend, return_exceptions=True)
        failures = [r for r in results if isinstance(r, Exception)]
        successes = [r for r in results if not isinstance(r, Exception)]
        assert len(successes) == 1 and len(failures) == 1, results
        conflict = failures[0]
        assert isinstance(conflict, OrderchatError) and conflict.code is ErrorCode.CONFLICT
        current = await p.buyer.orders.show(order.id)
        assert conflict.detail["revision"] == current.revision and conflict.detail["state"] in ("confirmed", "draft", "sent")
        winner = successes[0].event.type
        winners.add(winner)
        types = [e.type for e in await order_events(admin_nc, p.tenant, order.id)]
        assert types.count("confirmed") + types.count("amended") == 1
        assert current.state is (OrderState.CONFIRMED if winner == "confirmed" else OrderState.SENT)
    assert winners <= {"confirmed", "amended"}


async def test_an_answer_to_an_old_revision_is_a_conflict(parties, admin_nc):
    p = parties
    order = await order_in(p, admin_nc, "sent")
    await p.buyer.orders.amend(order.id, reason="red pens out, blue instead", lines=blue_pens())
    stale = order.model_copy(update={"version": order.version + 1})  # right version, old revision
    with pytest.raises(OrderchatError) as failure:
        await p.supplier.orders.confirm(order.id, order=stale)
    assert failure.value.code is ErrorCode.CONFLICT
    assert failure.value.detail["revision"] == 2 and "revision 2, not 1" in failure.value.message


async def test_retrying_a_command_changes_nothing(parties, admin_nc):
    p = parties
    order = await order_in(p, admin_nc, "sent")
    first = await p.supplier.orders.confirm(order.id, order=order, command_id="confirm-once")
    again = await p.supplier.orders.confirm(order.id, order=order, command_id="confirm-once")
    assert not first.duplicate and again.duplicate
    assert again.event == first.event
    types = [e.type for e in await order_events(admin_nc, p.tenant, order.id)]
    assert types.count("confirmed") == 1

    before = await snapshot(admin_nc, p.tenant, order.id)
    with pytest.raises(OrderchatError) as failure:  # the same id for a different command
        await p.supplier.orders.ship(order.id, "快递", command_id="confirm-once")
    assert failure.value.code is ErrorCode.CONFLICT and "already used" in failure.value.message
    assert await snapshot(admin_nc, p.tenant, order.id) == before


async def test_concurrent_retries_of_one_command_store_it_once(parties, admin_nc):
    p = parties
    order = await order_in(p, admin_nc, "sent")
    replies = await asyncio.gather(*(p.supplier.orders.confirm(order.id, order=order, command_id="same-confirm") for _ in range(5)))
    assert sum(not r.duplicate for r in replies) == 1
    assert {r.event.n for r in replies} == {replies[0].event.n}
    assert [e.type for e in await order_events(admin_nc, p.tenant, order.id)].count("confirmed") == 1


async def test_creating_from_the_same_external_reference_gives_the_same_order(parties, admin_nc):
    p = parties
    ref = "erp:inkwell:PO00042:1"
    first = await p.buyer.orders.create("hongyun", pens(), external_ref=ref)
    again = await p.buyer.orders.create("hongyun", pens(), external_ref=ref)  # a new command id
    assert again.duplicate and again.order.id == first.order.id and again.order.erp_ref == ref
    assert [e.type for e in await order_events(admin_nc, p.tenant, first.order.id)].count("created") == 1
    with pytest.raises(OrderchatError) as failure:  # the id is taken by a different order
        await p.buyer.orders.create("hongyun", pens(), order_id=first.order.id)
    assert failure.value.code is ErrorCode.CONFLICT
