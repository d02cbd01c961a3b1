"""One interface, two ways to reach Odoo:

- `OdooRpcTransport`: the `odoorpc` client (JSON-RPC `/jsonrpc`, Odoo 14-19; deprecated from
  19, removed in 22). odoorpc is synchronous (urllib), so every call runs in a thread.
- `Json2Transport`: Odoo 19's JSON-2 API, `POST /json/2/<model>/<method>` with a bearer API
  key, over aiohttp.

Calls are made with named arguments (`domain=`, `fields=`, `vals=`, ...), the form both APIs
accept: JSON-RPC passes them as execute_kw's kwargs with the record ids as the only
positional argument, JSON-2 puts them in the body beside `ids`."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import urllib.error
from typing import Any, Protocol

import aiohttp
import odoorpc
import odoorpc.error

from .config import ErpConfig
from .errors import ACCESS_DENIED, ErpUnavailable, OdooError

TRANSIENT_HTTP = frozenset({408, 429, 502, 503, 504})


class OdooTransport(Protocol):
    kind: str
    version: tuple[int, int]  # the server's (major, minor): field names differ between versions

    async def call(self, model: str, method: str, ids: list[int] | None = None, **kwargs: Any) -> Any: ...

    async def close(self) -> None: ...


async def server_version(config: ErpConfig) -> tuple[int, int]:
    """(major, minor) from `/web/webclient/version_info` (`saas~18.2` counts as 18.2)."""
    body = {"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=config.timeout)) as session:
            async with session.post(f"{config.base_url}/web/webclient/version_info", json=body) as response:
                if response.status in TRANSIENT_HTTP:
                    raise ErpUnavailable(f"version_info answered HTTP {response.status}")
                answer = await response.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise ErpUnavailable(f"cannot reach {config.base_url}: {exc!r}") from exc
    info = (answer or {}).get("result") or {}
    numbers = info.get("server_version_info") or []
    if len(numbers) >= 2 and isinstance(numbers[0], int):
        return int(numbers[0]), int(numbers[1]) if isinstance(numbers[1], int) else 0
    text = str(info.get("server_version", "0.0")).split("~")[-1]
    major, _, minor = text.partition(".")
    return int(major or 0), int((minor or "0").split(".")[0] or 0)


async def open_transport(config: ErpConfig) -> tuple[OdooTransport, tuple[int, int]]:
    """The transport the config asks for; `auto` takes JSON-2 from Odoo 19 on."""
    version = await server_version(config)
    kind = config.transport
    if kind == "auto":
        kind = "json2" if version[0] >= 19 else "jsonrpc"
    transport: OdooTransport = Json2Transport(config, version) if kind == "json2" else OdooRpcTransport(config, version)
    return transport, version


# -- odoorpc -------------------------------------------------------------------------------


def _odoo_error(exc: odoorpc.error.RPCError) -> OdooError:
    info = exc.info if isinstance(exc.info, dict) else {}
    data = info.get("data") or {}
    if not data:  # odoorpc's own login failure carries no server error
        return OdooError(ACCESS_DENIED, str(exc))
    return OdooError(str(data.get("name") or ""), str(data.get("message") or exc))


class OdooRpcTransport:
    kind = "jsonrpc"

    def __init__(self, config: ErpConfig, version: tuple[int, int]) -> None:
        self.config = config
        self.version = version
        self._odoo: odoorpc.ODOO | None = None
        # odoorpc keeps one cookie jar and a request counter: one call at a time.
        self._lock = asyncio.Lock()

    def _connect(self) -> odoorpc.ODOO:
        cfg = self.config
        odoo = odoorpc.ODOO(
            cfg.host, protocol="jsonrpc+ssl" if cfg.https else "jsonrpc", port=cfg.port, timeout=cfg.timeout,
            version=f"{self.version[0]}.{self.version[1]}",  # known already: no I/O in the constructor
        )
        odoo.login(cfg.database, cfg.login, cfg.secret)
        return odoo

    def _call(self, model: str, method: str, ids: list[int] | None, kwargs: dict[str, Any]) -> Any:
        try:
            if self._odoo is None:
                self._odoo = self._connect()
            args = [ids] if ids is not None else []
            return self._odoo.execute_kw(model, method, args, kwargs)
        except odoorpc.error.RPCError as exc:
            raise _odoo_error(exc) from exc
        except urllib.error.HTTPError as exc:
            if exc.code in TRANSIENT_HTTP or exc.code >= 500:  # Odoo's own errors come as HTTP 200
                raise ErpUnavailable(f"HTTP {exc.code} from the ERP") from exc
            raise OdooError(f"http.{exc.code}", str(exc.reason)) from exc
        except (urllib.error.URLError, http.client.HTTPException, socket.timeout, ConnectionError, OSError, json.JSONDecodeError) as exc:
            self._odoo = None  # log in again once it is back
            raise ErpUnavailable(f"ERP unreachable: {exc!r}") from exc

    async def call(self, model: str, method: str, ids: list[int] | None = None, **kwargs: Any) -> Any:
        async with self._lock:
            return await asyncio.to_thread(self._call, model, method, ids, kwargs)

    async def close(self) -> None:
        self._odoo = None


# -- JSON-2 --------------------------------------------------------------------------------


class Json2Transport:
    kind = "json2"

    def __init__(self, config: ErpConfig, version: tuple[int, int] = (19, 0)) -> None:
        self.config = config
        self.version = version
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                headers={"Authorization": f"bearer {self.config.secret}", "X-Odoo-Database": self.config.database},
            )
        return self._session

    async def call(self, model: str, method: str, ids: list[int] | None = None, **kwargs: Any) -> Any:
        body = dict(kwargs)
        if ids is not None:
            body["ids"] = ids
        url = f"{self.config.base_url}/json/2/{model}/{method}"
        try:
            async with self._client().post(url, json=body) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise ErpUnavailable(f"ERP unreachable: {exc!r}") from exc
        try:
            answer = json.loads(text) if text else None
        except json.JSONDecodeError:
            answer = None
        if status < 400:
            return answer
        if status == 401:  # a bad or revoked API key: Odoo 19 answers werkzeug's Unauthorized
            detail = answer.get("message") if isinstance(answer, dict) else text[:200]
            raise OdooError(ACCESS_DENIED, str(detail or "Unauthorized"))
        if isinstance(answer, dict) and answer.get("name"):
            raise OdooError(str(answer["name"]), str(answer.get("message") or ""))
        if status in TRANSIENT_HTTP or status >= 500:
            raise ErpUnavailable(f"HTTP {status} from the ERP")
        raise OdooError(f"http.{status}", text[:500])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
