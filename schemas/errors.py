"""Typed errors: every request that fails is answered with one of these codes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    UNKNOWN_CONVERSATION = "unknown_conversation"
    UNKNOWN_USER = "unknown_user"
    NOT_MEMBER = "not_member"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    ILLEGAL_TRANSITION = "illegal_transition"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class ErrorReply(BaseModel):
    """The answer to a request that failed. `detail` carries machine-readable context
    (the validation errors, the current revision of a conflicting order, ...)."""

    model_config = ConfigDict(frozen=True)

    ok: Literal[False] = False
    code: ErrorCode
    message: str
    detail: dict[str, Any] | None = None


class OrderchatError(Exception):
    """Raised inside services and the client; maps one-to-one onto ErrorReply."""

    def __init__(self, code: ErrorCode, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.detail = detail

    def reply(self) -> ErrorReply:
        return ErrorReply(code=self.code, message=self.message, detail=self.detail)

    @classmethod
    def from_reply(cls, reply: ErrorReply) -> "OrderchatError":
        return cls(reply.code, reply.message, reply.detail)
