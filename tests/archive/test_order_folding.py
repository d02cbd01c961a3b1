"""Order events folded a whole batch at a time (PostgreSQL writes a batch in bulk) leave the
same store as the event-by-event SQLite fold: terms replaced twice in one batch, answers
before and after a replacement, an event for an order never created, a redelivered batch and
a batch that ends mid-way through an order. Compared by digest and by what search finds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from orderchat.schemas.users import PartyRole
from orderchat.services.archive.records import Batch, OrderEventRecord, OrderLineRecord, OrderTermsRecord
from orderchat.services.archive.store import Filters, Scope, open_store
from orderchat.services.archive.tokens import compile_query

TENANT = "fold"
T0 = datetime(2025, 3, 3, 9, tzinfo=timezone.utc)


def line(line_id: str, description: str, category: str = "Paper") -> OrderLineRecord:
    return OrderLineRecord(line_id, f"SKU-{line_id}", description, category, Decimal(3), "box", Decimal("12.50"), None)


def event(seq: int, order_id: str, name: str, state: str, terms: OrderTermsRecord | None = None,
          answers: tuple[tuple[str, str], ...] | None = None, revision: int = 1) -> OrderEventRecord:
    return OrderEventRecord(seq, TENANT, order_id, name, "lin", T0 + timedelta(minutes=seq), state, revision, terms, answers)


FIRST = OrderTermsRecord("P1", "lin", "pens", "CNY", None, (line("1", "A4复印纸"), line("2", "蓝色中性笔", "Pens")))
SECOND = OrderTermsRecord("P1b", "lin", "pens", "CNY", "加急", (line("1", "A3打印纸"), line("3", "订书机", "Office")))
OTHER = OrderTermsRecord("P2", "lin", "paper", "CNY", None, (line("1", "B5笔记本", "Notebooks"),))

BATCHES = [
    [
        event(1, "po-1", "created", "draft", FIRST),
        event(2, "po-2", "created", "draft", OTHER),
        event(3, "po-1", "answered", "seen", answers=(("1", "accepted"), ("2", "rejected"))),
        event(4, "po-9", "sent", "sent"),  # an order whose creation was never seen
        event(5, "po-1", "revised", "draft", SECOND, revision=2),
        event(6, "po-1", "answered", "confirmed", answers=(("3", "accepted"), ("2", "accepted")), revision=2),
        event(7, "po-2", "answered", "seen", answers=(("1", "accepted"),)),
    ],
    [
        event(8, "po-2", "revised", "draft", OTHER, revision=2),  # replaces the answered line
        event(9, "po-2", "confirmed", "confirmed", revision=2),
        event(10, "po-1", "answered", "confirmed", answers=(("1", "rejected"),), revision=2),
    ],
]


async def fill(url: str) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]]:
    store = open_store(url)
    await store.open()
    try:
        for events in (*BATCHES, BATCHES[0]):  # the last one is a redelivery
            await store.apply(Batch("orders", events[-1].stream_seq, order_events=list(events)))
        buyer = Scope(TENANT, "lin", PartyRole.BUYER)
        found = [(h.order_id, h.line_id) for h in await store.search_orders(compile_query("SKU-1"), buyer, Filters())]
        assert await store.search_orders(compile_query("中性笔"), buyer, Filters()) == []  # po-1's first terms are gone
        pens = Scope(TENANT, "pens", PartyRole.SUPPLIER, ("Office",))
        scoped = [(h.order_id, h.line_id) for h in await store.search_orders(compile_query("订书机"), pens, Filters())]
        exported = await store.export_orders(buyer, "pens", T0 - timedelta(days=1), T0 + timedelta(days=1), None, 10)
        assert [(line.line_id, line.answer) for line in exported[0].order.lines] == [("1", "rejected"), ("3", "accepted")]
        assert (exported[0].order.state, exported[0].order.revision, exported[0].order.notes) == ("confirmed", 2, "加急")
        return await store.digest(), found, scoped
    finally:
        await store.close()


async def test_a_batch_folds_order_events_as_one_by_one_does(pg_url: str, tmp_path: Path) -> None:
    sqlite = await fill(f"sqlite://{tmp_path / 'fold.sqlite3'}")
    postgres = await fill(pg_url)
    assert sqlite == postgres
    assert sqlite[1] == [("po-2", "1"), ("po-1", "3"), ("po-1", "1")]  # newest lines first ("1" is in "po-1")
    assert sqlite[2] == [("po-1", "3")]
