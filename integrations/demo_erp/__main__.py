"""python -m orderchat.integrations.demo_erp --host 127.0.0.1 --port 8069 --db ./erp.sqlite3"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from .seed import SEED_DB_NAME, SEED_USERS
from .server import DemoErp


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m orderchat.integrations.demo_erp", description="orderchat demo ERP (Odoo 17 external API)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--db", default="./erp.sqlite3", help='SQLite file, or ":memory:"')
    parser.add_argument("--webhook-url", default=None, help="POST purchase.order changes here (Odoo automation webhook)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    erp = DemoErp(args.db, webhook_url=args.webhook_url)
    url = await erp.start(args.host, args.port)
    logins = ", ".join(f"{u.login}/{u.password}" for u in SEED_USERS)
    print(f"orderchat demo ERP on {url} (database {SEED_DB_NAME!r}, users {logins})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows
            pass
    try:
        await stop.wait()
    finally:
        await erp.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
