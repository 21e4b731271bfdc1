"""`ArticleStore`: opening a store and reading committed articles (all-or-nothing writes are in
`writes.py`, chunks are read in `chunks.py`; the design is in the package docstring)."""

from __future__ import annotations

import builtins  # `list` is also a method name in this module's classes
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..dedup import decode_signature, encode_signature, text_signature
from ..errors import NotFoundError, StoreError, StoreUnavailable
from ..models import Article, ArticleInfo
from . import snapshot
from .changes import ChangeLog, _ChangeTracking
from .checks import _Checks
from .chunks import _ChunkReading
from .guard import _Guarded, _guarded_call, _open_retrying
from .records import (
    _PAGE,
    ARTICLES,
    OWNERS_DIR,
    PENDING,
    RecordTable,
    _info_from,
    _signature_of,
    _words_known,
    chunk_collection_name,
)
from .texts import TextCache
from .writes import _Writes

log = logging.getLogger(__name__)


class ArticleStore(_ChangeTracking, _Checks, _Writes, _ChunkReading):
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
