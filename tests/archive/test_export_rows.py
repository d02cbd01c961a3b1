"""Export timings from an order's event log, against what the supplier statistics count."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from orderchat.services.archive.export import rows_of
from orderchat.services.archive.records import OrderEventRecord, OrderLineRecord, OrderRecord
from orderchat.services.archive.store import OrderExport

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def export_of(*events: tuple[str, str, int]) -> OrderExport:
    line = OrderLineRecord("1", "A4-70G", "A4 paper", "Paper", Decimal(10), "pack", Decimal("12.5"), "accepted")
    order = OrderRecord("shop", "o-1", None, "lin", "paper", "confirmed", 2, "CNY", Decimal(125), None, T0, T0, (line,))
    log = tuple(
        OrderEventRecord(i + 1, "shop", "o-1", kind, actor, T0 + timedelta(minutes=minute))
        for i, (kind, actor, minute) in enumerate(events)
    )
    return OrderExport(order, log)


def test_the_read_is_the_first_seen_after_the_card_was_sent():
    [row] = rows_of(export_of(("created", "lin", 0), ("sent", "lin", 1), ("seen", "paper", 4), ("confirmed", "paper", 9)))
    assert (row.time_to_read_s, row.time_to_answer_s) == (180, 480)


def test_an_answer_without_a_seen_counts_as_the_read():
    # The supplier answered from a card it never scrolled past (or its read receipt was
    # coalesced into the answer): the statistics count the answer as the read; so does the export.
    [row] = rows_of(export_of(("created", "lin", 0), ("sent", "lin", 1), ("confirmed", "paper", 6)))
    assert row.read_at == T0 + timedelta(minutes=6) and (row.time_to_read_s, row.time_to_answer_s) == (300, 300)


def test_an_order_not_yet_read_or_answered_has_no_timings():
    [row] = rows_of(export_of(("created", "lin", 0), ("sent", "lin", 1)))
    assert (row.read_at, row.time_to_read_s, row.answered_at) == (None, None, None)
