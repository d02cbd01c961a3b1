"""nats-server crashes (SIGKILL) or restarts (SIGTERM) under chat load, on the same store:
nothing acknowledged is lost, nothing is stored or shown twice, every inbox shows the
conversation in history order, and clients, inboxes and services carry on by themselves."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from .harness import ChatRig, Tally, new_server, provisioned, run_senders, total_accepted, wait_until

PER_SENDER = 400


@pytest.mark.parametrize("how", ["kill", "term"])
async def test_server_restart_under_load_loses_nothing_acknowledged(tmp_path: Path, fault_tenant: str, report, how: str) -> None:
    tally = Tally(f"nats-server {'SIGKILL' if how == 'kill' else 'SIGTERM'} + restart on the same store under load")
    server = new_server(tmp_path / "nats").start()
    admin = await provisioned(server.url)
    rig = ChatRig(server.url, admin, fault_tenant, tmp_path)
    try:
        await rig.start()
        senders = rig.senders(PER_SENDER)
        load = asyncio.create_task(run_senders(senders))
        assert await wait_until(lambda: total_accepted(senders) >= PER_SENDER, 60), "load did not start"
        if how == "kill":
            server.kill()
        else:
            await asyncio.to_thread(server.stop)
        tally.notes["acknowledged_before_restart"] = total_accepted(senders)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)
        restarted = time.monotonic()
        await asyncio.wait_for(load, 120)
        tally.notes["load_done_after_restart_s"] = round(time.monotonic() - restarted, 1)
        problems = await rig.check(tally, senders)
        report(tally)
        assert problems == []
        assert tally.lost == 0 and tally.duplicates == 0
    finally:
        await rig.close()
        await admin.close()
        server.stop()


async def test_idle_clients_and_services_resume_after_server_restart(tmp_path: Path, fault_tenant: str, report) -> None:
    """Nobody is sending while the server is down: the waiting inboxes (pull subscriptions,
    nats.py issues 504 and 986) and the delivery service must pick up by themselves."""
    tally = Tally("idle clients and services resume after a nats-server SIGKILL")
    server = new_server(tmp_path / "nats").start()
    admin = await provisioned(server.url)
    rig = ChatRig(server.url, admin, fault_tenant, tmp_path)
    try:
        await rig.start()
        senders = rig.senders(5)
        await run_senders(senders)  # traffic before: every inbox is bound and has read
        assert await wait_until(lambda: all(len(r.shown) == 20 for r in rig.readers), 30)
        await asyncio.sleep(1.5)  # every inbox is now parked in a waiting fetch
        server.kill()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)
        after = rig.senders(5, tag="-after")
        started = time.monotonic()
        await asyncio.wait_for(run_senders(after), 60)
        problems = await rig.check(tally, senders + after, catch_up=30)
        tally.notes["resumed_in_s"] = round(time.monotonic() - started, 1)
        report(tally)
        assert problems == []
        assert tally.acknowledged == 40 and tally.lost == 0 and tally.duplicates == 0
    finally:
        await rig.close()
        await admin.close()
        server.stop()
