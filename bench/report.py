"""The bench's table (for people) and JSON (for CI and the README)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def _n(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)]


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    out = [
        f"orderchat bench ({'quick smoke' if meta['quick'] else 'full run'}), {meta['cpus']} CPUs, "
        f"Python {meta['python']}, {meta.get('nats_server', '?')}",
        f"{meta['messages']:,} messages of {meta['message_bytes']} B per throughput run, "
        f"{meta['pairs']} one-to-one pairs in flight, fetch batch {meta['fetch_batch']}",
        meta["layout"],
        "",
    ]
    if results["durability"]:
        out += _delivery(results)
    else:
        out += ["Delivery: not run (not asked for (--only))"]
    out += ["", *_order_sync(results["order_sync"])]
    _rest(results, out)
    return "\n".join(out)


def _delivery(results: dict[str, Any]) -> list[str]:
    out = ["Throughput (msgs/s; deliveries/s where a message reaches several inboxes; CPU µs per message)"]
    cores = results["meta"]["cpus"]
    rows = []
    for sync, run in results["durability"].items():
        for label, section in (("raw pipeline (A→relay→B)", run["baseline_pipeline"]), ("raw request→stream", run["baseline_request"])):
            tp = section["throughput"]
            rows.append([sync, label, _n(tp["msgs_per_s"]), _n(tp["deliveries_per_s"]), "1.00" if "pipeline" in label else "-", _cpu(section), _ceiling(section, cores)])
        oc = run["orderchat"]
        for label, key in (("orderchat one-to-one", "direct"), (f"orderchat group of {oc['group']['members']}", "group")):
            tp = oc[key]["throughput"]
            ratio = f"{oc[key]['ratio_to_pipeline_baseline']:.2f} / {oc[key]['ratio_to_request_baseline']:.2f}"
            rows.append([sync, label, _n(tp["msgs_per_s"]), _n(tp["deliveries_per_s"]), ratio, _cpu(oc[key]), _ceiling(oc[key], cores)])
    out += _table(["sync", "path", "msgs/s", "deliveries/s", "ratio (pipeline / request)", "CPU µs/msg", "CPU-bound ceiling, msgs/s"], rows)
    out += [
        f"CPU-bound ceiling: the msgs/s at which the processes' CPU per message (all three together) would fill all "
        f"{cores} cores. No path's ratio to the pipeline can pass its ceiling over the pipeline's measured msgs/s."
    ]
    out += ["", "End-to-end latency at a fixed offered load (open loop, ms)"]
    rows = []
    for sync, run in results["durability"].items():
        for label, key in (("raw pipeline", "baseline_pipeline"), ("raw request→stream", "baseline_request")):
            lat = run[key].get("latency")
            if lat:
                rows.append([sync, label, _n(lat["offered_per_s"]) + " msgs/s", *_lat(lat)])
        oc = run["orderchat"]
        rows.append([sync, "orderchat one-to-one", _n(oc["latency_direct"]["offered_per_s"]) + " msgs/s", *_lat(oc["latency_direct"])])
        g = oc["latency_group"]
        rows.append([sync, f"orderchat group of {g['members']}", f"{_n(g['offered_deliveries_per_s'])} deliveries/s", *_lat(g)])
    out += _table(["sync", "path", "offered", "p50", "p90", "p99", "max", "lost"], rows)
    out += ["", "orderchat's latency split at the delivery service's timestamp (ms)"]
    rows = []
    for sync, run in results["durability"].items():
        oc = run["orderchat"]
        for label, lat in (("one-to-one", oc["latency_direct"]), (f"group of {oc['latency_group']['members']}", oc["latency_group"])):
            if lat.get("to_service_p99_ms") is not None:
                rows.append([
                    sync, label, _n(lat["to_service_p50_ms"], 2), _n(lat["to_service_p99_ms"], 2),
                    _n(lat["to_inbox_p50_ms"], 2), _n(lat["to_inbox_p99_ms"], 2),
                ])
    out += _table(["sync", "path", "send → stamped p50", "p99", "stamped → inbox p50", "p99"], rows)
    return out


def _rest(results: dict[str, Any], out: list[str]) -> None:
    scale = results["scale"]
    out += [""]
    if "history_latest_page" in scale:
        out += [
            f"Scale: {scale['conversations']:,} conversations, {scale['messages']:,} messages, {scale['users']:,} users "
            f"(seeded in {scale['seed_messages_s']} s at {scale['seed_write_msgs_per_s']:,} msgs/s, sync {scale['sync_interval']})",
            *_table(
                ["read", "p50 ms", "p99 ms", "max ms"],
                [
                    ["history, latest page", *_timing(scale["history_latest_page"])],
                    ["history, older page", *_timing(scale["history_deep_page"])],
                    ["conversation list with unread counts", *_timing(scale["conv_list_with_unread"])],
                ],
            ),
            f"unread counts right: {scale['unread_counts_correct']} of {scale['unread_counts_checked']}; "
            f"RSS: services {scale['services_rss_mb']} MB, nats-server {scale['nats_server_rss_mb']} MB; store {scale['store_mb']} MB",
        ]
        for run_ in scale.get("search", []):
            search = run_["search"]
            out += [
                "",
                f"Search over {run_['messages']:,} messages and {run_['orders']:,} orders ({run_['backend']}; ms per query, chat and orders together)",
                *_table(
                    ["user", "samples", "p50 ms", "p99 ms"],
                    [[who, str(t["samples"]), _n(t["p50_ms"], 2), _n(t["p99_ms"], 2)] for who, t in search.items()],
                ),
            ]
    else:
        out += [f"Scale: {scale.get('status')} ({scale.get('reason', '')})"]
    out += ["", "Targets"]
    out += _table(
        ["target", "wanted", "measured", "met"],
        [[t["target"], t["wanted"], _n(t["measured"], 2), {True: "yes", False: "NO", None: "not measured"}[t["met"]]] for t in results["targets"]],
    )
    out += ["", f"{results['meta'].get('seconds', '?')} s in all"]


def _order_sync(orders: dict[str, Any]) -> list[str]:
    if orders.get("status") != "measured":
        why = f" (missing: {', '.join(orders['missing'])})" if orders.get("missing") else (f" ({orders['reason']})" if orders.get("reason") else "")
        return [f"Order sync: {orders.get('status')}{why}"]
    poll, fallback = orders["poll_interval_s"], orders["push_fallback_poll_interval_s"]
    rows = [
        ["PO sent in ERP → card in supplier's inbox", f"polling every {poll:g} s", f"{orders['polling']['offered_per_s']:.1f} POs/s", *_lat(orders["polling"])],
        ["PO sent in ERP → card in supplier's inbox", f"ERP webhook (poll every {fallback:g} s)", f"{orders['push']['offered_per_s']:.1f} POs/s", *_lat(orders["push"])],
        ["supplier confirms → PO 'purchase' in ERP", "write-back", "one at a time", *_lat(orders["confirm"])],
    ]
    warm = orders["warmup_ms"]
    return [
        f"Order sync (ms; demo ERP standing in for Odoo; {orders['orders']} POs per path, sync {orders['sync_interval']}; "
        f"first order of each path, apart: polling {warm['polling']:.0f}, push {warm['push']:.0f})",
        *_table(["path", "how", "offered", "p50", "p90", "p99", "max", "lost"], rows),
    ]


def _ceiling(section: dict[str, Any], cores: int) -> str:
    """What the machine could do at most if only CPU limited it: every process's CPU per
    message (the load generator's too) against all cores."""
    total = sum(section["cpu_us_per_msg"].values())
    return _n(cores * 1e6 / total) if total else "-"


def _cpu(section: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in section["cpu_us_per_msg"].items())


def _lat(lat: dict[str, Any]) -> list[str]:
    return [_n(lat["p50_ms"], 2), _n(lat["p90_ms"], 2), _n(lat["p99_ms"], 2), _n(lat["max_ms"], 1), _n(lat["lost"])]


def _timing(t: dict[str, Any]) -> list[str]:
    return [_n(t["p50_ms"], 2), _n(t["p99_ms"], 2), _n(t["max_ms"], 1)]


def save(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
