"""Unread counts, a user's own messages, and one user on two devices."""

from orderchat.schemas import names
from orderchat.schemas.users import PartyRole
from tests.conftest import collect

from .conftest import cursor, eventually


async def _unread(client, conv: str) -> int:
    reply = await client.conversations()
    return next(s.unread for s in reply.conversations if s.conversation.id == conv)


async def test_two_devices_get_every_message_and_reading_on_one_clears_the_other(make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin = await client_for("lin")
    phone, laptop = await client_for("paper", device="phone"), await client_for("paper", device="laptop")
    await phone.open_session()
    await laptop.open_session()
    for i in range(4):
        sent = await lin.send(f"order question {i}", to="paper")
    conv = sent.conv

    on_phone, on_laptop = await collect(phone, 4), await collect(laptop, 4)
    assert [i.message.seq for i in on_phone] == [i.message.seq for i in on_laptop] == [1, 2, 3, 4]
    assert await _unread(phone, conv) == 4

    await phone.mark_read(conv)

    # The laptop learns through its own inbox that its user read up to 4, and the
    # server-side count agrees.
    [event] = await collect(laptop, 1, kinds=("receipt",))
    assert (event.event.user, event.event.status, event.event.up_to) == ("paper", "read", 4)
    assert await _unread(laptop, conv) == 0
    summary = next(s for s in (await laptop.conversations()).conversations if s.conversation.id == conv)
    assert summary.read_up_to == 4 and summary.last_seq == 4 and summary.last_message["seq"] == 4


async def test_own_messages_are_never_unread(make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    for i in range(3):
        sent = await lin.send(f"m{i}", to="paper")
    conv = sent.conv
    js = admin_nc.jetstream()

    async def lin_cursor_at(seq: int) -> bool:
        c = await cursor(js, names.KV_READ, tenant, conv, "lin")
        return c is not None and c.up_to >= seq

    await eventually(lambda: lin_cursor_at(3))
    assert await _unread(lin, conv) == 0
    assert await _unread(paper, conv) == 3

    reply = await paper.send("on it", conv=conv)  # answering covers what came before
    await eventually(lambda: _paper_read(js, tenant, conv, reply.seq))
    assert await _unread(paper, conv) == 0
    assert await _unread(lin, conv) == 1


async def _paper_read(js, tenant, conv, seq) -> bool:
    c = await cursor(js, names.KV_READ, tenant, conv, "paper")
    return c is not None and c.up_to >= seq
