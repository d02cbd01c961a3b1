"""The connection a service runs on."""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.js import JetStreamContext


@dataclass
class ServiceContext:
    nc: Client
    js: JetStreamContext
    # Optional knobs from settings (max message size, default tenant, ERP url, ...).
    options: dict[str, object] = field(default_factory=dict)

    def option(self, key: str, default: object) -> object:
        return self.options.get(key, default)
