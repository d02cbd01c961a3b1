"""The ERP story as a newcomer runs it: `orderchat demo` narrates it end to end, and
`orderchat up` starts the demo ERP with the connector attached (`orderchat erp status`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ORDERCHAT = str(Path(sys.executable).parent / "orderchat")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERCHAT_")}
    env["ORDERCHAT_HOME"] = str(home)
    return env


def test_orderchat_demo_narrates_po_to_chat_to_confirmed_po(tmp_path: Path) -> None:
    done = subprocess.run(
        [ORDERCHAT, "demo", "--data-dir", str(tmp_path / "demo")], env=_env(tmp_path / "home"),
        capture_output=True, text=True, timeout=180,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    steps = [int(n) for n in re.findall(r"^\[(\d)\] ", out, flags=re.M)]
    assert steps == [1, 2, 3, 4, 5, 6], out
    assert re.search(r"\[2\] \d+ ms later the order card is in Hongyun's chat", out)
    assert re.search(r"\[5\] \d+ ms later the ERP has it: P\d+ is in state 'purchase'", out)
    assert "[PEN-GEL05-BLU] Gel pen 0.5 mm (Blue)" in out and "[PEN-GEL05-RED] Gel pen" not in out.split("[5]")[1]
    assert "red out of stock, blue instead" in out and "Agreed terms" in out
    assert out.rstrip().endswith("Demo finished; everything stopped.")


def test_orderchat_up_runs_the_demo_erp_and_the_connector(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process = subprocess.Popen(
        [ORDERCHAT, "up", "--port", "0"], env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        banner = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line or line.startswith("Stop with Ctrl-C"):
                break
            banner.append(line)
        text = "".join(banner)
        assert re.search(r"^\s+erp\s+http://127\.0\.0\.1:\d+$", text, flags=re.M), text
        assert "ERP logins" in text and "buyer/buyer" in text
        status: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not status.get("erp_up"):
            found = subprocess.run([ORDERCHAT, "erp", "status"], env=_env(home), capture_output=True, text=True, timeout=60)
            status = json.loads(found.stdout) if found.returncode == 0 else {}
            time.sleep(0.5)
        assert status.get("erp_up") is True, status
        assert status["transport"] == "jsonrpc" and status["server_version"] == "17.0" and status["database"] == "demo"
        assert status["writeback_pending"] == 0 and status["sync_lag_seconds"] < 10
    finally:
        process.terminate()  # SIGTERM: `up` stops its nats-server and the demo ERP too
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
