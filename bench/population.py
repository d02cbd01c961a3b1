"""Bench users and conversations, created through orderchat itself (the directory and the
delivery service), each run in a fresh tenant so runs cannot disturb each other."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import nats

from orderchat.client import OrderchatClient
from orderchat.runtime.users import upsert_user
from orderchat.schemas.conversations import ConvKind
from orderchat.schemas.users import PartyRole, User


def new_tenant(label: str) -> str:
    return f"b{label}{uuid.uuid4().hex[:8]}"


@dataclass
class Route:
    """Who sends into which conversation, and who should receive it."""

    conv: str
    sender: OrderchatClient
    recipients: list[OrderchatClient]


async def add_users(nc: nats.NATS, tenant: str, ids: list[str], role: PartyRole) -> None:
    js = nc.jetstream()
    await asyncio.gather(
        *(upsert_user(js, tenant, User(id=u, display_name=u, role=role, company=f"{u} Ltd")) for u in ids)
    )


async def direct_pairs(send_nc: nats.NATS, recv_nc: nats.NATS, tenant: str, pairs: int) -> list[Route]:
    """`pairs` buyer→supplier direct conversations; the supplier's inbox is the destination."""
    buyers = [f"buyer{k}" for k in range(pairs)]
    suppliers = [f"supplier{k}" for k in range(pairs)]
    await add_users(send_nc, tenant, buyers, PartyRole.BUYER)
    await add_users(send_nc, tenant, suppliers, PartyRole.SUPPLIER)
    routes = []
    for buyer, supplier in zip(buyers, suppliers):
        sender = OrderchatClient.over(send_nc, buyer, tenant=tenant)
        recipient = OrderchatClient.over(recv_nc, supplier, tenant=tenant)
        reply = await sender.create_conversation([supplier], kind=ConvKind.DIRECT)
        routes.append(Route(reply.conversation.id, sender, [recipient]))
    return routes


async def groups(send_nc: nats.NATS, recv_nc: nats.NATS, tenant: str, count: int, size: int) -> list[Route]:
    """`count` groups of `size` members (one buyer and suppliers). Every member's inbox,
    the sender's own devices included, receives each message."""
    routes = []
    for g in range(count):
        buyer = f"g{g}buyer"
        suppliers = [f"g{g}supplier{k}" for k in range(size - 1)]
        await add_users(send_nc, tenant, [buyer], PartyRole.BUYER)
        await add_users(send_nc, tenant, suppliers, PartyRole.SUPPLIER)
        sender = OrderchatClient.over(send_nc, buyer, tenant=tenant)
        reply = await sender.create_conversation(suppliers, kind=ConvKind.GROUP, title=f"bench group {g}")
        members = [OrderchatClient.over(recv_nc, u, tenant=tenant) for u in (buyer, *suppliers)]
        routes.append(Route(reply.conversation.id, sender, members))
    return routes
