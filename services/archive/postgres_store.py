"""The archive store on PostgreSQL (asyncpg), for production and for several archive instances
sharing one database.

Full text is a `tsvector` built from the same tokens as the SQLite backend (`tokens.py`),
written as a tsvector literal with positions, so PostgreSQL's own parser never re-splits
Chinese; a GIN index serves `@@` with `<->` phrases. The URL may name a schema
(`postgresql://host/db?schema=archive`) so that several stores share one database."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from orderchat.schemas.search import ChatHit, OrderHit

from .records import (
    Batch,
    ConversationRecord,
    MemberLeft,
    OrderEventRecord,
    OrderLineRecord,
    OrderRecord,
    OrderTermsRecord,
)
from .sqlite_store import MAX_SCOPE_TOKENS
from .store import SOURCES, Filters, OrderExport, Scope, digest_of
from .tokens import (
    CompiledQuery,
    order_line_tokens,
    order_visibility_tokens,
    scope_token,
    week_of,
    week_start,
    week_token,
)

SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MAX_POSITION = 16383  # PostgreSQL keeps positions up to this; later ones share it

# GIN indexes take new rows into a pending list first and fold it into the index when it
# outgrows this; every search reads the whole list. At the default 4 MB that reading was most
# of a search's time (500 pages, 5 ms for a word that matches nothing); 512 kB keeps the
# batched insert and costs a search well under a millisecond.
GIN_PENDING_KB = 512

TABLES = ("meta", "cursors", "messages", "conversations", "members", "orders", "order_lines", "order_events")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (source text PRIMARY KEY, last_seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    stream_seq bigint PRIMARY KEY, tenant text NOT NULL, conv text NOT NULL, seq bigint NOT NULL,
    sender text NOT NULL, ts timestamptz NOT NULL, body_kind text NOT NULL, text text NOT NULL,
    order_id text, tokens tsvector NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conv ON messages (tenant, conv, seq);
CREATE INDEX IF NOT EXISTS messages_ts ON messages (tenant, ts);
CREATE INDEX IF NOT EXISTS messages_tokens ON messages USING gin (tokens);
CREATE TABLE IF NOT EXISTS conversations (
    tenant text NOT NULL, conv text NOT NULL, kind text NOT NULL, title text NOT NULL,
    created_by text NOT NULL, created_at timestamptz NOT NULL, source_seq bigint NOT NULL,
    PRIMARY KEY (tenant, conv)
);
CREATE TABLE IF NOT EXISTS members (
    tenant text NOT NULL, conv text NOT NULL, "user" text NOT NULL, role text NOT NULL,
    PRIMARY KEY (tenant, conv, "user")
);
CREATE INDEX IF NOT EXISTS members_user ON members (tenant, "user", conv);
CREATE TABLE IF NOT EXISTS orders (
    tenant text NOT NULL, order_id text NOT NULL, erp_ref text, buyer text NOT NULL,
    supplier text NOT NULL, state text NOT NULL, revision integer NOT NULL, currency text NOT NULL,
    total numeric, notes text, created_at timestamptz, updated_at timestamptz NOT NULL,
    source_seq bigint NOT NULL, PRIMARY KEY (tenant, order_id)
);
CREATE INDEX IF NOT EXISTS orders_supplier ON orders (tenant, supplier, created_at);
CREATE INDEX IF NOT EXISTS orders_created ON orders (tenant, created_at);
CREATE TABLE IF NOT EXISTS order_lines (
    id bigserial PRIMARY KEY, tenant text NOT NULL, order_id text NOT NULL, line_id text NOT NULL,
    sku text NOT NULL, description text NOT NULL, category text, quantity numeric NOT NULL,
    unit text NOT NULL, unit_price numeric, answer text, tokens tsvector NOT NULL,
    UNIQUE (tenant, order_id, line_id)
);
CREATE INDEX IF NOT EXISTS order_lines_tokens ON order_lines USING gin (tokens);
CREATE TABLE IF NOT EXISTS order_events (
    stream_seq bigint PRIMARY KEY, tenant text NOT NULL, order_id text NOT NULL,
    event text NOT NULL, actor text NOT NULL, ts timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS order_events_order ON order_events (tenant, order_id, stream_seq);
ALTER INDEX messages_tokens SET (gin_pending_list_limit = {pending});
ALTER INDEX order_lines_tokens SET (gin_pending_list_limit = {pending});
""".format(pending=GIN_PENDING_KB)


@dataclass(frozen=True)
class Window:
    """A span of time searched in one statement: its week tokens (none for "everything
    older"), and its bounds."""

    weeks: tuple[str, ...]
    start: datetime | None
    end: datetime | None
    after_newer: bool = False  # newer windows were searched first (and left the page short)


# Newest first: the newest week, the three before it, then everything older without week
# tokens. A common word fills the page from the first windows; a word that reaches the last
# window is rare, so its own index entry is short and that statement is cheap too.
WINDOW_WEEKS = (1, 3)


def week_windows(tenant: str, newest: datetime, since: datetime | None, until: datetime | None) -> list[Window]:
    """Windows from the newest document's week back, within [since, until)."""
    week = week_of(newest)
    end: datetime | None = None
    windows = []
    for size in WINDOW_WEEKS:
        weeks = [week - k for k in range(size)]
        start = week_start(weeks[-1])
        windows.append(Window(tuple(week_token(tenant, w) for w in weeks), start, end))
        end = start
        week -= size
    windows.append(Window((), None, end))
    clipped = []
    for w in windows:
        if (since and w.end and w.end <= since) or (until and w.start and w.start >= until):
            continue
        start = max(filter(None, (w.start, since)), default=None)
        end = min(filter(None, (w.end, until)), default=None)
        clipped.append(Window(w.weeks, start, end, after_newer=bool(clipped)))
    return clipped


def window_order(column: str, window: Window) -> str:
    """The sort key of a window's statement. The open-ended oldest window, when reached after
    newer ones, follows weeks that held fewer than a page of matches, so its matches are few:
    it must go through the GIN index. Left to itself the planner may walk the primary key backwards
    instead, filtering every row, whenever it guesses a word it has no statistics for as
    common (measured: 187 ms over 300k order lines for a word with no match at all); `+ 0`
    takes the key off that index."""
    return f"{column} + 0" if window.after_newer and not window.weeks else column


def tsvector_literal(tokens: Iterable[str]) -> str:
    """`'tok':1 'tok2':2 ...`: the tokens exactly as given, with their positions."""
    return " ".join(f"'{token}':{min(i, MAX_POSITION)}" for i, token in enumerate(tokens, start=1))


def split_schema(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), None)
    if schema is not None and not SCHEMA_RE.match(schema):
        raise ValueError(f"schema name {schema!r} is not a plain lower-case identifier")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


@dataclass
class OrderFold:
    """An order's row as a batch's events leave it: what is stored (`stored`, its
    `source_seq` and `created_at`), then the newest event applied, the newest terms and their
    lines (answers applied), and answers to lines kept from the store."""

    stored: bool = False
    source_seq: int = 0
    created_at: datetime | None = None
    event: OrderEventRecord | None = None
    terms: OrderTermsRecord | None = None
    terms_seq: int = 0
    lines: dict[str, OrderLineRecord] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.stored or self.terms is not None

    def apply(self, event: OrderEventRecord) -> None:
        """The same rules as the SQLite store's `_fold`: an event older than the row is a
        redelivery; terms replace the lines; an event for an order never created is dropped."""
        if self.exists and self.source_seq >= event.stream_seq:
            return
        if event.terms is not None:
            if not self.exists:
                self.created_at = event.ts
            self.terms, self.terms_seq = event.terms, event.stream_seq
            self.lines = {line.line_id: line for line in event.terms.lines}
            self.answers = {}
        elif not self.exists:
            return
        self.event = event
        self.source_seq = event.stream_seq
        for line_id, answer in event.answers or ():
            if self.terms is not None:
                if line_id in self.lines:
                    self.lines[line_id] = replace(self.lines[line_id], answer=answer)
            else:
                self.answers[line_id] = answer

    def terms_row(self) -> tuple[Any, ...]:
        t = self.terms
        assert t is not None
        return (t.erp_ref, t.buyer, t.supplier, t.currency, t.total(), t.notes)

    def line_rows(self, key: tuple[str, str]) -> list[tuple[Any, ...]]:
        t = self.terms
        assert t is not None and self.created_at is not None
        return [
            (*key, line.line_id, line.sku, line.description, line.category, line.quantity, line.unit, line.unit_price,
             line.answer, tsvector_literal(order_line_tokens(key[0], t.supplier, line.category, self.created_at, t.line_text(key[1], line))))
            for line in self.lines.values()
        ]


class PostgresStore:
    backend = "postgresql"
    shared = True  # several archive instances may project into one database

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.dsn, self.schema = split_schema(url)
        self.pool_size = pool_size
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self.pool is None:
            if self.schema:
                conn = await asyncpg.connect(self.dsn)
                try:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                finally:
                    await conn.close()
            # Startup parameters, not SETs: the pool's RESET ALL on release keeps them.
            # asyncpg prepares every statement and reuses it, and after five runs PostgreSQL
            # may switch to a generic plan, made without knowing the tsquery: it estimates
            # every word as equally rare and a 5 ms search became a 100 ms one. Plans for
            # these statements are cheap; always plan for the actual values.
            settings = {"plan_cache_mode": "force_custom_plan"}
            if self.schema:
                settings["search_path"] = self.schema
            self.pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.pool_size, server_settings=settings
            )
        async with self.pool.acquire() as conn:
            # One instance creates the schema at a time (several may start together).
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('orderchat-archive-schema'))")
                await conn.execute(SCHEMA)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    def _pool(self) -> asyncpg.Pool:
        assert self.pool is not None, "open() the store first"
        return self.pool

    async def drop(self) -> None:
        async with self._pool().acquire() as conn:
            await conn.execute("DROP TABLE IF EXISTS " + ", ".join(TABLES) + " CASCADE")
        await self.open()

    async def refresh_statistics(self) -> None:
        """After a bulk load (a rebuild, a long catch-up) the planner's row estimates are stale
        until autovacuum gets round to them, and a stale estimate turns a 5 ms search into a
        nested loop of seconds: analyze now."""
        async with self._pool().acquire() as conn:
            await conn.execute("ANALYZE " + ", ".join(t for t in TABLES if t != "meta"))
            await conn.execute("SELECT gin_clean_pending_list('messages_tokens'::regclass), gin_clean_pending_list('order_lines_tokens'::regclass)")

    async def get_meta(self, key: str) -> str | None:
        return await self._pool().fetchval("SELECT value FROM meta WHERE key = $1", key)

    async def set_meta(self, key: str, value: str) -> None:
        await self._pool().execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value
        )

    async def last_applied(self, source: str) -> int:
        return int(await self._pool().fetchval("SELECT last_seq FROM cursors WHERE source = $1", source) or 0)

    # -- writing ---------------------------------------------------------------------------

    async def apply(self, batch: Batch) -> None:
        async with self._pool().acquire() as conn, conn.transaction():
            await self._apply_memberships(conn, batch.memberships)
            if batch.messages:
                await conn.executemany(
                    "INSERT INTO messages (stream_seq, tenant, conv, seq, sender, ts, body_kind, text, order_id, tokens) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::tsvector) ON CONFLICT (stream_seq) DO NOTHING",
                    [
                        (m.stream_seq, m.tenant, m.conv, m.seq, m.sender, m.ts, m.body_kind, m.text, m.order_id,
                         tsvector_literal(m.tokens))
                        for m in batch.messages
                    ],
                )
            await self._apply_order_events(conn, batch.order_events)
            await conn.execute(
                "INSERT INTO cursors (source, last_seq) VALUES ($1, $2) "
                "ON CONFLICT (source) DO UPDATE SET last_seq = greatest(cursors.last_seq, excluded.last_seq)",
                batch.source, batch.last_seq,
            )

    async def _newer(self, conn: asyncpg.Connection, tenant: str, conv: str, stream_seq: int) -> bool:
        seq = await conn.fetchval("SELECT source_seq FROM conversations WHERE tenant = $1 AND conv = $2", tenant, conv)
        return seq is None or seq < stream_seq

    async def _apply_memberships(self, conn: asyncpg.Connection, memberships: Iterable[ConversationRecord | MemberLeft]) -> None:
        for change in memberships:
            if not await self._newer(conn, change.tenant, change.conv, change.stream_seq):
                continue
            if isinstance(change, MemberLeft):
                await conn.execute('DELETE FROM members WHERE tenant = $1 AND conv = $2 AND "user" = $3', change.tenant, change.conv, change.user)
                await conn.execute("UPDATE conversations SET source_seq = $1 WHERE tenant = $2 AND conv = $3", change.stream_seq, change.tenant, change.conv)
                continue
            await conn.execute(
                "INSERT INTO conversations (tenant, conv, kind, title, created_by, created_at, source_seq) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, conv) DO UPDATE SET kind = excluded.kind, "
                "title = excluded.title, created_by = excluded.created_by, created_at = excluded.created_at, "
                "source_seq = excluded.source_seq",
                change.tenant, change.conv, change.kind, change.title, change.created_by, change.created_at, change.stream_seq,
            )
            await conn.execute("DELETE FROM members WHERE tenant = $1 AND conv = $2", change.tenant, change.conv)
            await conn.executemany(
                'INSERT INTO members (tenant, conv, "user", role) VALUES ($1, $2, $3, $4)',
                [(change.tenant, change.conv, user, role) for user, role in change.members],
            )

    async def _apply_order_events(self, conn: asyncpg.Connection, events: list[OrderEventRecord]) -> None:
        """The batch's order events in a handful of statements, whatever its size: the log rows
        in one insert, the orders' current rows read once, the events folded here in stream
        order (the same rules as event by event), and the results written in bulk."""
        if not events:
            return
        inserted = {
            r[0] for r in await conn.fetch(
                "INSERT INTO order_events (stream_seq, tenant, order_id, event, actor, ts) "
                "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) "
                "ON CONFLICT (stream_seq) DO NOTHING RETURNING stream_seq",
                [e.stream_seq for e in events], [e.tenant for e in events], [e.order_id for e in events],
                [e.event for e in events], [e.actor for e in events], [e.ts for e in events],
            )
        }
        fresh = [e for e in events if e.stream_seq in inserted]
        if not fresh:
            return
        keys = list({(e.tenant, e.order_id): None for e in fresh})
        rows = await conn.fetch(
            "SELECT o.tenant, o.order_id, o.source_seq, o.created_at FROM orders o "
            "JOIN unnest($1::text[], $2::text[]) k (tenant, order_id) USING (tenant, order_id)",
            [k[0] for k in keys], [k[1] for k in keys],
        )
        folds = {(r[0], r[1]): OrderFold(stored=True, source_seq=r[2], created_at=r[3]) for r in rows}
        for event in fresh:
            folds.setdefault((event.tenant, event.order_id), OrderFold()).apply(event)
        await self._write_folds(conn, folds)

    async def _write_folds(self, conn: asyncpg.Connection, folds: dict[tuple[str, str], OrderFold]) -> None:
        changed = [(key, f) for key, f in folds.items() if f.event is not None]
        new = [(key, f) for key, f in changed if not f.stored]
        if new:
            await conn.executemany(
                "INSERT INTO orders (tenant, order_id, erp_ref, buyer, supplier, currency, total, notes, state, revision, "
                "created_at, updated_at, source_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                [(*key, *f.terms_row(), f.event.state, f.event.revision, f.created_at, f.event.ts, f.event.stream_seq)  # type: ignore[union-attr]
                 for key, f in new],
            )
        retermed = [(key, f) for key, f in changed if f.stored and f.terms is not None]
        if retermed:
            await conn.executemany(
                "UPDATE orders SET erp_ref = $3, buyer = $4, supplier = $5, currency = $6, total = $7, notes = $8 "
                "WHERE tenant = $1 AND order_id = $2",
                [(*key, *f.terms_row()) for key, f in retermed],
            )
        moved = [(key, f) for key, f in changed if f.stored]
        if moved:
            await conn.executemany(
                "UPDATE orders SET state = $3, revision = $4, updated_at = $5, source_seq = $6 WHERE tenant = $1 AND order_id = $2",
                [(*key, f.event.state, f.event.revision, f.event.ts, f.event.stream_seq) for key, f in moved],  # type: ignore[union-attr]
            )
        relined = sorted((f.terms_seq, key, f) for key, f in changed if f.terms is not None)
        if relined:
            await conn.execute(
                "DELETE FROM order_lines l USING unnest($1::text[], $2::text[]) k (tenant, order_id) "
                "WHERE l.tenant = k.tenant AND l.order_id = k.order_id",
                [key[0] for _, key, _ in relined], [key[1] for _, key, _ in relined],
            )
            # In the order of the events that set them, as event by event: search orders by line id.
            await conn.executemany(
                "INSERT INTO order_lines (tenant, order_id, line_id, sku, description, category, quantity, unit, unit_price, "
                "answer, tokens) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::tsvector)",
                [row for _, key, f in relined for row in f.line_rows(key)],
            )
        answers = [(answer, *key, line_id) for key, f in changed for line_id, answer in f.answers.items()]
        if answers:
            await conn.executemany(
                "UPDATE order_lines SET answer = $1 WHERE tenant = $2 AND order_id = $3 AND line_id = $4", answers
            )

    # -- searching -------------------------------------------------------------------------

    async def _visible_convs(self, conn: asyncpg.Connection, scope: Scope, supplier: str | None, cap: int) -> list[str] | None:
        sql = 'SELECT m.conv FROM members m WHERE m.tenant = $1 AND m."user" = $2'
        args: list[Any] = [scope.tenant, scope.user]
        if supplier:
            sql += ' AND EXISTS (SELECT 1 FROM members s WHERE s.tenant = m.tenant AND s.conv = m.conv AND s."user" = $3)'
            args.append(supplier)
        rows = await conn.fetch(sql + f" LIMIT {cap + 1}", *args)
        return None if len(rows) > cap else [r[0] for r in rows]

    async def positions(self, tenant: str, conv: str, first: int, last: int) -> list[tuple[int, int]]:
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(
                "SELECT seq, stream_seq FROM messages WHERE tenant = $1 AND conv = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq",
                tenant, conv, first, last,
            )
        return [(row["seq"], row["stream_seq"]) for row in rows]

    async def search_chat(self, query: CompiledQuery, scope: Scope, filters: Filters) -> list[ChatHit]:
        async with self._pool().acquire() as conn:
            convs = await self._visible_convs(conn, scope, filters.supplier, MAX_SCOPE_TOKENS)
            if convs == []:
                return []
            newest = await conn.fetchval("SELECT max(ts) FROM messages WHERE tenant = $1", scope.tenant)
            if newest is None:
                return []
            required = [[scope_token(scope.tenant, c) for c in convs]] if convs is not None else []
            hits: list[ChatHit] = []
            for window in week_windows(scope.tenant, newest, filters.since, filters.until):
                rows = await self._chat_window(conn, query, scope, filters, convs is None, required, window, filters.limit - len(hits))
                hits += rows
                if len(hits) >= filters.limit:
                    break
        return hits

    async def _chat_window(
        self, conn: asyncpg.Connection, query: CompiledQuery, scope: Scope, filters: Filters, join_members: bool,
        required: list[list[str]], window: Window, limit: int,
    ) -> list[ChatHit]:
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        groups = required + ([list(window.weeks)] if window.weeks else [])
        where = [f"m.tokens @@ {arg(query.tsquery(groups))}::tsquery", f"m.tenant = {arg(scope.tenant)}"]
        if join_members:
            where.append(f'EXISTS (SELECT 1 FROM members v WHERE v.tenant = m.tenant AND v.conv = m.conv AND v."user" = {arg(scope.user)})')
            if filters.supplier:
                where.append(f'EXISTS (SELECT 1 FROM members s WHERE s.tenant = m.tenant AND s.conv = m.conv AND s."user" = {arg(filters.supplier)})')
        if window.start:
            where.append(f"m.ts >= {arg(window.start)}")
        if window.end:
            where.append(f"m.ts < {arg(window.end)}")
        rows = await conn.fetch(
            "SELECT m.stream_seq, m.conv, m.seq, m.sender, m.ts, m.body_kind, m.text, m.order_id, coalesce(c.title, '') "
            "FROM messages m LEFT JOIN conversations c ON c.tenant = m.tenant AND c.conv = m.conv "
            f"WHERE {' AND '.join(where)} ORDER BY {window_order('m.stream_seq', window)} DESC LIMIT {arg(limit)}",
            *args,
        )
        return [
            ChatHit(stream_seq=r[0], conv=r[1], seq=r[2], sender=r[3], ts=r[4], body_kind=r[5], text=r[6], order_id=r[7], conv_title=r[8])
            for r in rows
        ]

    async def search_orders(self, query: CompiledQuery, scope: Scope, filters: Filters) -> list[OrderHit]:
        async with self._pool().acquire() as conn:
            newest = await conn.fetchval("SELECT max(created_at) FROM orders WHERE tenant = $1", scope.tenant)
            if newest is None:
                return []
            hits: list[OrderHit] = []
            for window in week_windows(scope.tenant, newest, None, None):
                hits += await self._orders_window(conn, query, scope, filters, window, filters.limit - len(hits))
                if len(hits) >= filters.limit:
                    break
        return hits

    async def _orders_window(
        self, conn: asyncpg.Connection, query: CompiledQuery, scope: Scope, filters: Filters, window: Window, limit: int
    ) -> list[OrderHit]:
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        required = order_visibility_tokens(
            scope.tenant, scope.user if scope.is_supplier else None, scope.categories, filters.supplier
        )[1:]  # the tenant is the column condition below
        if window.weeks:
            required.append(list(window.weeks))
        where = [f"l.tokens @@ {arg(query.tsquery(required))}::tsquery", f"o.tenant = {arg(scope.tenant)}"]
        if scope.is_supplier:
            where.append(f"o.supplier = {arg(scope.user)}")
            if scope.categories:
                where.append(f"l.category = ANY({arg(list(scope.categories))}::text[])")
        if filters.supplier:
            where.append(f"o.supplier = {arg(filters.supplier)}")
        if filters.since:
            where.append(f"o.updated_at >= {arg(filters.since)}")
        if filters.until:
            where.append(f"o.updated_at < {arg(filters.until)}")
        if window.start:
            where.append(f"o.created_at >= {arg(window.start)}")
        if window.end:
            where.append(f"o.created_at < {arg(window.end)}")
        rows = await conn.fetch(
            "SELECT o.order_id, o.erp_ref, o.buyer, o.supplier, o.state, o.updated_at, l.line_id, l.sku, l.description, "
            "l.category, l.quantity, l.unit, l.unit_price FROM order_lines l "
            "JOIN orders o ON o.tenant = l.tenant AND o.order_id = l.order_id "
            f"WHERE {' AND '.join(where)} ORDER BY {window_order('l.id', window)} DESC LIMIT {arg(limit)}",
            *args,
        )
        return [
            OrderHit(order_id=r[0], erp_ref=r[1], buyer=r[2], supplier=r[3], state=r[4], ts=r[5], line_id=r[6], sku=r[7],
                     description=r[8], category=r[9], quantity=r[10], unit=r[11], unit_price=r[12])
            for r in rows
        ]

    # -- export ----------------------------------------------------------------------------

    async def export_orders(self, scope: Scope, supplier: str, start: datetime, end: datetime, after: str | None, limit: int) -> list[OrderExport]:
        async with self._pool().acquire() as conn:
            orders = await conn.fetch(
                "SELECT order_id, erp_ref, buyer, supplier, state, revision, currency, total, notes, created_at, updated_at "
                "FROM orders WHERE tenant = $1 AND supplier = $2 AND created_at >= $3 AND created_at < $4 AND order_id > $5 "
                "ORDER BY order_id LIMIT $6",
                scope.tenant, supplier, start, end, after or "", limit,
            )
            result = []
            categories = list(scope.categories) if scope.is_supplier and scope.categories else None
            for o in orders:
                lines = await conn.fetch(
                    "SELECT line_id, sku, description, category, quantity, unit, unit_price, answer FROM order_lines "
                    "WHERE tenant = $1 AND order_id = $2 AND ($3::text[] IS NULL OR category = ANY($3::text[])) ORDER BY id",
                    scope.tenant, o[0], categories,
                )
                events = await conn.fetch(
                    "SELECT stream_seq, event, actor, ts FROM order_events WHERE tenant = $1 AND order_id = $2 ORDER BY stream_seq",
                    scope.tenant, o[0],
                )
                result.append(
                    OrderExport(
                        order=OrderRecord(
                            tenant=scope.tenant, order_id=o[0], erp_ref=o[1], buyer=o[2], supplier=o[3], state=o[4],
                            revision=o[5], currency=o[6], total=o[7], notes=o[8], created_at=o[9], updated_at=o[10],
                            lines=tuple(OrderLineRecord(*line) for line in lines),
                        ),
                        events=tuple(OrderEventRecord(e[0], scope.tenant, o[0], e[1], e[2], e[3]) for e in events),
                    )
                )
        return result

    # -- rebuild check ---------------------------------------------------------------------

    async def digest(self) -> str:
        async with self._pool().acquire() as conn:
            tables = {
                "cursors": await conn.fetch("SELECT source, last_seq FROM cursors WHERE source = ANY($1::text[]) ORDER BY source", list(SOURCES)),
                "messages": await conn.fetch("SELECT stream_seq, tenant, conv, seq, sender, ts, body_kind, text, order_id FROM messages ORDER BY stream_seq"),
                "conversations": await conn.fetch("SELECT tenant, conv, kind, title, created_by, created_at, source_seq FROM conversations ORDER BY tenant, conv"),
                "members": await conn.fetch('SELECT tenant, conv, "user", role FROM members ORDER BY tenant, conv, "user"'),
                "orders": await conn.fetch(
                    "SELECT tenant, order_id, erp_ref, buyer, supplier, state, revision, currency, total, notes, created_at, "
                    "updated_at, source_seq FROM orders ORDER BY tenant, order_id"
                ),
                "order_lines": await conn.fetch(
                    "SELECT tenant, order_id, line_id, sku, description, category, '', quantity, unit, unit_price, answer "
                    "FROM order_lines ORDER BY tenant, order_id, line_id"
                ),
                "order_events": await conn.fetch("SELECT stream_seq, tenant, order_id, event, actor, ts FROM order_events ORDER BY stream_seq"),
            }
        return digest_of({name: [tuple(r) for r in rows] for name, rows in tables.items()})

