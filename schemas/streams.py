"""Stream, consumer and KV bucket definitions; `orderchat.runtime.provision` applies them."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from . import names

DAY = 86400.0
# Long enough to cover a client's retry after a network drop or a service restart; the
# server default (2 minutes) is too short for a phone coming back from a tunnel.
DEDUPE_WINDOW = 15 * 60.0
# KV keeps at most 64 revisions a key.
CURSOR_HISTORY = 64


@dataclass(frozen=True)
class Topology:
    """All streams and buckets for one deployment; replicas = 3 on a cluster."""

    replicas: int = 1
    # Fan-out on read gives every device a consumer on CHAT. nats-server 2.15 caps a stream at
    # 1,000 consumers unless the stream sets its own limit (and -1 no longer means unlimited).
    max_inbox_consumers: int = 1_000_000

    def streams(self) -> list[StreamConfig]:
        r = self.replicas
        return [
            StreamConfig(
                name=names.STREAM_CHAT,
                description="Conversation histories and per-user inbox events",
                subjects=[names.CHAT_CONV_SUBJECTS, names.CHAT_INBOX_SUBJECTS],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                num_replicas=r,
                duplicate_window=DEDUPE_WINDOW,
                max_msg_size=64 * 1024,
                max_consumers=self.max_inbox_consumers,
                allow_direct=True,
                discard=DiscardPolicy.OLD,
            ),
            StreamConfig(
                name=names.STREAM_ORDERS,
                description="Order event logs: the evidence both parties rely on",
                subjects=[names.ORDER_EVENT_SUBJECTS],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                num_replicas=r,
                duplicate_window=DEDUPE_WINDOW,
                # Evidence is append-only: no message deletes, no purges.
                deny_delete=True,
                deny_purge=True,
                allow_direct=True,
                discard=DiscardPolicy.NEW,
            ),
            StreamConfig(
                name=names.STREAM_DLQ,
                description="Inputs a service could not process, with the reason",
                subjects=[names.DLQ_SUBJECTS],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                num_replicas=r,
                max_age=30 * DAY,
                duplicate_window=DEDUPE_WINDOW,
                allow_direct=True,
            ),
            StreamConfig(
                name=names.STREAM_ALERTS,
                description="Operational alerts such as supplier SLA breaches",
                subjects=[names.ALERT_SUBJECTS],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                num_replicas=r,
                max_age=90 * DAY,
                duplicate_window=DEDUPE_WINDOW,
                allow_direct=True,
            ),
        ]

    def relaxed_buckets(self) -> frozenset[str]:
        """Buckets stored with nats-server's `async` persist mode (ADR-56; single-replica
        streams only, fixed when the bucket is made): receipt cursors, presence and device
        positions (a lost position only means messages handed out again). They are
        the busiest writes after the messages themselves and are derived, monotonic state: a
        power cut may lose their last moments, and clients send the next receipt anyway. Under
        `sync_interval: always` an fsync per cursor move competed with the messages' own
        (measured: p99 at 1,000 msgs/s 16 ms with delivery alone, 170 ms with receipts)."""
        if self.replicas != 1:
            return frozenset()
        return frozenset({names.KV_READ, names.KV_DELIVERED, names.KV_PRESENCE, names.KV_DEVICE_POSITIONS})

    def buckets(self) -> list[KeyValueConfig]:
        r = self.replicas

        def kv(bucket: str, description: str, history: int = 1, ttl: float | None = None) -> KeyValueConfig:
            return KeyValueConfig(
                bucket=bucket,
                description=description,
                history=history,
                ttl=ttl,
                storage=StorageType.FILE,
                replicas=r,
            )

        return [
            kv(names.KV_USERS, "Parties: buyers, suppliers, ops"),
            kv(names.KV_CONVERSATIONS, "Conversations and their members", history=5),
            kv(names.KV_MEMBERSHIPS, "Each user's conversations (device consumer filters)"),
            kv(names.KV_DEVICES, "Each user's devices and their inbox consumers"),
            kv(names.KV_DEVICE_POSITIONS, "Where each device's inbox stands (its memory-stored consumer's ack floor)"),
            kv(names.KV_LEASES, "Which instance runs a job only one should (the device-position sweep), per-key TTL"),
            # History keeps each cursor's recent moves: the time a member read or received a
            # given message is the time of the first retained revision at or past it.
            kv(names.KV_READ, "Read cursors per conversation and user", history=CURSOR_HISTORY),
            kv(names.KV_DELIVERED, "Delivered cursors per conversation and user", history=CURSOR_HISTORY),
            kv(names.KV_PRESENCE, "Presence heartbeats (per-key TTL)"),
            kv(names.KV_ORDERS, "Current order state, projected from ORDERS"),
            kv(names.KV_ORDER_COMMANDS, "Processed order command ids (idempotency)", ttl=7 * DAY),
            kv(names.KV_ORDER_CARDS, "Order cards waiting for the supplier's read receipt (seen)"),
            kv(names.KV_SLA, "Supplier response deadlines and timers"),
            kv(names.KV_ERP, "ERP connector cursors and pending write-backs"),
            kv(names.KV_DLQ_REPLAYS, "Dead letters replayed, by DLQ sequence (a replay happens once)", ttl=30 * DAY),
            kv(names.KV_CREDENTIALS, "Public nkeys of each party device allowed to connect (NATS authorization)"),
            kv(names.KV_PARTY_KEYS, "Every signing key a party ever held, with when it was registered and revoked"),
        ]
