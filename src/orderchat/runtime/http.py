"""The one HTTP endpoint of a service process: Prometheus metrics and health.

    GET /metrics   the process registry (services.framework.metrics.REGISTRY), rendered by
                   prometheus_client (text format 0.0.4, or OpenMetrics when asked for)
    GET /healthz   200 while the process runs and its NATS connection is up, else 503
    GET /readyz    200 when NATS is connected, the streams exist and every durable consumer the
                   services use is bound; 503 with the failing checks otherwise

`ServiceHost` starts one per process (`orderchat serve --http-port`, `orderchat up`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from orderchat.services.framework.metrics import REGISTRY

log = logging.getLogger(__name__)

Checks = dict[str, bool]
ReadinessProbe = Callable[[], Awaitable[Checks]]
LivenessProbe = Callable[[], bool]


class OpsHttpServer:
    """aiohttp app on `host:port` (port 0 = any free port; the bound one is in `url`)."""

    def __init__(self, host: str, port: int, alive: LivenessProbe, ready: ReadinessProbe) -> None:
        self.host = host
        self.port = port
        self._alive = alive
        self._ready = ready
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        return app

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # With port 0 the OS chose one: read it back so `url` is the real address.
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def metrics(self, request: web.Request) -> web.Response:
        if "application/openmetrics-text" in request.headers.get("Accept", ""):
            body, content_type = generate_openmetrics(REGISTRY), OPENMETRICS_TYPE
        else:
            body, content_type = generate_latest(REGISTRY), CONTENT_TYPE_LATEST
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    async def healthz(self, request: web.Request) -> web.Response:
        alive = self._alive()
        return web.json_response({"ok": alive, "checks": {"nats_connected": alive}}, status=200 if alive else 503)

    async def readyz(self, request: web.Request) -> web.Response:
        try:
            checks = await self._ready()
        except Exception as exc:  # noqa: BLE001 - a failing probe means "not ready", never a 500
            log.warning("readiness probe failed: %s", exc)
            checks = {"probe": False}
        ready = bool(checks) and all(checks.values())
        return web.json_response({"ok": ready, "checks": checks}, status=200 if ready else 503)
