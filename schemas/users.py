"""Parties: the shop's buyers, its suppliers, ops people and the services themselves."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from .base import Inbound, Ok, Stored
from .ids import UserId


class PartyRole(StrEnum):
    BUYER = "buyer"
    SUPPLIER = "supplier"
    OPS = "ops"


class User(Stored):
    id: UserId
    display_name: str
    role: PartyRole
    company: str | None = None
    email: str | None = None
    # Product categories a supplier may see; empty means all (issue: category visibility).
    categories: tuple[str, ...] = ()
    # ed25519 public nkey ("U...") used to verify the party's signatures on order confirmations.
    public_key: str | None = None
    created_at: datetime | None = None


class UserUpsert(Inbound):
    id: UserId
    display_name: str = Field(min_length=1, max_length=120)
    role: PartyRole
    company: str | None = None
    email: str | None = None
    categories: tuple[str, ...] = ()


class UserList(Ok):
    users: list[User]
