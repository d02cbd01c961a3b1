"""The command line as a user runs it: `orderchat up`, then two terminals chatting."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ORDERCHAT = str(Path(sys.executable).parent / "orderchat")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERCHAT_")}
    env["ORDERCHAT_HOME"] = str(home)
    return env


def _cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORDERCHAT, *args], env=_env(home), capture_output=True, text=True, timeout=60, check=check)


@pytest.fixture
def running_up(tmp_path):
    home = tmp_path / "home"
    process = subprocess.Popen(
        [ORDERCHAT, "up", "--port", "0", "--insecure"] if _accepts_insecure() else [ORDERCHAT, "up", "--port", "0"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner.append(line)
        if line.startswith("Stop with Ctrl-C"):
            break
    assert any("orderchat is up" in line for line in banner), "".join(banner)
    yield home, process, "".join(banner)
    if process.poll() is None:
        # SIGTERM, so `up` also stops the nats-server it started; SIGKILL would orphan it.
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _accepts_insecure() -> bool:
    help_text = subprocess.run([ORDERCHAT, "up", "--help"], capture_output=True, text=True, timeout=60).stdout
    return "--insecure" in help_text


def test_up_then_two_terminals_chat_then_clean_stop(running_up):
    home, process, banner = running_up
    assert "NATS" in banner and "tenant" in banner

    sent = _cli(home, "chat", "send", "--as", "lin", "--to", "hongyun-pens", "Do you have red gel pens?")
    assert "sent to dm_hongyun-pens_lin as #1" in sent.stdout, sent.stderr
    reply = _cli(home, "chat", "send", "--as", "hongyun-pens", "--to", "lin", "Red is out, blue ok?")
    assert "#2" in reply.stdout

    inbox = _cli(home, "chat", "inbox", "--as", "hongyun-pens", "--json")
    items = [json.loads(line) for line in inbox.stdout.splitlines()]
    texts = [i["item"]["body"]["text"] for i in items if i["kind"] == "message"]
    assert texts == ["Do you have red gel pens?", "Red is out, blue ok?"]

    history = json.loads(_cli(home, "chat", "history", "dm_hongyun-pens_lin", "--as", "lin", "--json").stdout)
    assert [m["seq"] for m in history["messages"]] == [1, 2]

    bad = _cli(home, "chat", "send", "--as", "lin", "--conv", "g_nowhere", "hello?", check=False)
    assert bad.returncode == 1 and "unknown_conversation" in bad.stderr

    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert "stopped" in out
    assert not (home / "runtime.json").exists()


def test_commands_without_a_running_system_say_how_to_start_one(tmp_path):
    result = _cli(tmp_path, "chat", "send", "--as", "lin", "--to", "x", "hi", check=False)
    assert result.returncode != 0
    assert "orderchat up" in result.stderr


@pytest.mark.parametrize("command", [["chat", "convs", "--as", "lin"], ["dlq", "list"]])
def test_a_url_where_no_nats_answers_fails_at_once_and_says_so(tmp_path, command):
    # A closed port (refused) and a listening socket that never speaks NATS (silent): a
    # client command must neither retry forever nor print reconnect tracebacks.
    import socket

    with socket.socket() as closed, socket.socket() as silent:
        closed.bind(("127.0.0.1", 0))
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        for port in (closed.getsockname()[1], silent.getsockname()[1]):
            started = time.monotonic()
            result = _cli(tmp_path, "--nats-url", f"nats://127.0.0.1:{port}", *command, check=False)
            assert result.returncode == 1, result.stdout + result.stderr
            assert "cannot reach NATS" in result.stderr and "Traceback" not in result.stderr
            assert time.monotonic() - started < 20
