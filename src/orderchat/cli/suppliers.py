"""`orderchat suppliers stats` (response figures per supplier) and `orderchat suppliers sla`
(the read / answer deadlines, defaults and per-supplier overrides, kept in KV OC_SLA)."""

from __future__ import annotations

import csv
import io
import re

import click
import nats

from orderchat.schemas.alerts import SlaPolicy
from orderchat.services.sla.stats import SupplierStats, supplier_stats
from orderchat.services.sla.store import DEFAULT_POLICY_KEY, SlaStore

from .common import async_command, cli, connect_options, emit_json, nats_url_of, settings_of

COLUMNS = (
    "supplier", "orders", "amount", "answered", "read_median_s", "read_p90_s",
    "answer_median_s", "answer_p90_s", "change_rate", "reject_rate",
)


@cli.group()
def suppliers() -> None:
    """Supplier response figures and SLA deadlines."""


def _amount(stats: SupplierStats) -> str:
    return "; ".join(f"{v:.2f} {c}" for c, v in sorted(stats.amount.items()))


def _cell(stats: SupplierStats, column: str) -> str:
    if column == "amount":
        return _amount(stats)
    value = getattr(stats, column)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if column.endswith("rate") else f"{value:.1f}"
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


@suppliers.command()
@click.option("--month", default=None, help="YYYY-MM (default: all time).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def stats(ctx: click.Context, month: str | None, as_csv: bool, as_json: bool) -> None:
    """Orders, amount, time to read / answer (median, p90), change and reject rates."""
    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise click.BadParameter("use YYYY-MM", param_hint="--month")
    nc = await nats.connect(nats_url_of(ctx), name="orderchat-suppliers", **connect_options(ctx))
    try:
        rows = await supplier_stats(nc.jetstream(), settings_of(ctx).tenant, month)
    finally:
        await nc.drain()
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
    elif as_csv:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([_cell(r, c) for c in COLUMNS])
        click.echo(out.getvalue(), nl=False)
    else:
        click.echo(f"{'supplier':24} {'orders':>6} {'amount':>18} {'read p50/p90':>14} {'answer p50/p90':>16} {'changes':>8} {'rejects':>8}")
        for r in rows:
            rate = lambda v: "-" if v is None else f"{v:.0%}"  # noqa: E731
            click.echo(
                f"{r.supplier:24} {r.orders:>6} {_amount(r):>18} {_duration(r.read_median_s) + '/' + _duration(r.read_p90_s):>14} "
                f"{_duration(r.answer_median_s) + '/' + _duration(r.answer_p90_s):>16} {rate(r.change_rate):>8} {rate(r.reject_rate):>8}"
            )


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise click.BadParameter(f"{text!r}: use a number with s, m, h or d (e.g. 4h)")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


@suppliers.group()
def sla() -> None:
    """Deadlines to read and answer order cards."""


@sla.command("show")
@click.pass_context
@async_command
async def sla_show(ctx: click.Context) -> None:
    nc = await nats.connect(nats_url_of(ctx), name="orderchat-sla", **connect_options(ctx))
    try:
        store = await SlaStore.open(nc.jetstream())
        policies = await store.list_policies(settings_of(ctx).tenant)
    finally:
        await nc.drain()
    policies.setdefault(DEFAULT_POLICY_KEY, SlaPolicy())
    for who, p in sorted(policies.items()):
        label = "default" if who == DEFAULT_POLICY_KEY else who
        click.echo(f"{label:24} read within {_duration(p.read_within_s):>6}   answer within {_duration(p.answer_within_s):>6}")


@sla.command("set")
@click.option("--supplier", default=None, help="Override for one supplier (default: the tenant's default).")
@click.option("--read", "read_within", required=True, help="Time to read an order card, e.g. 4h.")
@click.option("--answer", "answer_within", required=True, help="Time to answer it, e.g. 24h.")
@click.pass_context
@async_command
async def sla_set(ctx: click.Context, supplier: str | None, read_within: str, answer_within: str) -> None:
    policy = SlaPolicy(read_within_s=_seconds(read_within), answer_within_s=_seconds(answer_within))
    nc = await nats.connect(nats_url_of(ctx), name="orderchat-sla", **connect_options(ctx))
    try:
        store = await SlaStore.open(nc.jetstream())
        await store.set_policy(settings_of(ctx).tenant, supplier, policy)
    finally:
        await nc.drain()
    click.echo(f"{supplier or 'default'}: read within {_duration(policy.read_within_s)}, answer within {_duration(policy.answer_within_s)} (applies to cards sent from now on)")
