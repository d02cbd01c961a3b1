"""Archive fixtures: both store backends, for real.

PostgreSQL comes from, in order: ORDERCHAT_TEST_PG_URL; a server on 127.0.0.1:5432 (trust auth,
database `test`); a throw-away cluster started here with the installed `initdb`/`pg_ctl`;
testcontainers when a Docker engine answers. Only when none of these exists is a PostgreSQL
test skipped, saying why. Each test gets its own schema, dropped afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from orderchat.services.archive.store import ArchiveStore, open_store

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    return None


def _own_cluster() -> Iterator[str] | None:
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not (initdb and pg_ctl) or os.geteuid() == 0:  # initdb refuses to run as root
        return None

    def run() -> Iterator[str]:
        data = Path(tempfile.mkdtemp(prefix="orderchat-pg-"))
        port = _free_port()
        subprocess.run([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"], check=True, capture_output=True)
        subprocess.run([pg_ctl, "-D", str(data), "-o", f"-p {port} -k {data} -h 127.0.0.1", "-w", "start"], check=True, capture_output=True)
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True)
            shutil.rmtree(data, ignore_errors=True)

    return run()


def _container() -> Iterator[str] | None:
    try:
        import docker  # type: ignore[import-not-found]

        docker.from_env().ping()
    except Exception:  # noqa: BLE001 - no engine
        return None

    def run() -> Iterator[str]:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()

    return run()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    explicit = os.environ.get("ORDERCHAT_TEST_PG_URL")
    if explicit:
        yield explicit
        return
    if _port_open("127.0.0.1", 5432):
        yield LOCAL_PG
        return
    for source in (_own_cluster, _container):
        running = source()
        if running is not None:
            yield from running
            return
    pytest.skip(
        "PostgreSQL not run: nothing on 127.0.0.1:5432, no usable initdb/pg_ctl (missing, or running as root), "
        "no Docker engine; set ORDERCHAT_TEST_PG_URL to run it"
    )


@pytest.fixture
async def pg_url(pg_server: str) -> AsyncIterator[str]:
    """A fresh schema of the PostgreSQL server for one test."""
    schema = f"oc_test_{uuid.uuid4().hex[:10]}"
    yield f"{pg_server}{'&' if '?' in pg_server else '?'}schema={schema}"
    conn = await asyncpg.connect(pg_server)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'archive.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[ArchiveStore]:
    opened = open_store(store_url)
    await opened.open()
    yield opened
    await opened.close()
