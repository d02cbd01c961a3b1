"""Helpers for the receipts tests: read what is stored, many users over one connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import nats
import pytest
from nats.js.errors import NotFoundError

from orderchat.client import OrderchatClient
from orderchat.runtime.services import ServiceHost
from orderchat.schemas import names
from orderchat.schemas.inbox import ReceiptEvent
from orderchat.schemas.receipts import DeliveredCursor, ReadCursor


async def stored_on(js, subject: str) -> list[bytes]:
    """Every message stored on `subject` in stream CHAT, in order (direct gets: no timing)."""
    found: list[bytes] = []
    seq = 1
    while True:
        try:
            msg = await js.get_msg(names.STREAM_CHAT, seq=seq, subject=subject, next=True, direct=True)
        except NotFoundError:
            return found
        found.append(msg.data or b"")
        seq = msg.seq + 1


async def receipt_events(js, tenant: str, user: str) -> list[ReceiptEvent]:
    events = []
    for data in await stored_on(js, names.inbox(tenant, user)):
        if b'"type":"receipt"' in data:
            events.append(ReceiptEvent.model_validate_json(data))
    return events


async def cursor(js, bucket: str, tenant: str, conv: str, user: str) -> ReadCursor | DeliveredCursor | None:
    kv = await js.key_value(bucket)
    try:
        entry = await kv.get(names.kv_key(tenant, conv, user))
    except Exception:  # noqa: BLE001 - key not found
        return None
    model = ReadCursor if bucket == names.KV_READ else DeliveredCursor
    return model.model_validate_json(entry.value)


async def eventually(check: Callable[[], Awaitable[object]], timeout: float = 15.0, every: float = 0.1) -> object:
    """Poll `check` until it returns something truthy (for effects of background consumers)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(every)


@pytest.fixture
async def shared_nc(nats_url: str, services: ServiceHost):
    """One connection many test users act over (a 50-member group needs no 50 sockets)."""
    nc = await nats.connect(nats_url, name="orderchat-tests-receipts")
    yield nc
    await nc.drain()


@pytest.fixture
def as_user(shared_nc, tenant: str) -> Callable[..., OrderchatClient]:
    def make(user: str, device: str = "main") -> OrderchatClient:
        return OrderchatClient.over(shared_nc, user, tenant=tenant, device=device)

    return make


def receipts_service(host: ServiceHost):
    return next(s for s in host.services if s.name == "receipts")
