"""The bench's CI smoke: `orderchat bench --quick --scale` runs every section end to end (its
own nats-server, the real services in their own process, the real client) and writes JSON
with sane numbers. Keeps the bench from rotting; the numbers themselves are for the full run."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SYNC_MODES = ("always", "2m")


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value) and value > 0


# ~35 s on a quiet machine (order sync ~13 s of it: it starts the demo ERP and the services
# twice); the bound is for a busy one (and the bench fails by itself, with a reason, when
# deliveries stall for its own 60 s arrival timeout).
BOUND = 420


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    argv = [sys.executable, "-m", "orderchat.cli.main", "bench", "--quick", "--scale", "--json", str(out)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as bench:
        try:
            stdout, stderr = bench.communicate(timeout=BOUND)
        except subprocess.TimeoutExpired:
            bench.terminate()  # SIGTERM: the bench stops the servers and services it started
            stdout, stderr = bench.communicate(timeout=60)
            pytest.fail(f"bench --quick still running after {BOUND}s:\n{stderr[-4000:]}")
    assert bench.returncode == 0, stderr[-4000:]
    assert "Targets" in stdout and "orderchat one-to-one" in stdout
    return json.loads(Path(out).read_text())


@pytest.mark.timeout(BOUND + 120)
def test_every_section_is_there(results: dict) -> None:
    assert set(results) == {"meta", "durability", "order_sync", "scale", "targets"}
    assert tuple(results["durability"]) == SYNC_MODES
    assert results["meta"]["quick"] is True and positive(results["meta"]["message_bytes"])


@pytest.mark.parametrize("sync", SYNC_MODES)
def test_throughput_and_ratios_are_measured(results: dict, sync: str) -> None:
    run = results["durability"][sync]
    assert run["sync_interval"] == sync
    for baseline in ("baseline_pipeline", "baseline_request"):
        tp = run[baseline]["throughput"]
        assert tp["messages"] == results["meta"]["messages"] and positive(tp["msgs_per_s"])
        assert all(positive(v) for v in run[baseline]["cpu_us_per_msg"].values())
    oc = run["orderchat"]
    assert oc["direct"]["throughput"]["deliveries"] == results["meta"]["messages"]
    group = oc["group"]
    assert group["throughput"]["deliveries"] == results["meta"]["group_messages"] * group["members"]
    for kind in ("direct", "group"):
        assert positive(oc[kind]["throughput"]["msgs_per_s"])
        assert positive(oc[kind]["ratio_to_pipeline_baseline"]) and positive(oc[kind]["ratio_to_request_baseline"])
        assert set(oc[kind]["cpu_seconds"]) == {"services", "nats-server", "load-generator"}
    assert positive(oc["services_rss_mb"])


@pytest.mark.parametrize("sync", SYNC_MODES)
def test_latency_counts_every_message(results: dict, sync: str) -> None:
    run = results["durability"][sync]
    for latency in (run["orderchat"]["latency_direct"], run["orderchat"]["latency_group"], run["baseline_pipeline"]["latency"], run["baseline_request"]["latency"]):
        assert latency["lost"] == 0 and latency["samples"] > 0
        assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    for latency in (run["orderchat"]["latency_direct"], run["orderchat"]["latency_group"]):
        # The two halves, split at the service's stamp: each no longer than the whole path's
        # slowest message (1 ms for the two clocks' conversion).
        assert latency["to_service_p50_ms"] <= latency["to_service_p99_ms"] <= latency["max_ms"] + 1
        assert 0 < latency["to_inbox_p50_ms"] <= latency["to_inbox_p99_ms"] <= latency["max_ms"] + 1
    group = run["orderchat"]["latency_group"]
    assert group["samples"] % group["members"] == 0  # every member's inbox got every message


def test_scale_section_reads_through_the_services(results: dict) -> None:
    scale = results["scale"]
    assert scale["messages"] > 0 and positive(scale["seed_write_msgs_per_s"])
    for read in ("history_latest_page", "history_deep_page", "conv_list_with_unread"):
        assert scale[read]["samples"] > 0 and positive(scale[read]["p50_ms"])
    assert scale["unread_counts_checked"] > 0
    assert scale["unread_counts_correct"] == scale["unread_counts_checked"]  # every count checked against the seeded cursors
    assert positive(scale["services_rss_mb"]) and positive(scale["nats_server_rss_mb"])
    [sqlite] = [run for run in scale["search"] if run["backend"] == "sqlite"]
    assert sqlite["messages"] == scale["messages"] and sqlite["orders"] > 0
    for who in ("buyer", "supplier", "supplier_categories", "all"):
        timing = sqlite["search"][who]
        assert timing["samples"] > 0 and 0 < timing["p50_ms"] <= timing["p99_ms"], (who, timing)
    assert any(t["target"].startswith("search p99, sqlite") for t in results["targets"])


def test_order_sync_times_every_order_both_ways(results: dict) -> None:
    orders = results["order_sync"]
    assert orders["status"] == "measured", orders
    assert {"delivery", "orders", "erp"} <= set(orders["services"])
    n = orders["orders"]
    assert n > 0
    for path, expected in (("polling", n), ("push", n), ("confirm", 2 * n)):  # confirms: the orders of both paths
        timing = orders[path]
        assert timing["samples"] == expected and timing["lost"] == 0, (path, timing)
        assert 0 < timing["p50_ms"] <= timing["p99_ms"] <= timing["max_ms"] and positive(timing["offered_per_s"])
    # Pushed cards came by the webhook: the connector's fallback poll was far slower.
    assert orders["push"]["max_ms"] < orders["push_fallback_poll_interval_s"] * 1000
    assert orders["confirm_reply"]["samples"] == 2 * n and positive(orders["confirm_reply"]["p50_ms"])
    assert all(positive(orders["warmup_ms"][path]) for path in ("polling", "push"))
    assert (orders["poll_p99_ms"], orders["push_p99_ms"], orders["confirm_p99_ms"]) == (
        orders["polling"]["p99_ms"], orders["push"]["p99_ms"], orders["confirm"]["p99_ms"]
    )


def test_targets_are_judged(results: dict) -> None:
    rows = results["targets"]
    search_rows = len(results["scale"].get("search", []))
    assert len(rows) == 3 * len(SYNC_MODES) + 3 + 2 + search_rows
    for row in rows:
        assert row["met"] in (True, False, None)
        assert (row["measured"] is None) == (row["met"] is None)
    judged = {row["target"]: row for row in rows}
    for name in ("order-to-chat p99 by polling", "order-to-chat p99 by ERP push", "confirm-to-ERP p99"):
        assert judged[name]["met"] is not None, f"{name} is measured in every run"


def test_module_entry_point_answers() -> None:
    done = subprocess.run([sys.executable, "-m", "orderchat.bench", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--quick" in done.stdout
