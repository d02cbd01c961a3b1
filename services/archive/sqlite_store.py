"""The embedded archive store: SQLite with FTS5, nothing to install or set up.

One writer thread (the projection) and a small pool of reader threads, each with its own
connection; WAL mode lets searches run while a batch is being written. Full-text tables are
FTS5 over the token strings of `tokens.py` (the unicode61 tokenizer keeps each token whole),
with positions, so a Chinese word is a phrase of its bigrams."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import sqlite3

from orderchat.schemas.search import ChatHit, OrderHit

from .records import (
    Batch,
    ConversationRecord,
    MemberLeft,
    OrderEventRecord,
    OrderLineRecord,
    OrderRecord,
)
from .store import (
    SOURCES,
    Filters,
    OrderExport,
    Scope,
    digest_of,
    from_micros,
    to_micros,
)
from .tokens import (
    CompiledQuery,
    order_line_tokens,
    order_visibility_tokens,
    scope_token,
    tenant_token,
)

T = TypeVar("T")

# Up to this many visible conversations, visibility is part of the full-text match (each
# conversation is a token of its messages); beyond it, a join on the members table.
MAX_SCOPE_TOKENS = 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    stream_seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, conv TEXT NOT NULL, seq INTEGER NOT NULL,
    sender TEXT NOT NULL, ts INTEGER NOT NULL, body_kind TEXT NOT NULL, text TEXT NOT NULL, order_id TEXT
);
CREATE INDEX IF NOT EXISTS messages_conv ON messages (tenant, conv, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5 (
    tokens, content='', columnsize=0, tokenize='unicode61 remove_diacritics 0'
);
CREATE TABLE IF NOT EXISTS conversations (
    tenant TEXT NOT NULL, conv TEXT NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at INTEGER NOT NULL, source_seq INTEGER NOT NULL,
    PRIMARY KEY (tenant, conv)
);
CREATE TABLE IF NOT EXISTS members (
    tenant TEXT NOT NULL, conv TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (tenant, conv, user)
);
CREATE INDEX IF NOT EXISTS members_user ON members (tenant, user, conv);
CREATE TABLE IF NOT EXISTS orders (
    tenant TEXT NOT NULL, order_id TEXT NOT NULL, erp_ref TEXT, buyer TEXT NOT NULL,
    supplier TEXT NOT NULL, state TEXT NOT NULL, revision INTEGER NOT NULL, currency TEXT NOT NULL,
    total TEXT, notes TEXT, created_at INTEGER, updated_at INTEGER NOT NULL, source_seq INTEGER NOT NULL,
    PRIMARY KEY (tenant, order_id)
);
CREATE INDEX IF NOT EXISTS orders_supplier ON orders (tenant, supplier, created_at);
CREATE TABLE IF NOT EXISTS order_lines (
    id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, order_id TEXT NOT NULL, line_id TEXT NOT NULL,
    sku TEXT NOT NULL, description TEXT NOT NULL, category TEXT, quantity TEXT NOT NULL,
    unit TEXT NOT NULL, unit_price TEXT, answer TEXT, UNIQUE (tenant, order_id, line_id)
);
CREATE VIRTUAL TABLE IF NOT EXISTS order_lines_fts USING fts5 (
    tokens, columnsize=0, tokenize='unicode61 remove_diacritics 0'
);
CREATE TABLE IF NOT EXISTS order_events (
    stream_seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, order_id TEXT NOT NULL,
    event TEXT NOT NULL, actor TEXT NOT NULL, ts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS order_events_order ON order_events (tenant, order_id, stream_seq);
"""

TABLES = ("meta", "cursors", "messages", "messages_fts", "conversations", "members", "orders",
          "order_lines", "order_lines_fts", "order_events")


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class SqliteStore:
    backend = "sqlite"
    shared = False  # a file of one archive instance's own

    def __init__(self, path: str | Path, readers: int = 2) -> None:
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="archive-sqlite-w")
        self._readers = self._writer if self.memory else ThreadPoolExecutor(readers, thread_name_prefix="archive-sqlite-r")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # -- plumbing --------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if not self.memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            if not self.memory:
                conn.execute("PRAGMA journal_mode = WAL")
                # The streams are the record of truth: a batch lost at power failure is
                # re-applied from them, so the store need not fsync every commit.
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA cache_size = -65536")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, lambda: fn(self._connection()))

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, lambda: fn(self._connection()))

    @staticmethod
    def _transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def open(self) -> None:
        await self._write(lambda c: c.executescript(SCHEMA))

    async def close(self) -> None:
        def close_all() -> None:
            with self._lock:
                for conn in self._connections:
                    conn.close()
                self._connections.clear()

        await self._write(lambda c: None)
        close_all()
        self._local = threading.local()
        self._writer.shutdown(wait=True)
        if self._readers is not self._writer:
            self._readers.shutdown(wait=True)

    async def drop(self) -> None:
        def drop(conn: sqlite3.Connection) -> None:
            for table in TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("VACUUM")
            conn.executescript(SCHEMA)

        await self._write(drop)

    async def refresh_statistics(self) -> None:
        """Planner statistics after a bulk load (SQLite's own advice: PRAGMA optimize)."""
        await self._write(lambda c: c.execute("PRAGMA optimize"))

    async def get_meta(self, key: str) -> str | None:
        row = await self._read(lambda c: c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone())
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(lambda c: c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)))

    async def last_applied(self, source: str) -> int:
        row = await self._read(lambda c: c.execute("SELECT last_seq FROM cursors WHERE source = ?", (source,)).fetchone())
        return int(row[0]) if row else 0

    # -- writing ---------------------------------------------------------------------------

    async def apply(self, batch: Batch) -> None:
        await self._write(lambda c: self._transaction(c, lambda conn: self._apply(conn, batch)))

    def _apply(self, conn: sqlite3.Connection, batch: Batch) -> None:
        self._apply_memberships(conn, batch.memberships)
        self._apply_messages(conn, batch)
        self._apply_order_events(conn, batch.order_events)
        conn.execute(
            "INSERT INTO cursors (source, last_seq) VALUES (?, ?) "
            "ON CONFLICT (source) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
            (batch.source, batch.last_seq),
        )

    def _apply_messages(self, conn: sqlite3.Connection, batch: Batch) -> None:
        if not batch.messages:
            return
        seqs = [m.stream_seq for m in batch.messages]
        present = {
            row[0]
            for row in conn.execute(
                "SELECT stream_seq FROM messages WHERE stream_seq BETWEEN ? AND ?", (min(seqs), max(seqs))
            )
        }
        fresh = [m for m in batch.messages if m.stream_seq not in present]
        conn.executemany(
            "INSERT INTO messages (stream_seq, tenant, conv, seq, sender, ts, body_kind, text, order_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(m.stream_seq, m.tenant, m.conv, m.seq, m.sender, to_micros(m.ts), m.body_kind, m.text, m.order_id) for m in fresh],
        )
        conn.executemany(
            "INSERT INTO messages_fts (rowid, tokens) VALUES (?, ?)",
            [(m.stream_seq, " ".join(m.tokens)) for m in fresh],
        )

    def _newer(self, conn: sqlite3.Connection, tenant: str, conv: str, stream_seq: int) -> bool:
        row = conn.execute("SELECT source_seq FROM conversations WHERE tenant = ? AND conv = ?", (tenant, conv)).fetchone()
        return row is None or row[0] < stream_seq

    def _apply_memberships(self, conn: sqlite3.Connection, memberships: Iterable[ConversationRecord | MemberLeft]) -> None:
        for change in memberships:
            if not self._newer(conn, change.tenant, change.conv, change.stream_seq):
                continue  # an older announcement, redelivered after a newer one
            if isinstance(change, MemberLeft):
                conn.execute("DELETE FROM members WHERE tenant = ? AND conv = ? AND user = ?", (change.tenant, change.conv, change.user))
                conn.execute("UPDATE conversations SET source_seq = ? WHERE tenant = ? AND conv = ?", (change.stream_seq, change.tenant, change.conv))
                continue
            conn.execute(
                "INSERT OR REPLACE INTO conversations (tenant, conv, kind, title, created_by, created_at, source_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (change.tenant, change.conv, change.kind, change.title, change.created_by, to_micros(change.created_at), change.stream_seq),
            )
            conn.execute("DELETE FROM members WHERE tenant = ? AND conv = ?", (change.tenant, change.conv))
            conn.executemany(
                "INSERT INTO members (tenant, conv, user, role) VALUES (?, ?, ?, ?)",
                [(change.tenant, change.conv, user, role) for user, role in change.members],
            )

    def _apply_order_events(self, conn: sqlite3.Connection, events: list[OrderEventRecord]) -> None:
        for event in events:
            cur = conn.execute(
                "INSERT OR IGNORE INTO order_events (stream_seq, tenant, order_id, event, actor, ts) VALUES (?, ?, ?, ?, ?, ?)",
                (event.stream_seq, event.tenant, event.order_id, event.event, event.actor, to_micros(event.ts)),
            )
            if cur.rowcount:
                self._fold(conn, event)

    def _fold(self, conn: sqlite3.Connection, event: OrderEventRecord) -> None:
        """The order's row after `event`: terms replace it, answers mark lines, any event moves
        state, revision and time. An event older than the row is ignored (redelivery)."""
        row = conn.execute(
            "SELECT source_seq FROM orders WHERE tenant = ? AND order_id = ?", (event.tenant, event.order_id)
        ).fetchone()
        if row is not None and row[0] >= event.stream_seq:
            return
        if event.terms is not None:
            self._put_terms(conn, event, row is None)
        elif row is None:
            return  # an order whose creation this store never saw (a stream cut before it)
        conn.execute(
            "UPDATE orders SET state = ?, revision = ?, updated_at = ?, source_seq = ? WHERE tenant = ? AND order_id = ?",
            (event.state, event.revision, to_micros(event.ts), event.stream_seq, event.tenant, event.order_id),
        )
        for line_id, answer in event.answers or ():
            conn.execute(
                "UPDATE order_lines SET answer = ? WHERE tenant = ? AND order_id = ? AND line_id = ?",
                (answer, event.tenant, event.order_id, line_id),
            )

    def _put_terms(self, conn: sqlite3.Connection, event: OrderEventRecord, new: bool) -> None:
        terms = event.terms
        assert terms is not None
        key = (event.tenant, event.order_id)
        if new:
            conn.execute(
                "INSERT INTO orders (tenant, order_id, erp_ref, buyer, supplier, state, revision, currency, total, "
                "notes, created_at, updated_at, source_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, terms.erp_ref, terms.buyer, terms.supplier, event.state, event.revision, terms.currency,
                 _dec(terms.total()), terms.notes, to_micros(event.ts), to_micros(event.ts), event.stream_seq),
            )
        else:
            conn.execute(
                "UPDATE orders SET erp_ref = ?, buyer = ?, supplier = ?, currency = ?, total = ?, notes = ? "
                "WHERE tenant = ? AND order_id = ?",
                (terms.erp_ref, terms.buyer, terms.supplier, terms.currency, _dec(terms.total()), terms.notes, *key),
            )
        old = [r[0] for r in conn.execute("SELECT id FROM order_lines WHERE tenant = ? AND order_id = ?", key)]
        if old:
            conn.executemany("DELETE FROM order_lines_fts WHERE rowid = ?", [(i,) for i in old])
            conn.execute("DELETE FROM order_lines WHERE tenant = ? AND order_id = ?", key)
        created = from_micros(conn.execute("SELECT created_at FROM orders WHERE tenant = ? AND order_id = ?", key).fetchone()[0])
        for line in terms.lines:
            cur = conn.execute(
                "INSERT INTO order_lines (tenant, order_id, line_id, sku, description, category, quantity, unit, unit_price, answer) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, line.line_id, line.sku, line.description, line.category,
                 str(line.quantity), line.unit, _dec(line.unit_price), line.answer),
            )
            conn.execute(
                "INSERT INTO order_lines_fts (rowid, tokens) VALUES (?, ?)",
                (cur.lastrowid, " ".join(order_line_tokens(event.tenant, terms.supplier, line.category, created, terms.line_text(event.order_id, line)))),
            )

    # -- searching -------------------------------------------------------------------------

    async def positions(self, tenant: str, conv: str, first: int, last: int) -> list[tuple[int, int]]:
        def query(conn: sqlite3.Connection) -> list[tuple[int, int]]:
            return conn.execute(
                "SELECT seq, stream_seq FROM messages WHERE tenant = ? AND conv = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                (tenant, conv, first, last),
            ).fetchall()

        return await self._read(query)

    async def search_chat(self, query: CompiledQuery, scope: Scope, filters: Filters) -> list[ChatHit]:
        return await self._read(lambda c: self._search_chat(c, query, scope, filters))

    def _visible_convs(self, conn: sqlite3.Connection, scope: Scope, supplier: str | None, cap: int) -> list[str] | None:
        """The caller's conversations (with `supplier` in them, if given); None when more than `cap`."""
        sql = "SELECT m.conv FROM members m WHERE m.tenant = ? AND m.user = ?"
        args: list[Any] = [scope.tenant, scope.user]
        if supplier:
            sql += " AND EXISTS (SELECT 1 FROM members s WHERE s.tenant = m.tenant AND s.conv = m.conv AND s.user = ?)"
            args.append(supplier)
        rows = conn.execute(sql + " LIMIT ?", (*args, cap + 1)).fetchall()
        return None if len(rows) > cap else [r[0] for r in rows]

    def _search_chat(self, conn: sqlite3.Connection, query: CompiledQuery, scope: Scope, filters: Filters) -> list[ChatHit]:
        convs = self._visible_convs(conn, scope, filters.supplier, MAX_SCOPE_TOKENS)
        where = ["messages_fts MATCH ?", "m.tenant = ?"]
        if convs is not None:
            if not convs:
                return []
            args: list[Any] = [query.fts5([[scope_token(scope.tenant, c) for c in convs]]), scope.tenant]
        else:
            args = [query.fts5([[tenant_token(scope.tenant)]]), scope.tenant]
            where.append("EXISTS (SELECT 1 FROM members v WHERE v.tenant = m.tenant AND v.conv = m.conv AND v.user = ?)")
            args.append(scope.user)
            if filters.supplier:
                where.append("EXISTS (SELECT 1 FROM members s WHERE s.tenant = m.tenant AND s.conv = m.conv AND s.user = ?)")
                args.append(filters.supplier)
        if filters.since:
            where.append("m.ts >= ?")
            args.append(to_micros(filters.since))
        if filters.until:
            where.append("m.ts < ?")
            args.append(to_micros(filters.until))
        sql = (
            "SELECT m.stream_seq, m.conv, m.seq, m.sender, m.ts, m.body_kind, m.text, m.order_id, "
            "coalesce(c.title, '') FROM messages_fts f CROSS JOIN messages m ON m.stream_seq = f.rowid "
            "LEFT JOIN conversations c ON c.tenant = m.tenant AND c.conv = m.conv "
            f"WHERE {' AND '.join(where)} ORDER BY f.rowid DESC LIMIT ?"
        )
        rows = conn.execute(sql, (*args, filters.limit)).fetchall()
        return [
            ChatHit(
                stream_seq=r[0], conv=r[1], seq=r[2], sender=r[3], ts=from_micros(r[4]), body_kind=r[5],
                text=r[6], order_id=r[7], conv_title=r[8],
            )
            for r in rows
        ]

    async def search_orders(self, query: CompiledQuery, scope: Scope, filters: Filters) -> list[OrderHit]:
        return await self._read(lambda c: self._search_orders(c, query, scope, filters))

    def _search_orders(self, conn: sqlite3.Connection, query: CompiledQuery, scope: Scope, filters: Filters) -> list[OrderHit]:
        where = ["order_lines_fts MATCH ?", "o.tenant = ?"]
        required = order_visibility_tokens(
            scope.tenant, scope.user if scope.is_supplier else None, scope.categories, filters.supplier
        )
        args: list[Any] = [query.fts5(required), scope.tenant]
        where_visible, visible_args = order_visibility(scope, "o", "l")
        where += where_visible
        args += visible_args
        if filters.supplier:
            where.append("o.supplier = ?")
            args.append(filters.supplier)
        if filters.since:
            where.append("o.updated_at >= ?")
            args.append(to_micros(filters.since))
        if filters.until:
            where.append("o.updated_at < ?")
            args.append(to_micros(filters.until))
        sql = (
            "SELECT o.order_id, o.erp_ref, o.buyer, o.supplier, o.state, o.updated_at, l.line_id, l.sku, "
            "l.description, l.category, l.quantity, l.unit, l.unit_price "
            "FROM order_lines_fts f CROSS JOIN order_lines l ON l.id = f.rowid "
            "JOIN orders o ON o.tenant = l.tenant AND o.order_id = l.order_id "
            f"WHERE {' AND '.join(where)} ORDER BY f.rowid DESC LIMIT ?"
        )
        rows = conn.execute(sql, (*args, filters.limit)).fetchall()
        return [
            OrderHit(
                order_id=r[0], erp_ref=r[1], buyer=r[2], supplier=r[3], state=r[4], ts=from_micros(r[5]),
                line_id=r[6], sku=r[7], description=r[8], category=r[9], quantity=Decimal(r[10]), unit=r[11],
                unit_price=_undec(r[12]),
            )
            for r in rows
        ]

    # -- export ----------------------------------------------------------------------------

    async def export_orders(self, scope: Scope, supplier: str, start, end, after: str | None, limit: int) -> list[OrderExport]:
        return await self._read(lambda c: self._export(c, scope, supplier, start, end, after, limit))

    def _export(self, conn: sqlite3.Connection, scope: Scope, supplier: str, start, end, after, limit) -> list[OrderExport]:
        orders = conn.execute(
            "SELECT order_id, erp_ref, buyer, supplier, state, revision, currency, total, notes, created_at, "
            "updated_at, source_seq FROM orders o WHERE tenant = ? AND supplier = ? AND created_at >= ? "
            "AND created_at < ? AND order_id > ? ORDER BY order_id LIMIT ?",
            (scope.tenant, supplier, to_micros(start), to_micros(end), after or "", limit),
        ).fetchall()
        result = []
        line_filter, line_args = order_visibility(scope, "o", "l")
        for o in orders:
            lines = conn.execute(
                "SELECT l.line_id, l.sku, l.description, l.category, l.quantity, l.unit, l.unit_price, l.answer "
                "FROM order_lines l JOIN orders o ON o.tenant = l.tenant AND o.order_id = l.order_id "
                f"WHERE l.tenant = ? AND l.order_id = ? {''.join(' AND ' + w for w in line_filter)} ORDER BY l.id",
                (scope.tenant, o[0], *line_args),
            ).fetchall()
            events = conn.execute(
                "SELECT stream_seq, event, actor, ts FROM order_events WHERE tenant = ? AND order_id = ? ORDER BY stream_seq",
                (scope.tenant, o[0]),
            ).fetchall()
            record = OrderRecord(
                tenant=scope.tenant, order_id=o[0], erp_ref=o[1], buyer=o[2], supplier=o[3],
                state=o[4], revision=o[5], currency=o[6], total=_undec(o[7]), notes=o[8],
                created_at=from_micros(o[9]) if o[9] is not None else None, updated_at=from_micros(o[10]),
                lines=tuple(
                    OrderLineRecord(l[0], l[1], l[2], l[3], Decimal(l[4]), l[5], _undec(l[6]), l[7]) for l in lines
                ),
            )
            result.append(
                OrderExport(
                    order=record,
                    events=tuple(OrderEventRecord(e[0], scope.tenant, o[0], e[1], e[2], from_micros(e[3])) for e in events),
                )
            )
        return result

    # -- rebuild check ---------------------------------------------------------------------

    async def digest(self) -> str:
        def dump(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
            return {
                "cursors": conn.execute("SELECT source, last_seq FROM cursors WHERE source IN (?, ?) ORDER BY source", SOURCES).fetchall(),
                "messages": [
                    (*r[:5], from_micros(r[5]), *r[6:])
                    for r in conn.execute("SELECT stream_seq, tenant, conv, seq, sender, ts, body_kind, text, order_id FROM messages ORDER BY stream_seq")
                ],
                "conversations": [
                    (*r[:5], from_micros(r[5]), r[6])
                    for r in conn.execute("SELECT tenant, conv, kind, title, created_by, created_at, source_seq FROM conversations ORDER BY tenant, conv")
                ],
                "members": conn.execute("SELECT tenant, conv, user, role FROM members ORDER BY tenant, conv, user").fetchall(),
                "orders": [
                    (*r[:8], _undec(r[8]), r[9], from_micros(r[10]) if r[10] is not None else None, from_micros(r[11]), r[12])
                    for r in conn.execute(
                        "SELECT tenant, order_id, erp_ref, buyer, supplier, state, revision, currency, total, notes, "
                        "created_at, updated_at, source_seq FROM orders ORDER BY tenant, order_id"
                    )
                ],
                "order_lines": [
                    (*r[:7], Decimal(r[7]), r[8], _undec(r[9]), r[10])
                    for r in conn.execute(
                        "SELECT tenant, order_id, line_id, sku, description, category, '', quantity, unit, unit_price, answer "
                        "FROM order_lines ORDER BY tenant, order_id, line_id"
                    )
                ],
                "order_events": [
                    (*r[:5], from_micros(r[5]))
                    for r in conn.execute("SELECT stream_seq, tenant, order_id, event, actor, ts FROM order_events ORDER BY stream_seq")
                ],
            }

        return digest_of(await self._read(dump))


def order_visibility(scope: Scope, orders: str, lines: str) -> tuple[list[str], list[Any]]:
    """SQL conditions (SQLite placeholders) limiting order lines to what `scope` may see."""
    if not scope.is_supplier:
        return [], []
    where = [f"{orders}.supplier = ?"]
    args: list[Any] = [scope.user]
    if scope.categories:
        where.append(f"{lines}.category IN ({', '.join('?' for _ in scope.categories)})")
        args += list(scope.categories)
    return where, args
