"""Projection from real streams into both store backends: what was sent is found, a rebuild
from sequence 1 gives the same store, a restart resumes where the store stopped, redelivered
batches change nothing, and an unreadable stream message is parked while the rest goes on.

These tests run their own nats-server with the delivery service on it, so the streams hold
exactly what each test wrote (the session server carries every other test's traffic)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from orderchat.client import OrderchatClient
from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.runtime.services import ServiceHost
from orderchat.runtime.users import upsert_user
from orderchat.schemas import names
from orderchat.schemas.users import PartyRole, User
from orderchat.services.archive.extract import add_chat
from orderchat.services.archive.projector import SOURCE_SPECS, Projector
from orderchat.services.archive.records import Batch
from orderchat.services.archive.service import Archive
from orderchat.services.archive.store import Filters, Scope, open_store
from orderchat.services.archive.tokens import compile_query

from .orders_fixture import publish_order

TENANT = "shop"


@dataclass
class World:
    server: NatsServer
    nc: nats.NATS
    host: ServiceHost
    lin: OrderchatClient


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    server = NatsServer(NatsServerConfig(store_dir=tmp_path / "nats", sync_interval="2m"))
    server.start()
    nc = await nats.connect(server.url, name="orderchat-tests-archive")
    js = nc.jetstream()
    await provision(js)
    for user, role in (("lin", PartyRole.BUYER), ("paper", PartyRole.SUPPLIER), ("pens", PartyRole.SUPPLIER)):
        await upsert_user(js, TENANT, User(id=user, display_name=user, role=role))
    host = ServiceHost(server.url, ["delivery"])
    await host.start()
    lin = await OrderchatClient.connect(server.url, "lin", tenant=TENANT)
    yield World(server, nc, host, lin)
    await lin.close()
    await host.stop()
    await nc.drain()
    server.stop()


async def talk(world: World) -> None:
    await world.lin.send("请问那批A4纸什么时候发货？", to="paper")
    await world.lin.send("蓝色中性笔 0.5mm 要20盒", to="pens")
    group = await world.lin.create_conversation(["paper", "pens"], title="月度补货")
    await world.lin.send("Reorder: gel pens blue x20, A4 copy paper x10", conv=group.conversation.id)
    await world.lin.change_members(group.conversation.id, remove=["pens"])
    await publish_order(world.nc.jetstream(), TENANT, "po-1001", "paper", [("1", "A4复印纸 70g 500张/包", "Paper")])


async def texts(archive: Archive, user: str, role: PartyRole, query: str) -> list[str]:
    scope = Scope(TENANT, user, role)
    compiled = compile_query(query)
    chat = await archive.store.search_chat(compiled, scope, Filters())
    orders = await archive.store.search_orders(compiled, scope, Filters())
    return [h.text for h in chat] + [f"order {h.order_id}: {h.description}" for h in orders]


async def test_rebuild_gives_the_same_store(world: World, store_url: str) -> None:
    await talk(world)
    archive = Archive(world.nc.jetstream(), open_store(store_url), batch=2)  # small batches: many commits
    await archive.start()
    try:
        await archive.wait_caught_up(30)
        before = await archive.store.digest()
        found = await texts(archive, "lin", PartyRole.BUYER, "A4纸")
        assert found == ["请问那批A4纸什么时候发货？", "order po-1001: A4复印纸 70g 500张/包"]
        # pens left the group: its history there is no longer pens' to search.
        assert await texts(archive, "pens", PartyRole.SUPPLIER, "gel pen blue") == []
        assert await texts(archive, "paper", PartyRole.SUPPLIER, "gel pen blue") == ["Reorder: gel pens blue x20, A4 copy paper x10"]

        await archive.rebuild(30)
        assert await archive.store.digest() == before
        assert await texts(archive, "lin", PartyRole.BUYER, "A4纸") == found
    finally:
        await archive.stop()


async def test_restart_resumes_after_the_last_applied_sequence(world: World, store_url: str, tmp_path: Path) -> None:
    js = world.nc.jetstream()
    archive = Archive(js, open_store(store_url))
    await archive.start()
    await world.lin.send("先来10箱A4纸", to="paper")
    await archive.wait_caught_up(30)
    first = archive.projectors["chat"].applied
    await archive.stop()

    sent = await world.lin.send("再加5箱A3纸", to="paper")  # while the archive is down
    reopened = open_store(store_url)
    await reopened.open()
    assert await reopened.last_applied("chat") == first  # the position lives in the store itself
    archive = Archive(js, reopened)
    await archive.start()
    try:
        assert await archive.projectors["chat"].wait_for(sent.stream_seq, 30)
        assert await texts(archive, "paper", PartyRole.SUPPLIER, "纸") == ["再加5箱A3纸", "先来10箱A4纸"]
        resumed = await archive.store.digest()
    finally:
        await archive.stop()

    fresh = Archive(js, open_store(f"sqlite://{tmp_path / 'fresh.sqlite3'}"))
    await fresh.start()
    try:
        await fresh.wait_caught_up(30)
        assert await fresh.store.digest() == resumed
    finally:
        await fresh.stop()


async def test_a_redelivered_batch_changes_nothing(world: World, store: object) -> None:
    await talk(world)
    js = world.nc.jetstream()
    await js.add_consumer(names.STREAM_CHAT, ConsumerConfig(durable_name="test_redelivery", ack_policy=AckPolicy.NONE))
    sub = await js.pull_subscribe_bind(durable="test_redelivery", stream=names.STREAM_CHAT)
    msgs = await sub.fetch(100, timeout=2)
    batch = Batch(source="chat", last_seq=max(m.metadata.sequence.stream for m in msgs))
    for msg in msgs:
        add_chat(batch, msg.subject, msg.metadata.sequence.stream, msg.data)
    assert len(batch.messages) == 3 and len(batch.memberships) >= 4  # joins of 3 conversations, 1 leave
    await store.apply(batch)  # type: ignore[attr-defined]
    once = await store.digest()  # type: ignore[attr-defined]
    await store.apply(batch)  # type: ignore[attr-defined]
    assert await store.digest() == once  # type: ignore[attr-defined]


async def test_an_unreadable_stream_message_is_parked_and_the_rest_goes_on(world: World, tmp_path: Path) -> None:
    js = world.nc.jetstream()
    archive = Archive(js, open_store(f"sqlite://{tmp_path / 'a.sqlite3'}"))
    await archive.start()
    try:
        bad = await js.publish(names.conv(TENANT, "dm_lin_paper"), b'{"type": "message", "seq": "not a number"}')
        good = await world.lin.send("发票开好了，A4纸的单子一起结", to="paper")
        assert good.stream_seq > bad.seq
        assert await archive.projectors["chat"].wait_for(good.stream_seq, 30)
        assert await texts(archive, "lin", PartyRole.BUYER, "发票") == ["发票开好了，A4纸的单子一起结"]
        parked = await js.get_last_msg(names.STREAM_DLQ, names.dlq(TENANT, "archive"))
        assert parked.data == b'{"type": "message", "seq": "not a number"}'
        assert "validation" in parked.headers["Oc-Reason"]
    finally:
        await archive.stop()


async def test_time_filters_and_supplier_filter(world: World, tmp_path: Path) -> None:
    await talk(world)
    archive = Archive(world.nc.jetstream(), open_store(f"sqlite://{tmp_path / 'f.sqlite3'}"))
    await archive.start()
    try:
        await archive.wait_caught_up(30)
        scope = Scope(TENANT, "lin", PartyRole.BUYER)
        query = compile_query("A4")
        now = datetime.now(timezone.utc)
        assert len(await archive.store.search_chat(query, scope, Filters())) == 2
        assert await archive.store.search_chat(query, scope, Filters(since=now + timedelta(minutes=1))) == []
        assert await archive.store.search_chat(query, scope, Filters(until=now - timedelta(hours=1))) == []
        only_pens = await archive.store.search_chat(compile_query("gel pen"), scope, Filters(supplier="pens"))
        assert only_pens == []  # the group no longer has pens in it
        assert len(await archive.store.search_orders(query, scope, Filters(supplier="paper"))) == 1
        assert await archive.store.search_orders(query, scope, Filters(supplier="pens")) == []
    finally:
        await archive.stop()


async def test_sqlite_and_postgresql_project_the_same_content(world: World, pg_url: str, tmp_path: Path) -> None:
    await talk(world)
    digests = []
    for url in (f"sqlite://{tmp_path / 'same.sqlite3'}", pg_url):
        archive = Archive(world.nc.jetstream(), open_store(url))
        await archive.start()
        try:
            await archive.wait_caught_up(30)
            digests.append(await archive.store.digest())
        finally:
            await archive.stop()
    assert digests[0] == digests[1]


async def _chat_texts(archive: Archive) -> list[str]:
    return sorted(await texts(archive, "paper", PartyRole.SUPPLIER, "箱"))


async def test_messages_handed_to_a_subscription_that_is_gone_are_read_from_the_stream(world: World, tmp_path: Path) -> None:
    """The archive acks each batch at once (ack-all): messages the server handed to a reader
    that went away (a reconnect) must not be covered by that ack unread."""
    js = world.nc.jetstream()
    url = f"sqlite://{tmp_path / 'gone.sqlite3'}"
    archive = Archive(js, open_store(url))
    await archive.start()
    await world.lin.send("先来1箱A4纸", to="paper")
    await archive.wait_caught_up(30)
    consumer = archive.projectors["chat"].consumer
    assert archive.projectors["chat"].ack_policy is AckPolicy.ALL
    await archive.stop()

    for n in (2, 3, 4):
        await world.lin.send(f"再加{n}箱A3纸", to="paper")
    # Another connection pulls two of them and goes away without acking: the server counts
    # them as handed out and would hand them out again only after the ack wait (60 s).
    thief = await nats.connect(world.server.url)
    stolen = await (await thief.jetstream().pull_subscribe_bind(durable=consumer, stream=names.STREAM_CHAT)).fetch(2, timeout=5)
    assert [m.metadata.num_delivered for m in stolen] == [1, 1]
    await thief.close()
    last = await world.lin.send("最后5箱", to="paper")

    archive = Archive(js, open_store(url))
    await archive.start()
    try:
        assert await archive.projectors["chat"].wait_for(last.stream_seq, 10)
        assert await _chat_texts(archive) == sorted(["先来1箱A4纸", "再加2箱A3纸", "再加3箱A3纸", "再加4箱A3纸", "最后5箱"])
        info = await js.consumer_info(names.STREAM_CHAT, consumer)
        assert info.ack_floor.stream_seq == last.stream_seq and info.num_ack_pending == 0
    finally:
        await archive.stop()


async def test_a_deleted_message_leaves_a_gap_the_archive_steps_over(world: World, tmp_path: Path) -> None:
    js = world.nc.jetstream()
    gone = await world.lin.send("撤回的消息 1箱", to="paper")
    kept = await world.lin.send("保留的消息 2箱", to="paper")
    await js.delete_msg(names.STREAM_CHAT, gone.stream_seq)
    archive = Archive(js, open_store(f"sqlite://{tmp_path / 'gap.sqlite3'}"))
    await archive.start()
    try:
        assert await archive.projectors["chat"].wait_for(kept.stream_seq, 10)
        assert await _chat_texts(archive) == ["保留的消息 2箱"]
        after = await world.lin.send("之后的消息 3箱", to="paper")
        assert await archive.projectors["chat"].wait_for(after.stream_seq, 10)
        assert await _chat_texts(archive) == sorted(["保留的消息 2箱", "之后的消息 3箱"])
    finally:
        await archive.stop()


async def test_a_consumer_that_acked_message_by_message_is_replaced_where_the_store_stands(world: World, tmp_path: Path) -> None:
    """Archives of an earlier version acked every message (explicit acks); nats-server does not
    change a consumer's ack policy in place."""
    js = world.nc.jetstream()
    url = f"sqlite://{tmp_path / 'upgrade.sqlite3'}"
    archive = Archive(js, open_store(url))
    await archive.start()
    first = await world.lin.send("升级前 1箱", to="paper")
    assert await archive.projectors["chat"].wait_for(first.stream_seq, 10)
    consumer = archive.projectors["chat"].consumer
    await archive.stop()
    await js.delete_consumer(names.STREAM_CHAT, consumer)
    await js.add_consumer(
        names.STREAM_CHAT,
        ConsumerConfig(durable_name=consumer, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                       opt_start_seq=first.stream_seq + 1),
    )
    second = await world.lin.send("升级后 2箱", to="paper")

    archive = Archive(js, open_store(url))
    await archive.start()
    try:
        assert await archive.projectors["chat"].wait_for(second.stream_seq, 10)
        assert (await js.consumer_info(names.STREAM_CHAT, consumer)).config.ack_policy == AckPolicy.ALL
        assert await _chat_texts(archive) == sorted(["升级前 1箱", "升级后 2箱"])
    finally:
        await archive.stop()


async def test_archives_sharing_a_store_ack_message_by_message(pg_url: str) -> None:
    """Several instances on one PostgreSQL store share a consumer: one's ack-all would cover
    another's batch still in flight."""
    store = open_store(pg_url)
    assert store.shared
    projector = Projector(None, store, SOURCE_SPECS["chat"], "x")  # type: ignore[arg-type]
    assert projector.ack_policy is AckPolicy.EXPLICIT
    assert Projector(None, open_store("sqlite://:memory:"), SOURCE_SPECS["chat"], "x").ack_policy is AckPolicy.ALL  # type: ignore[arg-type]
