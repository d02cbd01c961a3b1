"""What the SLA service keeps in KV `OC_SLA`:

    <t>.policy._default          SlaPolicy for the tenant (else the model's defaults)
    <t>.policy.<supplier>        SlaPolicy override for one supplier
    <t>.parties.<order>          OrderParties, remembered from the order's `created` event
    <t>.timer.<order>.<kind>     SlaTimer: one deadline (kind `read` or `answer`) of the
                                 current send cycle of an order

A timer moves by compare-and-set on its KV revision, so exactly one writer wins each step:

    pending --settle before due--> met
    pending --deadline claimed---> breached (notified=false) --alert + notice--> notified=true
    breached --supplier acts later--> resolved_at set (the breach stays on record)
    pending --order cancelled / amended--> cancelled
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from orderchat.schemas import names
from orderchat.schemas.alerts import SlaKind, SlaPolicy
from orderchat.schemas.base import Stored
from orderchat.services.framework.typed_kv import TypedKV

DEFAULT_POLICY_KEY = "_default"
KINDS: tuple[SlaKind, ...] = ("read", "answer")
TimerState = Literal["pending", "met", "breached", "cancelled"]


class OrderParties(Stored):
    buyer: str
    supplier: str


class SlaTimer(Stored):
    tenant: str
    order_id: str
    kind: SlaKind
    supplier: str
    buyer: str
    conv: str | None = None
    revision: int
    sent_at: datetime
    due: datetime
    limit_s: float
    state: TimerState = "pending"
    settled_at: datetime | None = None
    breached_at: datetime | None = None
    notified: bool = False
    resolved_at: datetime | None = None

    @property
    def open_breach(self) -> bool:
        return self.state == "breached" and self.resolved_at is None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def policy_key(tenant: str, supplier: str | None) -> str:
    return names.kv_key(tenant, "policy", supplier or DEFAULT_POLICY_KEY)


def parties_key(tenant: str, order_id: str) -> str:
    return names.kv_key(tenant, "parties", order_id)


def timer_key(tenant: str, order_id: str, kind: str) -> str:
    return names.kv_key(tenant, "timer", order_id, kind)


TIMER_KEYS = "*.timer.>"


class SlaStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.policies = TypedKV(kv, SlaPolicy)
        self.parties = TypedKV(kv, OrderParties)
        self.timers = TypedKV(kv, SlaTimer)

    @classmethod
    async def open(cls, js: JetStreamContext) -> "SlaStore":
        return cls(await js.key_value(names.KV_SLA))

    async def policy_for(self, tenant: str, supplier: str) -> SlaPolicy:
        """The supplier's override, else the tenant's default, else the built-in default."""
        for key in (policy_key(tenant, supplier), policy_key(tenant, None)):
            found = await self.policies.get(key)
            if found:
                return found[0]
        return SlaPolicy()

    async def set_policy(self, tenant: str, supplier: str | None, policy: SlaPolicy) -> None:
        await self.policies.put(policy_key(tenant, supplier), policy)

    async def list_policies(self, tenant: str) -> dict[str, SlaPolicy]:
        return {key.rsplit(".", 1)[-1]: policy for key, policy in await self.policies.items(names.kv_key(tenant, "policy", "*"))}

    async def timers_of(self, tenant: str | None) -> list[SlaTimer]:
        """Every timer of a tenant (or all), in one read."""
        pattern = names.kv_key(tenant, "timer", ">") if tenant else TIMER_KEYS
        return [timer for _, timer in await self.timers.items(pattern)]


async def open_breaches(js: JetStreamContext, tenant: str | None) -> list[SlaTimer] | None:
    """Breached deadlines the supplier has not made good yet (None: no SLA bucket)."""
    try:
        store = await SlaStore.open(js)
    except BucketNotFoundError:
        return None
    timers = await store.timers_of(tenant)
    breaches = [t for t in timers if t.open_breach]
    return sorted(breaches, key=lambda t: t.due)
