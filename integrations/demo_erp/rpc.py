"""The external API's services: `common`, `db`, `object` (execute / execute_kw), JSON-2 calls,
and web-session calls. Every call runs in one transaction: committed when it returns,
discarded when it raises (Odoo rolls its cursor back)."""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .errors import AccessError, UserError, not_found, unauthorized, unprocessable, SessionExpired
from .orm import Env, Registry, get_public_method
from .store import Clock, Store, Transaction, utc_now

SERVER_VERSION = "17.0"
VERSION_INFO: dict[str, Any] = {
    "server_version": SERVER_VERSION,
    "server_version_info": [17, 0, 0, "final", 0, ""],
    "server_serie": "17.0",
    "protocol_version": 1,
}


class DatabaseNotFound(Exception):
    """What PostgreSQL answers Odoo for an unknown database name."""

    odoo_name = "psycopg2.OperationalError"


def _normalize_ids(value: Any) -> list[int]:
    if value in (None, False):
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    raise TypeError(f"Invalid ids {value!r}")


class OdooService:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        db_name: str,
        clock: Clock = utc_now,
        on_commit: Callable[[Transaction], None] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.db_name = db_name
        self.clock = clock
        self.on_commit = on_commit
        self.sessions: dict[str, int] = {}

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        tx = Transaction(self.store, self.clock)
        yield tx  # an exception propagates and the changes are simply dropped
        tx.commit()
        if self.on_commit is not None:
            self.on_commit(tx)

    def _check_db(self, db: Any) -> None:
        if db != self.db_name:
            raise DatabaseNotFound(f'FATAL:  database "{db}" does not exist\n')

    # ------------------------------------------------------------------ /jsonrpc

    def dispatch(self, service: str, method: str, args: list[Any]) -> Any:
        handlers = {"common": self._common, "db": self._db, "object": self._object}
        if service not in handlers:
            raise KeyError(service)
        return handlers[service](method, list(args or []))

    def _common(self, method: str, args: list[Any]) -> Any:
        if method == "version":
            return dict(VERSION_INFO)
        if method in ("login", "authenticate"):
            db, login, password = args[0], args[1], args[2]
            self._check_db(db)
            with self.transaction() as tx:
                uid = self.registry.access.authenticate(tx, login, password)
            return uid if uid is not None else False
        if method == "about":
            return "See http://openerp.com"
        raise KeyError(f"exp_{method}")

    def _db(self, method: str, args: list[Any]) -> Any:
        if method == "list":
            return [self.db_name]
        if method == "server_version":
            return SERVER_VERSION
        if method == "db_exist":
            return args[0] == self.db_name
        raise KeyError(f"exp_{method}")

    def _object(self, method: str, args: list[Any]) -> Any:
        db, uid, password = args[0], args[1], args[2]
        self._check_db(db)
        with self.transaction() as tx:
            uid = self.registry.access.check_credentials(tx, uid, password)
            env = Env(self.registry, tx, uid, {})
            if method == "execute":
                return self.call_kw(env, args[3], args[4], list(args[5:]), {})
            if method == "execute_kw":
                kwargs = args[6] if len(args) > 6 else {}
                return self.call_kw(env, args[3], args[4], list(args[5]), dict(kwargs or {}))
            raise NameError(f"Method not available {method}")

    def call_kw(self, env: Env, model_name: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Odoo's `execute_cr` + `api.call_kw`: method name checks, then the model, then the call."""
        if method.startswith("_"):
            raise AccessError(f"Private methods (such as {method}) cannot be called remotely.")
        if model_name not in self.registry:
            raise UserError(f"Object {model_name} doesn't exist")
        model = self.registry.models[model_name]
        func = get_public_method(model, method)
        context = kwargs.pop("context", None)
        env = Env(env.registry, env.tx, env.uid, dict(context or {}), env.su)
        if func._rpc == "model":  # type: ignore[attr-defined]
            return func(model, env, *args, **kwargs)
        if not args:
            raise IndexError("list index out of range")
        return func(model, env, _normalize_ids(args[0]), *args[1:], **kwargs)

    # ------------------------------------------------------------------ /json/2

    def json2(self, authorization: str | None, database: str | None, model_name: str, method: str, body: dict[str, Any]) -> Any:
        scheme, _sp, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise unauthorized()
        if database and database != self.db_name:
            raise not_found(f"database {database!r} not found")
        with self.transaction() as tx:
            uid = self.registry.access.uid_for_api_key(tx, key.strip())
            if uid is None:
                raise unauthorized()
            params = dict(body)
            ids = _normalize_ids(params.pop("ids", []))
            env = Env(self.registry, tx, uid, dict(params.pop("context", None) or {}))
            if model_name not in self.registry:
                raise not_found(f"the model {model_name!r} does not exist")
            model = self.registry.models[model_name]
            try:
                func = get_public_method(model, method)
            except AttributeError as exc:
                raise not_found(exc.args[0]) from exc
            is_model = func._rpc == "model"  # type: ignore[attr-defined]
            if is_model and ids:
                raise unprocessable(f"cannot call {model_name}.{method} with ids")
            call_args = (model, env) if is_model else (model, env, ids)
            try:
                inspect.signature(func).bind(*call_args, **params)
            except TypeError as exc:
                raise unprocessable(exc.args[0]) from exc
            return func(*call_args, **params)

    # ------------------------------------------------------------------ web session

    def session_authenticate(self, db: str, login: str, password: str) -> tuple[str, dict[str, Any]]:
        self._check_db(db)
        with self.transaction() as tx:
            uid = self.registry.access.authenticate(tx, login, password)
            if uid is None:
                from .errors import AccessDenied

                raise AccessDenied()
            env = Env(self.registry, tx, uid, {})
            user = env.user
            session_id = secrets.token_hex(20)
            self.sessions[session_id] = uid
            info = {
                "uid": uid,
                "is_system": env.access.has_group(env, "base.group_system"),
                "is_admin": env.access.has_group(env, "base.group_system"),
                "user_context": self.registry.models["res.users"].context_get(env),  # type: ignore[attr-defined]
                "db": self.db_name,
                "server_version": SERVER_VERSION,
                "server_version_info": VERSION_INFO["server_version_info"],
                "name": env["res.users"]._display_name(env, user),
                "username": login,
                "partner_id": user.get("partner_id"),
                "company_id": user.get("company_id"),
            }
        return session_id, info

    def session_call_kw(self, session_id: str | None, params: dict[str, Any]) -> Any:
        uid = self.sessions.get(session_id or "")
        if uid is None:
            raise SessionExpired()
        with self.transaction() as tx:
            env = Env(self.registry, tx, uid, {})
            return self.call_kw(env, params.get("model", ""), params.get("method", ""), list(params.get("args") or []), dict(params.get("kwargs") or {}))
