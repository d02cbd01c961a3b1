"""`orderchat suppliers stats`: per-supplier figures computed from the ORDERS event log."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from orderchat.schemas.orders import EventType, OrderState

from .cli import orderchat, orderchat_json
from .conftest import OrderLog

T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=5)


async def _order(js, tenant, order_id, supplier, amount, read_after, answer_after, answer: EventType | None):
    log = OrderLog(js, tenant, order_id, supplier=supplier, amount=amount)
    await log.emit(EventType.CREATED, OrderState.DRAFT, at=T0)
    await log.emit(EventType.SENT, OrderState.SENT, at=T0)
    if read_after is not None:
        await log.emit(EventType.SEEN, OrderState.SEEN, actor=supplier, at=T0 + timedelta(seconds=read_after))
    if answer is not None:
        state = {EventType.CONFIRMED: OrderState.CONFIRMED, EventType.REJECTED: OrderState.REJECTED,
                 EventType.CHANGES_PROPOSED: OrderState.CHANGES_PROPOSED}[answer]
        await log.emit(answer, state, actor=supplier, at=T0 + timedelta(seconds=answer_after))


async def test_supplier_stats_from_the_event_log(ops_server, ops_nc, tenant):
    js = ops_nc.jetstream()
    # paper: read after 60/120/300 s, answers: confirm, changes, reject; pens: one unanswered order.
    await _order(js, tenant, "a1", "paper", "10", 60, 600, EventType.CONFIRMED)
    await _order(js, tenant, "a2", "paper", "20", 120, 1200, EventType.CHANGES_PROPOSED)
    await _order(js, tenant, "a3", "paper", "30", 300, 1800, EventType.REJECTED)
    await _order(js, tenant, "b1", "pens", "5", None, None, None)

    month = T0.strftime("%Y-%m")
    rows = await orderchat_json("--nats-url", ops_server.url, "--tenant", tenant, "suppliers", "stats", "--month", month, "--json")
    by = {r["supplier"]: r for r in rows}
    paper = by["paper"]
    assert paper["orders"] == 3 and paper["answered"] == 3 and {c: Decimal(v) for c, v in paper["amount"].items()} == {"CNY": Decimal(60)}
    assert paper["read_median_s"] == 120 and paper["read_p90_s"] == 264  # inclusive p90 of 60,120,300
    assert paper["answer_median_s"] == 1200 and paper["answer_p90_s"] == 1680
    assert abs(paper["change_rate"] - 1 / 3) < 1e-9 and abs(paper["reject_rate"] - 1 / 3) < 1e-9
    assert by["pens"]["orders"] == 1 and by["pens"]["answered"] == 0 and by["pens"]["read_median_s"] is None

    result = await orderchat("--nats-url", ops_server.url, "--tenant", tenant, "suppliers", "stats", "--month", month, "--csv")
    table = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["supplier"] for r in table] == ["paper", "pens"]
    assert table[0]["read_median_s"] == "120.0" and table[0]["change_rate"] == "0.333"

    # Another month has none of these orders.
    empty = await orderchat_json("--nats-url", ops_server.url, "--tenant", tenant, "suppliers", "stats", "--month", "2001-01", "--json")
    assert empty == []
