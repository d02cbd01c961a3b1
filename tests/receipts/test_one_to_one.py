"""Read and delivered receipts in a one-to-one conversation: cursors, events, monotonicity."""

import json

from orderchat.schemas import names
from orderchat.schemas.users import PartyRole
from tests.conftest import collect

from .conftest import cursor, receipt_events


async def test_read_cursor_is_monotonic_and_announced_once(make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    for i in range(9):
        sent = await lin.send(f"line {i}", to="paper")
    conv = sent.conv
    js = admin_nc.jetstream()

    first = await paper.mark_read(conv, 9)
    late = await paper.mark_read(conv, 5)  # arrives after "read up to 9"
    again = await paper.mark_read(conv, 9)  # a retried duplicate

    assert (first.up_to, first.moved, first.last_seq) == (9, True, 9)
    assert (late.up_to, late.moved) == (9, False)
    assert (again.up_to, again.moved) == (9, False)
    # The shared contract with the orders service: key <tenant>.<conv>.<user>, exactly these fields.
    kv = await js.key_value(names.KV_READ)
    raw = json.loads((await kv.get(names.kv_key(tenant, conv, "paper"))).value)
    assert set(raw) == {"conv", "user", "up_to", "ts"} and raw["up_to"] == 9 and raw["user"] == "paper"
    # The sender's inbox got exactly one read event; the reader's own inbox one too (other devices).
    to_lin = [e for e in await receipt_events(js, tenant, "lin") if e.status == "read"]
    assert [(e.user, e.up_to) for e in to_lin] == [("paper", 9)]
    to_paper = [e for e in await receipt_events(js, tenant, "paper") if e.status == "read"]
    assert [(e.user, e.up_to) for e in to_paper] == [("paper", 9)]


async def test_mark_read_without_sequence_reads_to_the_end(make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    for i in range(3):
        sent = await lin.send(f"m{i}", to="paper")
    reply = await paper.mark_read(sent.conv)
    assert (reply.up_to, reply.moved, reply.last_seq) == (3, True, 3)
    stored = await cursor(admin_nc.jetstream(), names.KV_READ, tenant, sent.conv, "paper")
    assert stored is not None and stored.up_to == 3


async def test_delivered_receipts_are_automatic_one_request_per_conversation_per_batch(
    make_user, client_for, admin_nc, tenant
):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    await paper.open_session()
    group = await lin.create_conversation(["paper"], title="Spring catalogue")
    for i in range(5):
        direct = await lin.send(f"direct {i}", to="paper")
    for i in range(3):
        await lin.send(f"group {i}", conv=group.conversation.id)

    delivered_requests: list[tuple[str, int]] = []
    original = paper.request

    async def counting(op, payload, reply, **kw):
        if op == names.OP_DELIVERED:
            delivered_requests.append((payload.conv, payload.up_to))
        return await original(op, payload, reply, **kw)

    paper.request = counting  # type: ignore[method-assign]
    got = await collect(paper, 8)
    assert len(got) == 8
    # Leaving the inbox block finishes the batch; its receipts are out by then. The server may
    # hand the eight over in more than one batch (each batch's receipts go out as it is
    # shown), so: per conversation, coalesced receipts that only move forward and end at the
    # last message, never one per message.
    per_conv: dict[str, list[int]] = {}
    for conv, up_to in delivered_requests:
        per_conv.setdefault(conv, []).append(up_to)
    assert set(per_conv) == {direct.conv, group.conversation.id}
    assert per_conv[direct.conv][-1] == 5 and per_conv[group.conversation.id][-1] == 3
    assert all(ups == sorted(set(ups)) for ups in per_conv.values())
    assert len(delivered_requests) < len(got)

    js = admin_nc.jetstream()
    stored = await cursor(js, names.KV_DELIVERED, tenant, direct.conv, "paper")
    assert stored is not None and stored.up_to == 5 and stored.device == "main"
    delivered_to_lin = {(e.conv, e.user, e.up_to) for e in await receipt_events(js, tenant, "lin") if e.status == "delivered"}
    assert delivered_to_lin == {(direct.conv, "paper", 5), (group.conversation.id, "paper", 3)}
    # The reader is not told about their own delivered receipts.
    assert not [e for e in await receipt_events(js, tenant, "paper") if e.status == "delivered"]

    status = await lin.receipt_status(direct.conv)
    assert [(m.seq, m.delivered, m.read) for m in status.messages] == [(s, 1, 0) for s in range(1, 6)]
    paper_row = status.messages[0].members[[r.user for r in status.messages[0].members].index("paper")]
    assert paper_row.status == "delivered" and paper_row.delivered_at is not None and paper_row.read_at is None
