"""Reading a KV bucket's current entries (services/framework/kv_snapshot.py): complete every
time, however busy the connection, unlike reading nats-py's watcher until its first None."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from orderchat.services.framework import kv_snapshot
from orderchat.services.framework.kv_snapshot import KvEntry

KEYS = 500
REVISIONS = 3
PARALLEL = 50
ROUNDS = 2
DELETED = 20


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[nats.NATS]:
    conn = await nats.connect(nats_url, name="kv-snapshot-test")
    yield conn
    await conn.close()


@pytest.fixture
async def bucket(nc: nats.NATS) -> AsyncIterator[KeyValue]:
    js = nc.jetstream()
    name = f"SNAP_{uuid.uuid4().hex[:10]}"
    kv = await js.create_key_value(KeyValueConfig(bucket=name, history=5))
    yield kv
    await js.delete_key_value(name)


async def fill(kv: KeyValue) -> None:
    """KEYS keys under `a.`, REVISIONS puts each, the first DELETED keys then deleted; and
    keys under `b.` that no `a.*` read may return."""
    for r in range(REVISIONS):
        await asyncio.gather(*(kv.put(f"a.k{i}", f"{i}:{r}".encode()) for i in range(KEYS)))
    await asyncio.gather(*(kv.delete(f"a.k{i}") for i in range(DELETED)))
    await asyncio.gather(*(kv.put(f"b.k{i}", b"other") for i in range(10)))


async def busy_writers(nc: nats.NATS, stop: asyncio.Event) -> int:
    """Writes to another bucket on the same connection, so the readers share it with traffic."""
    js = nc.jetstream()
    name = f"LOAD_{uuid.uuid4().hex[:10]}"
    kv = await js.create_key_value(KeyValueConfig(bucket=name, history=1))
    written = 0
    try:
        while not stop.is_set():
            await asyncio.gather(*(kv.put(f"l.{(written + j) % 1000}", b"x" * 200) for j in range(50)))
            written += 50
    finally:
        await js.delete_key_value(name)
    return written


def latest_expected() -> dict[str, bytes]:
    return {f"a.k{i}": f"{i}:{REVISIONS - 1}".encode() for i in range(DELETED, KEYS)}


def by_key(entries: list[KvEntry]) -> dict[str, list[KvEntry]]:
    found: dict[str, list[KvEntry]] = {}
    for entry in entries:
        found.setdefault(entry.key, []).append(entry)
    return found


async def test_every_key_and_every_revision_every_time_under_load(nc: nats.NATS, bucket: KeyValue) -> None:
    await fill(bucket)
    stop = asyncio.Event()
    load = asyncio.create_task(busy_writers(nc, stop))
    try:
        for _ in range(ROUNDS):
            latest, history, keys = await asyncio.gather(
                asyncio.gather(*(kv_snapshot.snapshot(bucket, "a.*") for _ in range(PARALLEL))),
                asyncio.gather(*(kv_snapshot.snapshot(bucket, "a.*", history=True) for _ in range(PARALLEL))),
                asyncio.gather(*(kv_snapshot.keys(bucket, "a.*") for _ in range(PARALLEL))),
            )
            for snap in latest:
                assert {e.key: e.value for e in snap.entries} == latest_expected()
                assert len(snap.entries) == KEYS - DELETED
            for snap in history:
                found = by_key(snap.entries)
                assert set(found) == {f"a.k{i}" for i in range(KEYS)}  # deleted keys keep their puts
                for key, revisions in found.items():
                    i = key.removeprefix("a.k")
                    assert [e.value for e in revisions] == [f"{i}:{r}".encode() for r in range(REVISIONS)]
                    assert [e.revision for e in revisions] == sorted({e.revision for e in revisions})
            for found_keys in keys:
                assert sorted(found_keys) == sorted(latest_expected())
    finally:
        stop.set()
        written = await load
    assert written > 0
    # Every reader removed its consumer on the way out.
    assert (await nc.jetstream().stream_info(bucket._stream)).state.consumer_count == 0


async def test_deletes_patterns_and_nothing_matching(bucket: KeyValue) -> None:
    await fill(bucket)
    with_deletes = await kv_snapshot.snapshot(bucket, "a.*", include_deletes=True)
    assert len(with_deletes.entries) == KEYS
    assert {e.key for e in with_deletes.entries if e.deleted} == {f"a.k{i}" for i in range(DELETED)}
    assert all(e.operation == "DEL" and e.value == b"" for e in with_deletes.entries if e.deleted)

    others = await kv_snapshot.snapshot(bucket, "b.>")
    assert sorted(e.key for e in others.entries) == sorted(f"b.k{i}" for i in range(10))
    assert others.through == max(e.revision for e in others.entries)

    nothing = await kv_snapshot.snapshot(bucket, "c.*")
    assert nothing.entries == [] and nothing.through == 0
    assert await kv_snapshot.keys(bucket, "c.*") == []


async def test_keys_rewritten_during_the_read_come_once_and_no_older_than_before(nc: nats.NATS, bucket: KeyValue) -> None:
    await fill(bucket)
    first = await kv_snapshot.snapshot(bucket, "a.*")
    before = {e.key: e.revision for e in first.entries}
    stop = asyncio.Event()

    async def rewrite() -> None:
        n = 0
        while not stop.is_set():
            await asyncio.gather(*(bucket.put(f"a.k{(n + j) % KEYS}", b"new") for j in range(20)))
            n += 20

    writer = asyncio.create_task(rewrite())
    try:
        snaps = await asyncio.gather(*(kv_snapshot.snapshot(bucket, "a.*") for _ in range(10)))
    finally:
        stop.set()
        await writer
    for snap in snaps:
        keys = [e.key for e in snap.entries]
        assert len(keys) == len(set(keys))
        got = {e.key: e.revision for e in snap.entries}
        assert set(before) <= set(got)
        assert all(got[key] >= revision for key, revision in before.items())
        # `through` counts the delete markers read too (fill's deletes are the newest
        # revisions until a rewrite lands), so it may lie above the newest value.
        assert snap.through >= max(first.through, max(got.values()))


async def test_watch_changes_continues_a_snapshot_without_gap_or_replay(bucket: KeyValue) -> None:
    await fill(bucket)
    snap = await kv_snapshot.snapshot(bucket, "a.*")
    # Written between the snapshot and the watch: the watch must still deliver it.
    await bucket.put("a.k100", b"after snapshot")
    changes = await kv_snapshot.watch_changes(bucket, "a.*", after=snap.through, include_deletes=True)
    try:
        await bucket.put("b.k1", b"not watched")
        await bucket.delete("a.k101")
        await bucket.put("a.new", b"fresh")
        seen = [await asyncio.wait_for(changes.__anext__(), 10) for _ in range(3)]
    finally:
        await changes.stop()
    assert [(e.key, e.value, e.operation) for e in seen] == [
        ("a.k100", b"after snapshot", None),
        ("a.k101", b"", "DEL"),
        ("a.new", b"fresh", None),
    ]
    assert all(e.revision > snap.through for e in seen)
