"""A 3-node nats-server cluster on loopback with R3 streams: the node leading stream CHAT is
SIGKILLed under chat load; traffic continues on the other two, nothing acknowledged is lost
or doubled, and the node rejoins on its store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
import pytest

from orderchat.runtime.nats_server import ClusterSpec, NatsServer, free_port
from orderchat.runtime.provision import provision
from orderchat.schemas import names
from orderchat.schemas.streams import Topology

from .harness import ChatRig, Tally, new_server, run_senders, total_accepted, wait_until

PER_SENDER = 300


def cluster_of_three(root: Path) -> list[NatsServer]:
    ports = [free_port() for _ in range(3)]
    routes = [f"nats://127.0.0.1:{p}" for p in ports]
    return [
        new_server(
            root / f"n{i + 1}",
            server_name=f"n{i + 1}",
            cluster=ClusterSpec(name="orderchat", port=ports[i], routes=[r for j, r in enumerate(routes) if j != i]),
        )
        for i in range(3)
    ]


async def provision_when_ready(urls: list[str], timeout: float = 60.0) -> nats.NATS:
    """A fresh cluster first elects its meta leader: provisioning fails until then."""
    nc = await nats.connect(urls, name="orderchat-faults-admin", max_reconnect_attempts=-1, reconnect_time_wait=0.25)
    deadline = time.monotonic() + timeout
    while True:
        try:
            await provision(nc.jetstream(timeout=10), Topology(replicas=3))
            return nc
        except Exception:  # noqa: BLE001 - no meta leader yet
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@pytest.mark.timeout(240)
async def test_cluster_node_killed_under_load(tmp_path: Path, fault_tenant: str, report) -> None:
    tally = Tally("3-node cluster, R3 streams, CHAT's leader SIGKILLed under load")
    nodes = cluster_of_three(tmp_path)
    await asyncio.gather(*(asyncio.to_thread(n.start, 60) for n in nodes))
    urls = [n.url for n in nodes]
    admin = await provision_when_ready(urls)
    js = admin.jetstream(timeout=10)
    leader_name = (await js.stream_info(names.STREAM_CHAT)).cluster.leader  # type: ignore[union-attr]
    victim = next(n for n in nodes if n.config.server_name == leader_name)
    # Services and clients start on a node that survives; they learn the others from it.
    seed = next(n for n in nodes if n is not victim)
    rig = ChatRig(seed.url, admin, fault_tenant, tmp_path)
    try:
        await rig.start()
        senders = rig.senders(PER_SENDER)
        load = asyncio.create_task(run_senders(senders))
        assert await wait_until(lambda: total_accepted(senders) >= PER_SENDER, 60), "load did not start"
        victim.kill()
        killed = time.monotonic()
        tally.notes["killed"] = f"{victim.config.server_name}(CHAT leader)"
        tally.notes["acknowledged_before_kill"] = total_accepted(senders)
        assert await wait_until(lambda: total_accepted(senders) >= tally.notes["acknowledged_before_kill"] + 200, 60), (
            "traffic did not continue on the surviving nodes"
        )
        tally.notes["traffic_resumed_s"] = round(time.monotonic() - killed, 1)
        tally.notes["acknowledged_with_node_down"] = total_accepted(senders)
        await asyncio.to_thread(victim.start, 60)  # rejoins on its store while load continues
        await asyncio.wait_for(load, 120)
        info = await js.stream_info(names.STREAM_CHAT)
        tally.notes["new_leader"] = info.cluster.leader  # type: ignore[union-attr]
        problems = await rig.check(tally, senders)
        report(tally)
        assert problems == []
        assert tally.lost == 0 and tally.duplicates == 0
        assert info.config.num_replicas == 3
    finally:
        await rig.close()
        await admin.close()
        for n in nodes:
            n.stop()
