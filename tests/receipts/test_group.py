"""Read state of a 50-member group: counts per message, per-member status, duplicates once."""

import asyncio
import time

from orderchat.schemas import names
from orderchat.schemas.receipts import DeliveredRequest, CursorReply
from orderchat.schemas.users import PartyRole

from .conftest import receipt_events

MEMBERS = 49  # plus the buyer who creates the group: 50


async def test_fifty_member_group_read_state(make_user, as_user, admin_nc, tenant):
    await make_user("lin")
    suppliers = [f"s{i:02d}" for i in range(MEMBERS)]
    await asyncio.gather(*(make_user(s, PartyRole.SUPPLIER) for s in suppliers))
    lin = as_user("lin")
    group = (await lin.create_conversation(suppliers, title="All stationery suppliers")).conversation
    assert len(group.members) == 50
    for i in range(3):
        await lin.send(f"announcement {i}", conv=group.id)

    readers_all = suppliers[:20]  # read everything
    readers_first = suppliers[20:30]  # read message 1 only
    received = suppliers[30:45]  # devices fetched everything, nobody read
    # suppliers[45:] have neither received nor read.

    async def read_twice(user: str, up_to: int) -> None:
        client = as_user(user)
        await client.mark_read(group.id, up_to)
        await client.mark_read(group.id, up_to)  # a duplicate receipt
        await client.mark_read(group.id, 1)  # a late one

    async def deliver(user: str) -> CursorReply:
        client = as_user(user)
        return await client.request(names.OP_DELIVERED, DeliveredRequest(conv=group.id, up_to=3), CursorReply)

    await asyncio.gather(
        *(read_twice(u, 3) for u in readers_all),
        *(read_twice(u, 1) for u in readers_first),
        *(deliver(u) for u in received),
        *(deliver(u) for u in received),  # duplicates
    )

    started = time.perf_counter()
    status = await lin.receipt_status(group.id)
    elapsed = time.perf_counter() - started
    counts = {m.seq: (m.recipients, m.delivered, m.read) for m in status.messages}
    assert counts == {1: (49, 45, 30), 2: (49, 35, 20), 3: (49, 35, 20)}
    print(f"\nstatus of 3 messages x 50 members: {elapsed * 1000:.1f} ms")

    rows = {r.user: r for r in status.messages[1].members}
    assert rows["lin"].status == "sender"
    assert {u for u, r in rows.items() if r.status == "read"} == set(readers_all)
    assert {u for u, r in rows.items() if r.status == "delivered"} == set(received)
    assert {u for u, r in rows.items() if r.status == "sent"} == set(readers_first + suppliers[45:])
    assert all(r.read_at is not None and r.delivered_at is not None for u, r in rows.items() if u in readers_all)
    # Reading implies receiving: readers of message 1 count as having received it.
    first = {r.user: r for r in status.messages[0].members}
    assert all(first[u].status == "read" for u in readers_first)

    cursors = {c.user: c for c in status.cursors}
    assert cursors[readers_all[0]].read_up_to == 3 and cursors[received[0]].delivered_up_to == 3
    assert cursors[suppliers[-1]].read_up_to == 0

    # The sender's inbox: one read event per reader and position, however often it was sent.
    to_lin = await receipt_events(admin_nc.jetstream(), tenant, "lin")
    reads = [(e.user, e.up_to) for e in to_lin if e.status == "read"]
    assert sorted(reads) == sorted([(u, 3) for u in readers_all] + [(u, 1) for u in readers_first])
    delivered = [(e.user, e.up_to) for e in to_lin if e.status == "delivered"]
    assert sorted(delivered) == sorted((u, 3) for u in received)
    # Members who sent nothing in the range are not told about others' receipts.
    assert [e for e in await receipt_events(admin_nc.jetstream(), tenant, suppliers[-1]) if e.user != suppliers[-1]] == []
