"""orderchat delivery measured end to end with the real client: a send request answered by
the delivery service, then the message read from each recipient's inbox (its device consumer)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

from orderchat.client import OrderchatClient
from orderchat.client.client import InboxItem
from orderchat.schemas.chat import ChatMessage, TextBody

from .load import Arrivals, paced, shares, stop_tasks
from .population import Route
from .processes import CpuMeter
from .stats import Latency, Throughput


def text_of(size: int) -> str:
    return ("50 reams of A4 80gsm, delivery Tuesday please. " * (size // 40 + 1))[:size]


def stored_size(text_bytes: int) -> int:
    """Bytes of one stored chat message with this text: the baselines move the same size."""
    sample = ChatMessage(
        conv="dm_buyer0_supplier0",
        seq=1000,
        sender="buyer0",
        client_msg_id="0123456789abcdef0123456789abcdef",
        ts=datetime.now(timezone.utc),
        body=TextBody(text=text_of(text_bytes)),
    )
    return len(sample.model_dump_json().encode())


def recipients_of(routes: list[Route]) -> list[OrderchatClient]:
    seen: dict[str, OrderchatClient] = {}
    for route in routes:
        for client in route.recipients:
            seen.setdefault(client.user, client)
    return list(seen.values())


async def _read(client: OrderchatClient, on_item, batch: int, idle: float, ready: asyncio.Future[None]) -> None:
    async with client.inbox(batch=batch, idle=idle) as inbox:
        ready.set_result(None)
        async for item in inbox:
            if item.message is not None:
                on_item(item)


async def _readers(routes: list[Route], on_item, batch: int, idle: float) -> list[asyncio.Task]:
    """One reading task per recipient, each inside its inbox (session open, pull request
    bound) before this returns: the first send must neither miss a reader nor share the
    machine with 32 session set-ups, which would be timed as delivery latency."""
    loop = asyncio.get_running_loop()
    clients = recipients_of(routes)
    ready = [loop.create_future() for _ in clients]
    tasks = [asyncio.create_task(_read(c, on_item, batch, idle, r)) for c, r in zip(clients, ready)]
    all_ready = asyncio.ensure_future(asyncio.gather(*ready))
    await asyncio.wait([all_ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if not all_ready.done():  # a reader ended before its inbox opened: it failed
        all_ready.cancel()
        ended = next(t for t in tasks if t.done())
        await stop_tasks(tasks)
        ended.result()
        raise RuntimeError(f"a reader stopped before its inbox opened ({len(tasks)} readers)")
    return tasks


async def _bounded(work, timeout: float, failure: str) -> None:
    """A stalled system fails the run with a reason instead of hanging it."""
    try:
        await asyncio.wait_for(work, timeout)
    except asyncio.TimeoutError:
        raise RuntimeError(failure) from None


async def throughput(
    routes: list[Route], messages: int, text_bytes: int, batch: int, idle: float, meter: CpuMeter, timeout: float = 300.0
) -> tuple[Throughput, dict[str, float]]:
    fanout = sum(len(r.recipients) for r in routes) / len(routes)
    deliveries = sum(len(r.recipients) * n for r, n in zip(routes, shares(messages, len(routes))))
    arrivals = Arrivals(deliveries)
    readers = await _readers(routes, lambda item: arrivals.add(), batch, idle)
    text = text_of(text_bytes)
    meter.start()
    started = time.perf_counter()

    async def sender(route: Route, count: int) -> None:
        for _ in range(count):
            await route.sender.send(text, conv=route.conv)

    try:
        sends = asyncio.gather(*(sender(r, n) for r, n in zip(routes, shares(messages, len(routes)))))
        await _bounded(sends, timeout, f"sends not answered within {timeout:.0f}s ({arrivals.count} of {deliveries} delivered)")
        await arrivals.wait(timeout)
    finally:
        await stop_tasks(readers)
    cpu = meter.stop()
    assert fanout >= 1
    return Throughput(messages, arrivals.finished_at - started, deliveries), cpu


async def latency(
    routes: list[Route], rate: float, seconds: float, text_bytes: int, batch: int, idle: float, timeout: float = 60.0
) -> Latency:
    """Each delivery's latency: arrival in a recipient's inbox minus the scheduled send time,
    also split at the time the delivery service stamped the message (`ts`, taken just before
    its append). The stamp is the services' wall clock: on one machine it is the load
    generator's too, which is how the bench runs."""
    count = max(1, int(rate * seconds))
    scheduled = [0.0] * count
    millis: list[float] = []
    to_service: list[float] = []
    to_inbox: list[float] = []
    expected = sum(len(routes[i % len(routes)].recipients) for i in range(count))
    arrivals = Arrivals(expected)
    wall_minus_perf = time.time() - time.perf_counter()

    def arrived(item: InboxItem) -> None:
        now = time.perf_counter()
        message = item.message
        index = int(message.client_msg_id.rsplit("-", 1)[1])  # type: ignore[union-attr]
        stamped = message.ts.timestamp() - wall_minus_perf  # type: ignore[union-attr]
        millis.append((now - scheduled[index]) * 1000)
        to_service.append((stamped - scheduled[index]) * 1000)
        to_inbox.append((now - stamped) * 1000)
        arrivals.add()

    readers = await _readers(routes, arrived, batch, idle)
    text = text_of(text_bytes)

    async def fire(i: int, due: float) -> None:
        scheduled[i] = due
        route = routes[i % len(routes)]
        await route.sender.send(text, conv=route.conv, client_msg_id=f"lat-{i}")

    try:
        await _bounded(paced(rate, count, fire), seconds + timeout, f"sends not answered within {seconds + timeout:.0f}s")
        try:
            await arrivals.wait(timeout)
        except RuntimeError:
            pass  # counted as lost
    finally:
        await stop_tasks(readers)
    return Latency.of(rate, millis, expected, split=(to_service, to_inbox))
