"""A lease: at most one instance at a time runs a job that every instance could run (the
device-position sweep), the others standing by to take over.

One key per job in the `OC_LEASES` bucket. The holder writes it with a per-message TTL and
renews it by compare-and-set on the revision it wrote; a holder that stops renewing (killed,
partitioned, stuck) loses it when the TTL runs out, and the next instance to ask creates the
key again. A holder that stops cleanly deletes its key, so another takes over at once. Two
instances never both believe they hold it for longer than one renewal: a renewal that finds
another holder's revision fails, and that instance stands by.

Built on the server's own compare-and-set and message TTL (nats-server 2.11+, `allow_msg_ttl`,
which provisioning sets on every bucket) rather than on clocks compared across machines."""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid

from nats.js import JetStreamContext
from nats.js.api import Header
from nats.js.errors import APIError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from orderchat.schemas import names

from .metrics import LEASE_HELD
from .server_errors import wrong_last_sequence

log = logging.getLogger(__name__)


def holder_id() -> str:
    """Who holds a lease, as ops read it in the bucket: host, process, and a random part (two
    hosts in containers may share a pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    def __init__(self, js: JetStreamContext, kv: KeyValue, job: str, holder: str | None = None) -> None:
        self.js = js
        self.kv = kv
        self.job = job
        self.holder = holder or holder_id()
        self._revision = 0  # of the key as this instance last wrote it; 0: not held
        self._gauge = LEASE_HELD.labels(job)

    @classmethod
    async def of(cls, js: JetStreamContext, job: str, holder: str | None = None) -> "Lease":
        return cls(js, await js.key_value(names.KV_LEASES), job, holder)

    @property
    def held(self) -> bool:
        return self._revision > 0

    async def claim(self, ttl: float) -> bool:
        """Renew the lease if this instance holds it, else take it if nobody does; either way
        it then lasts `ttl` seconds. True if this instance holds it now."""
        seconds = max(1, math.ceil(ttl))  # the server's message TTL is in whole seconds
        value = self.holder.encode()
        if self._revision:
            try:
                ack = await self.js.publish(
                    f"$KV.{names.KV_LEASES}.{self.job}", value,
                    headers={Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(self._revision)}, msg_ttl=seconds,
                )
                self._revision = ack.seq
                self._gauge.set(1)
                return True
            except APIError as err:
                if not wrong_last_sequence(err):
                    raise
                # It ran out before this renewal (and another instance may hold it now).
                log.info("lease %s: ran out before this instance renewed it", self.job)
                self._revision = 0
                self._gauge.set(0)
        try:
            self._revision = await self.kv.create(self.job, value, msg_ttl=seconds)
        except KeyWrongLastSequenceError:
            return False  # another instance holds it
        self._gauge.set(1)
        log.info("lease %s: held by this instance (%s)", self.job, self.holder)
        return True

    async def release(self) -> None:
        """Give the lease up now (a clean stop), unless another instance holds it already."""
        if not self._revision:
            return
        revision, self._revision = self._revision, 0
        self._gauge.set(0)
        try:
            await self.kv.delete(self.job, last=revision)
        except APIError as err:
            if not wrong_last_sequence(err):
                raise
