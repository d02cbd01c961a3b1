"""Streams and subjects of the raw nats-py baselines. They exist only on the bench's own
server, never in orderchat's topology, so they are kept here rather than in schemas/names."""

from __future__ import annotations

# The pipeline: publish to A, the relay fetches A and re-publishes to B, consume B.
STREAM_A = "BENCH_A"
STREAM_B = "BENCH_B"
SUBJECTS_A = "bench.a.*"
SUBJECTS_B = "bench.b.*"
RELAY_CONSUMER = "bench_relay"
SINK_CONSUMER = "bench_sink"

# The mirror of orderchat's path: core request -> relay appends to a stream -> reply;
# one filtered consumer per recipient reads the stream.
STREAM_CONV = "BENCH_CONV"
SUBJECTS_CONV = "bench.conv.*"
REQUEST_PATTERN = "bench.req.*"
REQUEST_QUEUE = "bench_relay"


def a(key: int | str) -> str:
    return f"bench.a.{key}"


def b(key: int | str) -> str:
    return f"bench.b.{key}"


def conv(key: int | str) -> str:
    return f"bench.conv.{key}"


def request(key: int | str) -> str:
    return f"bench.req.{key}"


def recipient_consumer(key: int | str) -> str:
    return f"bench_rcpt_{key}"
