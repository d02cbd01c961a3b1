"""`orderchat monitor`: a live terminal view of traffic per subject family, streams,
consumers (lagging first), dead letters and SLA breaches; `--json` prints one snapshot."""

from __future__ import annotations

import asyncio
import os

import click
import nats
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orderchat.runtime.settings import Settings, read_runtime
from orderchat.services.monitor.server_api import ServerMonitor
from orderchat.services.monitor.snapshot import RateTracker, Snapshot, take_snapshot

from .common import async_command, cli, connect_options, emit_json, nats_url_of, settings_of


def monitor_url_of(settings: Settings, explicit: str | None) -> str:
    url = explicit or os.environ.get("ORDERCHAT_MONITOR_URL")
    if not url:
        info = read_runtime(settings) or {}
        url = info.get("monitor_url")
    if not url:
        raise click.UsageError("no nats-server monitoring URL: pass --monitor-url (the server's `http` port) or run `orderchat up`")
    return str(url)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def render(snapshot: Snapshot) -> Group:
    s = snapshot.server
    head = Text(
        f"nats-server {s.server_name} {s.version}  up {s.uptime}  conns {s.connections}  subs {s.subscriptions}  "
        f"in {s.in_msgs:,} out {s.out_msgs:,} msgs  slow consumers {s.slow_consumers}  "
        f"tenant {snapshot.tenant or 'all'}  {snapshot.taken_at:%H:%M:%S}",
        style="bold",
    )
    families = Table(title="Subject families", title_justify="left")
    for col in ("family", "pattern", "msgs", "msgs/s", "stream", "stored"):
        families.add_column(col, justify="right" if col in ("msgs", "msgs/s", "stored") else "left")
    for f in snapshot.families.values():
        families.add_row(f.family, f.pattern, f"{f.msgs:,}", _rate(f.rate), f.stream or "", "" if f.stored is None else f"{f.stored:,}")
    streams = Table(title="Streams", title_justify="left")
    for col in ("stream", "messages", "bytes", "subjects", "consumers", "first", "last"):
        streams.add_column(col)
    for st in snapshot.streams:
        streams.add_row(st.name, f"{st.messages:,}", f"{st.bytes:,}", f"{st.subjects:,}", str(st.consumers), (st.first_ts or "")[:19], (st.last_ts or "")[:19])
    consumers = Table(title=f"Consumers, lagging first ({len(snapshot.consumers)} of {snapshot.consumers_total})", title_justify="left")
    for col in ("stream", "consumer", "pending", "ack pending", "redelivered", "waiting", "last active"):
        consumers.add_column(col)
    for c in snapshot.consumers[:15]:
        style = "red" if c.lag else None
        consumers.add_row(c.stream, c.name, f"{c.pending:,}", f"{c.ack_pending:,}", f"{c.redelivered:,}", str(c.waiting), (c.last_active or "")[:19], style=style)
    dead = Table(title=f"Dead letters: {snapshot.dead_letters.count:,}", title_justify="left")
    for col in ("service", "code", "count", "latest reason"):
        dead.add_column(col)
    for r in snapshot.dead_letters.top_reasons:
        dead.add_row(str(r["service"]), str(r["code"]), str(r["count"]), str(r["example"])[:80])
    parts = [head, families, streams, consumers, dead]
    if snapshot.sla is not None:
        sla = Table(title=f"Open SLA breaches: {snapshot.sla.open_breaches}", title_justify="left")
        for col in ("tenant", "order", "kind", "supplier", "due", "breached"):
            sla.add_column(col)
        for b in snapshot.sla.breaches[:10]:
            sla.add_row(b["tenant"], b["order_id"], b["kind"], b["supplier"], str(b["due"])[:19], str(b["breached_at"])[:19])
        parts.append(sla)
    if snapshot.erp:
        erp = Table(title="ERP sync", title_justify="left")
        for col in ("tenant", "database", "ERP up", "sync lag", "write-backs pending", "done", "refused", "last error"):
            erp.add_column(col)
        for e in snapshot.erp:
            lag = "-" if e.sync_lag_seconds is None else f"{e.sync_lag_seconds:,.0f}s"
            erp.add_row(e.tenant, e.database, "yes" if e.erp_up else "NO", lag, str(e.writeback_pending), str(e.writebacks_done), str(e.writebacks_refused), (e.last_error or "")[:60], style=None if e.erp_up else "red")
        parts.append(erp)
    else:
        parts.append(Text("ERP: no connector status (sync lag and write-back queue appear once a connector runs)", style="dim"))
    return Group(*parts)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one snapshot as JSON and exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between refreshes of the live view.")
@click.option("--window", default=1.0, show_default=True, help="With --json: seconds between the two samples rates are computed from (0: no rates).")
@click.option("--tenant", "only_tenant", default=None, help="Limit stored counts, consumers, dead letters and SLA to one tenant (default: all).")
@click.option("--monitor-url", default=None, help="nats-server monitoring URL (default: the running `orderchat up`'s).")
@click.option("--consumers", "max_consumers", default=50, show_default=True, help="How many consumers to list (most lagging first).")
@click.pass_context
@async_command
async def monitor(ctx: click.Context, as_json: bool, interval: float, window: float, only_tenant: str | None, monitor_url: str | None, max_consumers: int) -> None:
    """Subjects, streams, consumers, dead letters and SLA breaches, live."""
    url = monitor_url_of(settings_of(ctx), monitor_url)
    nc = await nats.connect(nats_url_of(ctx), name="orderchat-monitor", **connect_options(ctx))
    try:
        async with ServerMonitor(url) as server:
            js = nc.jetstream()
            if as_json:
                snapshot = await take_snapshot(js, server, tenant=only_tenant, window=window, max_consumers=max_consumers)
                emit_json(snapshot.model_dump(mode="json"))
                return
            console = Console()
            if not console.is_terminal:  # piped or redirected: one snapshot, as text, then exit
                snapshot = await take_snapshot(js, server, tenant=only_tenant, window=window, max_consumers=max_consumers)
                console.print(render(snapshot))
                return
            rates = RateTracker()
            snapshot = await take_snapshot(js, server, tenant=only_tenant, rates=rates, max_consumers=max_consumers)
            # Taller than the terminal: the view scrolls rather than being cut off at its foot
            # (where the SLA and ERP tables are).
            with Live(render(snapshot), console=console, refresh_per_second=4, screen=False, vertical_overflow="visible") as live:
                while True:
                    await asyncio.sleep(interval)
                    snapshot = await take_snapshot(js, server, tenant=only_tenant, rates=rates, max_consumers=max_consumers)
                    live.update(render(snapshot))
    finally:
        await nc.drain()
