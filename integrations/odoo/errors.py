"""ERP failures in two kinds: the ERP cannot be reached (retry later, nothing is lost) and the
ERP refused (an Odoo exception: retrying the same call gives the same answer, so the buyer is
told instead)."""

from __future__ import annotations

# Odoo's exception classes (data.name of a JSON-RPC error, `name` of a JSON-2 error).
USER_ERROR = "odoo.exceptions.UserError"
VALIDATION_ERROR = "odoo.exceptions.ValidationError"
ACCESS_ERROR = "odoo.exceptions.AccessError"
MISSING_ERROR = "odoo.exceptions.MissingError"
ACCESS_DENIED = "odoo.exceptions.AccessDenied"
# JSON-RPC code 100: the web session expired (only the session-based web endpoints).
SESSION_EXPIRED = "odoo.http.SessionExpiredException"


class ErpUnavailable(Exception):
    """Connection refused, timeout, 502/503/504, no answer: try again later."""


class OdooError(Exception):
    """The ERP answered with an error (UserError, ValidationError, AccessError, ...)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name or "odoo.exceptions.UserError"
        self.message = message

    @property
    def short_name(self) -> str:
        """`UserError` for `odoo.exceptions.UserError`."""
        return self.name.rsplit(".", 1)[-1]
