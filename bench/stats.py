"""Numbers the bench reports: throughput and latency percentiles."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class Throughput:
    messages: int
    seconds: float
    deliveries: int

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else math.nan

    @property
    def deliveries_per_s(self) -> float:
        return self.deliveries / self.seconds if self.seconds > 0 else math.nan

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "msgs_per_s": self.msgs_per_s, "deliveries_per_s": self.deliveries_per_s}


@dataclass(frozen=True)
class Latency:
    """End-to-end latencies in milliseconds at an offered load."""

    offered_per_s: float
    samples: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    lost: int = 0
    # Split at the delivery service's timestamp (orderchat only): from the scheduled send to
    # the service stamping the message, and from there to the recipient's inbox.
    to_service_p50_ms: float | None = None
    to_service_p99_ms: float | None = None
    to_inbox_p50_ms: float | None = None
    to_inbox_p99_ms: float | None = None

    @classmethod
    def of(
        cls, offered_per_s: float, millis: list[float], expected: int,
        split: tuple[list[float], list[float]] | None = None,
    ) -> "Latency":
        values = sorted(millis)
        halves: dict[str, float] = {}
        if split is not None:
            to_service, to_inbox = sorted(split[0]), sorted(split[1])
            halves = {
                "to_service_p50_ms": percentile(to_service, 50), "to_service_p99_ms": percentile(to_service, 99),
                "to_inbox_p50_ms": percentile(to_inbox, 50), "to_inbox_p99_ms": percentile(to_inbox, 99),
            }
        return cls(
            offered_per_s=offered_per_s,
            samples=len(values),
            p50_ms=percentile(values, 50),
            p90_ms=percentile(values, 90),
            p99_ms=percentile(values, 99),
            max_ms=values[-1] if values else math.nan,
            lost=max(0, expected - len(values)),
            **halves,
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Timing:
    """Durations of one repeated operation, in milliseconds."""

    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, millis: list[float]) -> "Timing":
        values = sorted(millis)
        return cls(len(values), percentile(values, 50), percentile(values, 99), values[-1] if values else math.nan)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
