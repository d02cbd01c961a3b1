"""A receipts-service restart in the middle of a stream of receipts loses none and doubles none."""

import asyncio
from collections import Counter

from orderchat.schemas import names
from orderchat.schemas.receipts import CursorReply, DeliveredRequest, ReadRequest
from orderchat.schemas.users import PartyRole

from .conftest import cursor, eventually, receipt_events, receipts_service

SUPPLIERS = 8
MESSAGES = 15


async def test_restart_loses_no_receipt(make_user, as_user, services, admin_nc, tenant):
    await make_user("lin")
    suppliers = [f"s{i}" for i in range(SUPPLIERS)]
    await asyncio.gather(*(make_user(s, PartyRole.SUPPLIER) for s in suppliers))
    lin = as_user("lin")
    conv = (await lin.create_conversation(suppliers, title="restart")).conversation.id
    for i in range(MESSAGES):
        await lin.send(f"m{i}", conv=conv)

    halfway = asyncio.Event()
    completed = 0
    completed_while_stopped: list[int] = []

    async def receipts_of(user: str) -> None:
        nonlocal completed
        client = as_user(user)
        for seq in range(1, MESSAGES + 1):
            # Clients retry (no responders while the only instance restarts); every receipt
            # is idempotent, so a retry after a lost reply is safe.
            await client.request(names.OP_DELIVERED, DeliveredRequest(conv=conv, up_to=seq), CursorReply, attempts=40)
            await client.request(names.OP_READ, ReadRequest(conv=conv, up_to=seq), CursorReply, attempts=40)
            completed += 2
            if seq == MESSAGES // 2:
                halfway.set()

    async def restart() -> None:
        await halfway.wait()
        service = receipts_service(services)
        await service.stop()
        # Replies to requests finished before stop returned may still be on their way in.
        await asyncio.sleep(0.05)
        completed_while_stopped.append(completed)
        await asyncio.sleep(0.3)  # nobody serves receipts now
        completed_while_stopped.append(completed)
        await service.start(services.ctx)

    await asyncio.gather(restart(), *(receipts_of(u) for u in suppliers))

    total = SUPPLIERS * MESSAGES * 2
    # The restart really fell in the middle: receipts were waiting while nobody served them.
    assert 0 < completed_while_stopped[0] == completed_while_stopped[1] < total
    js = admin_nc.jetstream()
    for user in suppliers:
        assert (await cursor(js, names.KV_READ, tenant, conv, user)).up_to == MESSAGES
        assert (await cursor(js, names.KV_DELIVERED, tenant, conv, user)).up_to == MESSAGES
    events = Counter((e.user, e.status, e.up_to) for e in await receipt_events(js, tenant, "lin"))
    expected = {(u, status, seq) for u in suppliers for status in ("read", "delivered") for seq in range(1, MESSAGES + 1)}
    assert set(events) == expected
    assert max(events.values()) == 1, "a receipt event reached the sender twice"
    status = await lin.receipt_status(conv)
    assert all((m.delivered, m.read) == (SUPPLIERS, SUPPLIERS) for m in status.messages)

    # Cursors still move after the restart: the sender's follows their new message.
    sent = await lin.send("after the restart", conv=conv)

    async def lin_read() -> bool:
        c = await cursor(js, names.KV_READ, tenant, conv, "lin")
        return c is not None and c.up_to == sent.seq

    await eventually(lin_read)
