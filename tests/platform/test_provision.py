"""Provisioning is idempotent and updates changed definitions in place."""

import asyncio
import sys
import uuid
from dataclasses import dataclass

import nats
import pytest
from nats.js.api import PersistMode, StreamConfig

from orderchat.schemas import names

from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import BUCKET_MAX_CONSUMERS, NotProvisioned, missing, provision
from orderchat.runtime.services import ServiceHost
from orderchat.schemas.streams import Topology


@dataclass(frozen=True)
class _Renamed(Topology):
    """The real topology with every name suffixed, so the test owns its own streams."""

    suffix: str = ""
    dedupe: float | None = None

    def streams(self) -> list[StreamConfig]:
        out = []
        for s in super().streams():
            s.name = f"{s.name}_{self.suffix}"
            s.subjects = [f"{self.suffix}.{subject}" for subject in s.subjects]
            if self.dedupe:
                s.duplicate_window = self.dedupe
            out.append(s)
        return out

    def relaxed_buckets(self) -> frozenset[str]:
        return frozenset(f"{b}_{self.suffix}" for b in super().relaxed_buckets())

    def buckets(self):
        out = []
        for b in super().buckets():
            b.bucket = f"{b.bucket}_{self.suffix}"
            out.append(b)
        return out


async def test_second_run_changes_nothing_and_changed_definitions_update(nats_url):
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    suffix = uuid.uuid4().hex[:8]
    try:
        first = await provision(js, _Renamed(suffix=suffix))
        assert len(first.created) == len(Topology().streams()) + len(Topology().buckets())
        assert not first.updated

        second = await provision(js, _Renamed(suffix=suffix))
        assert not second.changed
        assert len(second.unchanged) == len(first.created)

        third = await provision(js, _Renamed(suffix=suffix, dedupe=60.0))
        assert sorted(third.updated) == sorted(f"stream:{s.name}" for s in _Renamed(suffix=suffix).streams())
        info = await js.stream_info(f"CHAT_{suffix}")
        assert info.config.duplicate_window == 60.0
        names = [s.config.name for s in await js.streams_info()]
        assert names.count(f"CHAT_{suffix}") == 1
    finally:
        for s in _Renamed(suffix=suffix).streams():
            await js.delete_stream(s.name)
        for b in _Renamed(suffix=suffix).buckets():
            await js.delete_key_value(b.bucket)
        await nc.drain()


async def test_chat_takes_more_device_consumers_than_the_server_default(admin_nc):
    """nats-server 2.15 limits a stream to 1,000 consumers unless the stream says otherwise;
    every device's inbox is a consumer on CHAT, so CHAT must carry its own limit."""
    info = await admin_nc.jetstream().stream_info("CHAT")
    assert info.config.max_consumers == Topology().max_inbox_consumers > 1000
    for bucket in Topology().buckets():  # every KV watcher is a consumer on its bucket's stream
        kv_info = await admin_nc.jetstream().stream_info(f"KV_{bucket.bucket}")
        assert kv_info.config.max_consumers == BUCKET_MAX_CONSUMERS, bucket.bucket


async def test_receipt_cursors_presence_and_device_positions_are_stored_with_async_persistence(admin_nc):
    """Derived, monotonic state is written without an fsync each (ADR-56 async persist mode);
    everything else keeps the server's durability, and so do all buckets on a cluster."""
    js = admin_nc.jetstream()
    relaxed = Topology().relaxed_buckets()
    assert relaxed == {names.KV_READ, names.KV_DELIVERED, names.KV_PRESENCE, names.KV_DEVICE_POSITIONS}
    for bucket in Topology().buckets():
        info = await js.stream_info(f"KV_{bucket.bucket}")
        expected = PersistMode.ASYNC if bucket.bucket in relaxed else None
        assert info.config.persist_mode in ((expected,) if expected else (None, PersistMode.DEFAULT)), bucket.bucket
    assert Topology(replicas=3).relaxed_buckets() == frozenset()
    # A relaxed bucket is still a KV bucket: compare-and-set moves as anywhere else.
    kv = await js.key_value(names.KV_READ)
    key = f"t{uuid.uuid4().hex[:8]}.conv.user"
    first = await kv.create(key, b"1")
    assert await kv.update(key, b"2", last=first) > first


async def test_a_service_on_a_server_provisioned_by_an_earlier_version_says_what_to_run(tmp_path):
    """A bucket added since the server was provisioned: `serve` refuses to start with the
    command that fixes it, instead of one service's BucketNotFoundError; after
    `orderchat provision` (which creates only what is missing) it starts."""
    server = NatsServer(NatsServerConfig(store_dir=tmp_path / "nats", sync_interval="2m")).start()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await provision(js)
        await js.delete_key_value(names.KV_DEVICE_POSITIONS)
        assert await missing(js) == [f"kv:{names.KV_DEVICE_POSITIONS}"]

        host = ServiceHost(server.url, ["delivery"], http_port=None)
        with pytest.raises(NotProvisioned) as raised:
            await host.start()
        assert raised.value.missing == [f"kv:{names.KV_DEVICE_POSITIONS}"]

        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orderchat.cli.main", "--nats-url", server.url, "serve", "--http-port", "-1", "delivery",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(cli.communicate(), 60)
        assert cli.returncode == 1
        assert f"lacks kv:{names.KV_DEVICE_POSITIONS}" in err.decode() and "orderchat provision" in err.decode()
        assert "Traceback" not in err.decode()

        report = await provision(js)
        assert report.created == [f"kv:{names.KV_DEVICE_POSITIONS}"] and not report.updated
        host = ServiceHost(server.url, ["delivery"], http_port=None)
        await host.start()
        await host.stop()
    finally:
        await nc.drain()
        server.stop()
