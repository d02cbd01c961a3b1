"""The party directory (KV bucket OC_USERS): add, list and remove users."""

from __future__ import annotations

from datetime import datetime, timezone

from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.users import PartyRole, User
from orderchat.services.framework.typed_kv import TypedKV

# The founding story: a stationery shop and three of its suppliers.
DEMO_USERS: tuple[User, ...] = (
    User(id="lin", display_name="Lin Wei", role=PartyRole.BUYER, company="Inkwell Stationery"),
    User(id="sunrise-paper", display_name="Sunrise Paper Mill", role=PartyRole.SUPPLIER, company="Sunrise Paper Mill", categories=("Paper", "Notebooks")),
    User(id="hongyun-pens", display_name="Hongyun Pen Co.", role=PartyRole.SUPPLIER, company="Hongyun Pen Co.", categories=("Pens", "Pencils & Leads")),
    User(id="everything-office", display_name="Everything Office Wholesale", role=PartyRole.SUPPLIER, company="Everything Office Wholesale"),
    User(id="ops", display_name="Operations", role=PartyRole.OPS, company="Inkwell Stationery"),
)


async def user_directory(js: JetStreamContext) -> TypedKV[User]:
    return TypedKV(await js.key_value(names.KV_USERS), User)


async def upsert_user(js: JetStreamContext, tenant: str, user: User) -> User:
    directory = await user_directory(js)
    if user.created_at is None:
        user = user.model_copy(update={"created_at": datetime.now(timezone.utc)})
    await directory.put(names.kv_key(tenant, user.id), user)
    return user


async def list_users(js: JetStreamContext, tenant: str) -> list[User]:
    directory = await user_directory(js)
    return sorted((user for _, user in await directory.items(f"{tenant}.*")), key=lambda u: u.id)


async def remove_user(js: JetStreamContext, tenant: str, user_id: str) -> bool:
    directory = await user_directory(js)
    key = names.kv_key(tenant, user_id)
    if await directory.get(key) is None:
        return False
    await directory.kv.delete(key)
    return True


async def seed_demo_users(js: JetStreamContext, tenant: str) -> list[User]:
    """Add the demo parties unless the tenant already has users."""
    if await list_users(js, tenant):
        return []
    return [await upsert_user(js, tenant, user) for user in DEMO_USERS]
