"""`python -m orderchat.integrations.demo_erp` serves until SIGTERM and keeps its file."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

from tests.demo_erp.conftest import jsonrpc


def test_module_entry_point(tmp_path):
    db = tmp_path / "erp.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderchat.integrations.demo_erp", "--host", "127.0.0.1", "--port", "0", "--db", str(db), "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        url = match.group(1)
        assert "admin/admin" in banner
        assert jsonrpc(url, "/web/webclient/version_info", {}).body["result"]["server_version"] == "17.0"
        login = jsonrpc(url, "/jsonrpc", {"service": "common", "method": "login", "args": ["demo", "admin", "admin"]})
        assert login.body["result"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert db.exists() and db.stat().st_size > 0
