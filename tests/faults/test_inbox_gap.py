"""A delivery to a device that never arrived (as when nats-server dies with it in its write
buffer) is redelivered only after the consumer's ack wait; the inbox does not wait for it and
does not show it out of order: it sees the gap in the conversation's sequence, fills it from
history, and later drops the late redelivery."""

from __future__ import annotations

import asyncio
from pathlib import Path

from orderchat.client import OrderchatClient
from orderchat.schemas.users import PartyRole

from .harness import InboxReader, ServiceProcess, Tally, add_users, new_server, provisioned, wait_until


def _count(tally: Tally, reader: InboxReader, conv: str, sent: int) -> list[int]:
    """The conversation's sequences the reader showed, counted into the tally."""
    shown = [m.seq for m in reader.shown if m.conv == conv]
    tally.sent = tally.acknowledged = sent
    tally.received = len(set(shown))
    tally.lost = sent - tally.received
    tally.duplicates = len(shown) - len(set(shown))
    assert reader.inbox is not None
    tally.notes["filled_from_history"] = reader.inbox.filled_from_history
    tally.notes["repeats_dropped"] = reader.inbox.dropped_repeats
    return shown


async def test_inbox_fills_a_gap_from_history_and_drops_the_late_copy(make_user, client_for, admin_nc, report) -> None:
    tally = Tally("a delivery lost on the way to a device")
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    await paper.open_session()
    conv = (await lin.send("message 1", to="paper")).conv
    # Shows message 1, then holds it; one message per pull request, so that nothing more is
    # on its way to the device meanwhile and message 2 can be taken from it as "lost".
    reader = InboxReader(paper, pause_after=1, batch=1).start()
    try:
        assert await wait_until(lambda: len(reader.shown) == 1, 20)
        for i in range(2, 6):
            await lin.send(f"message {i}", to="paper")
        # Message 2 goes out to "the device" and is lost: delivered, never acknowledged, and
        # back only after a delay (here 4 s instead of the 30 s ack wait).
        assert reader.inbox is not None and reader.inbox.session is not None
        thief = await admin_nc.jetstream().pull_subscribe_bind(
            durable=reader.inbox.session.consumer, stream=reader.inbox.session.stream
        )
        (lost,) = await thief.fetch(1, timeout=5)
        assert b'"seq":2' in lost.data
        await lost.nak(delay=4)
        await thief.unsubscribe()
        reader.resume.set()
        assert await wait_until(lambda: len(reader.shown) >= 5, 20)
        assert await wait_until(lambda: reader.inbox.dropped_repeats >= 1, 20), "the late copy never came back"
        shown = _count(tally, reader, conv, sent=5)
        report(tally)
        assert shown == [1, 2, 3, 4, 5]
        assert reader.inbox.filled_from_history == 1
        assert tally.lost == 0 and tally.duplicates == 0
        assert reader.failure() is None
    finally:
        await reader.stop()


async def test_a_gap_history_cannot_fill_yet_holds_the_later_message_back(tmp_path: Path, fault_tenant: str, report) -> None:
    """The same lost delivery, while delivery (and with it history) is down: the inbox must
    neither show message 3 before 2 nor drop 2's late copy as a repeat; it waits, and shows
    both in order once history answers again."""
    tally = Tally("a delivery lost while history is unreachable")
    server = new_server(tmp_path / "nats").start()
    admin = await provisioned(server.url)
    await add_users(admin.jetstream(), fault_tenant, ["lin"], ["paper"])
    delivery = await ServiceProcess(["delivery", "receipts"], server.url, tmp_path, "chat").start()
    lin = await OrderchatClient.connect(server.url, "lin", tenant=fault_tenant)
    paper = await OrderchatClient.connect(server.url, "paper", tenant=fault_tenant)
    reader = None
    try:
        await paper.open_session()
        conv = (await lin.send("message 1", to="paper")).conv
        reader = InboxReader(paper, pause_after=1, batch=1).start()
        assert await wait_until(lambda: len(reader.shown) == 1, 20)
        for i in range(2, 5):
            await lin.send(f"message {i}", to="paper")
        assert reader.inbox is not None and reader.inbox.session is not None
        thief = await admin.jetstream().pull_subscribe_bind(durable=reader.inbox.session.consumer, stream=reader.inbox.session.stream)
        (lost,) = await thief.fetch(1, timeout=5)
        assert b'"seq":2' in lost.data
        await lost.nak(delay=6)  # back after history is reachable again, as after an ack wait
        await thief.unsubscribe()
        await delivery.stop()  # history is gone with it
        reader.resume.set()
        await asyncio.sleep(4)  # message 3 arrives and its fill fails meanwhile
        assert [m.seq for m in reader.shown if m.conv == conv] == [1]
        await delivery.start()
        assert await wait_until(lambda: len(reader.shown) >= 4, 30)
        shown = _count(tally, reader, conv, sent=4)
        report(tally)
        assert shown == [1, 2, 3, 4]
        assert reader.failure() is None
    finally:
        if reader is not None:
            await reader.stop()
        await lin.close()
        await paper.close()
        await delivery.stop()
        await admin.close()
        server.stop()
