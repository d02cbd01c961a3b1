"""One picture of the system for `orderchat monitor`: traffic per subject family, streams,
consumers (lagging first), dead letters, open SLA breaches.

Sources: nats-server's monitoring endpoints for what the server counts (`/varz`, `/subsz`
subscription counters, `/jsz` streams and consumers in one call) and the JetStream API for
what needs a filter (stored messages per family and tenant, dead-letter reasons, KV)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any

from nats.js import JetStreamContext
from pydantic import BaseModel

from orderchat.schemas import names
from orderchat.schemas.streams import Topology
from orderchat.services.framework import kv_snapshot

from .dlq import DeadLetters
from .families import FamilyTraffic, Source, count_families, pattern_within
from .server_api import ServerMonitor
from .stream_reader import count_matching

OPS_CONSUMER_PREFIX = "oc_ops_"


class ServerSummary(BaseModel):
    server_name: str
    version: str
    uptime: str
    connections: int
    subscriptions: int
    in_msgs: int
    out_msgs: int
    in_bytes: int
    out_bytes: int
    slow_consumers: int
    mem_bytes: int
    cpu_percent: float


class FamilyView(BaseModel):
    family: str
    pattern: str
    msgs: int
    """Messages the server delivered to the family's subscribers (all tenants)."""
    rate: float | None = None
    """Messages per second over the sampling window (None: no earlier sample, or a counter reset)."""
    stream: str | None = None
    stored: int | None = None
    """Messages of the family in its stream now (for the tenant when one is given)."""
    sources: list[Source] = []


class StreamView(BaseModel):
    name: str
    messages: int
    bytes: int
    subjects: int
    first_ts: str | None
    last_ts: str | None
    consumers: int


class ConsumerView(BaseModel):
    stream: str
    name: str
    pending: int
    ack_pending: int
    redelivered: int
    waiting: int
    last_active: str | None
    filters: list[str]

    @property
    def lag(self) -> int:
        return self.pending + self.ack_pending


class DeadLetterView(BaseModel):
    count: int
    top_reasons: list[dict[str, Any]]


class SlaView(BaseModel):
    open_breaches: int
    breaches: list[dict[str, Any]]


class ErpView(BaseModel):
    tenant: str
    database: str
    erp_up: bool
    sync_lag_seconds: float | None
    """Seconds since the connector last polled the ERP successfully, now."""
    writeback_pending: int
    writebacks_done: int
    writebacks_refused: int
    last_error: str | None
    status_updated_at: datetime


class Snapshot(BaseModel):
    taken_at: datetime
    tenant: str | None
    window_seconds: float | None
    server: ServerSummary
    families: dict[str, FamilyView]
    streams: list[StreamView]
    consumers: list[ConsumerView]
    consumers_total: int
    dead_letters: DeadLetterView
    sla: SlaView | None
    erp: list["ErpView"]
    notes: list[str]


def family_streams() -> dict[str, str]:
    """family -> the stream that stores it (families not stored are absent)."""
    found: dict[str, str] = {}
    for stream in Topology().streams():
        for family, pattern in names.FAMILIES.items():
            if any(pattern_within(pattern, subject) for subject in stream.subjects or []):
                found[family] = stream.name
    return found


def tenant_pattern(pattern: str, tenant: str | None) -> str:
    if tenant is None:
        return pattern
    tokens = pattern.split(".")
    tokens[1] = tenant
    return ".".join(tokens)


def server_summary(varz: dict[str, Any]) -> ServerSummary:
    return ServerSummary(
        server_name=varz.get("server_name", ""),
        version=varz.get("version", ""),
        uptime=varz.get("uptime", ""),
        connections=int(varz.get("connections", 0)),
        subscriptions=int(varz.get("subscriptions", 0)),
        in_msgs=int(varz.get("in_msgs", 0)),
        out_msgs=int(varz.get("out_msgs", 0)),
        in_bytes=int(varz.get("in_bytes", 0)),
        out_bytes=int(varz.get("out_bytes", 0)),
        slow_consumers=int(varz.get("slow_consumers", 0)),
        mem_bytes=int(varz.get("mem", 0)),
        cpu_percent=float(varz.get("cpu", 0.0)),
    )


def _belongs_to(tenant: str, consumer: dict[str, Any]) -> bool:
    """A consumer is the tenant's when its filters name the tenant, or shared when they
    span all tenants (service consumers)."""
    config = consumer.get("config") or {}
    filters = config.get("filter_subjects") or ([config["filter_subject"]] if config.get("filter_subject") else [])
    if not filters:
        return True
    return any(f.split(".")[1:2] in ([tenant], ["*"], [">"]) for f in filters)


def _real_time(ts: str | None) -> str | None:
    """nats-server reports an empty stream's first/last time as year 1: no time at all."""
    return None if not ts or ts.startswith("0001-") else ts


def _hidden(stream: str, name: str, config: dict[str, Any]) -> bool:
    """The monitor's own short-lived readers, and KV watchers (ephemeral consumers on a
    bucket's stream, whose "pending" is just the keys they are replaying)."""
    if name.startswith(OPS_CONSUMER_PREFIX):
        return True
    return stream.startswith("KV_") and not config.get("durable_name")


def streams_and_consumers(jsz: dict[str, Any], tenant: str | None) -> tuple[list[StreamView], list[ConsumerView]]:
    streams: list[StreamView] = []
    consumers: list[ConsumerView] = []
    for account in jsz.get("account_details") or []:
        for detail in account.get("stream_detail") or []:
            state = detail.get("state") or {}
            streams.append(
                StreamView(
                    name=detail["name"],
                    messages=int(state.get("messages", 0)),
                    bytes=int(state.get("bytes", 0)),
                    subjects=int(state.get("num_subjects", 0)),
                    first_ts=_real_time(state.get("first_ts")),
                    last_ts=_real_time(state.get("last_ts")),
                    consumers=int(state.get("consumer_count", 0)),
                )
            )
            for c in detail.get("consumer_detail") or []:
                config = c.get("config") or {}
                if _hidden(detail["name"], c["name"], config) or (tenant and not _belongs_to(tenant, c)):
                    continue
                consumers.append(
                    ConsumerView(
                        stream=c.get("stream_name", detail["name"]),
                        name=c["name"],
                        pending=int(c.get("num_pending", 0)),
                        ack_pending=int(c.get("num_ack_pending", 0)),
                        redelivered=int(c.get("num_redelivered", 0)),
                        waiting=int(c.get("num_waiting", 0)),
                        last_active=(c.get("delivered") or {}).get("last_active"),
                        filters=config.get("filter_subjects") or ([config["filter_subject"]] if config.get("filter_subject") else []),
                    )
                )
    consumers.sort(key=lambda c: (-c.lag, -c.redelivered, c.stream, c.name))
    streams.sort(key=lambda s: s.name)
    return streams, consumers


class RateTracker:
    """Per-family rates between consecutive samples of the server's counters."""

    def __init__(self) -> None:
        self._last: tuple[float, dict[str, int]] | None = None

    def update(self, counts: dict[str, int], at: float) -> tuple[dict[str, float | None], float | None]:
        previous, self._last = self._last, (at, counts)
        if previous is None:
            return {f: None for f in counts}, None
        then, old = previous
        elapsed = max(at - then, 1e-6)
        rates: dict[str, float | None] = {}
        for family, value in counts.items():
            before = old.get(family)
            rates[family] = None if before is None or value < before else (value - before) / elapsed
        return rates, elapsed


async def family_traffic(server: ServerMonitor) -> tuple[dict[str, FamilyTraffic], float]:
    subs = await server.subscriptions()
    return count_families(subs), time.monotonic()


async def stored_counts(js: JetStreamContext, tenant: str | None) -> dict[str, int]:
    stored = family_streams()
    counts = await asyncio.gather(
        *(count_matching(js, stream, tenant_pattern(names.FAMILIES[family], tenant)) for family, stream in stored.items())
    )
    return dict(zip(stored, counts))


async def take_snapshot(
    js: JetStreamContext,
    server: ServerMonitor,
    *,
    tenant: str | None = None,
    rates: RateTracker | None = None,
    window: float = 1.0,
    max_consumers: int = 50,
) -> Snapshot:
    """A snapshot; rates come from `rates` (the live view keeps one across refreshes) or,
    for a one-off snapshot, from two samples `window` seconds apart."""
    tracker = rates or RateTracker()
    if rates is None and window > 0:
        first, at = await family_traffic(server)
        tracker.update({f: t.msgs for f, t in first.items()}, at)
        await asyncio.sleep(window)
    traffic, at = await family_traffic(server)
    family_rates, elapsed = tracker.update({f: t.msgs for f, t in traffic.items()}, at)

    varz, jsz, stored, dead = await asyncio.gather(
        server.varz(), server.jsz(), stored_counts(js, tenant), dead_letter_view(js, tenant)
    )
    where = family_streams()
    families = {
        f: FamilyView(
            family=f, pattern=t.pattern, msgs=t.msgs, rate=family_rates.get(f), stream=where.get(f),
            stored=stored.get(f), sources=t.sources,
        )
        for f, t in traffic.items()
    }
    streams, consumers = streams_and_consumers(jsz, tenant)
    notes = [
        "family msgs: deliveries counted by nats-server per subscription (/subsz), all tenants, since each subscription started",
        "family stored: messages in the family's stream now" + (f" for tenant {tenant}" if tenant else ""),
    ]
    sla = await sla_view(js, tenant)
    if sla is None:
        notes.append("sla: no SLA service data (OC_SLA empty or service not deployed)")
    erp = await erp_view(js, tenant)
    if not erp:
        notes.append("erp: no ERP connector status in OC_ERP (connector not running for these tenants)")
    return Snapshot(
        taken_at=datetime.now(timezone.utc),
        tenant=tenant,
        window_seconds=elapsed,
        server=server_summary(varz),
        families=families,
        streams=streams,
        consumers=consumers[:max_consumers],
        consumers_total=len(consumers),
        dead_letters=dead,
        sla=sla,
        erp=erp,
        notes=notes,
    )


async def dead_letter_view(js: JetStreamContext, tenant: str | None) -> DeadLetterView:
    dlq = await DeadLetters.open(js)
    count, reasons = await asyncio.gather(dlq.count(tenant), dlq.reasons(tenant))
    return DeadLetterView(count=count, top_reasons=reasons)


async def sla_view(js: JetStreamContext, tenant: str | None) -> SlaView | None:
    from orderchat.services.sla.store import open_breaches

    breaches = await open_breaches(js, tenant)
    if breaches is None:
        return None
    return SlaView(open_breaches=len(breaches), breaches=[b.model_dump(mode="json") for b in breaches[:50]])


async def erp_view(js: JetStreamContext, tenant: str | None) -> list[ErpView]:
    """The ERP connector's status records (`<t>.status` in KV OC_ERP, written by
    integrations.odoo), with the sync lag recomputed for now."""
    from orderchat.integrations.odoo.store import ErpStatus

    kv = await js.key_value(names.KV_ERP)
    snap = await kv_snapshot.snapshot(kv, names.kv_key(tenant or names.ANY, "status"))
    views: list[ErpView] = []
    now = datetime.now(timezone.utc)
    for entry in snap.entries:
        if not entry.value:
            continue
        status = ErpStatus.model_validate_json(entry.value)
        lag = (now - status.last_ok_at).total_seconds() if status.last_ok_at else status.sync_lag_seconds
        views.append(
            ErpView(
                tenant=entry.key.split(".", 1)[0], database=status.database, erp_up=status.erp_up, sync_lag_seconds=lag,
                writeback_pending=status.writeback_pending, writebacks_done=status.writebacks_done,
                writebacks_refused=status.writebacks_refused, last_error=status.last_error, status_updated_at=status.updated_at,
            )
        )
    return views
