"""`orderchat dlq list|show|replay|purge`: what services could not process, and getting it
processed after a fix (each entry replays at most once; see services.monitor.dlq)."""

from __future__ import annotations

from pathlib import Path

import click
import nats

from orderchat.services.monitor.dlq import DeadLetters, ReplayRefused

from .common import async_command, cli, connect_options, emit_json, nats_url_of, settings_of


@cli.group()
def dlq() -> None:
    """Dead letters: inputs a service refused or could not process."""


def _tenant(ctx: click.Context, all_tenants: bool) -> str | None:
    return None if all_tenants else settings_of(ctx).tenant


async def _open(ctx: click.Context) -> tuple[nats.NATS, DeadLetters]:
    nc = await nats.connect(nats_url_of(ctx), name="orderchat-dlq", **connect_options(ctx))
    return nc, await DeadLetters.open(nc.jetstream())


@dlq.command("list")
@click.option("--service", default=None, help="Only this service's entries.")
@click.option("--limit", default=50, show_default=True, help="Newest entries to show.")
@click.option("--all-tenants", is_flag=True, help="Every tenant, not only --tenant.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def list_(ctx: click.Context, service: str | None, limit: int, all_tenants: bool, as_json: bool) -> None:
    """The newest dead letters, with their replay state."""
    nc, dead = await _open(ctx)
    try:
        entries = await dead.list(_tenant(ctx, all_tenants), service, limit)
    finally:
        await nc.drain()
    if as_json:
        emit_json([e.model_dump(mode="json") for e in entries])
        return
    for e in entries:
        replay = e.replay.state if e.replay else "-"
        click.echo(f"{e.seq:>8}  {e.ts:%Y-%m-%d %H:%M:%S}  {e.tenant:12} {e.service:10} {e.code:22} replay={replay:8} {e.original_subject}  {e.reason[:80]}")
    click.echo(f"{len(entries)} shown")


@dlq.command()
@click.argument("seq", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def show(ctx: click.Context, seq: int, as_json: bool) -> None:
    """One dead letter: headers, reason and the payload as it was received."""
    nc, dead = await _open(ctx)
    try:
        entry, data, headers = await dead.get(seq)
    except ReplayRefused as err:
        raise click.ClickException(str(err)) from None
    finally:
        await nc.drain()
    if as_json:
        emit_json({**entry.model_dump(mode="json"), "headers": headers, "payload": data.decode("utf-8", "replace")})
        return
    click.echo(entry.model_dump_json(indent=2))
    click.echo("payload:")
    click.echo(data.decode("utf-8", "replace"))


@dlq.command()
@click.argument("seqs", type=int, nargs=-1, required=True)
@click.option("--payload", "payload_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="Send this repaired payload instead of the parked one (one SEQ only).")
@click.option("--force", is_flag=True, help="Send again although an earlier replay's outcome is unknown (it timed out).")
@click.option("--timeout", default=10.0, show_default=True)
@click.pass_context
@async_command
async def replay(ctx: click.Context, seqs: tuple[int, ...], payload_file: Path | None, force: bool, timeout: float) -> None:
    """Re-submit parked inputs to their original subject; an entry already replayed is left alone."""
    if payload_file is not None and len(seqs) != 1:
        raise click.UsageError("--payload repairs one entry: give exactly one SEQ")
    payload = payload_file.read_bytes() if payload_file else None
    nc, dead = await _open(ctx)
    failed = False
    try:
        for seq in seqs:
            try:
                outcome = await dead.replay(nc, seq, payload, force=force, timeout=timeout)
            except ReplayRefused as err:
                click.echo(f"{seq}: {err}", err=True)
                failed = True
                continue
            failed = failed or outcome.state == "failed"
            click.echo(f"{seq}: {outcome.state}: {outcome.message}")
    finally:
        await nc.drain()
    if failed:
        raise SystemExit(1)


@dlq.command()
@click.argument("seqs", type=int, nargs=-1)
@click.option("--service", default=None, help="Only this service's entries.")
@click.option("--replayed", is_flag=True, help="Only entries replayed successfully.")
@click.option("--all", "everything", is_flag=True, help="Every entry of the tenant (or --service).")
@click.option("--all-tenants", is_flag=True)
@click.pass_context
@async_command
async def purge(ctx: click.Context, seqs: tuple[int, ...], service: str | None, replayed: bool, everything: bool, all_tenants: bool) -> None:
    """Remove dead letters: given SEQs, the replayed ones, or --all."""
    if not (seqs or replayed or everything):
        raise click.UsageError("say what to purge: SEQ..., --replayed or --all")
    nc, dead = await _open(ctx)
    try:
        removed = await dead.purge(_tenant(ctx, all_tenants), service=service, seqs=list(seqs) or None, replayed_only=replayed)
    finally:
        await nc.drain()
    click.echo(f"removed {removed} dead letter(s)")
