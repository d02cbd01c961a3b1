"""`orderchat schema`: the wire contract as AsyncAPI and JSON Schema, generated from code."""

from __future__ import annotations

from pathlib import Path

import click

from orderchat.schemas.asyncapi import asyncapi_document, write_asyncapi, write_json_schemas

from .common import cli, emit_json


@cli.group()
def schema() -> None:
    """Write the AsyncAPI document or JSON Schemas."""


@schema.command("asyncapi")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout).")
def schema_asyncapi(out: str | None) -> None:
    if out:
        write_asyncapi(Path(out))
        click.echo(f"wrote {out}", err=True)
    else:
        emit_json(asyncapi_document())


@schema.command("json")
@click.argument("directory", type=click.Path(file_okay=False))
def schema_json(directory: str) -> None:
    written = write_json_schemas(Path(directory))
    click.echo(f"wrote {len(written)} schemas to {directory}")
