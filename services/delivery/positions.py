"""Where each device's inbox stands, kept in a file-stored bucket, because the inbox consumer
itself is stored in memory.

Why memory: a file-stored durable consumer rewrites its state file (a temp file, then a rename;
fsynced under `sync_interval: always`) about 10 ms after every change. A device consumer gets
a message every few tens of ms at most, so that rewrite happens once per delivery: 44 % of
nats-server's CPU in a one-to-one run at 1,000 msgs/s was `consumerFileStore.writeState`.
Memory-stored, nats-server spent about a third less CPU per one-to-one message in paired runs
(bench/README.md).

What memory costs: nats-server forgets memory-stored consumers when it restarts. So delivery
checkpoints each device consumer's ack floor (every stream sequence at or below it is
acknowledged) into `OC_DEVICE_POSITIONS` every few seconds, and re-creates a missing consumer
from the position: nothing past the floor is skipped. What was acknowledged after the last
checkpoint is handed out again, and the client drops what it has already shown (the inbox
already copes with a crashed server's redeliveries). A device with no checkpoint yet starts
from the time it was first seen. A file-stored device consumer made before this change is
replaced when its device next opens a session: its ack floor becomes the position
(Inboxes._retire_file_consumer).

The checkpoint reads every consumer of CHAT through the server's paged consumer list, so its
cost grows with the number of devices (measured: 21 ms of CPU a sweep at 2,000 devices, 150 ms
at 10,000); the interval stretches to keep a sweep within a small share of the time between
sweeps. Only one delivery instance sweeps at a time, the holder of a lease
(services/framework/lease.py); the others stand by, and each instance still re-creates the
inbox of a device that opens a session with it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import APIError
from prometheus_client import Counter

from orderchat.schemas import names
from orderchat.schemas.base import Stored
from orderchat.services.framework import kv_snapshot
from orderchat.services.framework.lease import Lease
from orderchat.services.framework.metrics import REGISTRY
from orderchat.services.framework.typed_kv import TypedKV

log = logging.getLogger(__name__)

# Consumer metadata naming the device a consumer is the inbox of (a consumer name cannot be
# split back into tenant, user and device: each may hold the separator).
META_TENANT = "tenant"
META_USER = "user"
META_DEVICE = "device"

CHECKPOINT_EVERY = 5.0
# A sweep may take at most this share of the time between sweeps.
SWEEP_SHARE = 0.02
LIST_TIMEOUT = 10.0
RESTORE_AT_ONCE = 16
# One delivery instance sweeps at a time (services/framework/lease.py); its lease lasts this
# many sweep intervals unless renewed.
SWEEP_LEASE = "device-positions-sweep"
LEASE_INTERVALS = 3

SWEEPS = Counter(
    "orderchat_device_position_sweeps",
    "Device-position checkpoints this instance ran (only the holder of the sweep's lease runs them)",
    registry=REGISTRY,
)

Restore = Callable[[str, str], Awaitable[object]]


class DevicePosition(Stored):
    tenant: str
    user: str
    device: str
    stream_seq: int


def position_key(tenant: str, user: str, device: str) -> str:
    return names.kv_key(tenant, user, device)


def device_of(info: dict[str, Any]) -> tuple[str, str, str] | None:
    """(tenant, user, device) of a memory-stored device consumer in the server's consumer
    list, else None."""
    config = info.get("config") or {}
    meta = config.get("metadata") or {}
    if not config.get("mem_storage") or not all(k in meta for k in (META_TENANT, META_USER, META_DEVICE)):
        return None
    return meta[META_TENANT], meta[META_USER], meta[META_DEVICE]


class DevicePositions:
    def __init__(self, nc: Client, js: JetStreamContext) -> None:
        self.nc = nc
        self.js = js
        self.store: TypedKV[DevicePosition]
        # What this process knows is saved, by key: written by it or read at start.
        self._saved: dict[str, DevicePosition] = {}
        self.last_sweep_s = 0.0

    async def start(self) -> None:
        self.kv = await self.js.key_value(names.KV_DEVICE_POSITIONS)
        self.store = TypedKV(self.kv, DevicePosition)
        self.lease = await Lease.of(self.js, SWEEP_LEASE)

    async def _load(self) -> None:
        """What the bucket holds, as this process's knowledge of what is saved: read when
        this instance takes the sweep over (only the sweep goes by it)."""
        snapshot = await kv_snapshot.snapshot(self.kv, ">")
        for entry in snapshot.entries:
            if entry.value:
                position = DevicePosition.model_validate_json(entry.value)
                known = self._saved.get(entry.key)
                if known is None or known.stream_seq < position.stream_seq:
                    self._saved[entry.key] = position

    async def saved(self, tenant: str, user: str, device: str) -> int | None:
        """The device's last checkpointed ack floor, read from the bucket (another delivery
        instance may have written it)."""
        found = await self.store.get(position_key(tenant, user, device))
        return found[0].stream_seq if found else None

    async def record(self, tenant: str, user: str, device: str, floor: int) -> None:
        """Save the ack floor of a consumer about to be replaced, whatever was saved before:
        that consumer is where the device stands (a position saved earlier, even a higher
        one, would skip what it has not acknowledged)."""
        key = position_key(tenant, user, device)
        position = DevicePosition(tenant=tenant, user=user, device=device, stream_seq=floor)
        await self.store.put(key, position)
        self._saved[key] = position

    async def checkpoint(self, restore: Restore) -> None:
        """Save every device consumer's ack floor that moved, then re-create the consumers of
        devices that have a position but no consumer (the server restarted)."""
        started = time.monotonic()
        present: set[str] = set()
        async for info in self._consumers():
            device = device_of(info)
            if device is not None:
                key = position_key(*device)
                present.add(key)
                await self._save(key, device, int((info.get("ack_floor") or {}).get("stream_seq", 0)))
        missing = {(p.tenant, p.user) for key, p in self._saved.items() if key not in present}
        await self._restore(sorted(missing), restore)
        self.last_sweep_s = time.monotonic() - started

    async def _consumers(self) -> AsyncIterator[dict[str, Any]]:
        """Every consumer of CHAT as the server lists it, 256 to a page. Read as plain JSON:
        nats-py's `consumers_info` builds full dataclasses, which cost 4x the CPU here (at
        2,000 devices, 60 ms a sweep against 21 ms)."""
        offset = 0
        while True:
            reply = await self.nc.request(
                names.js_consumer_list(names.STREAM_CHAT), json.dumps({"offset": offset}).encode(), timeout=LIST_TIMEOUT
            )
            answer = json.loads(reply.data)
            if "error" in answer:
                raise APIError.from_error(answer["error"])
            page = answer.get("consumers") or []
            for info in page:
                yield info
            offset += len(page)
            if not page or offset >= int(answer.get("total", 0)):
                return

    async def _save(self, key: str, device: tuple[str, str, str], floor: int) -> None:
        """A sweep's save: only a floor that moved forward is written."""
        known = self._saved.get(key)
        if known is not None and known.stream_seq >= floor:
            return
        await self.record(*device, floor)

    async def _restore(self, users: list[tuple[str, str]], restore: Restore) -> None:
        if users:
            log.info("re-creating the inboxes of %d users from their checkpointed positions", len(users))
        for i in range(0, len(users), RESTORE_AT_ONCE):
            chunk = users[i : i + RESTORE_AT_ONCE]
            results = await asyncio.gather(*(restore(t, u) for t, u in chunk), return_exceptions=True)
            for (tenant, user), result in zip(chunk, results):
                if isinstance(result, BaseException):
                    log.warning("could not re-create the inboxes of %s.%s: %r", tenant, user, result)

    async def run(self, restore: Restore, every: float = CHECKPOINT_EVERY) -> None:
        """Checkpoint until cancelled, in whichever delivery instance holds the sweep's lease
        (the others stand by and ask again each interval); a failed sweep (the server away)
        is tried again later. A cancelled holder gives the lease up for another to take."""
        lease = self.lease
        try:
            while True:
                interval = max(every, self.last_sweep_s / SWEEP_SHARE)
                try:
                    held_before = lease.held
                    # The lease outlives a few intervals: one slow sweep or late renewal
                    # does not hand the sweep to another instance.
                    if await lease.claim(LEASE_INTERVALS * interval):
                        if not held_before:
                            # Taken (at start, or over from another instance): restores go
                            # by what is saved, some of it by other instances.
                            await self._load()
                        await self.checkpoint(restore)
                        SWEEPS.inc()
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001 - an outage: the next sweep tries again
                    log.info("device position checkpoint failed, retrying: %r", err)
                await asyncio.sleep(interval)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(lease.release())
