"""Who is who: an ERP partner is an orderchat supplier, the ERP's purchasing is an orderchat
buyer. Explicit entries in KV (`<t>.mapping`) win; otherwise a partner matches the supplier
whose company (or display name) is the partner's name, which is how the demo seed lines up."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext

from orderchat.runtime.users import list_users
from orderchat.schemas.users import PartyRole

from .store import ErpMapping, ErpStore


@dataclass(frozen=True)
class Parties:
    buyer: str
    by_partner_id: dict[str, str]
    by_name: dict[str, str]

    def supplier_for(self, partner_id: int, partner_name: str) -> str | None:
        return self.by_partner_id.get(str(partner_id)) or self.by_name.get(_norm(partner_name))


def _norm(name: str) -> str:
    return " ".join(name.casefold().split())


async def load_parties(js: JetStreamContext, store: ErpStore, default_buyer: str) -> Parties:
    found = await store.mappings.get(store.mapping_key())
    mapping = found[0] if found else ErpMapping()
    by_name: dict[str, str] = {}
    for user in await list_users(js, store.tenant):
        if user.role is PartyRole.SUPPLIER:
            for name in (user.company, user.display_name):
                if name:
                    by_name.setdefault(_norm(name), user.id)
    return Parties(buyer=mapping.buyer or default_buyer, by_partner_id=dict(mapping.partners), by_name=by_name)


async def set_partner(store: ErpStore, partner_id: int, supplier: str | None) -> ErpMapping:
    def change(current: ErpMapping | None) -> ErpMapping:
        mapping = current or ErpMapping()
        partners = dict(mapping.partners)
        if supplier is None:
            partners.pop(str(partner_id), None)
        else:
            partners[str(partner_id)] = supplier
        return mapping.model_copy(update={"partners": partners})

    value, _ = await store.mappings.update(store.mapping_key(), change)
    assert value is not None
    return value
