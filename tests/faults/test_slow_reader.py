"""A client that stops reading its inbox hurts nobody else: the other members keep getting
everything, in order, while it is stuck; once it reads again it gets all it missed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from .harness import ChatRig, Tally, new_server, provisioned, run_senders

PER_SENDER = 300


async def test_stuck_reader_does_not_slow_the_others(tmp_path: Path, fault_tenant: str, report) -> None:
    tally = Tally("one member's client stops reading its inbox under load")
    server = new_server(tmp_path / "nats").start()
    admin = await provisioned(server.url)
    rig = ChatRig(server.url, admin, fault_tenant, tmp_path)
    try:
        await rig.start()
        stuck = rig.readers[-1]
        stuck.pause_after = 1
        senders = rig.senders(PER_SENDER)
        started = time.monotonic()
        await asyncio.wait_for(run_senders(senders), 120)
        sent_in = time.monotonic() - started
        everything = {mid for s in senders for mid in s.accepted}
        others = rig.readers[:-1]
        caught_up = await asyncio.gather(*(r.wait_for(everything, 20) for r in others))
        tally.notes["others_caught_up_s_after_start"] = round(time.monotonic() - started, 1)
        tally.notes["load_s"] = round(sent_in, 1)
        tally.notes["stuck_reader_had"] = len(stuck.shown)
        info = await admin.jetstream().consumer_info("CHAT", stuck.inbox.session.consumer)  # type: ignore[union-attr]
        tally.notes["stuck_consumer_pending"] = info.num_pending + info.num_ack_pending
        assert all(caught_up), "the other members did not get everything while one client was stuck"
        assert len(stuck.shown) == 1 and tally.notes["stuck_consumer_pending"] >= len(everything) - 1

        stuck.resume.set()  # the stuck client reads again and gets all it missed, in order
        problems = await rig.check(tally, senders, catch_up=30)
        report(tally)
        assert problems == []
        assert tally.lost == 0 and tally.duplicates == 0
    finally:
        await rig.close()
        await admin.close()
        server.stop()
