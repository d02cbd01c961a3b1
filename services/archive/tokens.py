"""Search tokens for Chinese, English and mixed stationery text, shared by every store backend.

Chinese has no spaces between words, and most stationery words are two or three characters
(纸, 铅笔, 笔芯, 中性笔). So the index holds, for every run of Han characters, its overlapping
bigrams (in order, so a phrase of bigrams is an exact substring) and its single characters
(so a one-character word such as 纸 is found anywhere, even inside 复印纸). Latin and digit
runs are words, folded to their English stem (pens -> pen, folders -> folder).

A query is segmented with jieba (rjieba, the jieba-rs binding) so that word order does not
matter: 蓝色中性笔 -> 蓝色 AND 中性笔, which also finds 中性笔（蓝色）. Every word of the query
must be present (AND); each Chinese word of two or more characters must appear as written.

Both backends index exactly the token strings built here (SQLite FTS5 with the unicode61
tokenizer, which keeps each space-separated token whole; PostgreSQL as a tsvector literal),
so the two return the same hits for the same query."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import rjieba
import snowballstemmer

MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 16

# CJK unified ideographs with extension A and the compatibility block.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"([{_HAN}]+)|([^\W_{_HAN}]+)")
# The same words in ASCII text (case-folded, so lowercase): a plain class scans a chat message
# in well under half the time of the Unicode one above (the archive tokenizes every message).
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_STEMMER = snowballstemmer.stemmer("english")


def normalize(text: str) -> str:
    """Full-width to half-width (Ａ４ -> A4, （ -> (), case folded."""
    return unicodedata.normalize("NFKC", text).casefold()


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # Only plain ASCII words are stemmed: SKUs and numbers (a4, 0, 5mm, 2b) stay as written.
    if word.isascii() and word.isalpha() and len(word) > 3:
        return _STEMMER.stemWord(word)
    return word


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_tokens(text: str) -> list[str]:
    """The tokens a document is indexed under: words and Han bigrams in text order, then the
    distinct Han characters (after everything else, so they never sit inside a phrase)."""
    folded = normalize(text)
    if folded.isascii():
        return [_stem(word) for word in _ASCII_WORD.findall(folded)]
    ordered: list[str] = []
    singles: dict[str, None] = {}
    for han, word in _RUN.findall(folded):
        if han:
            ordered.extend(_bigrams(han))
            singles.update(dict.fromkeys(han))
        else:
            ordered.append(_stem(word))
    return ordered + list(singles)


def index_text(text: str) -> str:
    return " ".join(index_tokens(text))


@dataclass(frozen=True)
class Term:
    """One query word: a single token, or a phrase of consecutive tokens (Han bigrams)."""

    tokens: tuple[str, ...]

    @property
    def is_phrase(self) -> bool:
        return len(self.tokens) > 1


@dataclass(frozen=True)
class CompiledQuery:
    text: str
    terms: tuple[Term, ...]

    def fts5(self, required: Sequence[Sequence[str]] = ()) -> str:
        """SQLite FTS5 MATCH expression: every term AND-ed, plus for each group in `required`
        one of its tokens (visibility); tokens are quoted, so no query syntax leaks in."""
        parts = ['"' + " ".join(t.tokens) + '"' for t in self.terms]
        parts += ["(" + " OR ".join(f'"{token}"' for token in group) + ")" for group in required]
        return " AND ".join(parts)

    def tsquery(self, required: Sequence[Sequence[str]] = ()) -> str:
        """PostgreSQL tsquery literal: `<->` is "followed by", the phrase operator."""
        parts = []
        for term in self.terms:
            quoted = [f"'{token}'" for token in term.tokens]
            parts.append("(" + " <-> ".join(quoted) + ")" if term.is_phrase else quoted[0])
        parts += ["(" + " | ".join(f"'{token}'" for token in group) + ")" for group in required]
        return " & ".join(parts)


class QueryError(ValueError):
    """The query cannot be searched (empty once punctuation is removed, too long ...)."""


def _han_terms(run: str) -> list[Term]:
    terms = []
    for word in rjieba.cut(run):
        if len(word) == 1:
            terms.append(Term((word,)))
        else:
            terms.append(Term(tuple(_bigrams(word))))
    return terms


def compile_query(text: str) -> CompiledQuery:
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")
    terms: dict[Term, None] = {}
    for han, word in _RUN.findall(normalize(text)):
        if han:
            terms.update(dict.fromkeys(_han_terms(han)))
        else:
            terms[Term((_stem(word),))] = None
    if not terms:
        raise QueryError(f"the query {text!r} has no words or characters to search for")
    if len(terms) > MAX_QUERY_TERMS:
        raise QueryError(f"the query has {len(terms)} words; the limit is {MAX_QUERY_TERMS}")
    return CompiledQuery(text=text, terms=tuple(terms))


# Visibility is part of the index: each document also carries tokens naming its tenant, its
# conversation or supplier, and its category, so "what may this user see" is one more
# intersection inside the full-text index instead of a scan over every match. Ids hold `-`
# and `_`, which split tokens, hence a digest; the letter keeps the kinds apart.


@lru_cache(maxsize=65536)  # the same tenants, conversations and weeks come again and again
def _hashed(kind: str, *parts: str) -> str:
    return kind + hashlib.blake2s("\x00".join(parts).encode(), digest_size=8).hexdigest()


def tenant_token(tenant: str) -> str:
    return _hashed("x", tenant)


def scope_token(tenant: str, conv: str) -> str:
    """A conversation's token."""
    return _hashed("z", tenant, conv)


def party_token(tenant: str, user: str) -> str:
    """An order's supplier."""
    return _hashed("y", tenant, user)


def category_token(tenant: str, category: str) -> str:
    return _hashed("k", tenant, category)


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
WEEK_SECONDS = 7 * 86400


def week_of(ts: datetime) -> int:
    return int((ts - EPOCH).total_seconds() // WEEK_SECONDS)


def week_start(week: int) -> datetime:
    return EPOCH + timedelta(seconds=week * WEEK_SECONDS)


def week_token(tenant: str, week: int) -> str:
    """The tenant's week a document belongs to: lets PostgreSQL search the newest weeks first
    (its GIN index has no order: "newest 50 of 300,000 matches" would otherwise fetch them all)."""
    return _hashed("w", tenant, str(week))


def message_tokens(tenant: str, conv: str, ts: datetime, text: str) -> list[str]:
    return [*index_tokens(text), tenant_token(tenant), scope_token(tenant, conv), week_token(tenant, week_of(ts))]


def order_line_tokens(tenant: str, supplier: str, category: str | None, created: datetime, text: str) -> list[str]:
    extra = [tenant_token(tenant), party_token(tenant, supplier), week_token(tenant, week_of(created))]
    if category:
        extra.append(category_token(tenant, category))
    return [*index_tokens(text), *extra]


def order_visibility_tokens(tenant: str, supplier_scope: str | None, categories: Sequence[str], supplier_filter: str | None) -> list[list[str]]:
    """Token groups an order line must carry (one token of each group)."""
    groups = [[tenant_token(tenant)]]
    if supplier_scope:
        groups.append([party_token(tenant, supplier_scope)])
        if categories:
            groups.append([category_token(tenant, c) for c in categories])
    if supplier_filter:
        groups.append([party_token(tenant, supplier_filter)])
    return groups
