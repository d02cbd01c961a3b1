"""The `erp` service: one tenant's link to one ERP database.

    options (from `orderchat up` / ServiceHost): "erp" = odoo://login:apikey@host:port/db,
    "tenant", "erp_webhook_url" (where to listen for Odoo's webhook; default: none)

Without an ERP configured the service starts idle (logs so), so `orderchat serve` of every
service works on a deployment without an ERP. The ERP being down at start is not an error:
the connector keeps trying and works once it answers."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from orderchat.security.keys import read_seed
from orderchat.services.framework.context import ServiceContext

from .config import ErpConfig, parse_erp_url
from .errors import ErpUnavailable
from .gateway import OrdersGateway
from .store import ErpStatus, ErpStore
from .sync import SyncReport, Syncer
from .transport import OdooTransport, open_transport
from .webhook import WebhookServer
from .writeback import WriteBack

log = logging.getLogger(__name__)

NAME = "erp"
STATUS_EVERY = 2.0
MAX_PAUSE = 10.0
# Odoo before 19 posts its webhook before the transaction commits: a second look after this.
RELOOK_AFTER = 1.0
# Hinted purchase orders synced at once (in batches): one sent right after another does not
# wait for the other's whole sync (ERP read, order created, card posted), only for its ERP
# calls where the transport takes one at a time (odoorpc).
HINT_WORKERS = 4


class ErpService:
    name = NAME

    def __init__(self, config: ErpConfig | None = None, webhook_url: str | None = None) -> None:
        self.config = config
        self.webhook_url = webhook_url
        self.webhook: WebhookServer | None = None
        self.syncer: Syncer | None = None
        self.writeback: WriteBack | None = None
        self.transports: list[OdooTransport] = []
        self.version: tuple[int, int] | None = None
        self.busy: set[str] = set()
        self._wake = asyncio.Event()
        self._poll_now = False
        self._hinted: set[int] = set()  # purchase orders a webhook named, to read now
        self._relook: dict[int, float] = {}  # purchase order id -> when to look again
        self._syncing: set[int] = set()  # hinted purchase orders being synced now
        self._hint_tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.erp_up = False
        self.last_error: str | None = None
        self.last_poll_at: datetime | None = None
        self.last_ok_at: datetime | None = None
        self.synced = 0
        self.polls = 0

    async def start(self, ctx: ServiceContext) -> None:
        if self.config is None:
            url = ctx.option("erp", None)
            if not url:
                log.info("erp: no ERP configured (option `erp` / ORDERCHAT_ERP_URL): the connector is idle")
                return
            self.config = parse_erp_url(str(url))
        if self.webhook_url is None and ctx.option("erp_webhook_url", None):
            self.webhook_url = str(ctx.option("erp_webhook_url", None))
        tenant = str(ctx.option("tenant", "shop"))
        self.ctx = ctx
        self.store = await ErpStore(ctx.js, tenant, self.config.database).open()
        self.gateway = OrdersGateway(ctx.nc, ctx.js, tenant, self._signing_seeds())
        if self.webhook_url:
            parts = urlsplit(self.webhook_url)
            token = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("token")
            self.webhook = WebhookServer(parts.hostname or "127.0.0.1", parts.port or 0, self.hint, token)
            await self.webhook.start()
        self._tasks.append(asyncio.create_task(self._run(), name="erp:run"))
        self._tasks.append(asyncio.create_task(self._publish_status(), name="erp:status"))

    def _signing_seeds(self) -> dict[str, bytes]:
        """The buyer's ERP device seed, when configured (`signing_key=` in the ERP URL)."""
        assert self.config is not None
        if not self.config.signing_key:
            return {}
        return {self.config.buyer: read_seed(Path(self.config.signing_key)).encode()}

    def wake(self) -> None:
        """Poll now (a test, the CLI, a hint that names no purchase order)."""
        self._poll_now = True
        self._wake.set()

    def hint(self, model: str, record_id: int) -> None:
        """The ERP's webhook named a record: a purchase order is read and applied at once
        (no change scan), beside other hinted ones but never twice at a time, and looked at
        once more a moment later, as Odoo before 19 posts before its transaction commits; a
        line makes the next poll come now."""
        if model == "purchase.order":
            self._hinted.add(record_id)
            self._relook[record_id] = time.monotonic() + RELOOK_AFTER
            self._wake.set()
        else:
            self.wake()

    async def _connect(self) -> None:
        """Two transports: polling never delays a write-back waiting for the same connection."""
        assert self.config is not None
        sync_transport, self.version = await open_transport(self.config)
        write_transport, _ = await open_transport(self.config)
        self.transports = [sync_transport, write_transport]
        self.syncer = Syncer(self.config, sync_transport, self.store, self.gateway, self.busy)
        self.writeback = WriteBack(self.config, write_transport, self.store, self.gateway, self.busy, self.version)
        await self.writeback.start()
        log.info("erp: connected to %s (Odoo %d.%d, %s)", self.config.redacted(), *self.version, sync_transport.kind)

    async def _run(self) -> None:
        assert self.config is not None
        pause = self.config.poll_interval
        next_poll = 0.0
        while not self._stopping.is_set():
            failed = False
            try:
                if self.syncer is None:
                    await self._connect()
                assert self.syncer is not None
                self._start_hinted()
                if self._poll_now or time.monotonic() >= next_poll:
                    self._poll_now = False
                    # A poll never runs beside hinted syncs (nor they beside it): one pass at a
                    # time over the same purchase orders.
                    await self._hinted_done()
                    started = time.monotonic()  # polls start every poll_interval, however long one takes
                    self.last_poll_at = datetime.now(timezone.utc)
                    report = await self.syncer.sync_once()
                    self._after_poll(report)
                    pause = self.config.poll_interval
                    next_poll = started + pause
            except ErpUnavailable as exc:
                failed = True
                self.erp_up, self.last_error = False, str(exc)
                pause = min(max(pause * 2, 0.5), MAX_PAUSE)
                next_poll = time.monotonic() + pause
                log.info("erp: ERP unavailable (%s); next try in %.1fs", exc, pause)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - an Odoo refusal or NATS trouble: keep polling
                failed = True
                self.last_error = f"{type(exc).__name__}: {exc}"
                pause = min(max(pause * 2, 0.5), MAX_PAUSE)
                next_poll = time.monotonic() + pause
                log.warning("erp: poll failed: %s", self.last_error, exc_info=True)
            # After a failure the pause holds for everything (no retry storm on a down ERP).
            # A second look waits for a free worker or for its order's sync: their end wakes us.
            free = len(self._hint_tasks) < HINT_WORKERS
            relooks = [at for po_id, at in self._relook.items() if free and po_id not in self._syncing]
            wake_at = next_poll if failed else min([next_poll, *relooks])
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, wake_at - time.monotonic()))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    def _due_hints(self) -> list[int]:
        """Purchase orders a webhook named, and those due for their second look; not those
        being synced (they wait for that sync to end)."""
        now = time.monotonic()
        due = self._hinted - self._syncing
        self._hinted -= due
        for po_id, at in list(self._relook.items()):
            if at <= now and po_id not in self._syncing:
                due.add(po_id)
                del self._relook[po_id]
        return sorted(due)

    def _start_hinted(self) -> None:
        """Start syncing what is due (one batch a free worker; what comes due meanwhile waits
        for the next free one)."""
        while len(self._hint_tasks) < HINT_WORKERS:
            hinted = self._due_hints()
            if not hinted:
                return
            self._syncing.update(hinted)
            task = asyncio.create_task(self._sync_hinted(hinted), name="erp:hinted")
            self._hint_tasks.add(task)
            task.add_done_callback(self._hint_tasks.discard)

    async def _sync_hinted(self, po_ids: list[int]) -> None:
        assert self.syncer is not None
        try:
            report = await self.syncer.sync_ids(po_ids)
            self.synced += report.created + report.amended + report.cancelled
        except ErpUnavailable as exc:
            # Not retried here: the second look and the poll bring the order in later.
            self.erp_up, self.last_error = False, str(exc)
            log.info("erp: ERP unavailable for hinted purchase orders %s (%s)", po_ids, exc)
        except Exception as exc:  # noqa: BLE001 - an Odoo refusal or NATS trouble: as a failed poll
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("erp: sync of hinted purchase orders %s failed: %s", po_ids, self.last_error, exc_info=True)
        finally:
            self._syncing.difference_update(po_ids)
            self._wake.set()  # hints that waited for a worker or for this sync

    async def _hinted_done(self) -> None:
        # asyncio.wait, not gather: whoever waits here being cancelled must not cancel the syncs.
        while self._hint_tasks:
            await asyncio.wait(set(self._hint_tasks))

    def _after_poll(self, report: SyncReport) -> None:
        self.erp_up, self.last_error = True, None
        self.last_ok_at = self.last_poll_at
        self.polls += 1
        self.synced += report.created + report.amended + report.cancelled

    async def status(self) -> ErpStatus:
        assert self.config is not None
        now = datetime.now(timezone.utc)
        pending = 0
        if self.writeback is not None:
            try:
                pending = await self.writeback.pending()
            except Exception:  # noqa: BLE001 - NATS briefly away: report 0 rather than fail
                pending = 0
        cursor = await self.store.cursors.get(self.store.cursor_key())
        wb = self.writeback
        return ErpStatus(
            database=self.config.database, url=self.config.redacted(),
            transport=self.transports[0].kind if self.transports else None,
            server_version=f"{self.version[0]}.{self.version[1]}" if self.version else None,
            erp_up=self.erp_up and (wb is None or wb.erp_up), last_error=self.last_error or (wb.last_error if wb else None),
            last_poll_at=self.last_poll_at, last_ok_at=self.last_ok_at, cursor=cursor[0].write_date if cursor else None,
            sync_lag_seconds=(now - self.last_ok_at).total_seconds() if self.last_ok_at else None,
            orders_synced=self.synced, unmapped_partners=sorted(set(self.syncer.waiting.values())) if self.syncer else [],
            refused_orders=sorted(self.syncer.refused.values()) if self.syncer else [], writeback_pending=pending,
            writebacks_done=wb.written if wb else 0, writebacks_refused=wb.refused if wb else 0, updated_at=now,
        )

    async def _publish_status(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.store.statuses.put(self.store.status_key(), await self.status())
            except Exception:  # noqa: BLE001 - status is best effort; the next round tries again
                log.debug("erp: status not published", exc_info=True)
            try:
                await asyncio.wait_for(self._stopping.wait(), STATUS_EVERY)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, 15)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:  # noqa: BLE001
                log.exception("erp: task ended badly")
        self._tasks.clear()
        try:
            await asyncio.wait_for(self._hinted_done(), 15)
        except asyncio.TimeoutError:
            for task in self._hint_tasks:
                task.cancel()
        if self.writeback is not None:
            await self.writeback.stop()
        if self.webhook is not None:
            await self.webhook.stop()
        for transport in self.transports:
            await transport.close()
