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
LEASE_HELD = Gauge(
    "orderchat_lease_held",
    "1 while this instance holds the lease of a job only one instance runs (framework/lease.py)",
    ["job"],
    registry=REGISTRY,
)
STREAM_MESSAGES = Counter(
    "orderchat_stream_messages",
    "Stream messages processed by consumers, by service, consumer and outcome",
    ["service", "consumer", "outcome"],
    registry=REGISTRY,
)


def family_of(subject: str) -> str:
    """The most specific subject family (schemas.names.FAMILIES) a subject belongs to: a
    bounded label value, where the subject itself (one per conversation or order) is not."""
    from orderchat.schemas.catalog import subject_matches
    from orderchat.schemas.names import FAMILIES

    for family in FAMILY_PRECEDENCE:
        if subject_matches(FAMILIES[family], subject):
            return family
    return "other"


# Most specific first: `chat_ingress` before the catch-all `requests`.
FAMILY_PRECEDENCE = (
    "chat_ingress",
    "receipts",
    "order_commands",
    "requests",
    "service_requests",
    "history",
    "inboxes",
    "live",
    "order_events",
    "alerts",
    "dead_letters",
)


def faststream_middlewares(app_name: str = "orderchat") -> list:
    """Middlewares every FastStream broker gets: FastStream's own Prometheus middleware
    (messages received/processed, handler duration, exceptions) labelled by subject family
    rather than by subject, and the batch-size histogram."""
    from faststream.nats.prometheus.provider import (
        BatchNatsMetricsSettingsProvider,
        NatsMetricsSettingsProvider,
    )
    from faststream.prometheus import PrometheusMiddleware

    class ByFamily(NatsMetricsSettingsProvider):
        def get_consume_attrs_from_message(self, msg):  # type: ignore[no-untyped-def]
            attrs = super().get_consume_attrs_from_message(msg)
            return {**attrs, "destination_name": family_of(attrs["destination_name"])}

    class BatchByFamily(BatchNatsMetricsSettingsProvider):
        def get_consume_attrs_from_message(self, msg):  # type: ignore[no-untyped-def]
            attrs = super().get_consume_attrs_from_message(msg)
            return {**attrs, "destination_name": family_of(attrs["destination_name"])}

    def provider(msg):  # type: ignore[no-untyped-def]
        from collections.abc import Sequence

        from nats.aio.msg import Msg

        if isinstance(msg, Sequence):
            return BatchByFamily()
        if isinstance(msg, Msg) or msg is None:
            return ByFamily()
        return None  # KV / object store watches

    prometheus = PrometheusMiddleware(
        settings_provider_factory=provider,  # type: ignore[arg-type]
        registry=REGISTRY,
        app_name=app_name,
    )
    return [prometheus, _batch_size_middleware(app_name)]


def _batch_size_middleware(app_name: str):  # type: ignore[no-untyped-def]
    from faststream import BaseMiddleware

    class BatchSize(BaseMiddleware):
        """Observes how many messages each fetched batch carried (per durable consumer)."""

        async def on_receive(self) -> None:
            raw = self.msg
            if isinstance(raw, list) and raw:
                meta = getattr(raw[0], "metadata", None)
                consumer = meta.consumer if meta is not None else "unknown"
                BATCH_SIZE.labels(app_name, consumer).observe(len(raw))

    return BatchSize
