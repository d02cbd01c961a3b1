"""Pydantic models in KV buckets, with compare-and-set updates on the key's revision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel

from . import kv_snapshot

M = TypeVar("M", bound=BaseModel)


class TypedKV(Generic[M]):
    def __init__(self, kv: KeyValue, model: type[M]) -> None:
        self.kv = kv
        self.model = model

    async def get(self, key: str) -> tuple[M, int] | None:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        return self.model.model_validate_json(entry.value), entry.revision

    async def put(self, key: str, value: M) -> int:
        return await self.kv.put(key, value.model_dump_json().encode())

    async def create(self, key: str, value: M) -> int | None:
        """Write only if absent; None when another writer got there first."""
        try:
            return await self.kv.create(key, value.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            return None

    async def update(
        self,
        key: str,
        change: Callable[[M | None], M | None],
        attempts: int = 50,
    ) -> tuple[M | None, int | None]:
        """Apply `change` to the current value until the compare-and-set wins.

        `change` returns None to leave the key as it is."""
        for _ in range(attempts):
            current = await self.get(key)
            value, revision = current if current else (None, 0)
            new = change(value)
            if new is None:
                return value, revision or None
            data = new.model_dump_json().encode()
            try:
                if revision:
                    rev = await self.kv.update(key, data, last=revision)
                else:
                    rev = await self.kv.create(key, data)
                return new, rev
            except KeyWrongLastSequenceError:
                continue
        raise RuntimeError(f"gave up updating {key!r} after {attempts} conflicting writers")

    async def keys(self, pattern: str = ">") -> list[str]:
        """Keys matching a NATS wildcard pattern such as `<tenant>.>`, filtered by the server
        (nats-py's `keys(filters=...)` reads every key and filters by substring, and may
        return before it has them all: see kv_snapshot)."""
        return await kv_snapshot.keys(self.kv, pattern)

    async def items(self, pattern: str = ">") -> list[tuple[str, M]]:
        """Every key matching `pattern` with its current value, in one read."""
        snap = await kv_snapshot.snapshot(self.kv, pattern)
        return [(e.key, self.model.model_validate_json(e.value)) for e in snap.entries if e.value]
