"""Offline catch-up, retries without duplicates, per-conversation order, history paging."""

import asyncio

from orderchat.schemas.users import PartyRole
from tests.conftest import collect


async def test_offline_member_finds_messages_waiting(make_user, client_for, nats_url, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    paper = await client_for("paper", device="phone")
    await paper.open_session()
    await paper.close()  # the supplier goes offline

    lin = await client_for("lin")
    for i in range(5):
        await lin.send(f"order line {i}", to="paper")

    back = await client_for("paper", device="phone")
    items = await collect(back, 5)
    assert [i.message.body.text for i in items] == [f"order line {i}" for i in range(5)]

    # Read and acknowledged: a later reconnect finds nothing new.
    again = await client_for("paper", device="phone")
    async with again.inbox(follow=False, idle=0.5) as inbox:
        left = [item async for item in inbox if item.kind == "message"]
    assert left == []


async def test_a_retried_send_is_stored_once(make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    await paper.open_session()

    first = await lin.send("we said 50, not 15", to="paper", client_msg_id="m-50")
    retry = await lin.send("we said 50, not 15", to="paper", client_msg_id="m-50")
    after = await lin.send("thanks", to="paper")

    assert (first.seq, first.duplicate) == (1, False)
    assert (retry.seq, retry.duplicate, retry.stream_seq) == (1, True, first.stream_seq)
    assert after.seq == 2
    texts = [i.message.body.text for i in await collect(paper, 2)]
    assert texts == ["we said 50, not 15", "thanks"]
    history = await lin.history(first.conv)
    assert [m.seq for m in history.messages] == [1, 2]


async def test_concurrent_senders_get_a_gapless_sequence_in_history_order(make_user, client_for):
    await make_user("lin")
    senders = ["s1", "s2", "s3", "s4"]
    for s in senders:
        await make_user(s, PartyRole.SUPPLIER)
    lin = await client_for("lin")
    conv = (await lin.create_conversation(senders, title="Tender")).conversation
    clients = [await client_for(s) for s in senders]
    watcher = await client_for("lin", device="watcher")
    await watcher.open_session()

    async def burst(client, n):
        return [await client.send(f"{client.user}-{i}", conv=conv.id) for i in range(n)]

    results = await asyncio.gather(*(burst(c, 25) for c in clients))

    seqs = sorted(a.seq for r in results for a in r)
    assert seqs == list(range(1, 101))
    for per_sender in results:  # each sender's messages keep their order
        assert [a.seq for a in per_sender] == sorted(a.seq for a in per_sender)
    received = [i.message for i in await collect(watcher, 100)]
    assert [m.seq for m in received] == list(range(1, 101))


async def test_history_pages_by_sequence(make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin = await client_for("lin")
    other = await client_for("paper")
    conv = None
    for i in range(1, 121):
        conv = (await (lin if i % 3 else other).send(f"message {i}", to="paper" if i % 3 else "lin")).conv
        if i % 10 == 0:  # interleave another conversation so stream and conversation sequences differ
            await lin.create_conversation(["paper"], title=f"noise {i}")
    assert conv is not None

    latest = await lin.history(conv, limit=50)
    assert [m.seq for m in latest.messages] == list(range(71, 121))
    assert latest.has_more and latest.last_seq == 120
    older = await lin.history(conv, before=71, limit=50)
    assert [m.seq for m in older.messages] == list(range(21, 71))
    oldest = await lin.history(conv, before=21, limit=50)
    assert [m.seq for m in oldest.messages] == list(range(1, 21)) and not oldest.has_more
    forward = await lin.history(conv, after=100, limit=10)
    assert [m.seq for m in forward.messages] == list(range(101, 111)) and forward.has_more
    assert forward.messages[0].body.text == "message 101"
    tail = await lin.history(conv, after=120)
    assert tail.messages == [] and not tail.has_more
