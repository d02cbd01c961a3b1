"""A supplier's month for a spreadsheet: rows from the archive, written as CSV or XLSX.

Timings come from the order's event log: `sent` (the card is in the conversation), the first
`seen` after it (the supplier's read cursor passed the card) and the supplier's first answer
(`confirmed`, `changes_proposed` or `rejected`). An answer with no `seen` before it counts as
the read too (answering implies reading), as the supplier statistics count it, so the two
reports agree on the same order."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime, tzinfo
from decimal import Decimal

from orderchat.schemas.search import ExportRow

from .store import OrderExport

ANSWERS = frozenset({"confirmed", "changes_proposed", "rejected"})


def _first(events: Iterable, kinds: frozenset[str], after: datetime | None, actor: str | None = None) -> datetime | None:
    for event in events:
        if event.event in kinds and (after is None or event.ts >= after) and (actor is None or event.actor == actor):
            return event.ts
    return None


def rows_of(export: OrderExport) -> list[ExportRow]:
    order = export.order
    sent = _first(export.events, frozenset({"sent"}), None)
    answered = _first(export.events, ANSWERS, sent, order.supplier) if sent else None
    read = (_first(export.events, frozenset({"seen"}), sent) if sent else None) or answered
    common = dict(
        order_id=order.order_id, erp_ref=order.erp_ref, buyer=order.buyer, supplier=order.supplier,
        state=order.state, currency=order.currency, created_at=order.created_at, sent_at=sent, read_at=read,
        answered_at=answered,
        time_to_read_s=(read - sent).total_seconds() if sent and read else None,
        time_to_answer_s=(answered - sent).total_seconds() if sent and answered else None,
        order_total=order.total,
    )
    if not order.lines:
        return [ExportRow(**common)]
    return [
        ExportRow(
            **common, line_id=line.line_id, sku=line.sku, description=line.description, category=line.category,
            quantity=line.quantity, unit=line.unit, unit_price=line.unit_price,
            line_amount=line.quantity * line.unit_price if line.unit_price is not None else None,
            line_answer=line.answer,
        )
        for line in order.lines
    ]


# (header, field) in the order a shop owner reads them.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Order", "order_id"),
    ("ERP ref", "erp_ref"),
    ("State", "state"),
    ("Buyer", "buyer"),
    ("Supplier", "supplier"),
    ("Created", "created_at"),
    ("Sent", "sent_at"),
    ("Read", "read_at"),
    ("Answered", "answered_at"),
    ("Minutes to read", "time_to_read_s"),
    ("Minutes to answer", "time_to_answer_s"),
    ("Line", "line_id"),
    ("SKU", "sku"),
    ("Description", "description"),
    ("Category", "category"),
    ("Quantity", "quantity"),
    ("Unit", "unit"),
    ("Unit price", "unit_price"),
    ("Line amount", "line_amount"),
    ("Line answer", "line_answer"),
    ("Order total", "order_total"),
    ("Currency", "currency"),
)
DURATIONS = {"time_to_read_s", "time_to_answer_s"}


def cell(row: ExportRow, field: str, tz: tzinfo) -> object:
    """A value as a spreadsheet shows it: local wall-clock times, minutes, plain numbers."""
    value = getattr(row, field)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(tzinfo=None, microsecond=0)
    if field in DURATIONS:
        return round(value / 60, 1)
    return value


def to_csv(rows: list[ExportRow], tz: tzinfo) -> bytes:
    """UTF-8 with a byte order mark, so Excel shows Chinese text correctly when it opens it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for header, _ in COLUMNS])
    for row in rows:
        values = []
        for _, field in COLUMNS:
            value = cell(row, field, tz)
            if isinstance(value, datetime):
                value = value.strftime("%Y-%m-%d %H:%M:%S")
            values.append("" if value is None else str(value))
        writer.writerow(values)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(rows: list[ExportRow], tz: tzinfo, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([header for header, _ in COLUMNS])
    for c in sheet[1]:
        c.font = Font(bold=True)
    for row in rows:
        sheet.append([_xlsx_value(cell(row, field, tz)) for _, field in COLUMNS])
    for index, (header, field) in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        width = max([len(header)] + [len(str(c.value or "")) for c in sheet[letter][1:200]])
        sheet.column_dimensions[letter].width = min(max(width + 2, 8), 60)
        for c in sheet[letter][1:]:
            if field.endswith("_at"):
                c.number_format = "yyyy-mm-dd hh:mm"
            elif field in ("unit_price", "line_amount", "order_total"):
                c.number_format = "#,##0.00"
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(value: object) -> object:
    # Spreadsheets compute with numbers, not text: amounts and quantities go in as numbers.
    return float(value) if isinstance(value, Decimal) else value
