"""The archive service: projects CHAT and ORDERS into the search store and answers searches
and exports on the caller's own ingress subject.

Store location: the `archive_url` option, else `ORDERCHAT_ARCHIVE_URL`, else an SQLite file
under the orderchat home named after the CHAT stream it was built from (a new NATS store
means a new archive, never a mix of two)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
import uuid

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from orderchat.runtime.settings import Settings
from orderchat.schemas import names
from orderchat.schemas.chat import PositionsReply, PositionsRequest
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.search import ExportReply, ExportRequest, SearchKind, SearchReply, SearchRequest
from orderchat.schemas.users import User
from orderchat.services.framework.context import ServiceContext
from orderchat.services.framework.request_server import Caller, RequestServer
from orderchat.services.framework.typed_kv import TypedKV

from .export import rows_of
from .projector import SOURCE_SPECS, Projector
from .store import SOURCES, ArchiveStore, Filters, Scope, open_store
from .tokens import QueryError, compile_query

log = logging.getLogger(__name__)

NAME = "archive"
READ_YOUR_WRITES_WAIT = 5.0
USER_CACHE_SECONDS = 5.0


async def default_store_url(js: JetStreamContext) -> str:
    info = await js.stream_info(names.STREAM_CHAT)
    identity = hashlib.blake2s(str(info.created).encode(), digest_size=6).hexdigest()
    return f"sqlite://{Settings().home / 'archive' / f'archive-{identity}.sqlite3'}"


async def stream_identity(js: JetStreamContext, stream: str) -> str:
    """When the stream was created: a re-created stream restarts its sequences at 1."""
    try:
        return str((await js.stream_info(stream)).created)
    except NotFoundError:
        return ""


class Archive:
    """A store kept in step with the streams by one projector per source."""

    def __init__(self, js: JetStreamContext, store: ArchiveStore, batch: int = 1000) -> None:
        self.js = js
        self.store = store
        self.batch = batch
        self.projectors: dict[str, Projector] = {}

    async def start(self) -> None:
        await self.store.open()
        if await self._built_from_other_streams():
            log.warning("archive store was built from other streams (NATS re-created); rebuilding")
            await self.store.drop()
        store_id = await self.store.get_meta("store_id")
        if store_id is None:
            store_id = uuid.uuid4().hex[:10]
            await self.store.set_meta("store_id", store_id)
        for source in SOURCES:
            await self.store.set_meta(f"stream:{source}", await stream_identity(self.js, SOURCE_SPECS[source].stream))
            projector = Projector(self.js, self.store, SOURCE_SPECS[source], store_id, batch=self.batch)
            await projector.start()
            self.projectors[source] = projector

    async def _built_from_other_streams(self) -> bool:
        for source in SOURCES:
            recorded = await self.store.get_meta(f"stream:{source}")
            if recorded and recorded != await stream_identity(self.js, SOURCE_SPECS[source].stream):
                return True
        return False

    async def stop(self) -> None:
        for projector in self.projectors.values():
            await projector.stop()
        self.projectors.clear()
        await self.store.close()

    async def rebuild(self, timeout: float = 600.0) -> None:
        """Drop the store and project both streams again from sequence 1 (a new store id
        means new durable consumers; the old ones are deleted)."""
        store_id = await self.store.get_meta("store_id")
        for projector in self.projectors.values():
            await projector.stop()
        self.projectors.clear()
        if store_id:
            for source in SOURCES:
                try:
                    await self.js.delete_consumer(SOURCE_SPECS[source].stream, names.archive_consumer(source, store_id))
                except NotFoundError:
                    pass
        await self.store.drop()
        await self.start()
        await self.wait_caught_up(timeout)

    async def wait_caught_up(self, timeout: float) -> None:
        for projector in self.projectors.values():
            if not await projector.wait_caught_up(timeout):
                raise TimeoutError(f"archive {projector.source.name} did not catch up within {timeout}s")


class ArchiveService:
    name = NAME

    def __init__(self) -> None:
        self.server: RequestServer | None = None
        self.archive: Archive | None = None
        self._users: dict[str, tuple[float, User | None]] = {}

    async def start(self, ctx: ServiceContext) -> None:
        url = str(ctx.option("archive_url", None) or os.environ.get("ORDERCHAT_ARCHIVE_URL") or await default_store_url(ctx.js))
        self.archive = Archive(ctx.js, open_store(url))
        await self.archive.start()
        self.users = TypedKV(await ctx.js.key_value(names.KV_USERS), User)
        server = RequestServer(ctx, NAME)
        q = names.QUEUE_SEARCH
        server.add(names.ingress_pattern(names.OP_SEARCH), "search", SearchRequest, self.search, queue=q)
        server.add(names.ingress_pattern(names.OP_EXPORT), "export", ExportRequest, self.export, queue=q)
        server.add(
            names.service_request_pattern(NAME, names.SVC_POSITIONS), "positions", PositionsRequest, self.positions,
            queue=q, identity="service",
        )
        await server.start()
        self.server = server
        log.info("archive: %s store at %s", self.archive.store.backend, url.split("@")[-1])

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.archive is not None:
            await self.archive.stop()

    # -- who is asking ---------------------------------------------------------------------

    async def _user(self, tenant: str, user_id: str) -> User | None:
        key = names.kv_key(tenant, user_id)
        cached = self._users.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found = await self.users.get(key)
        user = found[0] if found else None
        self._users[key] = (time.monotonic() + USER_CACHE_SECONDS, user)
        return user

    async def scope_of(self, caller: Caller) -> Scope:
        user = await self._user(caller.tenant, caller.user)
        if user is None:
            raise OrderchatError(ErrorCode.UNKNOWN_USER, f"no user {caller.user!r} in tenant {caller.tenant!r}")
        return Scope(tenant=caller.tenant, user=user.id, role=user.role, categories=tuple(user.categories))

    @staticmethod
    def _check_supplier_filter(scope: Scope, supplier: str | None) -> None:
        if scope.is_supplier and supplier is not None and supplier != scope.user:
            raise OrderchatError(ErrorCode.FORBIDDEN, f"a supplier searches only its own conversations and orders, not {supplier!r}")

    async def _wait(self, source: str, seq: int | None) -> None:
        assert self.archive is not None
        if seq and not await self.archive.projectors[source].wait_for(seq, READ_YOUR_WRITES_WAIT):
            raise OrderchatError(
                ErrorCode.UNAVAILABLE, f"the archive has not yet applied {source} sequence {seq}; try again",
                {"source": source, "wanted": seq, "applied": self.archive.projectors[source].applied},
            )

    # -- handlers --------------------------------------------------------------------------

    async def positions(self, request: PositionsRequest, caller: Caller) -> PositionsReply:
        """Where the archive saw a conversation's messages: the gapless run from `first`."""
        assert self.archive is not None
        found = await self.archive.store.positions(caller.tenant, request.conv, request.first, request.last)
        run: list[tuple[int, int]] = []
        for seq, stream_seq in found:
            if seq != request.first + len(run):
                break
            run.append((seq, stream_seq))
        return PositionsReply(conv=request.conv, positions=run)

    async def search(self, request: SearchRequest, caller: Caller) -> SearchReply:
        started = time.perf_counter()
        assert self.archive is not None
        try:
            query = compile_query(request.query)
        except QueryError as exc:
            raise OrderchatError(ErrorCode.INVALID, str(exc), {"query": request.query}) from None
        scope = await self.scope_of(caller)
        self._check_supplier_filter(scope, request.supplier)
        await self._wait("chat", request.chat_seq)
        await self._wait("orders", request.orders_seq)
        filters = Filters(supplier=request.supplier, since=request.since, until=request.until, limit=request.limit)
        store = self.archive.store
        searches = []
        if request.kind in (None, SearchKind.CHAT):
            searches.append(store.search_chat(query, scope, filters))
        if request.kind in (None, SearchKind.ORDER):
            searches.append(store.search_orders(query, scope, filters))
        found = [hit for hits in await asyncio.gather(*searches) for hit in hits]
        found.sort(key=lambda h: h.ts, reverse=True)
        return SearchReply(
            query=request.query, hits=found[: request.limit],
            chat_seq=self.archive.projectors["chat"].applied, orders_seq=self.archive.projectors["orders"].applied,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    async def export(self, request: ExportRequest, caller: Caller) -> ExportReply:
        assert self.archive is not None
        scope = await self.scope_of(caller)
        self._check_supplier_filter(scope, request.supplier)
        await self._wait("orders", request.orders_seq)
        start, end = request.bounds()
        orders = await self.archive.store.export_orders(scope, request.supplier, start, end, request.after, request.limit)
        # A supplier limited to some categories does not see an order with none of its lines.
        rows = [row for order in orders if order.order.lines or not scope.is_supplier for row in rows_of(order)]
        next_after = orders[-1].order.order_id if len(orders) == request.limit else None
        return ExportReply(supplier=request.supplier, month=request.month, rows=rows, next_after=next_after)
