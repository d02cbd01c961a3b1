"""Model bases: strict where data enters from outside, lenient for what we wrote ourselves."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Inbound(BaseModel):
    """A payload sent by a client: strict types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Stored(BaseModel):
    """A payload orderchat itself wrote (stream messages, KV values, replies).

    Unknown fields are ignored so that older readers survive newer writers."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Ok(Stored):
    ok: bool = True
