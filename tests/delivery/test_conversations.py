"""One-to-one, group and broadcast conversations, end to end over a real nats-server."""

import pytest

from orderchat.schemas.conversations import ConvKind, MemberRole, MemberSpec
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.users import PartyRole
from tests.conftest import collect


async def test_direct_message_reaches_the_recipient(make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    await paper.open_session()

    accepted = await lin.send("50 reams of A4, please", to="paper")

    assert (accepted.conv, accepted.seq, accepted.duplicate) == ("dm_lin_paper", 1, False)
    [item] = await collect(paper, 1)
    assert item.message.body.text == "50 reams of A4, please"
    assert item.message.sender == "lin"
    assert item.message.seq == 1


async def test_the_direct_conversation_is_the_same_whoever_starts_it(make_user, client_for):
    await make_user("lin")
    await make_user("pens", PartyRole.SUPPLIER)
    lin, pens = await client_for("lin"), await client_for("pens")
    first = await pens.send("we have blue gel pens in stock", to="lin")
    second = await lin.send("great, 200 please", to="pens")
    assert first.conv == second.conv == "dm_lin_pens"
    assert (first.seq, second.seq) == (1, 2)


async def test_group_members_with_roles_all_receive(make_user, client_for):
    await make_user("lin")
    await make_user("assistant")
    await make_user("paper", PartyRole.SUPPLIER)
    await make_user("auditor", PartyRole.OPS)
    lin = await client_for("lin")
    others = {u: await client_for(u) for u in ("assistant", "paper", "auditor")}

    reply = await lin.create_conversation(
        [MemberSpec(user="assistant"), MemberSpec(user="paper"), MemberSpec(user="auditor", role=MemberRole.OBSERVER)],
        title="Paper for March",
    )
    conv = reply.conversation
    roles = {m.user: m.role for m in conv.members}
    assert roles == {"lin": "buyer", "assistant": "buyer", "paper": "supplier", "auditor": "observer"}
    assert conv.kind is ConvKind.GROUP

    await lin.send("Paper prices for March?", conv=conv.id)
    await others["paper"].send("Same as February", conv=conv.id)
    for user, client in others.items():
        texts = [i.message.body.text for i in await collect(client, 2)]
        assert texts == ["Paper prices for March?", "Same as February"], user

    with pytest.raises(OrderchatError) as err:
        await others["auditor"].send("I should not post", conv=conv.id)
    assert err.value.code is ErrorCode.FORBIDDEN


async def test_members_joining_later_get_what_follows(make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    await make_user("late", PartyRole.SUPPLIER)
    lin, late = await client_for("lin"), await client_for("late")
    conv = (await lin.create_conversation(["paper"], title="Ink")).conversation

    await lin.send("before you joined", conv=conv.id)
    with pytest.raises(OrderchatError) as err:
        await late.send("let me in", conv=conv.id)
    assert err.value.code is ErrorCode.NOT_MEMBER

    changed = await lin.change_members(conv.id, add=["late"])
    assert "late" in changed.conversation.member_ids()
    await lin.send("welcome", conv=conv.id)
    [item] = await collect(late, 1)
    assert item.message.body.text == "welcome"

    supplier = await client_for("paper")
    with pytest.raises(OrderchatError) as err:
        await supplier.change_members(conv.id, add=["lin"])
    assert err.value.code is ErrorCode.FORBIDDEN


async def test_broadcast_arrives_as_separate_direct_messages(make_user, client_for):
    await make_user("lin")
    suppliers = ["paper", "pens", "office"]
    for s in suppliers:
        await make_user(s, PartyRole.SUPPLIER)
    lin = await client_for("lin")
    clients = {s: await client_for(s) for s in suppliers}
    for client in clients.values():
        await client.open_session()

    reply = await lin.broadcast([*suppliers, "ghost"], "Closed on Monday, please deliver Tuesday")

    by_user = {r.to: r for r in reply.results}
    assert all(by_user[s].ok and by_user[s].conv == f"dm_lin_{s}" if s > "lin" else by_user[s].ok for s in suppliers)
    assert not by_user["ghost"].ok and "unknown_user" in by_user["ghost"].error
    for s, client in clients.items():
        [item] = await collect(client, 1)
        assert item.message.conv == by_user[s].conv
        assert item.message.body.text.startswith("Closed on Monday")
    # Each supplier sees only its own conversation with the shop.
    assert len({by_user[s].conv for s in suppliers}) == 3


async def test_group_create_with_an_id_is_idempotent(make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin = await client_for("lin")
    first = await lin.create_conversation(["paper"], title="Q1", conv_id="g_q1")
    again = await lin.create_conversation(["paper"], title="Q1", conv_id="g_q1")
    assert first.created and not again.created
    assert again.conversation.id == "g_q1"
