"""The store's records: article and chunk records as Chroma holds them, their ids, and small
record tables kept beside the articles (feeds)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..models import Article, ArticleInfo, Chunk, Span

if TYPE_CHECKING:
    import chromadb

ARTICLES = "newsbot-articles"
PENDING = "newsbot-pending"
CHANGES = "newsbot-changes"
OWNERS_DIR = "newsbot-owners"
TAKEOVERS = "newsbot-takeovers"  # see KnowledgeBase._finish_takeovers
_PAGE = 2000
_ARTICLE_FIELDS = ("title", "source", "published", "updated", "url", "language", "author", "editor", "scope", "version", "origin")


def chunk_collection_name(model_name: str) -> str:
    # Vectors of two models never share a collection: the model is part of the name.
    return "newsbot-chunks-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in model_name)


def chunk_id(article_id: str, version: str, index: int) -> str:
    """A chunk record's id: its article, that article's content version and its place in it."""
    return f"{article_id}#{version}#{index}"


def date_number(iso: str) -> int:
    """YYYY-MM-DD as an int (20250114) so Chroma can filter dates with $gte / $lte; 0 if unknown."""
    return int(iso[:10].replace("-", "")) if len(iso) >= 10 and iso[:4].isdigit() else 0


@dataclass(frozen=True)
class StoredChunk:
    chunk: Chunk
    version: str
    sentences: tuple[Span, ...]


def _article_meta(a: ArticleInfo, n_chunks: int, *, signature: str = "") -> dict:
    """An article record's metadata. `words` (with `words_of`, the version it was counted
    from) lets a listing show word counts without the text; `signature` (the text's MinHash,
    `dedup.encode_signature`), stored as `minhash` = "version:signature", lets the duplicate
    index be built from records alone. Both are tagged with the version they describe because a
    reader may write them back for a record that was revised meanwhile (`words_of`, `minhash`
    then name the old version and are ignored)."""
    meta = {k: getattr(a, k) for k in _ARTICLE_FIELDS}
    meta.update(outlets="\n".join(a.outlets), n_chunks=n_chunks, published_n=date_number(a.published),
                words=a.words, words_of=a.version)
    if signature:
        meta["minhash"] = f"{a.version}:{signature}"
    return meta


def _words_known(meta: Mapping[str, object]) -> bool:
    """Whether the record's word count is that of its current version (records written before
    word counts were kept have none)."""
    return isinstance(meta.get("words"), int) and meta.get("words_of") == meta.get("version")


def _signature_of(meta: Mapping[str, object]) -> str:
    """The record's stored signature text for its current version, or ""."""
    version, _, sig = str(meta.get("minhash", "") or "").partition(":")
    return sig if sig and version == str(meta.get("version", "")) else ""


def _info_from(id_: str, meta: Mapping[str, object]) -> ArticleInfo:
    """The facts of an article record, without its text (`words` 0 if the record has none)."""
    fields = {k: str(meta.get(k, "") or "") for k in _ARTICLE_FIELDS}
    outlets = tuple(o for o in str(meta.get("outlets", "")).split("\n") if o)
    words = meta.get("words")
    return ArticleInfo(id=id_, outlets=outlets, words=words if isinstance(words, int) and _words_known(meta) else 0, **fields)


def _article_from(id_: str, text: str, meta: Mapping[str, object]) -> Article:
    return _info_from(id_, meta).with_text(text)


def _chunk_from(id_: str, doc: str, meta: dict) -> StoredChunk:
    base = int(meta["start"])
    raw = str(meta.get("sentences", ""))
    spans: list[Span] = []
    for pair in filter(None, raw.split(";")):
        a, b = pair.split(",")
        spans.append(Span(base + int(a), base + int(b)))
    chunk = Chunk(article_id=str(meta["article_id"]), index=int(meta["index"]), start=base, end=int(meta["end"]), text=doc)
    return StoredChunk(chunk=chunk, version=str(meta["version"]), sentences=tuple(spans))


RecordValue = str | int | float | bool


@dataclass(frozen=True)
class Record:
    """One small record: an id, a text (e.g. JSON) and flat fields."""

    id: str
    text: str
    fields: Mapping[str, RecordValue]


def _flat(meta: Mapping[str, object] | None) -> dict[str, RecordValue]:
    """A Chroma metadata as a record's flat fields (records are written with nothing else)."""
    return {k: v for k, v in (meta or {}).items() if isinstance(v, (str, int, float, bool))}


class RecordTable:
    """Small records kept beside the articles, through the store's API rather than raw Chroma
    calls. Chroma keeps a vector with every record; these are never searched by meaning, so each
    gets the same one-number placeholder, here and nowhere else."""

    _NO_VECTOR = (1.0,)

    def __init__(self, collection: chromadb.Collection):
        self._col = collection

    def all(self) -> list[Record]:
        got = self._col.get(include=["documents", "metadatas"])
        docs, metas = got["documents"] or [], got["metadatas"] or []
        return [Record(i, d or "", _flat(m)) for i, d, m in zip(got["ids"], docs, metas, strict=True)]

    def get(self, id_: str) -> Record | None:
        got = self._col.get(ids=[id_], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return Record(id_, (got["documents"] or [""])[0] or "", _flat((got["metadatas"] or [{}])[0]))

    def has(self, id_: str) -> bool:
        return bool(self._col.get(ids=[id_], include=[])["ids"])

    def put(self, record: Record) -> None:
        self._col.upsert(ids=[record.id], documents=[record.text], metadatas=[dict(record.fields)],
                         embeddings=np.array([self._NO_VECTOR], dtype=np.float32))

    def delete(self, id_: str) -> None:
        self._col.delete(ids=[id_])


def with_outlet(article: Article, outlet: str) -> Article:
    if not outlet or outlet in article.outlets:
        return article
    return replace(article, outlets=(*article.outlets, outlet))
