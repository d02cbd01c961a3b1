"""Presence from heartbeats: online / offline / last seen.

Two keys a user in KV `OC_PRESENCE`:
  `<t>.<user>.online`  the devices beating now, written with a per-key TTL (nats-server 2.11+
                       `Nats-TTL`), so the server itself removes it when every device went quiet;
  `<t>.<user>.seen`    the last beat, without TTL, so "last seen" outlives the online key.
Nothing lives in the service's memory: any instance answers, and a restart loses nothing."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta, timezone

from nats.js import JetStreamContext
from nats.js.api import Header
from nats.js.errors import APIError, KeyNotFoundError
from nats.js.kv import KeyValue

from orderchat.schemas import names
from orderchat.schemas.receipts import DevicePresence, LastSeen, OnlineState, PresenceBeat, UserPresence
from orderchat.services.framework.server_errors import wrong_last_sequence

CAS_ATTEMPTS = 20


def now() -> datetime:
    return datetime.now(timezone.utc)


class Presence:
    def __init__(self, js: JetStreamContext, kv: KeyValue) -> None:
        self.js = js
        self.kv = kv

    @staticmethod
    def _subject(key: str) -> str:
        return f"$KV.{names.KV_PRESENCE}.{key}"

    async def _online(self, tenant: str, user: str) -> tuple[OnlineState | None, int]:
        try:
            entry = await self.kv.get(names.kv_key(tenant, user, "online"))
        except KeyNotFoundError as err:
            # After a goodbye the key holds a delete marker: its revision is the CAS token.
            marker = getattr(err, "entry", None)
            return None, (marker.revision if marker is not None else 0) or 0
        if not entry.value:
            return None, entry.revision
        return OnlineState.model_validate_json(entry.value), entry.revision

    async def beat(self, tenant: str, user: str, beat: PresenceBeat) -> None:
        ts = now()
        key = names.kv_key(tenant, user, "online")
        for _ in range(CAS_ATTEMPTS):
            state, revision = await self._online(tenant, user)
            devices = {d.device: d for d in (state.devices if state else ()) if d.expires > ts}
            if beat.state == "online":
                devices[beat.device] = DevicePresence(device=beat.device, expires=ts + timedelta(seconds=beat.ttl))
            else:
                devices.pop(beat.device, None)
            try:
                await self._write(key, user, ts, list(devices.values()), revision)
                break
            except APIError as err:
                if not wrong_last_sequence(err):
                    raise
        await self.kv.put(
            names.kv_key(tenant, user, "seen"), LastSeen(user=user, device=beat.device, ts=ts).model_dump_json().encode()
        )

    async def _write(self, key: str, user: str, ts: datetime, devices: list[DevicePresence], revision: int) -> None:
        headers = {Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(revision)}
        if not devices:
            # The last device said goodbye: a delete marker (compare-and-set) ends "online" now.
            headers["KV-Operation"] = "DEL"
            await self.js.publish(self._subject(key), b"", headers=headers)
            return
        state = OnlineState(user=user, devices=tuple(sorted(devices, key=lambda d: d.device)), last_seen=ts)
        ttl = max(1, math.ceil(max((d.expires - ts).total_seconds() for d in devices)))
        await self.js.publish(self._subject(key), state.model_dump_json().encode(), headers=headers, msg_ttl=ttl)

    async def _one(self, tenant: str, user: str) -> UserPresence:
        state, _ = await self._online(tenant, user)
        ts = now()
        if state is not None:
            live = [d.device for d in state.devices if d.expires > ts]
            if live:
                return UserPresence(user=user, online=True, devices=live, last_seen=state.last_seen)
        try:
            entry = await self.kv.get(names.kv_key(tenant, user, "seen"))
        except KeyNotFoundError:
            return UserPresence(user=user, online=False)
        seen = LastSeen.model_validate_json(entry.value or b"{}")
        return UserPresence(user=user, online=False, last_seen=seen.ts)

    async def query(self, tenant: str, users: list[str]) -> list[UserPresence]:
        return list(await asyncio.gather(*(self._one(tenant, u) for u in dict.fromkeys(users))))
