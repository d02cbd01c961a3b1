"""Apply the topology in `orderchat.schemas.streams` to a NATS server, idempotently.

A second run changes nothing; a changed definition updates the existing stream or bucket
in place (never a duplicate)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, KeyValueConfig, PersistMode, StreamConfig
from nats.js.errors import NotFoundError

from orderchat.schemas.streams import Topology

# Fields the server fills in or reports differently from what was asked; never a reason to update.
_IGNORED = {"sealed", "first_seq", "template_owner", "compression", "metadata", "consumer_limits"}


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        return (
            f"created {len(self.created)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}"
        )


def _differences(wanted: dict[str, Any], actual: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    diffs = {}
    for key, value in wanted.items():
        if key in _IGNORED or value is None:
            continue
        have = actual.get(key)
        if isinstance(value, list) and isinstance(have, list):
            if sorted(map(str, value)) != sorted(map(str, have)):
                diffs[key] = (value, have)
        elif have != value and not (value in (False, 0, -1) and have in (None, False, 0, -1)):
            diffs[key] = (value, have)
    return diffs


async def _apply_stream(js: JetStreamContext, config: StreamConfig, report: ProvisionReport, label: str) -> None:
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        report.created.append(label)
        return
    if _differences(config.as_dict(), info.config.as_dict()):
        await js.update_stream(config)
        report.updated.append(label)
    else:
        report.unchanged.append(label)


# nats-server 2.15 caps a stream at 1,000 consumers unless the stream sets its own limit; every
# KV watcher (a service's cache, a key listing) is a consumer on the bucket's stream.
BUCKET_MAX_CONSUMERS = 100_000


def _bucket_stream_config(kv: KeyValueConfig, existing: StreamConfig) -> StreamConfig:
    """The stream behind a bucket, with the bucket's settings applied to it."""
    updated = StreamConfig.from_response(existing.as_dict())
    updated.max_consumers = BUCKET_MAX_CONSUMERS
    updated.description = kv.description
    updated.max_msgs_per_subject = kv.history
    updated.max_age = kv.ttl
    updated.num_replicas = kv.replicas
    # Per-key TTL (presence heartbeats) needs it; buckets made by other tools may lack it,
    # and the server allows turning it on (never off) in place.
    updated.allow_msg_ttl = True
    return updated


def _new_bucket_stream(kv: KeyValueConfig, relaxed: bool) -> StreamConfig:
    """The stream nats-py's create_key_value would make for `kv` (same fields), with the
    settings the KV API has no field for: the consumer limit, per-key TTL and, for relaxed
    buckets, the async persist mode, which the server only takes when a stream is made."""
    config = StreamConfig(
        name=f"KV_{kv.bucket}",
        description=kv.description,
        subjects=[f"$KV.{kv.bucket}.>"],
        allow_direct=kv.direct,
        allow_rollup_hdrs=True,
        allow_msg_ttl=True,
        deny_delete=True,
        discard=DiscardPolicy.NEW,
        duplicate_window=min(120.0, kv.ttl) if kv.ttl else 120.0,
        max_age=kv.ttl,
        max_bytes=kv.max_bytes,
        max_consumers=BUCKET_MAX_CONSUMERS,
        max_msg_size=kv.max_value_size,
        max_msgs=-1,
        max_msgs_per_subject=kv.history,
        num_replicas=kv.replicas,
        storage=kv.storage,
    )
    if relaxed:
        config.persist_mode = PersistMode.ASYNC
    return config


async def _apply_bucket(js: JetStreamContext, kv: KeyValueConfig, report: ProvisionReport, relaxed: bool) -> None:
    stream = f"KV_{kv.bucket}"
    label = f"kv:{kv.bucket}"
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(_new_bucket_stream(kv, relaxed))
        report.created.append(label)
        return
    # The persist mode of an existing bucket stays as it was made (the server refuses to
    # change it in place).
    wanted = _bucket_stream_config(kv, info.config)
    if _differences(wanted.as_dict(), info.config.as_dict()):
        await js.update_stream(wanted)
        report.updated.append(label)
    else:
        report.unchanged.append(label)


class NotProvisioned(RuntimeError):
    """A service was started against a NATS that lacks streams or buckets it needs: most
    often one provisioned by an earlier orderchat, before a bucket was added."""

    def __init__(self, url: str, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            f"NATS at {url} lacks {', '.join(missing)}. Run `orderchat provision` against it: "
            "it creates what is missing and leaves existing streams, buckets and their data alone."
        )


async def missing(js: JetStreamContext, topology: Topology | None = None) -> list[str]:
    """Labels (as in ProvisionReport) of the topology's streams and buckets the server lacks."""
    topology = topology or Topology()
    wanted = {f"stream:{s.name}": s.name for s in topology.streams()}
    wanted.update({f"kv:{b.bucket}": f"KV_{b.bucket}" for b in topology.buckets()})

    async def absent(stream: str) -> bool:
        try:
            await js.stream_info(stream)
            return False
        except NotFoundError:
            return True

    found = await asyncio.gather(*(absent(stream) for stream in wanted.values()))
    return [label for label, gone in zip(wanted, found) if gone]


async def provision(js: JetStreamContext, topology: Topology | None = None) -> ProvisionReport:
    topology = topology or Topology()
    report = ProvisionReport()
    for stream in topology.streams():
        await _apply_stream(js, stream, report, f"stream:{stream.name}")
    relaxed = topology.relaxed_buckets()
    for bucket in topology.buckets():
        await _apply_bucket(js, bucket, report, bucket.bucket in relaxed)
    return report
