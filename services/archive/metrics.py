"""The archive's own gauges (on the process-wide registry): how far each projection got and
how far behind the stream it is. The monitor also sees the lag as the durable consumer's
`num_pending` in /jsz."""

from __future__ import annotations

from prometheus_client import Gauge

from orderchat.services.framework.metrics import REGISTRY

LAST_APPLIED = Gauge(
    "orderchat_archive_last_applied_seq",
    "Highest stream sequence committed to the archive store, by source stream",
    ["source"],
    registry=REGISTRY,
)
PENDING = Gauge(
    "orderchat_archive_pending",
    "Stream messages not yet projected into the archive store, by source stream",
    ["source"],
    registry=REGISTRY,
)
