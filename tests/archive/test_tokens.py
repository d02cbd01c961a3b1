"""Tokens and queries: Chinese without spaces, full-width characters, English stems, and
queries that look like search syntax stay plain words in both backends."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderchat.schemas.users import PartyRole
from orderchat.services.archive.records import Batch, ConversationRecord, MessageRecord
from orderchat.services.archive.store import ArchiveStore, Filters, Scope
from orderchat.services.archive.tokens import _RUN, MAX_QUERY_CHARS, QueryError, _stem, compile_query, index_tokens, normalize


def test_chinese_is_indexed_as_bigrams_then_characters() -> None:
    assert index_tokens("Ａ４复印纸 Blue Pens") == ["a4", "复印", "印纸", "blue", "pen", "复", "印", "纸"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_gets_the_same_tokens_by_the_fast_path(text: str) -> None:
    """ASCII text skips the Unicode scan; its words must come out exactly as that scan's."""
    assert index_tokens(text) == [_stem(word) for han, word in _RUN.findall(normalize(text)) if not han]


def test_a_query_is_segmented_so_word_order_does_not_matter() -> None:
    query = compile_query("蓝色中性笔")
    assert [t.tokens for t in query.terms] == [("蓝色",), ("中性", "性笔")]
    assert query.fts5() == '"蓝色" AND "中性 性笔"'
    assert query.tsquery() == "'蓝色' & ('中性' <-> '性笔')"
    assert [t.tokens for t in compile_query("A4纸").terms] == [("a4",), ("纸",)]


@pytest.mark.parametrize("text", ["", "   ", "!!!", "？？。", "x" * (MAX_QUERY_CHARS + 1)])
def test_unsearchable_queries_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(QueryError):
        compile_query(text)


async def test_search_syntax_in_a_query_is_just_words(store: ArchiveStore) -> None:
    t = datetime(2025, 1, 1, tzinfo=timezone.utc)
    batch = Batch(source="chat", last_seq=3)
    batch.memberships.append(ConversationRecord(1, "t", "c", "direct", "", "lin", t, (("lin", "buyer"),)))
    batch.messages.append(MessageRecord(2, "t", "c", 1, "lin", t, "text", "NEAR the AND gate: 5 OR more"))
    batch.messages.append(MessageRecord(3, "t", "c", 2, "lin", t, "text", "something else"))
    await store.apply(batch)
    scope = Scope("t", "lin", PartyRole.BUYER)
    for text in ['NEAR AND OR', '"near" -gate* (and)', "gate' & !or | <->", "near:* & gate"]:
        hits = await store.search_chat(compile_query(text), scope, Filters())
        assert [h.text for h in hits] == ["NEAR the AND gate: 5 OR more"], text


async def test_newest_first_across_years_with_limit_and_bounds(store: ArchiveStore) -> None:
    """Messages over 40 months: PostgreSQL searches them newest weeks first, then the rest; both
    backends must still give the newest first, stop at the limit and honour since/until."""
    batch = Batch(source="chat", last_seq=0)
    start = datetime(2022, 1, 15, tzinfo=timezone.utc)
    batch.memberships.append(ConversationRecord(1, "t", "c", "direct", "", "lin", start, (("lin", "buyer"),)))
    for i in range(40):
        ts = datetime(2022 + (i // 12), i % 12 + 1, 15, tzinfo=timezone.utc)
        batch.messages.append(MessageRecord(2 + i, "t", "c", i + 1, "lin", ts, "text", f"A4纸 第{i}批"))
        batch.messages.append(MessageRecord(100 + i, "t", "c", 100 + i, "lin", ts, "text", f"订书机 {i}"))
    batch.last_seq = 200
    await store.apply(batch)
    scope = Scope("t", "lin", PartyRole.BUYER)
    query = compile_query("A4纸")

    newest = await store.search_chat(query, scope, Filters(limit=5))
    assert [h.text for h in newest] == [f"A4纸 第{i}批" for i in (39, 38, 37, 36, 35)]
    everything = await store.search_chat(query, scope, Filters(limit=200))
    assert len(everything) == 40 and everything[-1].text == "A4纸 第0批"
    bounded = await store.search_chat(
        query, scope, Filters(since=datetime(2022, 3, 1, tzinfo=timezone.utc), until=datetime(2022, 6, 1, tzinfo=timezone.utc))
    )
    assert [h.text for h in bounded] == ["A4纸 第4批", "A4纸 第3批", "A4纸 第2批"]
