"""What "ready" means for a service process: NATS connected, the streams present, every
durable consumer its FastStream subscribers use bound and running, and each service's own
`readiness()` checks (optional) passing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from orderchat.schemas.streams import Topology

PROBE_TIMEOUT = 3.0


async def _stream_present(js: JetStreamContext, name: str) -> bool:
    try:
        await asyncio.wait_for(js.stream_info(name), PROBE_TIMEOUT)
        return True
    except (NotFoundError, asyncio.TimeoutError, Exception):  # noqa: BLE001 - any failure: not ready
        return False


async def _consumer_bound(js: JetStreamContext, stream: str, durable: str) -> bool:
    try:
        await asyncio.wait_for(js.consumer_info(stream, durable), PROBE_TIMEOUT)
        return True
    except (NotFoundError, asyncio.TimeoutError, Exception):  # noqa: BLE001
        return False


def durable_subscribers(subscribers: Iterable[Any]) -> list[tuple[str, str, bool]]:
    """(stream, durable, running) of every FastStream subscriber bound to a durable consumer."""
    found = []
    for sub in subscribers:
        stream = getattr(getattr(sub, "stream", None), "name", None)
        durable = getattr(getattr(sub, "config", None), "durable_name", None)
        if stream and durable:
            found.append((stream, durable, bool(getattr(sub, "running", False))))
    return found


async def readiness(nc: Client | None, js: JetStreamContext | None, subscribers: Iterable[Any], services: Iterable[Any]) -> dict[str, bool]:
    checks: dict[str, bool] = {"nats_connected": bool(nc is not None and nc.is_connected)}
    if not checks["nats_connected"] or js is None:
        return checks
    stream_names = [s.name for s in Topology().streams()]
    present = await asyncio.gather(*(_stream_present(js, n) for n in stream_names))
    checks.update({f"stream:{n}": ok for n, ok in zip(stream_names, present)})
    durables = durable_subscribers(subscribers)
    bound = await asyncio.gather(*(_consumer_bound(js, s, d) for s, d, _ in durables))
    for (stream, durable, running), ok in zip(durables, bound):
        checks[f"consumer:{stream}/{durable}"] = ok and running
    for service in services:
        probe = getattr(service, "readiness", None)
        if probe is not None:
            own = await probe()
            checks.update({f"{service.name}:{k}": v for k, v in own.items()})
    return checks
