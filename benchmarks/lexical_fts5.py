"""The lexical index before tantivy, kept as a candidate for benchmarks/lexical_candidates.py: BM25
over every visible chunk in an SQLite FTS5 file, with the pruned query (the rarer terms choose 200
candidates, every term re-scores them in Python).

Why FTS5 was chosen first (benchmarks/lexical_candidates.py has the figures): it is in Python's
standard library, it adds and deletes documents one at a time, and a query reads only the posting
lists of its terms. The index holds the same stems as knowledge/lexical.py (`lexical.body_of`),
written as space-separated words, so FTS5's tokenizer only splits on the spaces. It follows the
store through its change log as knowledge/lexical.py does (a load adds an article's chunks, a
revision swaps them, a removal deletes them), each article in one SQLite transaction, and keeps
its change-log cursor and the store's identity in the file. What a lexical index must offer
(`LexicalSearch`) and the counters it keeps (`IndexStats`) are knowledge/lexical.py's; the
benchmark always names the file.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.errors import StoreError
from knowledge.lexical import IndexStats, body_of
from knowledge.store import (
    CHANGE_POLL_S,
    ArticleStore,
    ChangeLog,
    StoredChunk,
    _chunk_from,
    date_number,
)
from knowledge.textstats import content_stems

if TYPE_CHECKING:
    from knowledge.models import Article
    from knowledge.retrieval import SearchFilter

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY, version TEXT NOT NULL, scope TEXT NOT NULL, source TEXT NOT NULL,
    published INTEGER NOT NULL, n_chunks INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS articles_scope ON articles(scope);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, version TEXT NOT NULL, idx INTEGER NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, sentences TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS counts (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counts VALUES ('chunks', 0);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, tokenize = "unicode61 remove_diacritics 0 tokenchars '.,'");
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(fts, row);
"""
_BATCH = 200  # articles whose chunks are read from Chroma in one call while catching up

# The pruned query (`LexicalIndex._candidates`, figures in benchmarks/README.md): terms held by more
# than this share of the chunks do not select candidates, they only re-score them.
PRUNE_SHARE = 0.05
CANDIDATES = 200  # chunks the selective terms fetch, at least (4·(k+8) when k is larger)
# Below this many postings (the terms' document counts summed) the OR query is the cheaper one:
# the pruned query's fixed cost (reading and re-scoring 200 candidates) is ~4.8 ms here against
# 6.0 ms for the OR query at the 1x dev median of 4,577 postings; they cross near 5,800.
OR_POSTINGS = 6000
_K1, _B = 1.2, 0.75  # FTS5's bm25() constants
# Characters inside one of our stems that FTS5's unicode61 tokenizer splits at: such a stem is a
# phrase of several FTS5 tokens, absent from the vocab table.
_SPLIT_CHARS = "'\u2019\u00d7\u00f7"
_APOSTROPHE = re.compile(f"[{_SPLIT_CHARS}]")


@dataclass(frozen=True)
class QueryPlan:
    """One question's terms as the pruned query uses them."""

    terms: list[str]  # the question's stems that the index holds
    selective: list[str]  # those that choose the candidates
    idf: dict[str, float]  # FTS5's idf of each term
    avgdl: float  # FTS5 tokens per chunk, on average
    postings: int  # the terms' document counts, summed: what the OR query reads


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _averages(db: sqlite3.Connection) -> tuple[int, int]:
    """FTS5's own row and token totals (its averages record, the figures its bm25() divides by):
    one row read, where counting tokens through the vocab table would read every term."""
    row = db.execute("SELECT block FROM fts_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return 0, 0
    values: list[int] = []
    blob, i = bytes(row[0]), 0
    while i < len(blob) and len(values) < 2:  # SQLite varints: 7 bits a byte, the ninth byte whole
        v = 0
        for j in range(9):
            if i >= len(blob):  # a truncated record: no averages rather than a crash
                return 0, 0
            b = blob[i]
            i += 1
            if j == 8:
                v = (v << 8) | b
                break
            v = (v << 7) | (b & 0x7F)
            if b < 0x80:
                break
        values.append(v)
    return (values[0], values[1]) if len(values) == 2 else (0, 0)


def _bm25(body: str, plan: QueryPlan) -> float:
    """FTS5's bm25() of one chunk for every term of the plan (higher is better)."""
    words = body.split()
    counts = Counter(words)  # in C: a loop over the words in Python cost 6 ms for 200 chunks
    length = len(words) + (sum(body.count(c) for c in _SPLIT_CHARS) if _APOSTROPHE.search(body) else 0)
    norm = _K1 * (1 - _B + _B * length / plan.avgdl)
    # Summed in the question's order, as FTS5 does, so that equal chunks tie exactly.
    return sum(plan.idf[t] * counts[t] * (_K1 + 1) / (counts[t] + norm) for t in plan.terms if t in counts)


def _filter_sql(flt: SearchFilter | None) -> tuple[list[str], list[str | int]]:
    where: list[str] = []
    args: list[str | int] = []
    if flt is not None:
        where.append(f"a.scope IN ({','.join('?' * len(flt.scopes))})")
        args.extend(flt.scopes)
        if flt.since:
            where.append("a.published >= ?")
            args.append(date_number(flt.since))
        if flt.outlet:
            where.append("a.source = ?")
            args.append(flt.outlet.lower())
    return where, args


def _stored(row: Sequence[object]) -> StoredChunk:
    aid, version, idx, start, end, spans, text = row
    meta = {"article_id": aid, "version": version, "index": idx, "start": start, "end": end, "sentences": spans}
    return _chunk_from("", str(text), meta)


class LexicalIndex:
    """BM25 (FTS5's `bm25()`) over a store's visible chunks, in an SQLite file (see above)."""

    def __init__(self, store: ArticleStore, path: str | Path, *, poll_seconds: float = CHANGE_POLL_S):
        self._store = store
        self.path = Path(path)
        self.poll_seconds = poll_seconds
        self.stats = IndexStats()
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._revision = -1
        self._cursor = 0
        self._polled = 0.0
        self._opened = False

    # -- the file ------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections are not shared between threads)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
                db.execute("PRAGMA synchronous=NORMAL")  # the store is the truth; a lost tail is re-read
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"The lexical index at {self.path} cannot be opened ({exc}). Delete it to have it rebuilt, or set LEXICAL_PATH.") from exc
            self._local.db = db
        return db

    def _migrate(self) -> None:
        # Every statement is idempotent (IF NOT EXISTS), so processes opening one file at once
        # may all run it; SQLite's lock orders them.
        db = self._db()
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"The lexical index at {self.path} was written by a newer newsbot; delete it to rebuild it.")
        if version < SCHEMA_VERSION:
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def open(self) -> None:
        """Open the file and catch up with the store. A file that has followed this store keeps
        its change-log cursor, and only the changes since are read; a new file, or one last fed
        by another store (a Chroma server wiped and started again), compares every article's
        version with the store's and reads the articles that differ."""
        with self._write_lock:
            if self._opened:
                return
            started = time.perf_counter()
            self._migrate()
            identity = self._store.identity()
            state = dict(self._db().execute("SELECT name, value FROM state").fetchall())
            if state.get("store") == identity and state.get("cursor"):
                changes, cursor = self._store.changes.since(int(state["cursor"]))
                self._apply([c.article_id for c in changes])
                caught_up = len(changes)
            else:
                cursor = ChangeLog.start()  # before reading the versions: later changes are polled
                want = self._store.article_versions()
                have = dict(self._db().execute("SELECT article_id, version FROM articles").fetchall())
                stale = [a for a, v in want.items() if have.get(a) != v] + [a for a in have if a not in want]
                if want and not have:
                    self.stats.rebuilds += 1
                    log.info("lexical index %s: indexing %d articles", self.path, len(stale))
                self._apply(stale)
                caught_up = len(stale)
            self._save_cursor(cursor, identity)
            self._polled = time.monotonic()
            self._revision = self._store.revision
            self._opened = True
            self.stats.open_seconds = time.perf_counter() - started
            log.info("lexical index open: %d chunks, %d articles looked at again in %.2fs", self.size(), caught_up, self.stats.open_seconds)

    def _save_cursor(self, cursor: int, identity: str | None = None) -> None:
        self._cursor = cursor
        rows = [("cursor", str(cursor))] + ([("store", identity)] if identity is not None else [])
        self._db().executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", rows)

    # -- following the store ---------------------------------------------------------------

    def ensure_current(self) -> None:
        if not self._opened:
            self.open()
            return
        if self._revision == self._store.revision and time.monotonic() - self._polled < self.poll_seconds:
            return
        with self._write_lock:
            revision = self._store.revision
            try:
                changes, cursor = self._store.changes.since(self._cursor)
                self._apply([c.article_id for c in changes])
            except (StoreError, sqlite3.Error) as exc:
                log.warning("could not take in the store's changes (%s); answering from the index as it is", exc)
                self._polled = time.monotonic()
                return
            except Exception as exc:  # chromadb raises many types: answer from what is indexed, retry next poll
                log.warning("could not read the store's changes (%s); answering from the index as it is", exc.__class__.__name__)
                self._polled = time.monotonic()
                return
            self.stats.polls += 1
            if cursor != self._cursor:
                self._save_cursor(cursor)
            self._polled, self._revision = time.monotonic(), revision

    def _apply(self, article_ids: Sequence[str]) -> None:
        """Bring these articles' entries in line with the store: each article in one transaction."""
        ids = list(dict.fromkeys(article_ids))
        for s in range(0, len(ids), _BATCH):
            part = ids[s : s + _BATCH]
            current = self._store.reload(part)
            db = self._db()
            have = {a: (v, n) for a, v, n in db.execute(
                f"SELECT article_id, version, n_chunks FROM articles WHERE article_id IN ({','.join('?' * len(part))})", part)}
            wanted = {a: art for a, art in current.items() if art is not None}
            # A version indexed with no chunks is looked at again: its chunks may have come since
            # (another embedding model's store being filled by `reindex_missing`).
            to_read = [a for a, art in wanted.items() if have.get(a, ("", 0))[0] != art.version or have[a][1] == 0]
            chunks = self._store.chunks_of({a: wanted[a].version for a in to_read})
            for a in part:
                art = current.get(a)
                if art is None:
                    if a in have:
                        self._write(a, None, [])
                        self.stats.articles_removed += 1
                elif a in to_read:
                    self._write(a, art, chunks.get(a, []))
                    self.stats.articles_indexed += 1
                else:
                    self._write_meta(art)

    def _write(self, article_id: str, art: Article | None, chunks: list[StoredChunk]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            old = [r[0] for r in db.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))]
            if old:
                marks = ",".join("?" * len(old))
                db.execute(f"DELETE FROM fts WHERE rowid IN ({marks})", old)
                db.execute(f"DELETE FROM chunks WHERE id IN ({marks})", old)
            db.execute("DELETE FROM articles WHERE article_id = ?", (article_id,))
            if art is not None:
                db.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?)", (
                    article_id, art.version, art.scope, art.source.lower(), date_number(art.published), len(chunks)))
                for sc in chunks:
                    c = sc.chunk
                    spans = ";".join(f"{sp.start - c.start},{sp.end - c.start}" for sp in sc.sentences)
                    cur = db.execute("INSERT INTO chunks (article_id, version, idx, start, end, sentences, text) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                     (article_id, sc.version, c.index, c.start, c.end, spans, c.text))
                    db.execute("INSERT INTO fts (rowid, body) VALUES (?, ?)", (cur.lastrowid, body_of(art.title, c.text)))
            db.execute("UPDATE counts SET value = value + ? WHERE name = 'chunks'", (len(chunks) - len(old) if art is not None else -len(old),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _write_meta(self, art: Article) -> None:
        self._db().execute("UPDATE articles SET scope = ?, source = ?, published = ? WHERE article_id = ?",
                           (art.scope, art.source.lower(), date_number(art.published), art.id))

    # -- reading ---------------------------------------------------------------------------

    def search(self, question: str, k: int, flt: SearchFilter | None = None) -> list[tuple[StoredChunk, float]]:
        self.ensure_current()
        terms = list(dict.fromkeys(content_stems(question)))
        if not terms or k <= 0:
            return []
        where, args = _filter_sql(flt)
        plan = self._plan(terms)
        if plan is None:  # no term is in the index
            return []
        ranked = self._candidates(plan, k, where, args) if plan.postings > OR_POSTINGS else None
        if ranked is None:  # a small query, or too few candidates pass the filter
            ranked = self._search_every_term(terms, k, where, args)
        return ranked[:k]

    def _plan(self, terms: list[str]) -> QueryPlan | None:
        """Each term's document frequency and the collection statistics FTS5's bm25() uses, and
        which terms select the candidates: those held by at most `PRUNE_SHARE` of the chunks, or
        the rarest one when every term is common."""
        db = self._db()
        n_rows, n_tokens = _averages(db)
        if n_rows == 0:
            return None
        df: dict[str, int] = {}
        plain = [t for t in terms if not _APOSTROPHE.search(t)]
        if plain:
            df.update(db.execute(f"SELECT term, doc FROM vocab WHERE term IN ({','.join('?' * len(plain))})", plain).fetchall())
        for t in terms:  # FTS5 splits a stem at an apostrophe, so the stem is a phrase: count its rows
            if t not in df and _APOSTROPHE.search(t):
                n = db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (_phrase(t),)).fetchone()[0]
                if n:
                    df[t] = int(n)
        present = [t for t in terms if t in df]
        if not present:
            return None
        idf = {t: max(math.log((n_rows - df[t] + 0.5) / (df[t] + 0.5)), 1e-6) for t in present}
        selective = [t for t in present if df[t] <= PRUNE_SHARE * n_rows] or [min(present, key=lambda t: df[t])]
        return QueryPlan(present, selective, idf, n_tokens / n_rows, sum(df[t] for t in present))

    def _candidates(self, plan: QueryPlan, k: int, where: list[str], args: list[str | int]) -> list[tuple[StoredChunk, float]] | None:
        """The best chunks for the selective terms (FTS5 ranks them, reading only their posting
        lists), re-scored with every term's BM25 in Python, then filtered; None when too few pass
        the filter. Not provably the full OR query's ranking: a bound (every chunk left out scores
        at most the last candidate's selective score plus idf·(k1+1) per common term) proved it for
        9 of the 60 dev questions only, so it is measured instead: the same hit@1 and MRR@10 at 1x
        and 10x the BBC corpus (benchmarks/README.md)."""
        db = self._db()
        fetch = max(CANDIDATES, 4 * (k + 8))
        rows = db.execute("SELECT rowid, body FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT ?",
                          (" OR ".join(_phrase(t) for t in plan.selective), fetch)).fetchall()
        if not rows:
            return []
        scored = sorted(((_bm25(body, plan), rowid) for rowid, body in rows), key=lambda p: (-p[0], p[1]))
        cond = " AND ".join(where) or "1"
        cols = "c.id, c.article_id, c.version, c.idx, c.start, c.end, c.sentences, c.text"
        ids = [rowid for _, rowid in scored]
        # CROSS JOIN keeps the candidates' ids as the outer loop: left to itself SQLite walked
        # every article of the scope and its chunks (25 ms against 0.4 ms at 3,673 chunks).
        got = {r[0]: r[1:] for r in db.execute(
            f"SELECT {cols} FROM chunks c CROSS JOIN articles a ON a.article_id = c.article_id "
            f"WHERE c.id IN ({','.join('?' * len(ids))}) AND {cond}", (*ids, *args))}
        out = [(_stored(got[rowid]), score) for score, rowid in scored if rowid in got][:k]
        if len(out) < k and where and len(rows) == fetch:
            return None
        return out

    def _search_every_term(self, terms: list[str], k: int, where: list[str], args: list[str | int]) -> list[tuple[StoredChunk, float]]:
        """FTS5's own ranking over every chunk holding any term (the OR query): exact, and slow
        in proportion to the store (91.5 ms median at 10,280 chunks)."""
        match = " OR ".join(_phrase(t) for t in terms)
        cond = " AND ".join(where) or "1"
        cols = "c.id, c.article_id, c.version, c.idx, c.start, c.end, c.sentences, c.text, f.rank"
        db = self._db()
        # FTS5 sorts by its `rank` (bm25) itself when asked for the top rows alone, about twice as
        # fast as ordering the joined rows; the filter then applies to 4·(k+8) of them, and only
        # when too few pass (one small server's articles) to every match.
        fetch = 4 * (k + 8)
        rows = db.execute(
            f"SELECT {cols} FROM (SELECT rowid, rank FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT ?) f "
            f"JOIN chunks c ON c.id = f.rowid JOIN articles a ON a.article_id = c.article_id WHERE {cond} ORDER BY f.rank",
            (match, fetch, *args),
        ).fetchall()
        if len(rows) < k and where:
            rows = db.execute(
                f"SELECT {cols} FROM (SELECT rowid, rank FROM fts WHERE fts MATCH ?) f JOIN chunks c ON c.id = f.rowid "
                f"JOIN articles a ON a.article_id = c.article_id WHERE {cond} ORDER BY f.rank LIMIT ?",
                (match, *args, k),
            ).fetchall()
        return [(_stored(r[1:-1]), -float(r[-1])) for r in rows[:k]]  # FTS5 ranks better matches lower

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        self.ensure_current()
        db = self._db()
        out: dict[str, int] = {}
        for t in dict.fromkeys(terms):
            row = db.execute("SELECT doc FROM vocab WHERE term = ?", (t,)).fetchone()
            if row:
                out[t] = int(row[0])
        return out

    def size(self) -> int:
        if not self._opened:
            self.open()
        return int(self._db().execute("SELECT value FROM counts WHERE name = 'chunks'").fetchone()[0])

    def indexed_versions(self) -> dict[str, str]:
        """Article id -> the version whose chunks are indexed (for checks and tests)."""
        return dict(self._db().execute("SELECT article_id, version FROM articles").fetchall())

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
