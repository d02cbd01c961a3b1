"""One asyncio.Lock per key (a conversation, a user), created on demand and dropped when
nobody holds or waits for it, so the map stays as small as the work in flight."""

from __future__ import annotations

import asyncio


class KeyedLocks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def __call__(self, key: str) -> "_Held":
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:  # cancelled while waiting: no longer a user of the lock
            self._forget(key, lock)
            raise
        return _Held(self, key, lock)

    def _release(self, key: str, lock: asyncio.Lock) -> None:
        lock.release()
        self._forget(key, lock)

    def _forget(self, key: str, lock: asyncio.Lock) -> None:
        _, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)


class _Held:
    def __init__(self, owner: KeyedLocks, key: str, lock: asyncio.Lock) -> None:
        self.owner, self.key, self.lock = owner, key, lock

    async def __aenter__(self) -> "_Held":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.owner._release(self.key, self.lock)
