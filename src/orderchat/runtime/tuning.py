"""Interpreter settings for a long-running service process: the garbage collector.

A service process starts with a large, permanent heap (modules, pydantic schemas, the
FastStream app) and then allocates many short-lived objects per message. CPython's full
(generation 2) collections scan every tracked object, so each one walked the whole startup
heap: measured 64-82 ms pauses in the services process at 1,000 msgs/s, which were most of
the delivery latency's p99. Once started, the heap is frozen (`gc.freeze()`: never scanned
again) and young generations are collected less often; cycles are still collected.

The thread switch interval stays at CPython's 5 ms: at 1 ms the services process spent more
CPU per message (two full bench runs, before and after: 228 -> 304 us one-to-one and
638 -> 1,215 us per group message under `2m`) for a one-to-one p99 that did not clearly
improve."""

from __future__ import annotations

import gc

# Allocations between young collections (CPython's default is 700).
YOUNG_THRESHOLD = 20_000


def settle() -> None:
    """Call once the process's services are started."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
