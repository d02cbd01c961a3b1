"""Who may do what: credentials (password or API key), groups, and model access rules.

The rules mirror Odoo's `ir.model.access` (per model, per group: read/write/create/unlink)
and its AccessError wording. Secrets are stored hashed on the res.users record under keys
that start with "_", which no field exposes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import AccessDenied, AccessError
from .store import Record, Transaction

if TYPE_CHECKING:
    from .orm import Env, Model

GROUP_USER = "base.group_user"
GROUP_SYSTEM = "base.group_system"
GROUP_PURCHASE_USER = "purchase.group_purchase_user"
GROUP_PURCHASE_MANAGER = "purchase.group_purchase_manager"

# xmlid -> (category, name, implied xmlids); Odoo shows groups as "Category / Name".
GROUPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    GROUP_USER: ("User types", "Internal User", ()),
    GROUP_PURCHASE_USER: ("Purchase", "User", (GROUP_USER,)),
    GROUP_PURCHASE_MANAGER: ("Purchase", "Administrator", (GROUP_PURCHASE_USER,)),
    GROUP_SYSTEM: ("Administration", "Settings", (GROUP_USER, GROUP_PURCHASE_MANAGER)),
}

_READ = "r"
_MODES = {"read": "r", "write": "w", "create": "c", "unlink": "u"}
_MASTER_DATA = (
    "res.users", "res.groups", "res.company", "res.currency", "res.partner", "uom.uom",
    "product.category", "product.product", "product.attribute", "product.template.attribute.value",
    "account.tax", "ir.model", "ir.model.data", "mail.message", "mail.message.subtype",
)


@dataclass(frozen=True)
class AccessRule:
    model: str
    group: str
    perms: str  # any of "rwcu"


def _rules() -> list[AccessRule]:
    rules = [AccessRule(model, GROUP_USER, _READ) for model in _MASTER_DATA]
    rules += [AccessRule(model, GROUP_SYSTEM, "rwcu") for model in _MASTER_DATA]
    # Demo choice: every internal user may *read* purchases (the read-only "viewer").
    for model in ("purchase.order", "purchase.order.line", "account.move", "account.move.line"):
        rules.append(AccessRule(model, GROUP_USER, _READ))
    for model in ("purchase.order", "purchase.order.line"):
        rules.append(AccessRule(model, GROUP_PURCHASE_USER, "rwcu"))
    for model in ("account.move", "account.move.line"):
        rules.append(AccessRule(model, GROUP_PURCHASE_USER, "rwc"))
        rules.append(AccessRule(model, GROUP_PURCHASE_MANAGER, "rwcu"))
    rules.append(AccessRule("res.partner", GROUP_PURCHASE_USER, "rwc"))
    return rules


ACCESS_RULES: list[AccessRule] = _rules()
_PBKDF2_ROUNDS = 2000  # a demo: cheap enough for tests, still not plaintext


def hash_secret(secret: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt.encode(), _PBKDF2_ROUNDS).hex()
    return f"{salt}${digest}"


def verify_secret(secret: str, stored: str) -> bool:
    salt, _sep, _digest = stored.partition("$")
    return hmac.compare_digest(hash_secret(secret, salt), stored)


class Access:
    """Credential checks and the `ir.model.access` table."""

    def __init__(self, rules: list[AccessRule] | None = None) -> None:
        self.rules = rules if rules is not None else ACCESS_RULES

    # ---------------------------------------------------------------- credentials

    @staticmethod
    def _secret_matches(user: Record, secret: str) -> bool:
        if not isinstance(secret, str) or not secret:
            return False
        stored = [user.get("_password") or ""] + list(user.get("_api_keys") or [])
        return any(s and verify_secret(secret, s) for s in stored)

    def authenticate(self, tx: Transaction, login: str, password: str) -> int | None:
        """uid for a login and a password or API key (common.login), else None."""
        for user in tx.records("res.users"):
            if user.get("active") and user.get("login") == login and self._secret_matches(user, password):
                return int(user["id"])
        return None

    def check_credentials(self, tx: Transaction, uid: object, password: str) -> int:
        """object.execute_kw: uid and password must match, else AccessDenied."""
        if not isinstance(uid, int) or isinstance(uid, bool):
            raise AccessDenied()
        user = tx.get("res.users", uid)
        if user is None or not user.get("active") or not self._secret_matches(user, password):
            raise AccessDenied()
        return uid

    @staticmethod
    def uid_for_api_key(tx: Transaction, key: str) -> int | None:
        """JSON-2 bearer: only API keys count, never passwords."""
        for user in tx.records("res.users"):
            if user.get("active") and any(verify_secret(key, s) for s in user.get("_api_keys") or []):
                return int(user["id"])
        return None

    # ---------------------------------------------------------------- groups

    @staticmethod
    def group_xmlids(tx: Transaction, group_ids: list[int]) -> set[str]:
        by_id = {
            rec["res_id"]: f"{rec['module']}.{rec['name']}"
            for rec in tx.records("ir.model.data")
            if rec.get("model") == "res.groups"
        }
        found = {by_id[g] for g in group_ids if g in by_id}
        pending = list(found)
        while pending:  # implied groups, transitively
            for implied in GROUPS.get(pending.pop(), ("", "", ()))[2]:
                if implied not in found:
                    found.add(implied)
                    pending.append(implied)
        return found

    def user_groups(self, tx: Transaction, uid: int) -> set[str]:
        user = tx.get("res.users", uid) or {}
        return self.group_xmlids(tx, list(user.get("groups_id") or []))

    def has_group(self, env: Env, xmlid: str) -> bool:
        return xmlid in self.user_groups(env.tx, env.uid)

    # ---------------------------------------------------------------- model access

    def check(self, env: Env, model: Model, mode: str) -> None:
        perm = _MODES.get(mode)
        if perm is None:
            raise ValueError(f"Invalid access mode {mode!r}")
        groups = self.user_groups(env.tx, env.uid)
        allowed = [r.group for r in self.rules if r.model == model._name and perm in r.perms]
        if any(group in groups for group in allowed):
            return
        raise AccessError(self._message(model, mode, allowed))

    @staticmethod
    def _message(model: Model, mode: str, allowed_groups: list[str]) -> str:
        """Odoo 17's `ir.model.access._make_access_error` text."""
        operation = {
            "read": "You are not allowed to access '%s' (%s) records.",
            "write": "You are not allowed to modify '%s' (%s) records.",
            "create": "You are not allowed to create '%s' (%s) records.",
            "unlink": "You are not allowed to delete '%s' (%s) records.",
        }[mode] % (model._description, model._name)
        names = sorted({f"{GROUPS[g][0]} / {GROUPS[g][1]}" for g in allowed_groups if g in GROUPS})
        if names:
            group_info = "This operation is allowed for the following groups:\n" + "\n".join(
                f"\t- {name}" for name in names
            )
        else:
            group_info = "No group currently allows this operation."
        resolution = "Contact your administrator to request access if necessary."
        return f"{operation}\n\n{group_info}\n\n{resolution}"
