"""`ArticleStore`: opening a store, reading committed articles, and all-or-nothing writes
(chunks are read in `chunks.py`; the design is in the package docstring)."""

from __future__ import annotations

import builtins  # `list` is also a method name in this module's classes
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..chunking import chunk_members
from ..dedup import decode_signature, encode_signature, text_signature
from ..embeddings import pack
from ..errors import NotFoundError, StoreError, StoreUnavailable
from ..models import Article, ArticleInfo, Chunk, Span
from . import snapshot
from .changes import ChangeKind, ChangeLog, _ChangeTracking
from .checks import _Checks
from .chunks import _ChunkReading
from .decisions import DecisionLost, _Decisions
from .guard import _Guarded, _guarded_call, _open_retrying
from .records import (
    _PAGE,
    ARTICLES,
    OWNERS_DIR,
    PENDING,
    RecordTable,
    _article_meta,
    _info_from,
    _signature_of,
    _words_known,
    chunk_collection_name,
    chunk_id,
    date_number,
)
from .texts import TextCache

log = logging.getLogger(__name__)

# Chunks per upsert in `put_many`: one call costs about the same for 1 or 500 chunks, so the
# batch is as large as memory comfortably allows (Chroma's own limit is about 5,400).
CHUNK_WRITE = 1000


@dataclass(frozen=True)
class Load:
    """One article to store: its chunks and sentence spans, one vector per chunk and (optional)
    one per sentence (see `ArticleStore.put`)."""

    article: Article
    chunks: builtins.list[Chunk]
    sentences: builtins.list[Span]
    vectors: np.ndarray
    sentence_vectors: np.ndarray | None = None


def _chunk_rows(load: Load) -> tuple[builtins.list[str], builtins.list[str], builtins.list[dict[str, Any]]]:
    """The chunk records of a load: ids, documents and metadata."""
    a, chunks, sentences = load.article, load.chunks, load.sentences
    ids, docs, metas = [], [], []
    for c, inside in zip(chunks, chunk_members(chunks, sentences), strict=True):
        spans = ";".join(f"{sentences[i].start - c.start},{sentences[i].end - c.start}" for i in inside)
        ids.append(chunk_id(a.id, a.version, c.index))
        docs.append(c.text)
        metas.append({
            "article_id": a.id, "version": a.version, "index": c.index,
            "start": c.start, "end": c.end, "sentences": spans, "scope": a.scope,
            "source": a.source, "published_n": date_number(a.published),
            "svec": pack(load.sentence_vectors[inside]) if load.sentence_vectors is not None else "",
        })
    return ids, docs, metas


class ArticleStore(_ChangeTracking, _Checks, _Decisions, _ChunkReading):
    """Articles and their chunk vectors in Chroma (embedded `PersistentClient` or a server)."""

    def __init__(self, client: Any, model_name: str, *, ef_search: int = 200, where: str = "", owners: Path | None = None):
        self._client = client
        self._where = where
        self._lock = threading.RLock()
        self.model_name = model_name
        # One owner per open store: intent records name it; `owners` (embedded stores only) is
        # the folder of owner lock files.
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._owners = owners
        self._owner_fd: int | None = None
        self._lease_renewed = 0.0
        label = where or "the Chroma server"

        def collections() -> tuple[Any, Any, Any]:
            return (
                client.get_or_create_collection(ARTICLES, embedding_function=None),
                client.get_or_create_collection(PENDING, embedding_function=None),
                client.get_or_create_collection(
                    chunk_collection_name(model_name),
                    embedding_function=None,
                    metadata={"embedding_model": model_name},
                    configuration={"hnsw": {"space": "cosine", "ef_search": ef_search, "ef_construction": 200}},
                ),
            )

        try:
            articles, pending, chunks = _guarded_call(_open_retrying, label, collections)
        except StoreError:
            raise
        except Exception as exc:  # chromadb raises many types; all mean "cannot use this store"
            raise StoreError(f"Cannot open the article store at {label}: {exc.__class__.__name__}: {exc}") from exc
        self._articles = _Guarded(articles, label)
        self._pending = _Guarded(pending, label)
        self._chunks = _Guarded(chunks, label)
        self._committed: Mapping[str, ArticleInfo] | None = None
        self._texts = TextCache()
        self.texts_read = 0  # article texts read from the store (not the cache) by this process
        self.full_reads = 0  # times every article record was read (not the saved facts and the changes since)
        # Where the facts are saved between starts (`snapshot`); None: every start reads every record.
        self.snapshot_file: Path | None = None
        self._snapshot_usable = True  # False after `refresh()`: the next read is from the store
        self._snapshot_saved = float("-inf")  # monotonic time of the last save
        self._snapshot_dirty = False  # changed since the last save
        self._save_lock = threading.Lock()
        self.revision = 0
        self._init_change_log()

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open_local(cls, path: str | Path, model_name: str, **kw) -> ArticleStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        p = Path(path)
        try:
            p.mkdir(parents=True, exist_ok=True)
            # One probe file per process: with a shared name, two processes opening a fresh store
            # at once removed each other's probe and one was told the folder cannot be written.
            probe = p / f".write-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            probe.write_text("ok")
            probe.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"The article store folder {p} cannot be written ({exc.strerror}). Set CHROMA_PATH to a writable folder.") from exc
        def make() -> Any:
            from chromadb.api.client import SharedSystemClient

            try:
                return chromadb.PersistentClient(path=str(p), settings=ChromaSettings(anonymized_telemetry=False))
            except Exception:
                SharedSystemClient.clear_system_cache()  # a half-made client is not reused
                raise

        try:
            client = _open_retrying(make)
        except Exception as exc:
            raise StoreError(f"The article store at {p} cannot be opened; it may be corrupt ({exc.__class__.__name__}). Move it aside or set CHROMA_PATH to a new folder.") from exc
        return cls(client, model_name, where=str(p), owners=p / OWNERS_DIR, **kw)

    @classmethod
    def open_server(cls, host: str, port: int, model_name: str, *, ssl: bool = False, **kw) -> ArticleStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=ChromaSettings(anonymized_telemetry=False))
            client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(f"Cannot reach the Chroma server at {host}:{port} ({exc.__class__.__name__}). Is `chroma run` up, and are CHROMA_HOST / CHROMA_PORT right?") from exc
        return cls(client, model_name, where=f"{host}:{port}", **kw)

    def records(self, name: str) -> RecordTable:
        """A table of small records beside the articles (e.g. feed subscriptions), in the same
        embedded folder or server."""
        try:
            col = _guarded_call(_open_retrying, self._where, lambda: self._client.get_or_create_collection(name, embedding_function=None))
            return RecordTable(_Guarded(col, self._where or "the Chroma server"))  # type: ignore[arg-type]
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Cannot open the {name} records in the article store ({exc.__class__.__name__}).") from exc

    # -- reading ---------------------------------------------------------------------------

    def committed(self) -> Mapping[str, ArticleInfo]:
        """Every committed article's facts by id, without texts (`get` and `articles` read the
        texts), cached and kept current through the change log (see `_ChangeTracking`). The
        first read takes the facts saved by an earlier process (`snapshot_file`) and the
        changes since, else it reads every record (and saves them).

        An immutable snapshot: writers replace it, never change it, so it may be read without
        the lock while another thread loads."""
        with self._lock:
            if self._committed is not None:
                self._follow_changes()
            if self._committed is None and not self._start_from_file():
                self._cache_cursor = ChangeLog.start()
                out: dict[str, ArticleInfo] = {}
                offset = 0
                while True:
                    got = self._articles.get(include=["metadatas"], limit=_PAGE, offset=offset)
                    out.update(self._infos_from(got["ids"], got["metadatas"]))
                    if len(got["ids"]) < _PAGE:
                        break
                    offset += _PAGE
                self._committed = MappingProxyType(out)
                self.full_reads += 1
                self._snapshot_usable = self._snapshot_dirty = True
                self._snapshot_saved = float("-inf")
            committed = self._committed
        self._save_snapshot()
        assert committed is not None
        return committed

    def _start_from_file(self) -> bool:
        """Take the saved facts and follow the change log from their cursor; False if there is
        no usable file (see `snapshot`)."""
        if self.snapshot_file is None or not self._snapshot_usable:
            return False
        saved = snapshot.load(self.snapshot_file, self.identity())
        if saved is None:
            return False
        facts, cursor = saved
        self._committed, self._cache_cursor = MappingProxyType(facts), cursor
        self._polled = float("-inf")
        changed = self._follow_changes()
        if changed is None:  # the change log cannot be read: the file alone is not enough
            self._committed = None
            return False
        if self._articles.count() != len(self._committed):
            # records added or deleted without a change record (by hand, or a benchmark copying
            # records in with Chroma's own API): read them all (one count, ~5 ms at 25x)
            log.info("the saved article facts do not match the store's %d records: reading them all", self._articles.count())
            self._committed = None
            return False
        # many changes since the file was saved: save now, so the next start reads fewer
        self._snapshot_dirty = changed > 0
        self._snapshot_saved = time.monotonic() - (snapshot.SAVE_EVERY_S if changed > 100 else 0)
        return True

    def _save_snapshot(self) -> None:
        """Save the facts if they changed and the last save is SAVE_EVERY_S old (outside the
        store lock: the snapshot is immutable and its cursor read with it)."""
        if self.snapshot_file is None or not self._snapshot_dirty or time.monotonic() - self._snapshot_saved < snapshot.SAVE_EVERY_S:
            return
        if not self._save_lock.acquire(blocking=False):
            return  # another thread is saving
        try:
            with self._lock:
                facts, cursor = self._committed, self._cache_cursor
                self._snapshot_dirty = False
                self._snapshot_saved = time.monotonic()
            if facts is not None:
                snapshot.save(self.snapshot_file, self.identity(), cursor, facts)
        finally:
            self._save_lock.release()

    def _infos_from(self, ids: Sequence[str], metas: Sequence[Mapping[str, Any] | None]) -> dict[str, ArticleInfo]:
        """Article records' facts. A record written before word counts were kept has its text
        read once, here, and its count written back (`_count_words`)."""
        out: dict[str, ArticleInfo] = {}
        uncounted: builtins.list[str] = []
        for id_, meta in zip(ids, metas, strict=True):
            out[id_] = _info_from(id_, meta or {})
            if not _words_known(meta or {}):
                uncounted.append(id_)
        if uncounted:
            out.update(self._count_words(uncounted))
        return out

    def _count_words(self, ids: Sequence[str]) -> dict[str, ArticleInfo]:
        """Read these records with their texts, count their words and write the counts back
        (a migration of records written before counts were kept: each is read once per store,
        by the first process that meets it; a write-back that fails is tried by the next)."""
        out: dict[str, ArticleInfo] = {}
        for s in range(0, len(ids), _PAGE):
            got = self._articles.get(ids=builtins.list(ids[s : s + _PAGE]), include=["documents", "metadatas"])
            self.texts_read += len(got["ids"])
            counted: dict[str, ArticleInfo] = {}
            for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                counted[id_] = _info_from(id_, meta or {}).with_text(doc or "").info
            out.update(counted)
            try:
                # `update` merges these keys into the record and never recreates a removed one;
                # `words_of` names the version counted, so a count written back over a revision
                # made meanwhile is ignored by readers.
                self._articles.update(ids=builtins.list(counted),
                                      metadatas=[{"words": a.words, "words_of": a.version} for a in counted.values()])
            except Exception as exc:  # only a cache of the count: the next reader counts again
                log.info("could not store word counts (%s)", exc.__class__.__name__)
        return out

    def refresh(self) -> None:
        """Forget the cached article records (every record is read again on next use)."""
        with self._lock:
            self._committed = None
            self._snapshot_usable = False
            self.revision += 1

    def _changed(self, article_id: str, article: ArticleInfo | None) -> None:
        self._changed_all({article_id: article})

    def _changed_all(self, articles: Mapping[str, ArticleInfo | None]) -> None:
        # Keep the cache in step with our own writes instead of re-reading every record: one
        # copy of the snapshot per batch, not per article.
        with self._lock:
            if self._committed is not None:
                new = dict(self._committed)
                for article_id, article in articles.items():
                    if article is None:
                        new.pop(article_id, None)
                    else:
                        new[article_id] = article.info
                self._committed = MappingProxyType(new)
                self._snapshot_dirty = True
            self.revision += 1

    def get(self, article_id: str) -> Article:
        """The committed article with its text (read from the store unless cached). Raises
        NotFoundError if there is none."""
        info = self.committed().get(article_id)
        full = self.articles([info]).get(article_id) if info is not None else None
        if info is not None and full is None:
            # revised or removed by another process since the snapshot was read: read it again
            now = self.reload([article_id]).get(article_id)
            full = self.articles([now]).get(article_id) if now is not None else None
        if full is None:
            raise NotFoundError(f"No article with id {article_id!r}; `list` shows the ids.")
        return full

    def articles(self, infos: Iterable[ArticleInfo]) -> dict[str, Article]:
        """These articles with their texts, by id: each text is that of the given version (from
        the cache, else one read for all the missing ones). An article revised or removed
        since is left out, so a text is never paired with another version's facts or chunks."""
        want = {a.id: a for a in infos}
        out: dict[str, Article] = {}
        missing: builtins.list[str] = []
        for id_, info in want.items():
            text = self._texts.get(id_, info.version)
            if text is None:
                missing.append(id_)
            else:
                out[id_] = info.with_text(text)
        for s in range(0, len(missing), _PAGE):
            got = self._articles.get(ids=missing[s : s + _PAGE], include=["documents", "metadatas"])
            self.texts_read += len(got["ids"])
            for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                version = str((meta or {}).get("version", ""))
                self._texts.put(id_, version, doc or "")
                if version == want[id_].version:
                    out[id_] = want[id_].with_text(doc or "")
        return out

    def signatures(self, infos: Mapping[str, ArticleInfo]) -> dict[str, np.ndarray]:
        """The MinHash signature (`dedup.text_signature`) of each of these articles' given
        version, from their records (metadata only). A record without one (written before they
        were kept) has its text read and its signature computed and written back, once per
        store. An article revised or removed since is left out."""
        out: dict[str, np.ndarray] = {}
        unsigned: builtins.list[str] = []
        ids = builtins.list(infos)
        for s in range(0, len(ids), _PAGE):
            got = self._articles.get(ids=ids[s : s + _PAGE], include=["metadatas"])
            for id_, meta in zip(got["ids"], got["metadatas"], strict=True):
                if str((meta or {}).get("version", "")) != infos[id_].version:
                    continue
                sig = decode_signature(_signature_of(meta or {}))
                if sig is None:
                    unsigned.append(id_)
                else:
                    out[id_] = sig
        for s in range(0, len(unsigned), _PAGE):
            got = self._articles.get(ids=unsigned[s : s + _PAGE], include=["documents", "metadatas"])
            self.texts_read += len(got["ids"])
            back: dict[str, str] = {}
            for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                version = str((meta or {}).get("version", ""))
                if version == infos[id_].version:
                    out[id_] = text_signature(doc or "")
                    back[id_] = f"{version}:{encode_signature(out[id_])}"
            try:  # tagged with its version, as `_count_words` does
                if back:
                    self._articles.update(ids=builtins.list(back), metadatas=[{"minhash": v} for v in back.values()])
            except Exception as exc:  # computed again by the next process that needs it
                log.info("could not store duplicate signatures (%s)", exc.__class__.__name__)
        return out

    def list(self, scopes: Sequence[str] | None = None) -> builtins.list[ArticleInfo]:
        """The committed articles' facts (no texts), newest first."""
        arts = builtins.list(self.committed().values())
        if scopes is not None:
            arts = [a for a in arts if a.scope in scopes]
        return sorted(arts, key=lambda a: (a.published, a.title), reverse=True)

    def is_visible(self, article_id: str, version: str) -> bool:
        art = self.committed().get(article_id)
        return art is not None and art.version == version

    # -- writing ---------------------------------------------------------------------------

    def put(self, article: Article, chunks: builtins.list[Chunk], sentences: builtins.list[Span], vectors: np.ndarray,
            sentence_vectors: np.ndarray | None = None, *, force: bool = False, if_version: str | None = None) -> str:
        """Store an article all-or-nothing; returns "loaded", "updated" or "unchanged".

        `sentence_vectors` (one row per sentence span) ride along in each chunk's metadata.
        `if_version`: commit only if the committed version, read just before the commit, is
        still this one (a heal must not undo a revision made meanwhile); else "unchanged".
        When another process commits a revision of the same article at the same moment, the
        later commit wins and the loser's chunks are removed (see the module docstring)."""
        load = Load(article, chunks, sentences, vectors, sentence_vectors)
        return self.put_many([load], force=force, if_version=if_version)[0]

    def put_many(self, loads: Sequence[Load], *, force: bool = False, if_version: str | None = None) -> builtins.list[str]:
        """Store several articles, each all-or-nothing, in a handful of Chroma calls for the
        lot; returns each one's status as `put` does ("loaded", "updated", "unchanged").

        The steps of `put`, each one call for every article at once: the intent records, the
        chunks (CHUNK_WRITE per call), the article records (each article becomes visible with
        its own record, so a crash part-way through leaves whole articles or nothing of one),
        the change records, the intents marked committed, the clean-up (three reads and a
        delete) and the intents deleted. Per article that is 8 calls made once per batch: on
        a loaded 2-core machine each call costs 10-80 ms whatever its size, and the one-article
        path spent 142 s of 171 in them for 291 articles (`benchmarks/ingest_bbc.py`).
        `if_version` (one load only) is `put`'s. The articles' ids must differ."""
        if len({ld.article.id for ld in loads}) != len(loads):
            raise ValueError("put_many: two loads of one article")
        if if_version is not None and len(loads) != 1:
            raise ValueError("put_many: if_version is for one load")
        with self._lock:
            committed = self.committed()
            statuses = ["unchanged"] * len(loads)
            todo = [n for n, ld in enumerate(loads)
                    if force or (old := committed.get(ld.article.id)) is None
                    or old.version != ld.article.version or old.scope != ld.article.scope]
            if not todo:
                return statuses
            rows = {n: _chunk_rows(loads[n]) for n in todo}
            intents = [(self._intent_id(loads[n].article.id, loads[n].article.version), loads[n].article) for n in todo]
            article_ids = [loads[n].article.id for n in todo]

            def write_chunks(which: builtins.list[int]) -> None:
                ids = [i for n in which for i in rows[n][0]]
                docs = [d for n in which for d in rows[n][1]]
                metas = [m for n in which for m in rows[n][2]]
                vecs = np.concatenate([np.asarray(loads[n].vectors, dtype=np.float32) for n in which])
                for s in range(0, len(ids), CHUNK_WRITE):
                    self._renew_all(intents)
                    self._chunks.upsert(ids=ids[s : s + CHUNK_WRITE], documents=docs[s : s + CHUNK_WRITE],
                                        metadatas=metas[s : s + CHUNK_WRITE], embeddings=vecs[s : s + CHUNK_WRITE])

            self.confirm_decision_lock()  # before any write: a holder that lost the lock writes nothing
            try:
                # Intent records first, so recovery after a crash knows what to clean up.
                self._renew_all(intents, first=True)
                write_chunks(todo)
                self._renew_all(intents)
                if if_version is not None and self._committed_version(article_ids[0]) != if_version:
                    self._settle_all(article_ids, exclude={i for i, _ in intents})
                    self._pending.delete(ids=[i for i, _ in intents])
                    self.refresh()
                    return statuses
                # The commit points: one record per article, all in one write.
                self.confirm_decision_lock()
                self._articles.upsert(ids=article_ids, documents=[loads[n].article.text for n in todo],
                                      metadatas=[_article_meta(loads[n].article, len(loads[n].chunks),
                                                               signature=encode_signature(text_signature(loads[n].article.text)))
                                                 for n in todo],
                                      embeddings=[[1.0]] * len(todo))
                self._log_change_all(article_ids, ChangeKind.PUT)
                # Committed: from now on the intents no longer protect these versions' chunks (if a
                # later commit supersedes one, that writer's clean-up must remove them).
                self._renew_all(intents, committed=True)
                winners, _, kept = self._settle_all(article_ids, exclude={i for i, _ in intents})
                # The listing was made after our commits, so nobody removes a chunk of ours counted
                # there unless a later revision won: it counts what is left of each version.
                short = [n for n in todo if (w := winners[loads[n].article.id]) is not None and w.version == loads[n].article.version
                         and kept[(w.id, w.version)] < len(rows[n][0])]
                if short:
                    # Our chunks went while we stalled past the lease: write them again.
                    log.warning("rewrote the chunks of %s: they were removed while the load stalled",
                                ", ".join(loads[n].article.id for n in short))
                    write_chunks(short)
                self._pending.delete(ids=[i for i, _ in intents])
            except (StoreUnavailable, DecisionLost):
                self._abandon_all(article_ids, [i for i, _ in intents])
                raise
            except Exception as exc:
                self._abandon_all(article_ids, [i for i, _ in intents])
                raise StoreError(f"Writing to the article store failed ({exc.__class__.__name__}); nothing was half-loaded.") from exc
            self._changed_all(winners)
            for n in todo:
                statuses[n] = "updated" if committed.get(loads[n].article.id) is not None else "loaded"
            return statuses

    def update_metadata(self, article: ArticleInfo) -> None:
        """Rewrite an article record's facts only (e.g. a new outlet carrying the same story);
        its text and signature stay as stored."""
        with self._lock:
            got = self._articles.get(ids=[article.id], include=["metadatas"])
            if not got["ids"]:
                raise NotFoundError(f"No article with id {article.id!r}.")
            meta = got["metadatas"][0] or {}
            if meta.get("version") != article.version:
                self.refresh()  # revised meanwhile by another process: keep its version
                return
            n = int(meta.get("n_chunks", 0))
            self.confirm_decision_lock()
            # `update`, not `upsert`: the stored text is kept, and a record removed meanwhile is
            # not brought back.
            self._articles.update(ids=[article.id], metadatas=[_article_meta(article, n)])
            self._log_change(article.id, ChangeKind.METADATA)
            self._changed(article.id, article)

    def remove(self, article_id: str) -> ArticleInfo:
        with self._lock:
            art = self.committed().get(article_id)
            if art is None:
                raise NotFoundError(f"No article with id {article_id!r}; `list` shows the ids.")
            self.confirm_decision_lock()
            self._articles.delete(ids=[article_id])  # uncommit first: its chunks vanish at once
            winner, _ = self._settle(article_id)
            self._log_change(article_id, ChangeKind.REMOVE)
            self._changed(article_id, winner)
            return art
