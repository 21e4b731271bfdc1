"""The lexical side of retrieval: BM25 over every visible chunk, in an SQLite FTS5 file on disk.

Why FTS5 (benchmarks/lexical_candidates.py has the figures): it is in Python's standard library,
it adds and deletes documents one at a time, and a query reads only the posting lists of its
terms, so neither start-up nor a write nor a question touches the whole corpus. The index holds
our own stems (`textstats.content_stems`, the tokenisation the support check shares), written as
space-separated words, so FTS5's tokenizer only splits on the spaces.

The index follows the store through its change log (`store.ChangeLog`): a load adds an
article's chunks, a revision swaps them, a removal deletes them, each in one SQLite transaction,
so a reader sees an article's old chunks or its new ones, never a mix, and never a half-updated
index object (the state is the file; nothing in this object is swapped field by field). The
file keeps its change-log cursor and the identity of the store that fed it, so opening it reads
only the changes since; a new file (or one fed by another store) compares every article's
version with the store's and reads the articles that differ: built once, then opened in
milliseconds.

Where it lives: beside an embedded store, inside its folder (`lexical/<collection>.sqlite3`),
shared by the processes that open that folder; for a Chroma server, in a file of each host's
own (`LEXICAL_PATH`), fed by the change log like any other process's.

`LexicalSearch` is what retrieval needs of a lexical index, so a server-side BM25 (Chroma's
distributed deployment has native sparse search) can take this one's place.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import StoreError
from .store import (
    CHANGE_POLL_S,
    ArticleStore,
    ChangeLog,
    StoredChunk,
    _chunk_from,
    chunk_collection_name,
    date_number,
)
from .textstats import content_stems

if TYPE_CHECKING:
    from .models import Article
    from .retrieval import SearchFilter

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


class LexicalSearch(Protocol):
    """What retrieval asks of a lexical index."""

    def ensure_current(self) -> None:
        """Take in the store's changes (at most one poll per `CHANGE_POLL_S`, at once after a
        write in this process)."""

    def search(self, question: str, k: int, flt: SearchFilter | None = None) -> list[tuple[StoredChunk, float]]:
        """The `k` best matches among the chunks the filter admits, best first (higher is better)."""

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """How many chunks hold each of these stems (absent: none)."""

    def size(self) -> int:
        """How many chunks are indexed."""


@dataclass
class IndexStats:
    """What the index has done since it was opened (tests and benchmarks read it)."""

    rebuilds: int = 0  # catch-ups that had to index every article (a new or emptied file)
    articles_indexed: int = 0  # articles whose chunks were (re)written
    articles_removed: int = 0
    polls: int = 0
    open_seconds: float = 0.0


def default_path(store: ArticleStore, configured: str = "") -> Path:
    """Where a store's lexical index lives: `configured` if set, else inside an embedded store's
    folder, else under data/lexical/ named after the Chroma server."""
    name = chunk_collection_name(store.model_name) + ".sqlite3"
    if configured:
        return Path(configured) / name
    home = store.lexical_home()
    if home is not None:
        return home / "lexical" / name
    where = "".join(c if c.isalnum() or c in "-_." else "_" for c in store.where)
    return Path("data") / "lexical" / where / name


def body_of(title: str, text: str) -> str:
    """What FTS5 indexes for a chunk: the stems of its article's title and of its text."""
    return " ".join(content_stems(f"{title}\n{text}"))


class LexicalIndex:
    """BM25 (FTS5's `bm25()`) over a store's visible chunks, in an SQLite file (see above)."""

    def __init__(self, store: ArticleStore, path: str | Path | None = None, *, poll_seconds: float = CHANGE_POLL_S):
        self._store = store
        self.path = Path(path) if path else default_path(store)
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
        match = " OR ".join(f'"{t}"' for t in terms)
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
        cond = " AND ".join(where) or "1"
        cols = "c.article_id, c.version, c.idx, c.start, c.end, c.sentences, c.text, f.rank"
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
        out = []
        for aid, version, idx, start, end, spans, text, score in rows[:k]:
            meta = {"article_id": aid, "version": version, "index": idx, "start": start, "end": end, "sentences": spans}
            out.append((_chunk_from("", text, meta), -float(score)))  # FTS5 ranks better matches lower
        return out

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
