"""Search at scale: an archive store holding 1M messages and 100k orders (the `--scale` run),
and the time searches take on it, per kind of user and query, p50/p99.

The store is filled the way the projection fills it (`store.apply` of record batches in stream
order, tokens and all) from a seeded stationery workload: one shop buyer talking to 200
suppliers in direct chats and 40 group chats, orders of 1-5 lines going created -> sent ->
seen -> confirmed. Then each sample runs one query as one user through the archive's search
path (query compilation, both chat and order searches, visibility) and is timed.

    python -m orderchat.bench.search_scale --messages 1000000 --orders 100000 --store sqlite:///tmp/s.sqlite3
    bench runner: `await search_scale(ScaleSearchPlan(...), store_url, progress)`"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from orderchat.schemas.users import PartyRole
from orderchat.services.archive.records import (
    Batch,
    ConversationRecord,
    MessageRecord,
    OrderEventRecord,
    OrderLineRecord,
    OrderTermsRecord,
)
from orderchat.services.archive.store import Filters, Scope, open_store
from orderchat.services.archive.tokens import compile_query

from .stats import percentile

TENANT = "scale"
BUYER = "lin"
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

PRODUCTS = [
    ("A4复印纸 70g 500张/包", "Paper"), ("A3打印纸 80g", "Paper"), ("A4 copy paper 80gsm", "Paper"),
    ("晨光蓝色中性笔 0.5mm", "Pens"), ("黑色中性笔 0.5", "Pens"), ("blue gel pen 0.7mm", "Pens"),
    ("蓝色圆珠笔", "Pens"), ("自动铅笔芯 0.5 HB", "Pencils & Leads"), ("2B铅笔", "Pencils & Leads"),
    ("pencil leads 2B", "Pencils & Leads"), ("得力订书机", "Office"), ("24/6订书钉", "Office"),
    ("3M便利贴 黄色", "Notebooks"), ("B5笔记本", "Notebooks"), ("spiral notebook A5", "Notebooks"),
    ("A4文件夹", "Office"), ("档案盒", "Office"), ("橡皮擦 4B", "Pencils & Leads"), ("荧光笔 5色", "Pens"),
    ("美工刀", "Office"), ("胶棒 21g", "Office"), ("sticky notes 76x76", "Notebooks"), ("剪刀 办公", "Office"),
]
CHAT = [
    "请问{p}还有货吗？", "{p}要{n}箱，这周能发吗", "上次的{p}质量不错，再来{n}包", "{p}价格能便宜点吗？",
    "麻烦确认一下{p}的交期", "Do you have {p} in stock?", "Please send {n} boxes of {p}", "好的，收到",
    "明天上午送货可以吗？", "发票开好了，请查收", "Thanks, received.", "运费怎么算？", "{p} x{n}，周三前发货",
]
QUERIES = ["A4纸", "蓝色中性笔", "铅笔芯", "gel pen blue", "订书机", "发票", "纸", "sticky notes", "交期", "A3"]


@dataclass(frozen=True)
class ScaleSearchPlan:
    messages: int = 1_000_000
    orders: int = 100_000
    suppliers: int = 200
    groups: int = 40
    samples: int = 400
    seed: int = 7
    batch: int = 5000


def supplier(i: int) -> str:
    return f"s{i:03d}"


def conversations(plan: ScaleSearchPlan, rng: random.Random) -> list[ConversationRecord]:
    convs = [
        ConversationRecord(0, TENANT, f"dm_{BUYER}_{supplier(i)}", "direct", "", BUYER, T0,
                           ((BUYER, "buyer"), (supplier(i), "supplier")))
        for i in range(plan.suppliers)
    ]
    for g in range(plan.groups):
        members = rng.sample(range(plan.suppliers), rng.randint(3, 10))
        convs.append(ConversationRecord(0, TENANT, f"g_restock_{g}", "group", f"补货群 {g}", BUYER, T0,
                                        ((BUYER, "buyer"), *((supplier(m), "supplier") for m in members))))
    return convs


async def fill(store: Any, plan: ScaleSearchPlan, progress: Callable[[str], None]) -> dict[str, float]:
    rng = random.Random(plan.seed)
    convs = conversations(plan, rng)
    seq = 0
    span = timedelta(days=365)
    started = time.perf_counter()
    batch = Batch(source="chat", last_seq=0)
    for conv in convs:
        seq += 1
        batch.memberships.append(ConversationRecord(seq, *list(asdict(conv).values())[1:-1], conv.members))
    conv_seqs: dict[str, int] = {}
    for i in range(plan.messages):
        seq += 1
        conv = convs[rng.randrange(len(convs))]
        conv_seqs[conv.conv] = conv_seqs.get(conv.conv, 0) + 1
        product, _ = rng.choice(PRODUCTS)
        text = rng.choice(CHAT).format(p=product, n=rng.randint(2, 80))
        sender = BUYER if rng.random() < 0.5 else rng.choice([m for m, _ in conv.members if m != BUYER])
        ts = T0 + span * (i / plan.messages)
        batch.messages.append(MessageRecord(seq, TENANT, conv.conv, conv_seqs[conv.conv], sender, ts, "text", text))
        if len(batch.messages) >= plan.batch:
            batch.last_seq = seq
            await store.apply(batch)
            batch = Batch(source="chat", last_seq=seq)
            if (i + 1) % (plan.batch * 40) == 0:
                progress(f"search scale: {i + 1} messages stored")
    batch.last_seq = seq
    await store.apply(batch)
    messages_s = time.perf_counter() - started

    started = time.perf_counter()
    seq = 0
    batch = Batch(source="orders", last_seq=0)
    for o in range(plan.orders):
        s = supplier(rng.randrange(plan.suppliers))
        order_id = f"po-{o:06d}"
        lines = tuple(
            OrderLineRecord(str(n), f"SKU-{rng.randrange(5000)}", p, cat, Decimal(rng.randint(1, 50)), "box",
                            Decimal(rng.randint(100, 9000)) / 100, None)
            for n, (p, cat) in enumerate(rng.sample(PRODUCTS, rng.randint(1, 5)), start=1)
        )
        created = T0 + span * (o / plan.orders)
        terms = OrderTermsRecord(f"P{o:06d}", BUYER, s, "CNY", None, lines)
        steps = [("created", BUYER, "draft", terms, None), ("sent", BUYER, "sent", None, None),
                 ("seen", s, "seen", None, None),
                 ("confirmed", s, "confirmed", None, tuple((line.line_id, "accepted") for line in lines))]
        for k, (event, actor, state, t, answers) in enumerate(steps):
            seq += 1
            batch.order_events.append(OrderEventRecord(seq, TENANT, order_id, event, actor,
                                                       created + timedelta(minutes=7 * k), state, 1, t, answers))
        if len(batch.order_events) >= plan.batch:
            batch.last_seq = seq
            await store.apply(batch)
            batch = Batch(source="orders", last_seq=seq)
    batch.last_seq = seq
    await store.apply(batch)
    orders_s = time.perf_counter() - started
    await store.refresh_statistics()  # as the projection does once it has caught up
    return {
        "fill_messages_s": round(messages_s, 1),
        "fill_messages_per_s": round(plan.messages / messages_s),
        "fill_orders_s": round(orders_s, 1),
        "fill_order_events_per_s": round(seq / orders_s),
    }


async def measure(store: Any, plan: ScaleSearchPlan) -> dict[str, Any]:
    """Each sample: one query as one user, chat and order searches together, as the service runs them."""
    rng = random.Random(plan.seed + 1)
    users = {
        "buyer": Scope(TENANT, BUYER, PartyRole.BUYER),
        "supplier": Scope(TENANT, supplier(7), PartyRole.SUPPLIER),
        "supplier_categories": Scope(TENANT, supplier(9), PartyRole.SUPPLIER, ("Paper",)),
    }
    results: dict[str, Any] = {}
    everything: list[float] = []
    for label, scope in users.items():
        times: list[float] = []
        hits = 0
        for _ in range(plan.samples // len(users)):
            text = rng.choice(QUERIES)
            started = time.perf_counter()
            query = compile_query(text)
            filters = Filters(limit=50)
            chat, orders = await asyncio.gather(store.search_chat(query, scope, filters), store.search_orders(query, scope, filters))
            times.append((time.perf_counter() - started) * 1000)
            hits += len(chat) + len(orders)
        times.sort()
        everything += times
        results[label] = {"samples": len(times), "p50_ms": round(percentile(times, 50), 2),
                          "p99_ms": round(percentile(times, 99), 2), "max_ms": round(times[-1], 2),
                          "mean_hits": round(hits / len(times), 1)}
    everything.sort()
    results["all"] = {"samples": len(everything), "p50_ms": round(percentile(everything, 50), 2),
                      "p99_ms": round(percentile(everything, 99), 2)}
    return results


async def search_scale(plan: ScaleSearchPlan, store_url: str, progress: Callable[[str], None] = print) -> dict[str, Any]:
    store = open_store(store_url)
    await store.open()
    try:
        await store.drop()
        progress(f"search scale: filling {store.backend} with {plan.messages} messages and {plan.orders} orders")
        filled = await fill(store, plan, progress)
        progress("search scale: timing searches")
        timings = await measure(store, plan)
    finally:
        await store.close()
    return {
        "backend": store.backend, "messages": plan.messages, "orders": plan.orders, **filled,
        "search": timings, "target_p99_ms": 50, "met": timings["all"]["p99_ms"] <= 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="sqlite:///path or postgresql://... (emptied first)")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=400)
    args = parser.parse_args()
    plan = ScaleSearchPlan(messages=args.messages, orders=args.orders, samples=args.samples)
    print(json.dumps(asyncio.run(search_scale(plan, args.store)), indent=2))


if __name__ == "__main__":
    main()
