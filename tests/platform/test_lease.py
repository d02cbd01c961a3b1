"""The lease that lets one instance at a time run a job (services/framework/lease.py), against
a real nats-server: one holder, a clean hand-over, and a take-over once a silent holder's TTL
runs out, with the old holder then finding it lost."""

from __future__ import annotations

import asyncio
import uuid

import nats

from orderchat.schemas import names
from orderchat.services.framework.lease import Lease
from orderchat.services.framework.metrics import LEASE_HELD


async def holder_in_bucket(js, job: str) -> str | None:  # type: ignore[no-untyped-def]
    kv = await js.key_value(names.KV_LEASES)
    try:
        entry = await kv.get(job)
    except Exception:  # noqa: BLE001 - no holder (never taken, released or expired)
        return None
    return entry.value.decode() if entry.value else None


async def test_one_holder_at_a_time_and_a_clean_hand_over(admin_nc: nats.NATS) -> None:
    js = admin_nc.jetstream()
    job = f"test-{uuid.uuid4().hex[:8]}"
    first = await Lease.of(js, job, holder="first")
    second = await Lease.of(js, job, holder="second")

    assert await first.claim(30) and first.held
    assert not await second.claim(30) and not second.held
    assert await first.claim(30), "the holder renews"
    assert not await second.claim(30)
    assert await holder_in_bucket(js, job) == "first"
    assert LEASE_HELD.labels(job)._value.get() == 1

    await first.release()
    assert not first.held and await holder_in_bucket(js, job) is None
    assert await second.claim(30), "a released lease is free at once"
    assert not await first.claim(30)
    assert await holder_in_bucket(js, job) == "second"
    await second.release()


async def test_a_holder_that_stops_renewing_loses_the_lease_when_its_ttl_runs_out(admin_nc: nats.NATS) -> None:
    js = admin_nc.jetstream()
    job = f"test-{uuid.uuid4().hex[:8]}"
    stuck = await Lease.of(js, job, holder="stuck")
    standby = await Lease.of(js, job, holder="standby")

    assert await stuck.claim(1)
    assert not await standby.claim(1)
    # The stuck holder never renews; the server drops its key after the TTL.
    deadline = asyncio.get_running_loop().time() + 10
    while not await standby.claim(30):
        assert asyncio.get_running_loop().time() < deadline, "the lease never ran out"
        await asyncio.sleep(0.25)
    assert await holder_in_bucket(js, job) == "standby"

    # The old holder still believes it holds the lease: its release is a compare-and-set
    # that leaves the new holder's lease alone, and its next claim finds it taken.
    assert stuck.held
    await stuck.release()
    assert await holder_in_bucket(js, job) == "standby"
    assert not await stuck.claim(30) and not stuck.held
    assert await standby.claim(30)
    await standby.release()
