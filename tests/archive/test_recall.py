"""Recall and precision of search on a fixture of ~190 stationery messages and order lines in
Chinese, English and mixed text, each labelled with the products it mentions, on both store
backends; compared with plain substring matching (what SQLite's FTS5 `trigram` tokenizer and
PostgreSQL's pg_trgm `ILIKE '%q%'` give)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from orderchat.schemas.users import PartyRole
from orderchat.services.archive.records import (
    Batch,
    ConversationRecord,
    MessageRecord,
    OrderEventRecord,
    OrderLineRecord,
    OrderTermsRecord,
)
from orderchat.services.archive.store import ArchiveStore, Filters, Scope
from orderchat.services.archive.tokens import compile_query, normalize

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "stationery.json").read_text())
TENANT = "recall"
T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


def relevant(query: dict) -> set[str]:
    return {
        d["id"] for d in FIXTURE["documents"]
        if d["lang"] in query["langs"] and set(d["concepts"]) & set(query["concepts"])
    }


def fixture_batch() -> Batch:
    """Chat documents as messages of one conversation, order documents as one-line orders."""
    batch = Batch(source="chat", last_seq=0)
    batch.memberships.append(
        ConversationRecord(1, TENANT, "dm_lin_paper", "direct", "", "lin", T0, (("lin", "buyer"), ("paper", "supplier")))
    )
    for i, doc in enumerate(FIXTURE["documents"], start=2):
        ts = T0 + timedelta(minutes=i)
        if doc["kind"] == "chat":
            batch.messages.append(MessageRecord(i, TENANT, "dm_lin_paper", i, "lin", ts, "text", doc["text"]))
        else:
            line = OrderLineRecord("1", f"SKU-{i}", doc["text"], None, Decimal(5), "box", Decimal("12.50"), None)
            terms = OrderTermsRecord(None, "lin", "paper", "CNY", None, (line,))
            batch.order_events.append(OrderEventRecord(i, TENANT, doc["id"], "created", "lin", ts, "sent", 1, terms))
    batch.last_seq = len(FIXTURE["documents"]) + 1
    return batch


async def found_ids(store: ArchiveStore, text: str) -> set[str]:
    by_seq = {i: d["id"] for i, d in enumerate(FIXTURE["documents"], start=2)}
    query = compile_query(text)
    scope = Scope(TENANT, "lin", PartyRole.BUYER)
    filters = Filters(limit=200)
    chat = await store.search_chat(query, scope, filters)
    orders = await store.search_orders(query, scope, filters)
    return {by_seq[h.stream_seq] for h in chat} | {h.order_id for h in orders}


def substring_baseline(text: str) -> set[str]:
    """FTS5 trigram over the normalized text: substring matching, 3+ characters."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(id UNINDEXED, body, tokenize='trigram')")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(d["id"], normalize(d["text"])) for d in FIXTURE["documents"]])
    needle = normalize(text)
    if len(needle) < 3:  # the trigram index cannot serve it: LIKE scans every row
        rows = db.execute("SELECT id FROM t WHERE body LIKE ?", (f"%{needle}%",)).fetchall()
    else:
        rows = db.execute("SELECT id FROM t WHERE t MATCH ?", ('"' + needle.replace('"', '""') + '"',)).fetchall()
    return {r[0] for r in rows}


def scores(found: set[str], wanted: set[str]) -> tuple[float, float]:
    hit = len(found & wanted)
    return hit / len(wanted), (hit / len(found) if found else 1.0)


async def test_recall_and_precision_on_the_stationery_fixture(store: ArchiveStore, capsys: pytest.CaptureFixture[str]) -> None:
    await store.apply(fixture_batch())
    lines, total_hit, total_wanted, total_found = [], 0, 0, 0
    base_hit = 0
    worst: list[tuple[float, float, str]] = []
    texts = {d["id"]: d["text"] for d in FIXTURE["documents"]}
    for query in FIXTURE["queries"]:
        wanted = relevant(query)
        assert wanted, f"the fixture has no relevant documents for {query['query']!r}"
        found = await found_ids(store, query["query"])
        baseline = substring_baseline(query["query"])
        recall, precision = scores(found, wanted)
        base_recall, _ = scores(baseline, wanted)
        total_hit += len(found & wanted)
        total_wanted += len(wanted)
        total_found += len(found)
        base_hit += len(baseline & wanted)
        lines.append(
            f"{query['query']:<14} recall {recall:.2f} precision {precision:.2f} (substring recall {base_recall:.2f})"
            + (f" missed {[texts[i] for i in sorted(wanted - found)]}" if wanted - found else "")
            + (f" wrong {[texts[i] for i in sorted(found - wanted)]}" if found - wanted else "")
        )
        worst.append((recall, precision, query["query"]))
    recall, precision = total_hit / total_wanted, total_hit / total_found
    base_recall = base_hit / total_wanted
    with capsys.disabled():
        print(f"\n[{store.backend}] overall recall {recall:.3f} precision {precision:.3f} "
              f"(substring/trigram recall {base_recall:.3f})\n  " + "\n  ".join(lines))
    # Synonyms (便签纸 for 便利贴, Post-it for sticky notes) are out of reach of any lexical
    # index, and the fixture keeps them: recall below 1 is measured, not hidden.
    assert min(worst)[0] >= 0.5, f"a query found too little: {min(worst)}"
    assert min(w[1] for w in worst) >= 0.9, f"a query found wrong documents: {worst}"
    assert recall >= 0.9 and precision >= 0.97
    assert recall > base_recall, "word-order-free search should beat plain substring matching"


async def test_both_backends_find_the_same_documents(pg_url: str, tmp_path: Path) -> None:
    """The same tokens in both backends: the same documents for every fixture query."""
    from orderchat.services.archive.store import open_store

    results = []
    for url in (f"sqlite://{tmp_path / 'same.sqlite3'}", pg_url):
        store = open_store(url)
        await store.open()
        try:
            await store.apply(fixture_batch())
            results.append({q["query"]: await found_ids(store, q["query"]) for q in FIXTURE["queries"]})
        finally:
            await store.close()
    assert results[0] == results[1]
