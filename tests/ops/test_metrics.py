"""Every service host serves /metrics (parsed with Prometheus' own text parser), /healthz
and /readyz over HTTP; the counters move with the traffic."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from orderchat.client import OrderchatClient
from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.services import ServiceHost
from orderchat.schemas.orders import EventType, OrderState
from orderchat.services.sla.store import SlaStore, timer_key

from .conftest import OrderLog, add_parties, eventually


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


async def get_json(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(url) as r:
        return r.status, await r.json()


async def test_metrics_move_and_health_is_served(ops_server, ops_nc, start_host, tenant):
    js = ops_nc.jetstream()
    await add_parties(js, tenant)
    host = await start_host("delivery", "sla")
    url = host.http_url
    assert url and url.startswith("http://127.0.0.1:")

    status, ready = await get_json(f"{url}/readyz")
    assert status == 200 and ready["ok"] is True
    assert ready["checks"]["sla:consumer_bound"] is True and ready["checks"]["stream:CHAT"] is True
    assert ready["checks"]["sla:deadlines_loaded"] is True
    assert await get_json(f"{url}/healthz") == (200, {"ok": True, "checks": {"nats_connected": True}})

    before = await scrape(url)
    lin = await OrderchatClient.connect(ops_server.url, "lin", tenant=tenant)
    try:
        for i in range(3):
            await lin.send(f"m{i}", to="paper")
        await lin.nc.request(f"oc.{tenant}.in.lin.chat.send", b"{", timeout=5)
    finally:
        await lin.close()
    order = OrderLog(js, tenant, "po-m")
    await order.created_and_sent()
    store = await SlaStore.open(js)
    await eventually(lambda: store.timers.get(timer_key(tenant, "po-m", "read")))
    await order.emit(EventType.CONFIRMED, OrderState.CONFIRMED, actor="paper")
    after = await scrape(url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("orderchat_requests_total", service="delivery", op="send", outcome="ok") == 3
    assert moved("orderchat_requests_total", service="delivery", op="send", outcome="bad_json") == 1
    assert moved("orderchat_dead_letters_total", service="delivery", code="bad_json") == 1
    assert moved("orderchat_request_seconds_count", service="delivery", op="send") == 4
    # The SLA consumer's fetched batches and handled events.
    assert moved("orderchat_batch_size_sum", service="sla", consumer="sla_orders") >= 2
    assert moved("orderchat_stream_messages_total", service="sla", consumer="sla_orders", outcome="ok") >= 2


async def test_not_ready_without_streams(tmp_path):
    """A host on a server nobody provisioned answers /readyz with 503 and says why."""
    server = NatsServer(NatsServerConfig(store_dir=tmp_path / "bare", sync_interval="2m")).start()
    host = ServiceHost(server.url, [])
    await host.start()
    try:
        status, body = await get_json(f"{host.http_url}/readyz")
        assert status == 503 and body["ok"] is False
        assert body["checks"]["nats_connected"] is True and body["checks"]["stream:ORDERS"] is False
        assert (await get_json(f"{host.http_url}/healthz"))[0] == 200
    finally:
        await host.stop()
        server.stop()
