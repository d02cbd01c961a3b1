"""The HTTP side: an aiohttp app speaking Odoo 17's JSON-RPC and Odoo 19's JSON-2, and the
`DemoErp` object that owns the app, the SQLite store and the webhook sender.

    erp = DemoErp(db_path="erp.sqlite3")
    url = await erp.start(port=0)          # http://127.0.0.1:<free port>
    ...
    await erp.stop()

    with run_in_thread(db_path=":memory:") as erp:   # for synchronous clients (odoorpc)
        odoo = odoorpc.ODOO("127.0.0.1", port=erp.port)
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from .access import Access
from .account import AccountMove, AccountMoveLine
from .base_models import (
    AccountTax, IrModel, IrModelData, ProductAttribute, ProductCategory, ProductProduct,
    ProductTemplateAttributeValue, ResCompany, ResCurrency, ResGroups, ResPartner, ResUsers, UomUom,
)
from .errors import HttpError, bad_request, http_status, jsonrpc_error, serialize_exception
from .mail import MailMessage, MailMessageSubtype
from .orm import Registry
from .purchase import PurchaseOrder, PurchaseOrderLine
from .rpc import VERSION_INFO, OdooService
from .seed import SEED_DB_NAME, seed_database
from .store import Clock, Store, Transaction, utc_now
from .webhook import WebhookSender, webhook_payloads

log = logging.getLogger(__name__)
SESSION_COOKIE = "session_id"
MODEL_CLASSES = (
    ResCurrency, ResCompany, ResPartner, ResGroups, ResUsers, UomUom, ProductCategory,
    ProductAttribute, ProductTemplateAttributeValue, ProductProduct, AccountTax, IrModel,
    IrModelData, MailMessageSubtype, MailMessage, PurchaseOrder, PurchaseOrderLine,
    AccountMove, AccountMoveLine,
)


def build_registry(access: Access | None = None) -> Registry:
    registry = Registry(access or Access())
    for cls in MODEL_CLASSES:
        registry.add(cls(registry))
    return registry


def _jsonrpc_answer(req_id: Any, *, result: Any = None, error: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id}
    if error is not None:
        body["error"] = error
    elif result is not None:
        body["result"] = result  # Odoo leaves `result` out when a method returns None
    return web.json_response(body)


class DemoErp:
    """An Odoo-17-compatible purchase ERP for the orderchat demo, backed by SQLite."""

    def __init__(
        self,
        db_path: str | Path = ":memory:",
        *,
        webhook_url: str | None = None,
        clock: Clock = utc_now,
        db_name: str = SEED_DB_NAME,
    ) -> None:
        self.db_path = str(db_path)
        self.webhook = WebhookSender(webhook_url)
        self.clock = clock
        self.db_name = db_name
        self.registry = build_registry()
        self.store: Store | None = None
        self.service: OdooService | None = None
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def webhook_url(self) -> str | None:
        return self.webhook.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self.webhook.url = url

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the demo ERP is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0, db_path: str | Path | None = None) -> str:
        """Open (and seed, if empty) the database, listen, and return the base URL."""
        if db_path is not None:
            self.db_path = str(db_path)
        self.store = Store(self.db_path)
        seed_database(self.store, self.registry)
        self.service = OdooService(
            self.store, self.registry, db_name=self.db_name, clock=self.clock, on_commit=self._after_commit
        )
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._host = host
        self._port = int(self._runner.addresses[0][1])  # the real port when port=0
        log.info("demo ERP listening on %s (database %r, file %s)", self.url, self.db_name, self.db_path)
        return self.url

    async def stop(self) -> None:
        await self.webhook.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.store is not None:
            self.store.close()
            self.store = None
        self._port = None

    def _after_commit(self, tx: Transaction) -> None:
        self.webhook.send(webhook_payloads(tx))

    # ------------------------------------------------------------------ HTTP

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_get("/", self._home)
        app.router.add_get("/web/version", self._web_version)
        app.router.add_post("/web/webclient/version_info", self._version_info)
        app.router.add_post("/jsonrpc", self._jsonrpc)
        app.router.add_post("/web/session/authenticate", self._session_authenticate)
        app.router.add_post("/web/dataset/call_kw", self._call_kw)
        app.router.add_post("/web/dataset/call_kw/{path:.*}", self._call_kw)
        app.router.add_post("/json/2/{model}/{method}", self._json2)
        return app

    @property
    def _svc(self) -> OdooService:
        assert self.service is not None, "started"
        return self.service

    async def _home(self, request: web.Request) -> web.Response:
        return web.Response(text="orderchat demo ERP: Odoo 17 external API (JSON-RPC at /jsonrpc, JSON-2 at /json/2)\n")

    async def _web_version(self, request: web.Request) -> web.Response:
        return web.json_response({"version_info": VERSION_INFO["server_version_info"], "version": VERSION_INFO["server_version"]})

    @staticmethod
    async def _read_jsonrpc(request: web.Request) -> tuple[Any, dict[str, Any]]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise web.HTTPBadRequest(text=f"Invalid JSON data: {exc}") from exc
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="Invalid JSON-RPC data")
        params = body.get("params") or {}
        return body.get("id"), params if isinstance(params, dict) else {}

    async def _answer(self, request: web.Request, handler: Any) -> web.Response:
        req_id, params = await self._read_jsonrpc(request)
        try:
            result = handler(params)
        except Exception as exc:  # every failure is an Odoo error envelope, HTTP 200
            log.debug("RPC error", exc_info=True)
            return _jsonrpc_answer(req_id, error=jsonrpc_error(exc))
        return _jsonrpc_answer(req_id, result=result)

    async def _version_info(self, request: web.Request) -> web.Response:
        return await self._answer(request, lambda params: dict(VERSION_INFO))

    async def _jsonrpc(self, request: web.Request) -> web.Response:
        def handle(params: dict[str, Any]) -> Any:
            return self._svc.dispatch(params.get("service", ""), params.get("method", ""), params.get("args") or [])

        return await self._answer(request, handle)

    async def _session_authenticate(self, request: web.Request) -> web.Response:
        session: dict[str, str] = {}

        def handle(params: dict[str, Any]) -> Any:
            sid, info = self._svc.session_authenticate(params.get("db", ""), params.get("login", ""), params.get("password", ""))
            session["id"] = sid
            return info

        response = await self._answer(request, handle)
        if "id" in session:
            response.set_cookie(SESSION_COOKIE, session["id"], httponly=True, samesite="Lax")
        return response

    async def _call_kw(self, request: web.Request) -> web.Response:
        sid = request.cookies.get(SESSION_COOKIE)
        return await self._answer(request, lambda params: self._svc.session_call_kw(sid, params))

    async def _json2(self, request: web.Request) -> web.Response:
        try:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else {}
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise bad_request(f"could not parse the body as json: {exc}") from exc
            if not isinstance(body, dict):
                raise bad_request("the body must be a JSON object")
            result = self._svc.json2(
                request.headers.get("Authorization"),
                request.headers.get("X-Odoo-Database"),
                request.match_info["model"],
                request.match_info["method"],
                body,
            )
        except Exception as exc:
            log.debug("JSON-2 error", exc_info=True)
            status = http_status(exc)
            headers = {"WWW-Authenticate": 'Bearer realm="demo"'} if status == 401 and isinstance(exc, HttpError) else None
            return web.json_response(serialize_exception(exc), status=status, headers=headers)
        return web.json_response(result)


class ErpThread:
    """A DemoErp on its own event loop in a daemon thread (for synchronous clients)."""

    def __init__(
        self,
        db_path: str | Path = ":memory:",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_url: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.erp = DemoErp(db_path, webhook_url=webhook_url, clock=clock)
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return self.erp.url

    @property
    def port(self) -> int:
        return self.erp.port

    def start(self, timeout: float = 10.0) -> ErpThread:
        self._thread = threading.Thread(target=self._run, name="orderchat-demo-erp", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the demo ERP did not start in time")
        if self._error is not None:
            raise RuntimeError("the demo ERP failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.erp.start(self._host, self._port))
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.erp.stop())
            loop.close()

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the server's loop (e.g. to inspect the store) and wait for it."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._loop = None

    def __enter__(self) -> ErpThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(
    db_path: str | Path = ":memory:",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    webhook_url: str | None = None,
    clock: Clock = utc_now,
) -> ErpThread:
    """Start a DemoErp in a background thread; use as a context manager or call `.stop()`."""
    return ErpThread(db_path, host=host, port=port, webhook_url=webhook_url, clock=clock).start()
