"""Reading chunks back: the nearest-neighbour query, chunks and sentence vectors by id, and
paging through every chunk. Mixed into `ArticleStore`, apart from its article records and writes."""

from __future__ import annotations

import builtins  # `list` is also a method name in ArticleStore
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..embeddings import unpack
from ..models import ArticleInfo, Chunk
from .records import _PAGE, StoredChunk, _chunk_from, chunk_id

log = logging.getLogger(__name__)


class _ChunkReading:
    """The parts of `ArticleStore` that read this embedding model's chunk collection."""

    _chunks: Any  # a chromadb Collection behind the outage guard

    if TYPE_CHECKING:
        def committed(self) -> Mapping[str, ArticleInfo]: ...
        def is_visible(self, article_id: str, version: str) -> bool: ...

    def chunk_count(self) -> int:
        return self._chunks.count()

    def iter_chunks(self) -> Iterator[StoredChunk]:
        """Every visible chunk, page by page (for building the lexical index)."""
        offset = 0
        while True:
            got = self._chunks.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                sc = _chunk_from(id_, doc or "", meta)
                if self.is_visible(sc.chunk.article_id, sc.version):
                    yield sc
            if len(got["ids"]) < _PAGE:
                return
            offset += _PAGE

    def sentence_vectors(self, chunks: builtins.list[Chunk], versions: builtins.list[str], dim: int) -> builtins.list[np.ndarray | None]:
        """The stored sentence vectors of these chunks (None where a chunk has none)."""
        ids = [chunk_id(c.article_id, v, c.index) for c, v in zip(chunks, versions, strict=True)]
        if not ids:
            return []
        got = self._chunks.get(ids=ids, include=["metadatas"])
        by_id = {i: (m or {}).get("svec", "") for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        return [unpack(by_id[i], dim) if by_id.get(i) else None for i in ids]

    def articles_with_chunks(self) -> set[str]:
        """Ids of the articles that have chunks in this model's collection."""
        out: set[str] = set()
        offset = 0
        while True:
            got = self._chunks.get(include=["metadatas"], limit=_PAGE, offset=offset)
            out.update(str((m or {}).get("article_id")) for m in got["metadatas"])
            if len(got["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def _query(self, **kw: Any) -> Any:
        """Chroma's nearest-neighbour query. A server answering while another process deletes
        chunks can fail with "Error finding id" (an InternalError; once in 1,058 torture
        operations on `chroma run`): it is tried again, and if it persists the dense side gives
        nothing this once (BM25 still answers) instead of failing the question. An unreachable
        store still raises StoreUnavailable."""
        from chromadb.errors import ChromaError

        for attempt in range(3):
            try:
                return self._chunks.query(**kw)
            except ChromaError as exc:
                if attempt == 2:
                    log.warning("dense search failed (%s: %s); BM25 alone answers this question", exc.__class__.__name__, exc)
                    return {"ids": [[]], "distances": [[]], "documents": [[]], "metadatas": [[]]}
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def nearest(self, vector: np.ndarray, k: int, where: dict | None = None,
                admits: Callable[[ArticleInfo], bool] | None = None) -> builtins.list[tuple[str, float]]:
        """The ids of the `k` nearest visible chunks with their cosine distance, nearest first
        (`chunks_by_id` reads the ones wanted).

        `where` is the filter for Chroma; `admits`, the same filter on a chunk's article, lets the
        unfiltered index answer first. Chroma's filtered query checks every chunk the filter
        matches (about 40 ms at 10,000 chunks, against 2 ms unfiltered, and it grows with the
        store), so the nearest k+8 are fetched unfiltered and filtered here, then the nearest
        4·(k+8) if too few of those pass; Chroma filters only when even those are too few (a
        small server's articles in a large store). Both fetches search the same `ef_search`
        (200) candidates, so the first k+8 of the larger are the smaller: the same ranking,
        1.5 against 2.7 ms at 1× BBC, where nearly every question needs the first alone."""
        query = [vector.tolist()]
        if where is None or admits is not None:
            committed = self.committed()
            for fetch in (k + 8,) if where is None else (k + 8, 4 * (k + 8)):
                got = self._query(query_embeddings=query, n_results=fetch, include=["distances"])
                ids, dists = got["ids"][0], got["distances"][0]
                keep: builtins.list[tuple[str, float]] = []
                for id_, dist in zip(ids, dists, strict=True):
                    parts = id_.rsplit("#", 2)  # article id # version # chunk index
                    art = committed.get(parts[0]) if len(parts) == 3 else None
                    if art is not None and art.version == parts[1] and (admits is None or admits(art)):
                        keep.append((id_, float(dist)))
                if len(keep) >= k or len(ids) < fetch:
                    return keep[:k]
        got = self._query(query_embeddings=query, n_results=k + 8, where=where or None, include=["distances"])
        return [(id_, float(dist)) for id_, dist in zip(got["ids"][0], got["distances"][0], strict=True)
                if len(parts := id_.rsplit("#", 2)) == 3 and self.is_visible(parts[0], parts[1])][:k]

    def chunks_by_id(self, ids: Sequence[str], dim: int, *, text: bool = True) -> dict[str, tuple[StoredChunk, np.ndarray | None]]:
        """These chunks (read in one call) with their stored sentence vectors of `dim` numbers each
        (None where a chunk has none, or `dim` is not known yet); an id no longer stored is
        absent. `text` False: without the chunks' texts, for a caller that has them."""
        if not ids:
            return {}
        got = self._chunks.get(ids=list(ids), include=["documents", "metadatas"] if text else ["metadatas"])
        docs = got["documents"] if text else [""] * len(got["ids"])
        return {i: (_chunk_from(i, doc or "", meta), unpack(str(meta.get("svec", "")), dim) if dim > 0 and (meta or {}).get("svec") else None)
                for i, doc, meta in zip(got["ids"], docs, got["metadatas"], strict=True)}

    def dense_search(self, vector: np.ndarray, k: int, where: dict | None = None,
                     admits: Callable[[ArticleInfo], bool] | None = None,
                     known: Mapping[str, StoredChunk] | None = None) -> builtins.list[tuple[StoredChunk, float]]:
        """The `k` nearest visible chunks with their cosine distance, nearest first (`nearest`,
        then the chunks read). `known`: chunks already in memory by id, which are not read again."""
        hits = self.nearest(vector, k, where, admits)
        known = known or {}
        rows = self.chunks_by_id([i for i, _ in hits if i not in known], 0)
        found = [(rows[i][0] if i in rows else known.get(i), d) for i, d in hits]
        return [(sc, d) for sc, d in found if sc is not None]
