"""Interpreter settings for a long-running service process: the garbage collector and the
thread switch interval.

A service process starts with a large, permanent heap (modules, pydantic schemas, the
FastStream app) and then allocates many short-lived objects per message. CPython's full
(generation 2) collections scan every tracked object, so each one walked the whole startup
heap: measured 64-82 ms pauses in the services process at 1,000 msgs/s, which were most of
the delivery latency's p99. Once started, the heap is frozen (`gc.freeze()`: never scanned
again) and young generations are collected less often; cycles are still collected.

Worker threads (the archive's SQLite writer, the ERP connector's odoorpc calls) run Python
too, and the event loop waits for the GIL while they hold it: CPython hands it over every
5 ms by default. At 1 ms the loop answers requests sooner while the archive indexes (one-to-one
p50 at 1,000 msgs/s 1.1-1.3 ms against 1.6-2.0 ms with every service in one process)."""

from __future__ import annotations

import gc
import sys

# Allocations between young collections (CPython's default is 700).
YOUNG_THRESHOLD = 20_000
SWITCH_INTERVAL = 0.001  # seconds a thread holds the GIL before it is asked to hand it over


def settle() -> None:
    """Call once the process's services are started."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    sys.setswitchinterval(SWITCH_INTERVAL)
