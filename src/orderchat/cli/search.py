"""`orderchat search`, `orderchat export` and `orderchat archive rebuild`: find any order or
message again, hand a supplier's month to a spreadsheet, rebuild the archive from the streams."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from orderchat.client import OrderchatClient
from orderchat.schemas import names
from orderchat.schemas.search import (
    ExportReply,
    ExportRequest,
    ExportRow,
    OrderHit,
    SearchKind,
    SearchReply,
    SearchRequest,
    month_is_valid,
)

from .common import async_command, cli, connect_options, emit_json, nats_url_of, settings_of

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def local_zone(name: str | None) -> tzinfo:
    if not name:
        return datetime.now().astimezone().tzinfo or timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {name!r} (e.g. Asia/Shanghai, UTC)", param_hint="--tz") from None


def aware(value: datetime | None, tz: tzinfo) -> datetime | None:
    """A date typed at the command line means local time."""
    return None if value is None else value.replace(tzinfo=tz)


async def _client(ctx: click.Context, user: str) -> OrderchatClient:
    return await OrderchatClient.connect(nats_url_of(ctx), user, tenant=settings_of(ctx).tenant, device="cli", **connect_options(ctx, user))


def describe_hit(hit, tz: tzinfo) -> str:
    when = hit.ts.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(hit, OrderHit):
        price = f" @ {hit.unit_price}" if hit.unit_price is not None else ""
        ref = f" [{hit.erp_ref}]" if hit.erp_ref else ""
        return (f"{when}  order {hit.order_id}{ref} ({hit.state}, {hit.supplier})  line {hit.line_id}: "
                f"{hit.description} {hit.sku} x {hit.quantity} {hit.unit}{price}")
    where = hit.conv_title or hit.conv
    return f"{when}  chat  {where} #{hit.seq}  {hit.sender}: {hit.text}"


@cli.command("search")
@click.argument("query")
@click.option("--as", "user", required=True, envvar="ORDERCHAT_USER", help="Acting user: you find only what you may see.")
@click.option("--supplier", default=None, help="Only this supplier's orders and conversations.")
@click.option("--since", type=click.DateTime(DATE_FORMATS), default=None, help="From this date (local time).")
@click.option("--until", type=click.DateTime(DATE_FORMATS), default=None, help="Before this date (local time).")
@click.option("--kind", type=click.Choice([k.value for k in SearchKind]), default=None, help="Only orders or only chat messages.")
@click.option("--limit", type=click.IntRange(1, 200), default=50)
@click.option("--tz", "tz_name", default=None, help="Time zone for dates shown and typed (default: this machine's).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def search(ctx: click.Context, query: str, user: str, supplier: str | None, since: datetime | None, until: datetime | None,
                 kind: str | None, limit: int, tz_name: str | None, as_json: bool) -> None:
    """Find orders and messages: words in any order, Chinese without spaces (`A4纸`, `蓝色中性笔`)."""
    tz = local_zone(tz_name)
    request = SearchRequest(
        query=query, supplier=supplier, since=aware(since, tz), until=aware(until, tz),
        kind=SearchKind(kind) if kind else None, limit=limit,
    )
    async with await _client(ctx, user) as client:
        reply = await client.request(names.OP_SEARCH, request, SearchReply)
    if as_json:
        emit_json(reply)
        return
    for hit in reply.hits:
        click.echo(describe_hit(hit, tz))
    click.echo(f"{len(reply.hits)} hit{'s' if len(reply.hits) != 1 else ''} for {query!r} ({reply.took_ms} ms)", err=True)


@cli.command("export")
@click.option("--as", "user", required=True, envvar="ORDERCHAT_USER", help="Acting user (a supplier exports only itself).")
@click.option("--supplier", required=True)
@click.option("--month", required=True, help="YYYY-MM (orders created in that month, UTC).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="xlsx", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File to write (default: SUPPLIER-MONTH.FORMAT).")
@click.option("--tz", "tz_name", default=None, help="Time zone of the times in the file (default: this machine's).")
@click.pass_context
@async_command
async def export(ctx: click.Context, user: str, supplier: str, month: str, fmt: str, out: Path | None, tz_name: str | None) -> None:
    """Write a supplier's orders of one month (lines, states, amounts, time to read and to answer)."""
    from orderchat.services.archive.export import to_csv, to_xlsx

    if not month_is_valid(month):
        raise click.BadParameter(f"{month!r} is not a month like 2025-03", param_hint="--month")
    tz = local_zone(tz_name)
    rows: list[ExportRow] = []
    after: str | None = None
    async with await _client(ctx, user) as client:
        while True:
            page = await client.request(
                names.OP_EXPORT, ExportRequest(supplier=supplier, month=month, after=after), ExportReply, timeout=30
            )
            rows += page.rows
            if page.next_after is None:
                break
            after = page.next_after
    out = out or Path(f"{supplier}-{month}.{fmt}")
    data = to_csv(rows, tz) if fmt == "csv" else to_xlsx(rows, tz, f"{supplier} {month}")
    out.write_bytes(data)
    orders = len({row.order_id for row in rows})
    click.echo(f"wrote {out}: {orders} order{'s' if orders != 1 else ''}, {len(rows)} row{'s' if len(rows) != 1 else ''}")


@cli.group("archive")
def archive_group() -> None:
    """The search archive's store."""


@archive_group.command("rebuild")
@click.option("--store", "store_url", envvar="ORDERCHAT_ARCHIVE_URL", required=True,
              help="Store URL: sqlite:///path/archive.sqlite3 or postgresql://... (stop the archive service first).")
@click.option("--timeout", type=float, default=3600.0, show_default=True)
@click.pass_context
@async_command
async def archive_rebuild(ctx: click.Context, store_url: str, timeout: float) -> None:
    """Drop the store and project every stream again from sequence 1."""
    import nats

    from orderchat.services.archive.service import Archive
    from orderchat.services.archive.store import open_store

    nc = await nats.connect(nats_url_of(ctx), name="orderchat-archive-rebuild", **connect_options(ctx))
    try:
        archive = Archive(nc.jetstream(timeout=10), open_store(store_url))
        await archive.store.open()
        started = datetime.now()
        await archive.rebuild(timeout)
        seqs = {name: p.applied for name, p in archive.projectors.items()}
        digest = await archive.store.digest()
        await archive.stop()
    finally:
        await nc.drain()
    took = (datetime.now() - started).total_seconds()
    click.echo(f"rebuilt in {took:.1f}s: " + ", ".join(f"{k} up to {v}" for k, v in seqs.items()) + f"; digest {digest[:16]}")
