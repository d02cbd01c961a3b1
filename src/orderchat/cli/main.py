"""The `orderchat` command."""

from __future__ import annotations

import importlib

import click

from .common import cli

# Each area of the command line lives in its own module and registers its commands on `cli`.
COMMAND_MODULES = [
    "orderchat.cli.system",
    "orderchat.cli.chat",
    "orderchat.cli.users",
    "orderchat.cli.schema",
    "orderchat.cli.bench",
    "orderchat.cli.search",
    "orderchat.cli.orders",
    "orderchat.cli.monitor",
    "orderchat.cli.dlq",
    "orderchat.cli.suppliers",
    "orderchat.cli.demo",
    "orderchat.cli.erp",
]


def _load() -> click.Group:
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    return cli


def main() -> None:
    _load()(prog_name="orderchat")


if __name__ == "__main__":
    main()
