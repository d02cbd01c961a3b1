"""The delivery service is SIGKILLed mid-stream (requests in flight are cut off): clients
retry with the same client_msg_id, JetStream's Nats-Msg-Id dedupe makes the retry a no-op,
and with two instances writing one conversation the per-conversation sequence stays gapless
and every member's inbox shows exactly the history's order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from .harness import ChatRig, Tally, new_server, provisioned, run_senders, total_accepted, wait_until

PER_SENDER = 400


@pytest.mark.parametrize("instances", [1, 2])
async def test_delivery_killed_mid_stream_loses_nothing(tmp_path: Path, fault_tenant: str, report, instances: int) -> None:
    label = "the only delivery instance SIGKILLed and restarted" if instances == 1 else "one of two delivery instances SIGKILLed"
    tally = Tally(f"{label} mid-stream")
    server = new_server(tmp_path / "nats").start()
    admin = await provisioned(server.url)
    rig = ChatRig(server.url, admin, fault_tenant, tmp_path)
    try:
        await rig.start(delivery_instances=instances)
        senders = rig.senders(PER_SENDER)
        load = asyncio.create_task(run_senders(senders))
        assert await wait_until(lambda: total_accepted(senders) >= PER_SENDER, 60), "load did not start"
        victim = rig.deliveries[0]
        await victim.kill()
        tally.notes["acknowledged_before_kill"] = total_accepted(senders)
        if instances == 1:
            await asyncio.sleep(0.5)
            await victim.start()
        else:
            # The survivor carries the rest; the victim comes back later and shares again.
            await wait_until(lambda: total_accepted(senders) >= 2 * PER_SENDER, 60)
            await victim.start()
        await asyncio.wait_for(load, 120)
        problems = await rig.check(tally, senders)
        report(tally)
        assert problems == []
        assert tally.lost == 0 and tally.duplicates == 0
    finally:
        await rig.close()
        await admin.close()
        server.stop()
