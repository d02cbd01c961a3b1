"""`orderchat up` with authorization on (the default), driven as a person would: the README's
walkthrough picks each party's key from the home directory, and `users add|creds|remove`
change who may connect without restarting anything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ORDERCHAT = str(Path(sys.executable).parent / "orderchat")

pytestmark = pytest.mark.timeout(180)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERCHAT_")}
    env["ORDERCHAT_HOME"] = str(home)
    return env


def _cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([ORDERCHAT, *args], env=_env(home), capture_output=True, text=True, timeout=90)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def secure_up(tmp_path):
    home = tmp_path / "home"
    process = subprocess.Popen(
        [ORDERCHAT, "up", "--port", "0"], env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    banner: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        text = process.stdout.readline()
        if not text:
            break
        banner.append(text)
        if text.startswith("Stop with Ctrl-C"):
            break
    assert any("orderchat is up" in b for b in banner), "".join(banner)
    yield home, "".join(banner)
    process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def test_walkthrough_with_authorization_on(secure_up):
    home, banner = secure_up
    assert f"credentials     {home / 'creds'}" in banner
    runtime = json.loads((home / "runtime.json").read_text())
    assert runtime["auth"] is True
    assert (home / "creds" / "shop" / "lin" / "main.nk").exists()

    # Each party's key is picked from the home directory.
    assert "as #1" in _cli(home, "chat", "send", "--as", "lin", "--to", "hongyun-pens", "Red gel pens?").stdout
    assert "as #2" in _cli(home, "chat", "send", "--as", "hongyun-pens", "--to", "lin", "Blue ok?").stdout

    # A party without a key gets told how to get one.
    missing = _cli(home, "chat", "send", "--as", "acme-ink", "--to", "lin", "hi", check=False)
    assert missing.returncode != 0 and "orderchat users creds acme-ink" in missing.stderr

    # A new supplier: added with credentials, applied by reload, chatting at once.
    added = _cli(home, "users", "add", "acme-ink", "--role", "supplier", "--category", "Ink").stdout
    assert "authorization reloaded" in added
    assert "as #1" in _cli(home, "chat", "send", "--as", "acme-ink", "--to", "lin", "Ink in stock").stdout
    listed = {u["id"]: u for u in json.loads(_cli(home, "users", "list", "--json").stdout)}
    assert listed["acme-ink"]["devices"] == ["main"] and listed["acme-ink"]["categories"] == ["Ink"]

    # Handed-out key file works with --creds; a key used for someone else is refused by NATS.
    handed = home.parent / "acme-ink.nk"
    _cli(home, "users", "creds", "acme-ink", "--out", str(handed))
    assert "as #2" in _cli(home, "--creds", str(handed), "chat", "send", "--as", "acme-ink", "--to", "lin", "again").stdout
    forged = _cli(home, "--creds", str(handed), "chat", "send", "--as", "hongyun-pens", "--to", "lin", "not me", check=False)
    assert forged.returncode == 1 and "forbidden" in forged.stderr and "permissions violation" in forged.stderr

    # Removed: the same key no longer connects.
    _cli(home, "users", "remove", "acme-ink")
    gone = _cli(home, "--creds", str(handed), "chat", "send", "--as", "acme-ink", "--to", "lin", "still?", check=False)
    assert gone.returncode == 1 and "forbidden" in gone.stderr and "authorization violation" in gone.stderr.lower()
