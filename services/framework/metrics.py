"""Prometheus metrics shared by every service (one registry per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "orderchat_requests",
    "Requests handled, by service, operation and outcome (ok or an error code)",
    ["service", "op", "outcome"],
    registry=REGISTRY,
)
REQUEST_LATENCY = Histogram(
    "orderchat_request_seconds",
    "Handler latency from receipt to reply",
    ["service", "op"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "orderchat_dead_letters",
    "Inputs parked in the DLQ stream, by service and reason code",
    ["service", "code"],
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "orderchat_in_flight",
    "Requests being handled right now",
    ["service"],
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "orderchat_batch_size",
    "Messages per fetched batch in stream consumers",
    ["service", "consumer"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
    registry=REGISTRY,
)
STREAM_MESSAGES = Counter(
    "orderchat_stream_messages",
    "Stream messages processed by consumers, by service, consumer and outcome",
    ["service", "consumer", "outcome"],
    registry=REGISTRY,
)
