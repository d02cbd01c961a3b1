"""Inboxes by fan-out on read: each device of a user has a durable consumer on stream CHAT
whose filter subjects are the user's own inbox subject plus the history subjects of the
user's conversations. A message is stored once, in its conversation's history; the server
hands it to every member's devices. Delivery publishes one message per send whatever the
group size, and each inbox sees its conversations in exactly the history's order.

Filters change when membership changes. The membership revision rides in the consumer's
metadata so that concurrent updaters converge on the newest membership.

Device consumers are stored in memory, their positions checkpointed to a bucket: why, and
what that costs, is in positions.py."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import NotFoundError

from orderchat.schemas import names
from orderchat.schemas.conversations import Membership
from orderchat.schemas.base import Stored
from orderchat.services.framework.typed_kv import TypedKV

from orderchat.services.framework.keyed_locks import KeyedLocks

from .positions import META_DEVICE, META_TENANT, META_USER, DevicePositions

log = logging.getLogger(__name__)

ACK_WAIT = 30.0
MAX_ACK_PENDING = 20_000
META_REV = "membership_rev"


class Device(Stored):
    device: str
    consumer: str
    created_at: datetime


class UserDevices(Stored):
    """A user's devices in one KV value: listing them is one get, not a key scan (a scan is
    an ephemeral consumer per call)."""

    user: str
    devices: tuple[Device, ...] = ()


class Inboxes:
    def __init__(self, nc: Client, js: JetStreamContext) -> None:
        self.js = js
        self.memberships: TypedKV[Membership]
        self.devices: TypedKV[UserDevices]
        self._locks = KeyedLocks()
        self.positions = DevicePositions(nc, js)

    async def start(self) -> None:
        self.memberships = TypedKV(await self.js.key_value(names.KV_MEMBERSHIPS), Membership)
        self.devices = TypedKV(await self.js.key_value(names.KV_DEVICES), UserDevices)
        await self.positions.start()

    async def keep_positions(self) -> None:
        """Checkpoint device positions, and re-create lost device consumers, until cancelled."""
        await self.positions.run(self.sync_user)

    async def convs_of(self, tenant: str, user: str) -> tuple[list[str], int]:
        found = await self.memberships.get(names.kv_key(tenant, user))
        if found is None:
            return [], 0
        return list(found[0].convs), found[1]

    async def join(self, tenant: str, user: str, conv_id: str) -> None:
        def add(current: Membership | None) -> Membership | None:
            convs = tuple(current.convs) if current else ()
            if conv_id in convs:
                return None
            return Membership(user=user, convs=(*convs, conv_id))

        await self.memberships.update(names.kv_key(tenant, user), add)
        await self.sync_user(tenant, user)

    async def leave(self, tenant: str, user: str, conv_id: str) -> None:
        def remove(current: Membership | None) -> Membership | None:
            if current is None or conv_id not in current.convs:
                return None
            return Membership(user=user, convs=tuple(c for c in current.convs if c != conv_id))

        await self.memberships.update(names.kv_key(tenant, user), remove)
        await self.sync_user(tenant, user)

    async def open_device(self, tenant: str, user: str, device: str) -> tuple[str, int]:
        """Ensure the device's consumer exists and follows the user's conversations."""
        first_seen = False

        def add(current: UserDevices | None) -> UserDevices | None:
            nonlocal first_seen
            known = current.devices if current else ()
            if any(d.device == device for d in known):
                return None
            first_seen = True
            record = Device(device=device, consumer=names.device_consumer(tenant, user, device), created_at=datetime.now(timezone.utc))
            return UserDevices(user=user, devices=(*known, record))

        await self.devices.update(names.kv_key(tenant, user), add)
        convs = await self.sync_user(tenant, user, new_device=device if first_seen else None, opening=device)
        return names.device_consumer(tenant, user, device), convs

    async def _devices(self, tenant: str, user: str) -> list[tuple[str, datetime | None]]:
        """(device, first seen) of each device of `user`; `main` when none opened a session."""
        found = await self.devices.get(names.kv_key(tenant, user))
        devices = [(d.device, d.created_at) for d in found[0].devices] if found else []
        return devices or [("main", None)]

    async def sync_user(self, tenant: str, user: str, new_device: str | None = None, opening: str | None = None) -> int:
        """Make every device consumer of `user` exist and filter on the current membership.
        `opening`: the device opening a session, whose file-stored consumer (made before
        inboxes were memory-stored) is moved to memory now, while it is re-binding anyway."""
        async with await self._locks(f"{tenant}.{user}"):
            for _ in range(10):
                convs, revision = await self.convs_of(tenant, user)
                filters = [names.inbox(tenant, user)] + [names.conv(tenant, c) for c in convs]
                for device, first_seen in await self._devices(tenant, user):
                    since = None if device == new_device else first_seen
                    await self._apply(tenant, user, device, since, filters, revision, migrate=device == opening)
                _, latest = await self.convs_of(tenant, user)
                if latest == revision:
                    return len(convs)
        return len(convs)

    async def _start_of(self, tenant: str, user: str, device: str, since: datetime | None) -> dict[str, object]:
        """Where a device consumer being created starts. A device seen before is re-created
        (the server lost it with a restart): just past its checkpointed position, else from
        when it was first seen, so nothing it has not acknowledged is skipped. A new device
        starts at the present (set atomically by the server); older messages are there
        through history."""
        position = await self.positions.saved(tenant, user, device)
        if position is not None:
            return {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": position + 1}
        if since is not None:
            return {"deliver_policy": DeliverPolicy.BY_START_TIME, "opt_start_time": since}
        return {"deliver_policy": DeliverPolicy.NEW}

    async def _apply(
        self, tenant: str, user: str, device: str, since: datetime | None, filters: list[str], revision: int,
        migrate: bool = False,
    ) -> None:
        durable = names.device_consumer(tenant, user, device)
        try:
            info = await self.js.consumer_info(names.STREAM_CHAT, durable)
        except NotFoundError:
            info = None
        if info is not None and migrate and not info.config.mem_storage:
            await self._retire_file_consumer(tenant, user, device, info)
            info = None
        if info is None:
            config = ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ACK_WAIT,
                max_ack_pending=MAX_ACK_PENDING,
                filter_subjects=filters,
                mem_storage=True,
                metadata={META_REV: str(revision), META_TENANT: tenant, META_USER: user, META_DEVICE: device},
                **await self._start_of(tenant, user, device, since),  # type: ignore[arg-type]
            )
            await self.js.add_consumer(names.STREAM_CHAT, config)
            return
        config = info.config
        applied = int((config.metadata or {}).get(META_REV, "-1"))
        same = sorted(config.filter_subjects or [config.filter_subject or ""]) == sorted(filters)
        if same and applied >= revision:
            return
        if applied > revision:
            return  # a newer membership was applied by someone else
        config.filter_subjects = filters
        config.filter_subject = None
        config.metadata = {**(config.metadata or {}), META_REV: str(revision)}
        await self.js.add_consumer(names.STREAM_CHAT, config)

    async def _retire_file_consumer(self, tenant: str, user: str, device: str, info: ConsumerInfo) -> None:
        """Replace a file-stored device consumer with a memory-stored one at the same place:
        its ack floor becomes the device's position, so the new consumer starts just past it
        (what was delivered and not acknowledged is delivered again)."""
        floor = (info.ack_floor.stream_seq or 0) if info.ack_floor is not None else 0
        await self.positions.record(tenant, user, device, floor)
        await self.js.delete_consumer(names.STREAM_CHAT, info.name)
        log.info("moved the inbox of %s.%s device %s to memory at stream sequence %s", tenant, user, device, floor)
