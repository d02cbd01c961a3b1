"""Persistence: every record is a JSON document in one SQLite table.

The whole database is small (a demo shop), so it is loaded into memory on start and each
RPC call runs in a `Transaction` that overlays its changes on the loaded data. A call that
raises leaves nothing behind (Odoo rolls the cursor back); a call that succeeds is written
to SQLite in one SQLite transaction. Everything runs on the server's single asyncio loop,
so there is never more than one transaction at a time.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Record = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    model TEXT NOT NULL,
    id INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (model, id)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def format_datetime(moment: datetime) -> str:
    """Odoo's wire format for datetimes: naive UTC, second resolution."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime(DATETIME_FORMAT)


class Store:
    """The SQLite file (or ":memory:") and the committed in-memory copy of it."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, isolation_level=None)
        self._conn.executescript(_SCHEMA)
        self.tables: dict[str, dict[int, Record]] = {}
        self.counters: dict[str, int] = {}
        for model, rec_id, data in self._conn.execute("SELECT model, id, data FROM records"):
            self.tables.setdefault(model, {})[rec_id] = json.loads(data)
        for name, value in self._conn.execute("SELECT name, value FROM counters"):
            self.counters[name] = value

    def is_empty(self) -> bool:
        return not self.tables

    def apply(self, changes: dict[str, dict[int, Record | None]], counters: dict[str, int]) -> None:
        """Write one transaction's changes to disk, then to the in-memory copy."""
        cur = self._conn.cursor()
        cur.execute("BEGIN")
        try:
            for model, rows in changes.items():
                for rec_id, data in rows.items():
                    if data is None:
                        cur.execute("DELETE FROM records WHERE model = ? AND id = ?", (model, rec_id))
                    else:
                        cur.execute(
                            "INSERT OR REPLACE INTO records (model, id, data) VALUES (?, ?, ?)",
                            (model, rec_id, json.dumps(data, ensure_ascii=False, sort_keys=True)),
                        )
            for name, value in counters.items():
                cur.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        for model, rows in changes.items():
            table = self.tables.setdefault(model, {})
            for rec_id, data in rows.items():
                if data is None:
                    table.pop(rec_id, None)
                else:
                    table[rec_id] = data
        self.counters.update(counters)

    def close(self) -> None:
        self._conn.close()


class Transaction:
    """One RPC call's view of the data: reads see its own writes; nothing is shared until commit."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._changes: dict[str, dict[int, Record | None]] = {}
        # Odoo stamps write_date with the transaction's start time (`cr.now()`), not the
        # moment of each write: every record touched by one call gets the same stamp.
        self.now = format_datetime(clock())
        # purchase.order ids created or written in this call, for the webhook.
        self.touched: dict[str, set[int]] = {}

    def get(self, model: str, rec_id: int) -> Record | None:
        """The record, or None. Treat the result as read-only; use `put` to change it."""
        rows = self._changes.get(model)
        if rows is not None and rec_id in rows:
            return rows[rec_id]
        return self._store.tables.get(model, {}).get(rec_id)

    def ids(self, model: str) -> list[int]:
        found = set(self._store.tables.get(model, {}))
        for rec_id, data in self._changes.get(model, {}).items():
            if data is None:
                found.discard(rec_id)
            else:
                found.add(rec_id)
        return sorted(found)

    def records(self, model: str) -> Iterable[Record]:
        for rec_id in self.ids(model):
            rec = self.get(model, rec_id)
            if rec is not None:
                yield rec

    def put(self, model: str, rec: Record) -> None:
        self._changes.setdefault(model, {})[int(rec["id"])] = copy.deepcopy(rec)

    def delete(self, model: str, rec_id: int) -> None:
        self._changes.setdefault(model, {})[rec_id] = None

    def next_value(self, counter: str) -> int:
        """Next value of a counter (record ids per model, document sequences).

        Written at once and never rolled back, like PostgreSQL sequences behind Odoo's ids and
        its "standard" ir.sequence: a failed create leaves a gap (P00001 lost, next is P00002).
        """
        value = self._store.counters.get(counter, 0) + 1
        self._store.apply({}, {counter: value})
        return value

    def touch(self, model: str, rec_id: int) -> None:
        self.touched.setdefault(model, set()).add(rec_id)

    def commit(self) -> None:
        if self._changes:
            self._store.apply(self._changes, {})
        self._changes = {}
