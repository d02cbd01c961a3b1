"""`orderchat bench`: delivery, latency, order sync and scale, each against raw nats-py in the
same run (see bench/README.md)."""

from __future__ import annotations

import signal
import sys
from dataclasses import replace
from pathlib import Path

import click

from .common import cli, run


@click.command("bench")
@click.option("--quick", is_flag=True, help="A smoke run of every section in seconds (what CI runs).")
@click.option("--scale", is_flag=True, help="Also the scale run: 10k conversations, 1M stored messages (minutes).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("bench-results.json"), show_default=True, help="Where to write the results.")
@click.option("--messages", type=int, default=None, help="Messages per throughput run.")
@click.option("--sync", "sync_modes", multiple=True, help='JetStream sync_interval to run under (repeatable; default: "always" and "2m").')
@click.option("--services", "services", default=None, help="Comma-separated services to host (default: all registered).")
@click.option("--scale-messages", type=int, default=None, help="Stored messages for --scale (default 1,000,000).")
@click.option("--only", "sections", multiple=True, type=click.Choice(["delivery", "order-sync", "scale"]), help="Run only these sections (repeatable; default: delivery and order-sync, plus scale with --scale).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Keep server stores and process logs here (default: a temporary directory, removed).")
def bench(
    quick: bool,
    scale: bool,
    json_path: Path,
    messages: int | None,
    sync_modes: tuple[str, ...],
    services: str | None,
    scale_messages: int | None,
    sections: tuple[str, ...],
    work_dir: Path | None,
) -> None:
    """Measure orderchat against raw nats-py on a nats-server the bench starts itself."""
    from orderchat.bench.options import BenchOptions
    from orderchat.bench.report import render, save
    from orderchat.bench.runner import run as run_bench

    options = BenchOptions.quick_run() if quick else BenchOptions()
    changes: dict[str, object] = {"scale": scale, "json_path": json_path, "work_dir": work_dir}
    if messages:
        changes["messages"] = messages
    if sync_modes:
        changes["sync_modes"] = tuple(sync_modes)
    if services:
        changes["services"] = tuple(s.strip() for s in services.split(",") if s.strip())
    if scale_messages:
        changes["scale_messages"] = scale_messages
    if sections:
        changes["sections"] = tuple(s for s in sections if s != "scale")
        changes["scale"] = scale or "scale" in sections
    options = replace(options, **changes)  # type: ignore[arg-type]

    # SIGTERM unwinds like Ctrl-C, so the servers and services the bench started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    def progress(step: str) -> None:
        click.echo(f"... {step}", err=True)

    results = run(run_bench(options, progress))
    save(results, options.json_path)
    click.echo(render(results))
    click.echo(f"results written to {options.json_path}")


cli.add_command(bench)


def bench_main() -> None:
    """Entry point of `python -m orderchat.bench`: the same command, standalone."""
    bench(prog_name="python -m orderchat.bench", args=sys.argv[1:])
