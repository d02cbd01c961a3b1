"""Where the ERP is and how the connector talks to it: `odoo://login:apikey@host:port/db`
(`odoos://` for HTTPS), plus the knobs of sync and write-back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

TransportKind = Literal["auto", "jsonrpc", "json2"]
# RFQ sent and confirmed purchase orders go to the supplier (ODOO.md 4).
DEFAULT_STATES = ("sent", "purchase")


@dataclass(frozen=True)
class ErpConfig:
    host: str
    port: int
    database: str
    login: str
    secret: str  # an API key (or a password for JSON-RPC)
    https: bool = False
    transport: TransportKind = "auto"
    states: tuple[str, ...] = DEFAULT_STATES
    poll_interval: float = 0.5
    # Late commits: a transaction's write_date is its start time (ODOO.md 8).
    overlap_seconds: float = 60.0
    page_size: int = 200
    timeout: float = 10.0
    buyer: str = "lin"
    # The seed file (`.nk`) of the buyer's ERP device key (`orderchat users creds <buyer>
    # --device erp`): the connector signs the orders it places and amends for the buyer with
    # it, as the buyer's other devices do. Without it a buyer who has keys cannot be acted
    # for (its commitments must be signed; the service refuses them unsigned).
    signing_key: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.host}:{self.port}"

    def redacted(self) -> str:
        return f"{'odoos' if self.https else 'odoo'}://{self.login}:***@{self.host}:{self.port}/{self.database}"


def parse_erp_url(url: str, **overrides: object) -> ErpConfig:
    """`odoo://login:key@host:port/db?transport=json2&states=sent,purchase&buyer=lin&poll=0.5`
    (`&signing_key=/path/to/lin/erp.nk`: the buyer's ERP device key, see ErpConfig)."""
    parts = urlsplit(url)
    if parts.scheme not in ("odoo", "odoos"):
        raise ValueError(f"an ERP URL starts with odoo:// or odoos://, not {parts.scheme or url!r}")
    if not parts.hostname or not parts.username or parts.password is None:
        raise ValueError("an ERP URL names login, API key and host: odoo://login:apikey@host:port/db")
    database = parts.path.strip("/")
    if not database:
        raise ValueError("an ERP URL names the database: odoo://login:apikey@host:port/<db>")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    https = parts.scheme == "odoos"
    values: dict[str, object] = {
        "host": parts.hostname,
        "port": parts.port or (443 if https else 8069),
        "database": unquote(database),
        "login": unquote(parts.username),
        "secret": unquote(parts.password),
        "https": https,
    }
    if "transport" in query:
        if query["transport"] not in ("auto", "jsonrpc", "json2"):
            raise ValueError("transport is auto, jsonrpc or json2")
        values["transport"] = query["transport"]
    if "states" in query:
        values["states"] = tuple(s for s in query["states"].split(",") if s)
    if "buyer" in query:
        values["buyer"] = query["buyer"]
    if "signing_key" in query:
        values["signing_key"] = query["signing_key"]
    if "poll" in query:
        values["poll_interval"] = float(query["poll"])
    if "overlap" in query:
        values["overlap_seconds"] = float(query["overlap"])
    values.update(overrides)
    return ErpConfig(**values)  # type: ignore[arg-type]
