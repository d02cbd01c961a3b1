"""Odoo's exception classes, as clients see them on the wire.

The demo raises these from its business rules; the HTTP layer turns them into Odoo's
JSON-RPC error envelope (HTTP 200, `error.data.name` = "odoo.exceptions.<Class>") or into a
JSON-2 error body with a 4xx status. Clients such as odoorpc only ever see the *name*
string, so the classes live here but report Odoo's module path.
"""

from __future__ import annotations

import traceback
from typing import Any


class OdooError(Exception):
    """Base of the errors that Odoo reports under `odoo.exceptions.*`."""

    odoo_name = "odoo.exceptions.UserError"
    # JSON-2 status codes: Odoo 18+ gives each exception an `http_status`; the exact values
    # are the demo's choice (see README): 422 for business rules, 403 access, 404 missing.
    http_status = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(OdooError):
    odoo_name = "odoo.exceptions.UserError"


class ValidationError(UserError):
    odoo_name = "odoo.exceptions.ValidationError"


class AccessError(UserError):
    odoo_name = "odoo.exceptions.AccessError"
    http_status = 403


class MissingError(UserError):
    odoo_name = "odoo.exceptions.MissingError"
    http_status = 404


class AccessDenied(UserError):
    """Bad credentials. Odoo's default message is "Access Denied"."""

    odoo_name = "odoo.exceptions.AccessDenied"
    http_status = 401

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class SessionExpired(OdooError):
    """A `/web/dataset/call_kw` call without a valid session cookie."""

    odoo_name = "odoo.http.SessionExpiredException"
    http_status = 403

    def __init__(self, message: str = "Session expired") -> None:
        super().__init__(message)


class HttpError(Exception):
    """A werkzeug HTTP exception (JSON-2 only): NotFound, UnprocessableEntity, Unauthorized."""

    def __init__(self, status: int, name: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.name = name
        self.description = description


def not_found(description: str) -> HttpError:
    return HttpError(404, "werkzeug.exceptions.NotFound", description)


def unprocessable(description: str) -> HttpError:
    return HttpError(422, "werkzeug.exceptions.UnprocessableEntity", description)


def unauthorized(description: str = "Invalid apikey") -> HttpError:
    return HttpError(401, "werkzeug.exceptions.Unauthorized", description)


def bad_request(description: str) -> HttpError:
    return HttpError(400, "werkzeug.exceptions.BadRequest", description)


def exception_name(exc: BaseException) -> str:
    """`module.Class` the way Odoo's `serialize_exception` spells it."""
    odoo_name = getattr(exc, "odoo_name", None)
    if isinstance(odoo_name, str):
        return odoo_name
    if isinstance(exc, HttpError):
        return exc.name
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def _debug_text(exc: BaseException, name: str, message: str) -> str:
    # Odoo ships the server traceback in `debug`; ours ends with Odoo's class name so a
    # reader of the log sees the same last line a real server would print.
    lines = traceback.format_exception(exc)
    if lines:
        lines[-1] = f"{name}: {message}\n"
    return "".join(lines)


def serialize_exception(exc: BaseException) -> dict[str, Any]:
    """Odoo's `odoo.http.serialize_exception`: name, message, arguments, context, debug."""
    name = exception_name(exc)
    if isinstance(exc, HttpError):
        message: str = exc.description
        arguments: list[Any] = [exc.description, exc.status]
    else:
        message = str(exc.args[0]) if exc.args else str(exc)
        arguments = list(exc.args)
    return {
        "name": name,
        "message": message,
        "arguments": arguments,
        "context": {},
        "debug": _debug_text(exc, name, message),
    }


def jsonrpc_error(exc: BaseException) -> dict[str, Any]:
    """The `error` member of a JSON-RPC answer (Odoo 17: code 200, "Odoo Server Error")."""
    if isinstance(exc, SessionExpired):
        return {"code": 100, "message": "Odoo Session Expired", "data": serialize_exception(exc)}
    return {"code": 200, "message": "Odoo Server Error", "data": serialize_exception(exc)}


def http_status(exc: BaseException) -> int:
    """Status of a JSON-2 error answer; anything unexpected is a 500 as in Odoo."""
    if isinstance(exc, HttpError):
        return exc.status
    if isinstance(exc, OdooError):
        return exc.http_status
    return 500
