"""Users and conversations, read from KV with a local cache that a KV watcher keeps fresh,
so membership checks cost no round trip on the send path and every instance sees changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from orderchat.schemas import names
from orderchat.schemas.conversations import Conversation
from orderchat.schemas.users import User
from orderchat.services.framework.typed_kv import TypedKV

log = logging.getLogger(__name__)


class Directory:
    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.users: TypedKV[User]
        self.conversations: TypedKV[Conversation]
        self._conv_cache: dict[str, Conversation] = {}
        self._user_cache: dict[str, User] = {}
        self._watchers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        users_kv = await self.js.key_value(names.KV_USERS)
        convs_kv = await self.js.key_value(names.KV_CONVERSATIONS)
        self.users = TypedKV(users_kv, User)
        self.conversations = TypedKV(convs_kv, Conversation)
        self._watchers = [
            asyncio.create_task(self._watch(users_kv, self._user_cache, User)),
            asyncio.create_task(self._watch(convs_kv, self._conv_cache, Conversation)),
        ]

    async def stop(self) -> None:
        for task in self._watchers:
            task.cancel()
        for task in self._watchers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _watch(self, kv: KeyValue, cache: dict, model: type) -> None:
        """Invalidate on every change; the next read goes to KV (read-through)."""
        while True:
            try:
                watcher = await kv.watchall(include_history=False, ignore_deletes=False)
                async for entry in watcher:
                    if entry is None:
                        continue
                    cache.pop(entry.key, None)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnects happen; drop the cache and watch again
                log.warning("directory watch on %s interrupted; resubscribing", kv._name, exc_info=True)
                cache.clear()
                await asyncio.sleep(0.5)

    async def user(self, tenant: str, user_id: str) -> User | None:
        key = names.kv_key(tenant, user_id)
        cached = self._user_cache.get(key)
        if cached is not None:
            return cached
        found = await self.users.get(key)
        if found is None:
            return None
        self._user_cache[key] = found[0]
        return found[0]

    async def conversation(self, tenant: str, conv_id: str) -> Conversation | None:
        key = names.kv_key(tenant, conv_id)
        cached = self._conv_cache.get(key)
        if cached is not None:
            return cached
        found = await self.conversations.get(key)
        if found is None:
            return None
        self._conv_cache[key] = found[0]
        return found[0]

    def remember(self, tenant: str, conversation: Conversation) -> None:
        self._conv_cache[names.kv_key(tenant, conversation.id)] = conversation
