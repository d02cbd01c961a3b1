"""nats-server's HTTP monitoring endpoints (`/varz`, `/jsz`, `/connz`, `/subsz`)."""

from __future__ import annotations

from typing import Any

import aiohttp

SUBSZ_PAGE = 1024
MAX_SUBSCRIPTIONS = 200_000


class ServerMonitor:
    """A client of one server's monitoring port (in a cluster: one per server)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    async def close(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> "ServerMonitor":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def get(self, endpoint: str, **params: Any) -> dict[str, Any]:
        async with self._session.get(f"{self.base_url}/{endpoint}", params={k: str(v) for k, v in params.items()}) as r:
            r.raise_for_status()
            return await r.json(content_type=None)

    async def varz(self) -> dict[str, Any]:
        return await self.get("varz")

    async def jsz(self) -> dict[str, Any]:
        return await self.get("jsz", streams=1, consumers=1, config=1)

    async def subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription with its delivered-message counter (`msgs`), paged; this
        includes the streams' own ingest subscriptions, so stored subjects are counted too."""
        found: list[dict[str, Any]] = []
        offset = 0
        while offset < MAX_SUBSCRIPTIONS:
            page = await self.get("subsz", subs=1, offset=offset, limit=SUBSZ_PAGE)
            subs = page.get("subscriptions_list") or []
            found.extend(subs)
            if len(subs) < SUBSZ_PAGE:
                break
            offset += len(subs)
        return found
