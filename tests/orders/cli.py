"""Running the real `orderchat` command line in a subprocess (it owns its event loop)."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    code: int
    out: str
    err: str


async def orderchat(nats_url: str, tenant: str, home: Path, *args: str, timeout: float = 60) -> Result:
    env = {**os.environ, "ORDERCHAT_HOME": str(home), "PYTHONIOENCODING": "utf-8"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orderchat.cli.main", "--nats-url", nats_url, "--tenant", tenant, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return Result(proc.returncode or 0, out.decode(), err.decode())
