"""What a bench run does: sizes for the full run, the CI smoke (`--quick`) and the scale run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

# "always" fsyncs every write (orderchat's default, no acknowledged loss on power failure);
# "2m" is nats-server's own default. The core comparison runs under both.
SYNC_MODES = ("always", "2m")
SECTIONS = ("delivery", "order-sync")


@dataclass(frozen=True)
class BenchOptions:
    # Throughput runs: messages per run; one-to-one pairs in flight; 20-member groups in flight.
    messages: int = 20_000
    group_messages: int = 4_000
    pairs: int = 32
    group_size: int = 20
    groups: int = 4
    text_bytes: int = 120
    fetch_batch: int = 256
    # Latency runs: fixed offered load, open loop (latency counted from the scheduled time).
    rate: float = 1000.0
    latency_seconds: float = 10.0
    # Group messages per second: 50 into a 20-member group is 1,000 inbox deliveries/s. (1,000
    # group messages/s would be 20,000 deliveries/s, beyond what this machine does with the
    # recipients' clients on it too: see the group throughput.)
    group_rate: float = 50.0
    sync_modes: tuple[str, ...] = SYNC_MODES
    # Which registered services the services process hosts (default: all of them).
    services: tuple[str, ...] = ()
    # Which sections run: "delivery" (baselines, throughput, latency per sync mode) and
    # "order-sync"; scale is asked for apart (`scale`).
    sections: tuple[str, ...] = SECTIONS
    # Order sync: purchase orders per path (polling, push), marked sent at random gaps of
    # mean 1/order_rate (a buyer's office sends a few a second at most).
    orders: int = 40
    order_rate: float = 4.0
    # Scale run.
    scale: bool = False
    scale_conversations: int = 10_000
    scale_messages: int = 1_000_000
    scale_users: int = 2_000
    scale_samples: int = 200
    quick: bool = False
    # How long a run waits for its last deliveries before it fails (or counts them as lost).
    arrival_timeout: float = 300.0
    work_dir: Path | None = None
    json_path: Path = field(default_factory=lambda: Path("bench-results.json"))

    @classmethod
    def quick_run(cls, **overrides: object) -> "BenchOptions":
        """Seconds, not minutes: the CI smoke that keeps the bench from rotting."""
        small = cls(
            messages=400,
            group_messages=60,
            pairs=4,
            groups=1,
            rate=200.0,
            latency_seconds=1.0,
            group_rate=50.0,
            orders=5,
            scale_conversations=200,
            scale_messages=5_000,
            scale_users=40,
            scale_samples=20,
            quick=True,
            arrival_timeout=60.0,
        )
        return replace(small, **overrides)  # type: ignore[arg-type]
