"""Load-generation helpers shared by the baselines and the orderchat runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import FetchTimeoutError

FETCH_TIMEOUTS = (FetchTimeoutError, NatsTimeoutError, asyncio.TimeoutError)


def shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal counts."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class Arrivals:
    """Counts what reached its destination; `done` is set once `expected` arrived."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.done = asyncio.Event()
        self.finished_at = 0.0

    def add(self, n: int = 1) -> None:
        self.count += n
        if self.count >= self.expected and not self.done.is_set():
            self.finished_at = time.perf_counter()
            self.done.set()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(f"only {self.count} of {self.expected} arrived within {timeout:.0f}s") from None


async def paced(rate: float, count: int, fire: Callable[[int, float], Awaitable[None]]) -> None:
    """Open loop: start `fire(i, scheduled_time)` at t0 + i/rate whatever happened before,
    so a slow reply delays nothing else and latency is counted from the schedule (no
    coordinated omission)."""
    tasks: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter() + 0.01
    for i in range(count):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(fire(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


async def stop_tasks(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
