"""One bench run: for each durability setting a fresh nats-server, the raw baselines, then
orderchat's real services (in their own process) driven by the real client; then order sync
and, with --scale, the scale run. Results go to a dict that report.py prints and saves."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import nats

from orderchat.runtime.nats_server import NatsServer
from orderchat.runtime import tuning
from orderchat.runtime.services import SERVICES

from . import delivery, order_sync, population
from .baseline import RawBaseline
from .options import BenchOptions
from .processes import CpuMeter, provision_server, services_process, start_server, wait_caught_up
from .scale import ScalePlan, measure_reads, seed_directory, seed_messages
from .search_scale import ScaleSearchPlan, search_scale

LAYOUT = (
    "3 processes on the same 2 cores: nats-server; the measured side (orderchat's services, or the "
    "raw nats-py relay standing in for them) in its own process; the load generator (senders and "
    "recipients' inboxes) in the bench process. All Python processes run on uvloop."
)
Progress = Callable[[str], None]


@contextmanager
def nats_server(work_dir: Path, sync_interval: str) -> Iterator[NatsServer]:
    server = start_server(work_dir, sync_interval)
    try:
        yield server
    finally:
        server.stop()


def server_version(server: NatsServer) -> str:
    out = subprocess.run([server.binary, "--version"], capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def cpu_per_message(cpu: dict[str, float], messages: int) -> dict[str, float]:
    return {name: round(seconds / messages * 1e6, 1) for name, seconds in cpu.items()}


def ratio(value: float, base: float) -> float:
    return round(value / base, 3) if base else float("nan")


async def raw_section(url: str, mode: str, options: BenchOptions, size: int, log_dir: Path, server_pid: int) -> dict[str, Any]:
    async with RawBaseline(url, mode, options.pairs, size, options.fetch_batch, log_dir, server_pid) as raw:
        result, cpu = await raw.throughput(options.messages, options.arrival_timeout)
        section: dict[str, Any] = {
            "throughput": result.as_dict(),
            "cpu_seconds": cpu,
            "cpu_us_per_msg": cpu_per_message(cpu, options.messages),
        }
        # Both baselines at the same fixed load: the request baseline is orderchat's own path
        # (request, append, one durable consumer per recipient) with nothing else in it.
        section["latency"] = (await raw.latency(options.rate, options.latency_seconds, options.arrival_timeout)).as_dict()
        return section


async def orderchat_section(url: str, server: NatsServer, options: BenchOptions, log_dir: Path, progress: Progress) -> dict[str, Any]:
    names = list(options.services or SERVICES)
    async with services_process(url, names, log_dir) as services:
        senders = await nats.connect(url, name="bench-senders")
        readers = await nats.connect(url, name="bench-recipients")
        pids = {"services": services.pid, "nats-server": server.process.pid, "load-generator": os.getpid()}  # type: ignore[union-attr]
        idle = 1.0
        try:
            progress("orderchat one-to-one throughput")
            routes = await population.direct_pairs(senders, readers, population.new_tenant("d"), options.pairs)
            direct, direct_cpu = await delivery.throughput(
                routes, options.messages, options.text_bytes, options.fetch_batch, idle, CpuMeter(pids), options.arrival_timeout
            )
            progress("orderchat group throughput")
            routes = await population.groups(senders, readers, population.new_tenant("g"), options.groups, options.group_size)
            group, group_cpu = await delivery.throughput(
                routes, options.group_messages, options.text_bytes, options.fetch_batch, idle, CpuMeter(pids), options.arrival_timeout
            )
            # Each latency run starts once the services have digested the runs before it.
            await wait_caught_up(url, options.arrival_timeout, poll=0.2)
            progress("orderchat one-to-one latency")
            routes = await population.direct_pairs(senders, readers, population.new_tenant("l"), options.pairs)
            direct_latency = await delivery.latency(routes, options.rate, options.latency_seconds, options.text_bytes, options.fetch_batch, idle, options.arrival_timeout)
            await wait_caught_up(url, options.arrival_timeout, poll=0.2)
            progress("orderchat group latency")
            routes = await population.groups(senders, readers, population.new_tenant("m"), 1, options.group_size)
            group_latency = await delivery.latency(routes, options.group_rate, options.latency_seconds, options.text_bytes, options.fetch_batch, idle, options.arrival_timeout)
            rss = services.rss()
        finally:
            await senders.drain()
            await readers.drain()
    return {
        "services": names,
        "services_rss_mb": round(rss / 1e6, 1),
        "direct": {
            "throughput": direct.as_dict(),
            "cpu_seconds": direct_cpu,
            "cpu_us_per_msg": cpu_per_message(direct_cpu, options.messages),
            "pairs": options.pairs,
        },
        "group": {
            "throughput": group.as_dict(),
            "cpu_seconds": group_cpu,
            "cpu_us_per_msg": cpu_per_message(group_cpu, options.group_messages),
            "groups": options.groups,
            "members": options.group_size,
        },
        "latency_direct": direct_latency.as_dict(),
        "latency_group": {
            **group_latency.as_dict(),
            "offered_deliveries_per_s": options.group_rate * options.group_size,
            "members": options.group_size,
        },
    }


async def durability_run(sync: str, options: BenchOptions, work_dir: Path, size: int, progress: Progress, meta: dict[str, Any]) -> dict[str, Any]:
    with nats_server(work_dir, sync) as server:
        meta.setdefault("nats_server", server_version(server))
        await provision_server(server.url)
        pid = server.process.pid  # type: ignore[union-attr]
        log_dir = work_dir / f"logs-{sync}"
        progress(f"[sync_interval={sync}] raw nats-py pipeline baseline")
        pipeline = await raw_section(server.url, "pipeline", options, size, log_dir, pid)
        progress(f"[sync_interval={sync}] raw nats-py request baseline")
        request = await raw_section(server.url, "request", options, size, log_dir, pid)
        oc = await orderchat_section(server.url, server, options, log_dir, lambda s: progress(f"[sync_interval={sync}] {s}"))
    base_pipeline = pipeline["throughput"]["msgs_per_s"]
    base_request = request["throughput"]["msgs_per_s"]
    for kind in ("direct", "group"):
        tp = oc[kind]["throughput"]
        oc[kind]["ratio_to_pipeline_baseline"] = ratio(tp["msgs_per_s"], base_pipeline)
        oc[kind]["ratio_to_request_baseline"] = ratio(tp["msgs_per_s"], base_request)
        oc[kind]["deliveries_ratio_to_pipeline_baseline"] = ratio(tp["deliveries_per_s"], base_pipeline)
    return {"sync_interval": sync, "baseline_pipeline": pipeline, "baseline_request": request, "orderchat": oc}


async def scale_run(options: BenchOptions, work_dir: Path, progress: Progress, meta: dict[str, Any]) -> dict[str, Any]:
    plan = ScalePlan(options.scale_users, options.scale_conversations, options.scale_messages)
    sync = "2m"  # seeding a million messages with an fsync each would take most of an hour
    with nats_server(work_dir / "scale", sync) as server:
        meta.setdefault("nats_server", server_version(server))
        await provision_server(server.url)
        admin = await nats.connect(server.url, name="bench-scale-seed")
        try:
            progress(f"scale: directory of {plan.users} users, {plan.conversations} conversations, device consumers")
            t = time.perf_counter()
            await seed_directory(admin, plan)
            directory_s = time.perf_counter() - t
            progress(f"scale: writing {plan.messages} messages")
            t = time.perf_counter()
            write_rate = await seed_messages(admin, plan)
            messages_s = time.perf_counter() - t
        finally:
            await admin.drain()
        names = list(options.services or SERVICES)
        async with services_process(server.url, names, work_dir / "scale" / "logs") as services:
            progress("scale: services catching up with the stored history")
            catch_up_s = await wait_caught_up(server.url, timeout=1800)
            progress("scale: history pages and conversation lists")
            reads = await measure_reads(server.url, plan, options.scale_samples)
            services_rss = services.rss()
        server_rss = _rss(server.process.pid)  # type: ignore[union-attr]
        store_bytes = sum(f.stat().st_size for f in server.config.store_dir.rglob("*") if f.is_file())
    return {
        "sync_interval": sync,
        "users": plan.users,
        "conversations": plan.conversations,
        "messages": plan.messages,
        "seed_directory_s": round(directory_s, 1),
        "seed_messages_s": round(messages_s, 1),
        "seed_write_msgs_per_s": round(write_rate),
        "services_catch_up_s": round(catch_up_s, 1),
        **reads,
        "services": names,
        "services_rss_mb": round(services_rss / 1e6, 1),
        "nats_server_rss_mb": round(server_rss / 1e6, 1),
        "store_mb": round(store_bytes / 1e6, 1),
    }


def _rss(pid: int) -> int:
    from .processes import rss_bytes

    return rss_bytes(pid)


async def run(options: BenchOptions, progress: Progress) -> dict[str, Any]:
    started = time.perf_counter()
    # The load generator (raw baselines and orderchat's clients alike) gets the services'
    # collector settings, so its own full collections do not show up as delivery latency.
    tuning.settle()
    own_dir = options.work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="orderchat-bench-")) if own_dir else Path(options.work_dir)  # type: ignore[arg-type]
    work_dir.mkdir(parents=True, exist_ok=True)
    size = delivery.stored_size(options.text_bytes)
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": options.quick,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "layout": LAYOUT,
        "message_bytes": size,
        "messages": options.messages,
        "group_messages": options.group_messages,
        "pairs": options.pairs,
        "fetch_batch": options.fetch_batch,
        "rate": options.rate,
        "group_rate": options.group_rate,
        "latency_seconds": options.latency_seconds,
    }
    try:
        durability = {}
        if "delivery" in options.sections:
            for sync in options.sync_modes:
                durability[sync] = await durability_run(sync, options, work_dir, size, progress, meta)
        orders: dict[str, Any] = {"status": "not run", "reason": "not asked for (--only)"}
        if "order-sync" in options.sections:
            orders = await order_sync.run(options, work_dir, lambda s: progress(f"order sync: {s}"))
        scale: dict[str, Any] = {"status": "not run", "reason": "pass --scale (outside CI)"}
        if options.scale:
            scale = await scale_run(options, work_dir, progress, meta)
            scale["search"] = await search_runs(options, work_dir, progress)
    finally:
        if own_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    results = {"meta": meta, "durability": durability, "order_sync": orders, "scale": scale}
    results["targets"] = targets(results)
    meta["seconds"] = round(time.perf_counter() - started, 1)
    return results


async def search_runs(options: BenchOptions, work_dir: Path, progress: Progress) -> list[dict[str, Any]]:
    """Search over an archive store holding the scale run's messages and a tenth as many
    orders: SQLite always, PostgreSQL too when ORDERCHAT_BENCH_PG_URL names one (emptied)."""
    plan = ScaleSearchPlan(messages=options.scale_messages, orders=max(100, options.scale_messages // 10))
    stores = [f"sqlite:///{work_dir / 'search-scale.sqlite3'}"]
    if os.environ.get("ORDERCHAT_BENCH_PG_URL"):
        stores.append(os.environ["ORDERCHAT_BENCH_PG_URL"])
    return [await search_scale(plan, url, progress) for url in stores]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets against what this run measured (None: not measured in this run)."""
    rows: list[dict[str, Any]] = []

    def add(name: str, wanted: str, measured: float | None, met: bool | None) -> None:
        rows.append({"target": name, "wanted": wanted, "measured": measured, "met": met})

    for sync, run_ in results["durability"].items():
        oc = run_["orderchat"]
        r = oc["direct"]["ratio_to_pipeline_baseline"]
        add(f"delivery throughput, one-to-one, sync {sync}", ">= 0.5 x baseline", r, r >= 0.5)
        p99 = oc["latency_direct"]["p99_ms"]
        add(f"p99 one-to-one at {oc['latency_direct']['offered_per_s']:.0f} msgs/s, sync {sync}", "<= 10 ms", p99, p99 <= 10 and oc["latency_direct"]["lost"] == 0)
        p99 = oc["latency_group"]["p99_ms"]
        add(
            f"p99 group at {oc['latency_group']['offered_deliveries_per_s']:.0f} deliveries/s, sync {sync}",
            "<= 10 ms", p99, p99 <= 10 and oc["latency_group"]["lost"] == 0,
        )
    orders = results["order_sync"]
    measured = orders.get("status") == "measured"
    for name, wanted, key, path in (
        ("order-to-chat p99 by polling", "<= 1000 ms", "poll_p99_ms", "polling"),
        ("order-to-chat p99 by ERP push", "<= 100 ms", "push_p99_ms", "push"),
        ("confirm-to-ERP p99", "<= 500 ms", "confirm_p99_ms", "confirm"),
    ):
        value = orders.get(key) if measured else None
        limit = float(wanted.split()[1])
        add(name, wanted, value, None if value is None else value <= limit and orders[path]["lost"] == 0)
    scale = results["scale"]
    if "history_latest_page" in scale:
        page = max(scale["history_latest_page"]["p99_ms"], scale["history_deep_page"]["p99_ms"])
        add(f"history page p99 at {scale['messages']} messages", "<= 20 ms", page, page <= 20)
        rss = scale["services_rss_mb"]
        add("RSS of all services at that scale", "<= 300 MB", rss, rss <= 300)
        for run_ in scale.get("search", []):
            p99 = run_["search"]["all"]["p99_ms"]
            add(f"search p99, {run_['backend']}, {run_['messages']} msgs / {run_['orders']} orders", "<= 50 ms", p99, p99 <= 50)
    else:
        add("history page at 1M messages", "<= 20 ms", None, None)
        add("RSS of all services at 1M messages", "<= 300 MB", None, None)
    return rows
