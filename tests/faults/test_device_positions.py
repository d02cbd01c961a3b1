"""Device inboxes are memory-stored consumers, so nats-server forgets them when it restarts.
What a device had not read yet must still wait for it: delivery re-creates the consumer from
the device's checkpointed position (or, with none, from when the device was first seen)."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from orderchat.client import OrderchatClient
from orderchat.schemas import names
from orderchat.services.delivery.positions import CHECKPOINT_EVERY, LEASE_INTERVALS, SWEEP_LEASE, DevicePosition, position_key

from .harness import ServiceProcess, Tally, add_users, new_server, provisioned, wait_until


async def read_texts(client: OrderchatClient, idle: float = 1.0) -> list[str]:
    async with client.inbox(follow=False, idle=idle) as inbox:
        return [item.message.body.text async for item in inbox if item.message is not None]


async def checkpointed(admin_js, tenant: str, user: str, device: str) -> int:  # type: ignore[no-untyped-def]
    kv = await admin_js.key_value(names.KV_DEVICE_POSITIONS)
    try:
        entry = await kv.get(position_key(tenant, user, device))
    except Exception:  # noqa: BLE001 - not written yet
        return 0
    return DevicePosition.model_validate_json(entry.value).stream_seq


@dataclass
class DeviceRig:
    """A server of its own, delivery in a child process, lin (buyer) and paper's `device`."""

    tmp_path: Path
    tenant: str
    device: str

    async def start(self) -> "DeviceRig":
        self.server = new_server(self.tmp_path / "nats").start()
        self.admin = await provisioned(self.server.url)
        self.js = self.admin.jetstream()
        await add_users(self.js, self.tenant, ["lin"], ["paper"])
        self.delivery = await ServiceProcess(["delivery"], self.server.url, self.tmp_path).start()
        self.lin = await OrderchatClient.connect(self.server.url, "lin", tenant=self.tenant)
        self.paper = await OrderchatClient.connect(self.server.url, "paper", tenant=self.tenant, device=self.device)
        self.consumer = names.device_consumer(self.tenant, "paper", self.device)
        return self

    async def close(self) -> None:
        await self.lin.close()
        await self.paper.close()
        await self.delivery.stop()
        await self.admin.close()
        self.server.stop()


async def test_an_offline_device_finds_its_messages_after_the_server_forgot_its_inbox(tmp_path: Path, fault_tenant: str, report) -> None:
    tally = Tally("offline device, nats-server SIGKILL + restart, device comes back")
    rig = await DeviceRig(tmp_path, fault_tenant, "phone").start()
    js, lin, paper, consumer = rig.js, rig.lin, rig.paper, rig.consumer
    try:
        await paper.open_session()
        info = await js.consumer_info(names.STREAM_CHAT, consumer)
        assert info.config.mem_storage is True

        read_before = [(await lin.send(f"before {i}", to="paper")).stream_seq for i in range(3)]
        assert await read_texts(paper) == [f"before {i}" for i in range(3)]
        # Delivery checkpoints the ack floor within a few seconds.
        floor = read_before[-1]
        async def checkpoint_reached() -> bool:
            return await checkpointed(js, fault_tenant, "paper", "phone") >= floor

        assert await wait_until(checkpoint_reached, 15, interval=0.1)

        waiting = [f"while away {i}" for i in range(5)]
        for text in waiting:
            await lin.send(text, to="paper")
        tally.sent = tally.acknowledged = len(waiting)

        rig.server.kill()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(rig.server.start)
        # Delivery re-creates lost inboxes from their positions by itself; until it has, the
        # consumer may be missing, which is what the server restart did to it.
        async def recreated_past_checkpoint() -> bool:
            return await consumer_start(js, consumer) >= floor + 1

        assert await wait_until(recreated_past_checkpoint, 30, interval=0.1)

        shown = await read_texts(paper, idle=2.0)
        tally.received = len(shown)
        tally.lost = len(set(waiting) - set(shown))
        tally.duplicates = len(shown) - len(set(shown))
        report(tally)
        assert shown == waiting  # nothing read before comes again, nothing waiting is missing
    finally:
        await rig.close()


async def test_a_device_without_a_checkpoint_starts_from_when_it_was_first_seen(tmp_path: Path, fault_tenant: str, report) -> None:
    """The consumer and its position are both gone (removed here by hand, as a server restart
    right after the device's first session would leave them): everything since the device
    first opened a session is handed out, nothing from before."""
    tally = Tally("device consumer and position lost before the first checkpoint")
    rig = await DeviceRig(tmp_path, fault_tenant, "tablet").start()
    js, lin, paper, consumer = rig.js, rig.lin, rig.paper, rig.consumer
    try:
        await lin.send("before the tablet existed", to="paper")
        await asyncio.sleep(0.05)  # the device's first-seen time is the service's clock
        await paper.open_session()
        waiting = [f"for the tablet {i}" for i in range(4)]
        for text in waiting:
            await lin.send(text, to="paper")
        kv = await js.key_value(names.KV_DEVICE_POSITIONS)
        # Stop delivery first so that its checkpoint cannot write the position back.
        await rig.delivery.stop()
        await js.delete_consumer(names.STREAM_CHAT, consumer)
        try:
            await kv.purge(position_key(fault_tenant, "paper", "tablet"))
        except NotFoundError:
            pass
        rig.delivery = await ServiceProcess(["delivery"], rig.server.url, tmp_path).start()

        shown = await read_texts(paper, idle=2.0)
        tally.sent = tally.acknowledged = len(waiting)
        tally.received = len(shown)
        tally.lost = len(set(waiting) - set(shown))
        report(tally)
        assert shown == waiting
        assert (await js.consumer_info(names.STREAM_CHAT, consumer)).config.mem_storage is True
    finally:
        await rig.close()


async def consumer_start(js, consumer: str) -> int:  # type: ignore[no-untyped-def]
    """Where a re-created consumer started (its opt_start_seq), 0 while it is missing."""
    try:
        info = await js.consumer_info(names.STREAM_CHAT, consumer)
    except Exception:  # noqa: BLE001 - not there (yet), or the server still starting
        return 0
    return info.config.opt_start_seq or 0


async def test_a_file_stored_inbox_from_before_moves_to_memory_where_it_stood(tmp_path: Path, fault_tenant: str, report) -> None:
    """An upgrade: a device consumer made before inboxes were memory-stored (file storage,
    no device metadata) with three messages acknowledged through it. When the device opens
    its next session, delivery replaces it with a memory-stored one starting just past its
    ack floor: the device gets what waits for it, and nothing it had read."""
    tally = Tally("file-stored inbox from before the change, moved to memory on session open")
    rig = await DeviceRig(tmp_path, fault_tenant, "phone").start()
    js, lin, paper, consumer = rig.js, rig.lin, rig.paper, rig.consumer
    try:
        await lin.send("hello", to="paper")
        await paper.open_session()
        current = (await js.consumer_info(names.STREAM_CHAT, consumer)).config

        # Put the consumer back as the earlier version made it, with delivery stopped so that
        # neither its checkpoint nor its re-creation of missing inboxes gets in between. A
        # stale position far ahead stands in the bucket: the old consumer's own ack floor must
        # win over it, or the device would skip what waits for it.
        await rig.delivery.stop()
        await js.delete_consumer(names.STREAM_CHAT, consumer)
        kv = await js.key_value(names.KV_DEVICE_POSITIONS)
        stale = DevicePosition(tenant=fault_tenant, user="paper", device="phone", stream_seq=10**9)
        await kv.put(position_key(fault_tenant, "paper", "phone"), stale.model_dump_json().encode())
        await js.add_consumer(
            names.STREAM_CHAT,
            ConsumerConfig(
                durable_name=consumer, ack_policy=AckPolicy.EXPLICIT, ack_wait=30,
                filter_subjects=current.filter_subjects, deliver_policy=DeliverPolicy.NEW,
                metadata={"membership_rev": (current.metadata or {})["membership_rev"]},
            ),
        )
        assert not (await js.consumer_info(names.STREAM_CHAT, consumer)).config.mem_storage
        rig.delivery = await ServiceProcess(["delivery"], rig.server.url, tmp_path).start()

        read = [f"read on the old inbox {i}" for i in range(3)]
        for text in read:
            await lin.send(text, to="paper")
        sub = await js.pull_subscribe_bind(consumer, names.STREAM_CHAT)
        taken = []
        while len(taken) < len(read):
            taken += await sub.fetch(len(read) - len(taken), timeout=5)
        for msg in taken:
            await msg.ack_sync()
        await sub.unsubscribe()
        floor = taken[-1].metadata.sequence.stream

        waiting = [f"while away {i}" for i in range(2)]
        for text in waiting:
            await lin.send(text, to="paper")
        shown = await read_texts(paper, idle=2.0)

        tally.sent = tally.acknowledged = len(waiting)
        tally.received = len(shown)
        tally.lost = len(set(waiting) - set(shown))
        tally.duplicates = len(shown) - len(set(shown))
        report(tally)
        assert shown == waiting
        info = await js.consumer_info(names.STREAM_CHAT, consumer)
        assert info.config.mem_storage is True
        assert info.config.opt_start_seq == floor + 1
        assert floor <= await checkpointed(js, fault_tenant, "paper", "phone") < stale.stream_seq
    finally:
        await rig.close()


def metric(log: Path, sample: str) -> float | None:
    """A sample's value in the metrics of the `serve` child whose log this is (None: not
    exported yet)."""
    url = re.search(r"metrics and health: (http://\S+/metrics)", log.read_text(errors="replace"))
    assert url, "the serve child printed no metrics address"
    with urllib.request.urlopen(url.group(1), timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
    return None


HELD = f'orderchat_lease_held{{job="{SWEEP_LEASE}"}}'
SWEPT = "orderchat_device_position_sweeps_total"


async def sweep_holder_pid(js) -> int | None:  # type: ignore[no-untyped-def]
    kv = await js.key_value(names.KV_LEASES)
    try:
        entry = await kv.get(SWEEP_LEASE)
    except Exception:  # noqa: BLE001 - nobody holds it (never taken, released or expired)
        return None
    return int(entry.value.decode().split(":")[1]) if entry.value else None


async def test_one_delivery_instance_sweeps_and_another_takes_over_when_it_dies(tmp_path: Path, fault_tenant: str) -> None:
    server = new_server(tmp_path / "nats").start()
    admin = await provisioned(server.url)
    js = admin.jetstream()
    await add_users(js, fault_tenant, ["lin"], ["paper"])
    instances = [await ServiceProcess(["delivery"], server.url, tmp_path, label=label).start() for label in ("a", "b")]
    lin = paper = None
    try:
        assert await wait_until(lambda: sweep_holder_pid(js), 15, interval=0.1)
        holder_pid = await sweep_holder_pid(js)
        by_pid = {p.process.pid: p for p in instances}  # type: ignore[union-attr]
        assert holder_pid in by_pid
        holder = by_pid.pop(holder_pid)
        (standby,) = by_pid.values()
        # Over more than one sweep interval the holder keeps it and sweeps; the other stands by.
        swept = await asyncio.to_thread(metric, holder.log, SWEPT) or 0
        await asyncio.sleep(CHECKPOINT_EVERY + 1)
        assert await sweep_holder_pid(js) == holder_pid
        assert await asyncio.to_thread(metric, holder.log, HELD) == 1
        assert (await asyncio.to_thread(metric, holder.log, SWEPT) or 0) > swept
        assert await asyncio.to_thread(metric, standby.log, HELD) in (0, None)
        assert await asyncio.to_thread(metric, standby.log, SWEPT) in (0, None)

        await holder.kill()  # no clean stop: the lease has to run out
        lin = await OrderchatClient.connect(server.url, "lin", tenant=fault_tenant)
        paper = await OrderchatClient.connect(server.url, "paper", tenant=fault_tenant, device="phone")
        await paper.open_session()
        floor = [(await lin.send(f"after {i}", to="paper")).stream_seq for i in range(3)][-1]
        assert await read_texts(paper) == [f"after {i}" for i in range(3)]

        # The survivor takes the sweep over within the lease's TTL plus one interval, and
        # checkpoints what the device acknowledged meanwhile.
        async def taken_over_and_checkpointed() -> bool:
            return await sweep_holder_pid(js) == standby.process.pid and (  # type: ignore[union-attr]
                await checkpointed(js, fault_tenant, "paper", "phone") >= floor
            )

        assert await wait_until(taken_over_and_checkpointed, (LEASE_INTERVALS + 2) * CHECKPOINT_EVERY, interval=0.2)
        assert await asyncio.to_thread(metric, standby.log, HELD) == 1
        assert (await asyncio.to_thread(metric, standby.log, SWEPT) or 0) >= 1
    finally:
        for client in (lin, paper):
            if client is not None:
                await client.close()
        for instance in instances:
            await instance.stop()
        await admin.close()
        server.stop()
