"""The archive store: what the projection writes and the search reads, whatever the backend.

Two backends implement it: SQLite with FTS5 (embedded, nothing to set up; the default) and
PostgreSQL (production, several instances sharing one database). `open_store(url)` picks one
by the URL scheme: `sqlite:///path/archive.sqlite3`, `sqlite://:memory:`, `postgresql://...`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Protocol

from orderchat.schemas.search import ChatHit, OrderHit
from orderchat.schemas.users import PartyRole

from .records import Batch, OrderEventRecord, OrderRecord
from .tokens import CompiledQuery

SOURCE_CHAT = "chat"
SOURCE_ORDERS = "orders"
SOURCES = (SOURCE_CHAT, SOURCE_ORDERS)


@dataclass(frozen=True)
class Scope:
    """Who is asking, which decides what they may find: a conversation only if they are a
    member; orders of the whole tenant for its buyers and ops, a supplier only its own orders
    and, when the supplier has `categories`, only lines of those categories."""

    tenant: str
    user: str
    role: PartyRole
    categories: tuple[str, ...] = ()

    @property
    def is_supplier(self) -> bool:
        return self.role is PartyRole.SUPPLIER


@dataclass(frozen=True)
class Filters:
    supplier: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50


@dataclass(frozen=True)
class OrderExport:
    order: OrderRecord
    events: tuple[OrderEventRecord, ...]


class ArchiveStore(Protocol):
    backend: str
    # Whether several archive instances may project into this store at once, sharing its
    # durable consumers (then each message is acked by whoever applied it).
    shared: bool

    async def open(self) -> None:
        """Connect and create the schema if it is missing."""

    async def close(self) -> None: ...

    async def drop(self) -> None:
        """Remove every table (the next `open` starts empty): the first step of a rebuild."""

    async def refresh_statistics(self) -> None:
        """Bring the query planner's statistics up to date after a bulk load."""

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def last_applied(self, source: str) -> int:
        """The highest stream sequence of `source` whose batch was committed."""

    async def apply(self, batch: Batch) -> None:
        """Write the batch and its `last_seq` in one transaction (idempotent)."""

    async def positions(self, tenant: str, conv: str, first: int, last: int) -> list[tuple[int, int]]:
        """(conversation seq, stream seq) of the conversation's messages first..last that
        the store holds, ascending."""
        ...

    async def search_chat(self, query: CompiledQuery, scope: Scope, filters: Filters) -> list[ChatHit]: ...

    async def search_orders(self, query: CompiledQuery, scope: Scope, filters: Filters) -> list[OrderHit]: ...

    async def export_orders(
        self, scope: Scope, supplier: str, start: datetime, end: datetime, after: str | None, limit: int
    ) -> list[OrderExport]:
        """`supplier`'s orders created in [start, end) that `scope` may see, by order id, with
        their visible lines and their event log (the export computes its timings from it)."""

    async def digest(self) -> str:
        """A hash of everything projected (not of how it is stored): equal after a rebuild."""


def open_store(url: str) -> ArchiveStore:
    if url.startswith("sqlite://"):
        from .sqlite_store import SqliteStore

        path = url.removeprefix("sqlite://")
        return SqliteStore(":memory:" if path in ("", ":memory:", "/:memory:") else path)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres_store import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"unknown archive store URL {url!r}: use sqlite:///path or postgresql://...")


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)


def to_micros(ts: datetime) -> int:
    """Timestamps are stored as UTC microseconds (SQLite) and compared as such everywhere."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return (ts - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + value * MICROSECOND


def digest_of(tables: dict[str, list[tuple]]) -> str:
    """sha256 over every table's rows in key order, values rendered canonically."""
    h = hashlib.sha256()
    for name in sorted(tables):
        h.update(f"\x00table {name}\x00".encode())
        for row in tables[name]:
            h.update(repr(tuple(_canonical(v) for v in row)).encode())
    return h.hexdigest()


def _canonical(value: object) -> object:
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, Decimal):
        return str(value.normalize())
    return value
