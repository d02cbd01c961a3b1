"""Settings from the command line, `ORDERCHAT_*` environment variables, or defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TENANT = "shop"


def default_home() -> Path:
    return Path(os.environ.get("ORDERCHAT_HOME", Path.home() / ".orderchat"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERCHAT_", extra="ignore")

    nats_url: str | None = None
    home: Path = Field(default_factory=default_home)
    tenant: str = DEFAULT_TENANT
    # Embedded server (used when nats_url is not set).
    host: str = "127.0.0.1"
    nats_port: int = 4333
    monitor_port: int = 8333
    http_port: int = 8334
    websocket_port: int = 8335
    # The web client (orderchat.web): its HTTP port, and the NATS WebSocket URL the browser
    # uses when NATS is not the embedded server (which listens on `websocket_port`).
    web_port: int = 8336
    websocket_url: str | None = None
    # "always": fsync every write, so an acknowledged order event survives power loss;
    # nats-server's own default is "2m". See README, "Durability".
    sync_interval: str = "always"
    max_message_bytes: int = 16 * 1024
    replicas: int = 1
    # Authorization is on unless asked otherwise (`orderchat up --insecure`, for local hacking):
    # every connection then needs an nkey from <home>/creds (orderchat.security).
    insecure: bool = False
    # TLS for the embedded server's client port (PEM files); clients verify it with `tls_ca`.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    erp_url: str | None = None
    # Where the `erp` connector listens for the ERP's webhook (`orderchat serve erp` against
    # an Odoo with a "Send Webhook Notification" automation); `up` with the demo ERP sets its own.
    erp_webhook_url: str | None = None

    @property
    def runtime_file(self) -> Path:
        return self.home / "runtime.json"

    @property
    def creds_dir(self) -> Path:
        return self.home / "creds"


def read_runtime(settings: Settings) -> dict | None:
    """What a running `orderchat up` published about itself, if it is still alive."""
    try:
        info = json.loads(settings.runtime_file.read_text())
    except (OSError, ValueError):
        return None
    pid = info.get("pid")
    if pid:
        try:
            os.kill(int(pid), 0)
        except (OSError, ValueError):
            return None
    return info


def resolve_nats_url(settings: Settings, explicit: str | None = None) -> str:
    url = explicit or settings.nats_url
    if url:
        return url
    info = read_runtime(settings)
    if info and info.get("nats_url"):
        return str(info["nats_url"])
    raise SystemExit(
        "No NATS to talk to: start `orderchat up`, or pass --nats-url / set ORDERCHAT_NATS_URL."
    )
