"""What the connector keeps in KV `OC_ERP` (keys start with the tenant):

    <t>.cursor.<db>          SyncCursor: the write_date cursor and the (id, write_date) pairs seen
    <t>.order.<order_id>     PoLink: which ERP purchase order an orderchat order came from
    <t>.done.<order_id>.<n>  WritebackDone: event n of the order is written back (idempotency)
    <t>.mapping              ErpMapping: partner -> supplier user, the buyer the ERP acts as
    <t>.status               ErpStatus: sync lag, ERP reachability, write-back queue (monitor)
"""

from __future__ import annotations

import re
from datetime import datetime

from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.base import Stored
from orderchat.services.framework.typed_kv import TypedKV


class SyncCursor(Stored):
    write_date: str = "1970-01-01 00:00:00"
    # "<model>:<id>@<write_date>" seen within the overlap window: processed once.
    seen: list[str] = []
    # write_date has one-second resolution: a PO stamped in the newest second may change again
    # within that second, so those are looked at again and skipped only if their content digest
    # is the one already applied (po id -> digest).
    fresh: dict[str, str] = {}


class PoLink(Stored):
    database: str
    po_id: int
    po_name: str
    order_id: str
    supplier: str
    buyer: str
    # The order revision whose lines the PO showed when last synced.
    synced_revision: int = 1
    # Set on an Odoo refusal: the next sync does not turn the half-written PO into an amendment.
    held: bool = False


class WritebackDone(Stored):
    outcome: str  # written | refused | skipped
    erp_state: str | None = None
    detail: str | None = None
    ts: datetime


class ErpMapping(Stored):
    """Explicit mapping; partners not named here are matched by name against the suppliers'
    company (the demo seed's suppliers match that way)."""

    buyer: str | None = None
    partners: dict[str, str] = {}  # partner id (as text) -> supplier user id


class ErpStatus(Stored):
    database: str
    url: str
    transport: str | None = None
    server_version: str | None = None
    erp_up: bool = False
    last_error: str | None = None
    last_poll_at: datetime | None = None
    last_ok_at: datetime | None = None
    cursor: str | None = None
    # Seconds since the last successful poll: how stale orderchat's picture of the ERP may be.
    sync_lag_seconds: float | None = None
    orders_synced: int = 0
    unmapped_partners: list[str] = []
    # Purchase orders orderchat refused (e.g. the buyer's signing key is missing): why.
    refused_orders: list[str] = []
    writeback_pending: int = 0
    writebacks_done: int = 0
    writebacks_refused: int = 0
    updated_at: datetime


def key_token(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", value) or "_"


class ErpStore:
    def __init__(self, js: JetStreamContext, tenant: str, database: str) -> None:
        self.js = js
        self.tenant = tenant
        self.database = key_token(database)

    async def open(self) -> "ErpStore":
        kv = await self.js.key_value(names.KV_ERP)
        self.cursors = TypedKV(kv, SyncCursor)
        self.links = TypedKV(kv, PoLink)
        self.done = TypedKV(kv, WritebackDone)
        self.mappings = TypedKV(kv, ErpMapping)
        self.statuses = TypedKV(kv, ErpStatus)
        return self

    def cursor_key(self) -> str:
        return names.kv_key(self.tenant, "cursor", self.database)

    def link_key(self, order_id: str) -> str:
        return names.kv_key(self.tenant, "order", order_id)

    def done_key(self, order_id: str, n: int) -> str:
        return names.kv_key(self.tenant, "done", order_id, str(n))

    def mapping_key(self) -> str:
        return names.kv_key(self.tenant, "mapping")

    def status_key(self) -> str:
        return names.kv_key(self.tenant, "status")

    async def link(self, order_id: str) -> PoLink | None:
        found = await self.links.get(self.link_key(order_id))
        return found[0] if found else None


async def read_status(js: JetStreamContext, tenant: str) -> ErpStatus | None:
    """The connector's last published status (for the monitor and `orderchat erp status`)."""
    kv = TypedKV(await js.key_value(names.KV_ERP), ErpStatus)
    found = await kv.get(names.kv_key(tenant, "status"))
    return found[0] if found else None
