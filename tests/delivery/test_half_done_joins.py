"""Membership changes that stopped half-way (an instance crashed, or a JetStream call failed,
after the conversation's record was written and before every member's inbox followed it).
The record is written first, so it is the record a later call finds: the state is set up here
exactly as such an attempt leaves it, then the next ordinary call must finish the job."""

from datetime import datetime, timezone

import nats

from orderchat.schemas import names
from orderchat.schemas.conversations import ConvKind, Conversation, Member, MemberRole
from orderchat.schemas.ids import direct_conv_id
from orderchat.schemas.users import PartyRole
from orderchat.services.framework.typed_kv import TypedKV
from tests.conftest import collect


async def _conversations(admin_nc: nats.NATS) -> TypedKV[Conversation]:
    return TypedKV(await admin_nc.jetstream().key_value(names.KV_CONVERSATIONS), Conversation)


async def _filters(admin_nc: nats.NATS, tenant: str, user: str) -> list[str]:
    info = await admin_nc.jetstream().consumer_info(names.STREAM_CHAT, names.device_consumer(tenant, user, "main"))
    return list(info.config.filter_subjects or [info.config.filter_subject])


def _member(user: str, role: MemberRole) -> Member:
    return Member(user=user, role=role, joined_at=datetime.now(timezone.utc))


async def test_a_direct_conversation_recorded_but_never_joined_is_joined_by_the_next_send(admin_nc, tenant, make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    await paper.open_session()  # paper's inbox exists and follows nothing yet
    conv_id = direct_conv_id("lin", "paper")
    record = Conversation(
        id=conv_id, tenant=tenant, kind=ConvKind.DIRECT, members=(_member("lin", MemberRole.BUYER), _member("paper", MemberRole.SUPPLIER)),
        created_by="lin", created_at=datetime.now(timezone.utc),
    )
    assert await (await _conversations(admin_nc)).create(names.kv_key(tenant, conv_id), record) is not None
    assert names.conv(tenant, conv_id) not in await _filters(admin_nc, tenant, "paper")

    accepted = await lin.send("50 reams of A4, please", to="paper")

    assert accepted.conv == conv_id
    [item] = await collect(paper, 1)
    assert item.message.body.text == "50 reams of A4, please"
    assert [(s.conversation.id, s.unread) for s in (await paper.conversations()).conversations] == [(conv_id, 1)]


async def test_a_group_recorded_but_never_joined_is_joined_by_its_first_message(admin_nc, tenant, make_user, client_for):
    await make_user("lin")
    await make_user("ink", PartyRole.SUPPLIER)
    lin, ink = await client_for("lin"), await client_for("ink")
    await ink.open_session()
    record = Conversation(
        id="g_ink_april", tenant=tenant, kind=ConvKind.GROUP, title="Ink for April",
        members=(_member("lin", MemberRole.BUYER), _member("ink", MemberRole.SUPPLIER)), created_by="lin", created_at=datetime.now(timezone.utc),
    )
    assert await (await _conversations(admin_nc)).create(names.kv_key(tenant, record.id), record) is not None

    await lin.send("Black ink, 40 bottles?", conv=record.id)

    got = await collect(ink, 1)
    assert [i.message.body.text for i in got] == ["Black ink, 40 bottles?"]


async def test_a_member_added_to_the_record_only_is_joined_when_the_buyer_adds_again(admin_nc, tenant, make_user, client_for):
    for user in ("lin", "assistant", "ink"):
        await make_user(user, PartyRole.SUPPLIER if user == "ink" else PartyRole.BUYER)
    lin, ink = await client_for("lin"), await client_for("ink")
    await ink.open_session()
    conv = (await lin.create_conversation(["assistant"], title="Ink for April")).conversation
    kv = await _conversations(admin_nc)
    # The first attempt wrote the new member into the record, then stopped.
    await kv.update(names.kv_key(tenant, conv.id), lambda c: c.model_copy(update={"members": (*c.members, _member("ink", MemberRole.SUPPLIER))}))
    assert names.conv(tenant, conv.id) not in await _filters(admin_nc, tenant, "ink")

    await lin.change_members(conv.id, add=["ink"])  # the buyer's retry
    await lin.send("Black ink, 40 bottles?", conv=conv.id)

    got = await collect(ink, 1)
    assert [i.message.body.text for i in got] == ["Black ink, 40 bottles?"]


async def test_a_member_removed_from_the_record_only_stops_receiving_when_the_buyer_removes_again(admin_nc, tenant, make_user, client_for):
    for user in ("lin", "ink"):
        await make_user(user, PartyRole.SUPPLIER if user == "ink" else PartyRole.BUYER)
    lin, ink = await client_for("lin"), await client_for("ink")
    await ink.open_session()
    conv = (await lin.create_conversation(["ink"], title="Ink for April")).conversation
    assert names.conv(tenant, conv.id) in await _filters(admin_nc, tenant, "ink")
    kv = await _conversations(admin_nc)
    # The first attempt took the member out of the record, then stopped: ink's inbox still
    # follows the conversation.
    await kv.update(names.kv_key(tenant, conv.id), lambda c: c.model_copy(update={"members": tuple(m for m in c.members if m.user != "ink")}))

    await lin.change_members(conv.id, remove=["ink"])  # the buyer's retry

    assert names.conv(tenant, conv.id) not in await _filters(admin_nc, tenant, "ink")
    left = await collect(ink, 1, kinds=("conv_left",))
    assert left[0].event.conv == conv.id
