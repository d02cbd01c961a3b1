"""Odoo 17's automation "Send Webhook Notification" on purchase.order.

One POST per changed order, JSON `{"_action", "_id", "_model", <fields>}`, a 1 s timeout,
no retry, no signature. It is a hint to poll, never the truth, and it never fails the RPC
call that caused it. Unlike Odoo before 19 (which posts before its commit), the demo posts
after the commit, so a receiver that polls at once sees the change.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from .seed import WEBHOOK_ACTION_ID, WEBHOOK_ACTION_NAME
from .store import Transaction

log = logging.getLogger(__name__)
WEBHOOK_MODEL = "purchase.order"
WEBHOOK_FIELDS = ("state", "write_date")
WEBHOOK_TIMEOUT_S = 1.0


def webhook_payloads(tx: Transaction) -> list[dict[str, Any]]:
    """Payloads for the purchase orders a committed transaction created or changed."""
    payloads = []
    for rec_id in sorted(tx.touched.get(WEBHOOK_MODEL, ())):
        rec = tx.get(WEBHOOK_MODEL, rec_id)
        if rec is None:
            continue  # deleted in the same call: Odoo's on-write automation would not fire
        payload: dict[str, Any] = {
            "_action": f"{WEBHOOK_ACTION_NAME}(#{WEBHOOK_ACTION_ID})",
            "_id": rec_id,
            "_model": WEBHOOK_MODEL,
        }
        for name in WEBHOOK_FIELDS:
            value = rec.get(name)
            payload[name] = False if value is None else value
        payloads.append(payload)
    return payloads


class WebhookSender:
    """Fire-and-forget POSTs on the server's loop; failures are logged and dropped."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, payloads: list[dict[str, Any]]) -> None:
        if not self.url or not payloads:
            return
        for payload in payloads:
            task = asyncio.get_running_loop().create_task(self._post(self.url, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, payload: dict[str, Any]) -> None:
        try:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S))
            body = json.dumps(payload, sort_keys=True, default=str)
            async with self._session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                await resp.read()
        except Exception as exc:  # noqa: BLE001 - a webhook must never break anything
            log.info("webhook to %s failed: %r", url, exc)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
