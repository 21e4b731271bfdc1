"""The Chroma store: idempotent loads, revisions, removal, persistence, crash safety, errors."""

from __future__ import annotations

import pytest

from knowledge import CoreConfig, KnowledgeBase, NotFoundError, StoreError
from knowledge.chunking import chunk_article
from knowledge.loading import build_article
from knowledge.store import ArticleStore


def _article(text="The council approved the new bridge on Monday. Work starts in May.", **kw):
    kw.setdefault("title", "Council approves bridge")
    kw.setdefault("source", "Local Times")
    kw.setdefault("published", "2024-05-02")
    return build_article(text=text, **kw)


def test_loading_twice_is_a_no_op_and_a_revision_replaces(make_kb):
    kb = make_kb()
    assert kb.ingest(_article()).status == "loaded"
    n = kb.store.chunk_count()
    assert kb.ingest(_article()).status == "unchanged"
    assert kb.store.chunk_count() == n
    revised = _article("The council approved the new bridge on Monday. Work starts in June instead.")
    assert kb.ingest(revised).status == "updated"
    assert [kb.get(a.id).text for a in kb.list()] == [revised.text]
    hits = kb.retriever.search("When does work start?", 5)
    assert all("June" in p.chunk.text for p in hits)


def test_remove_and_not_found(make_kb):
    kb = make_kb()
    a = kb.ingest(_article()).article
    assert kb.remove(a.id).id == a.id
    assert kb.list() == [] and kb.store.chunk_count() == 0
    with pytest.raises(NotFoundError):
        kb.get(a.id)
    with pytest.raises(NotFoundError):
        kb.remove(a.id)


def test_articles_persist_across_a_restart(tmp_path, embedder):
    path = str(tmp_path / "store")
    kb = KnowledgeBase(CoreConfig(chroma_path=path), embedder=embedder)
    kb.sync_folder()
    a = kb.ingest(_article()).article
    del kb
    kb2 = KnowledgeBase(CoreConfig(chroma_path=path), embedder=embedder)
    assert {x.id for x in kb2.list()} >= {a.id}
    assert kb2.retriever.search("bridge council", 3)[0].article.id == a.id


def test_an_unfinished_load_is_invisible_and_repaired(make_kb):
    kb = make_kb()
    art = _article()
    chunks, sentences = chunk_article(art.id, art.text)
    vectors = kb.embedder.embed_documents([c.text for c in chunks])
    store: ArticleStore = kb.store
    # Simulate a crash after the chunks were written but before the commit record.
    store._pending.upsert(ids=[art.id], metadatas=[{"version": art.version}], embeddings=[[1.0]])
    store._chunks.upsert(
        ids=[f"{art.id}#{art.version}#{c.index}" for c in chunks], documents=[c.text for c in chunks],
        metadatas=[{"article_id": art.id, "version": art.version, "index": c.index, "start": c.start, "end": c.end,
                    "sentences": "", "scope": "global", "source": "", "published_n": 0} for c in chunks],
        embeddings=vectors.tolist(),
    )
    assert store.chunk_count() == len(chunks)
    assert kb.retriever.search("bridge council", 5) == []  # nothing half-loaded is visible
    assert store.repair() == len(chunks)
    assert store.chunk_count() == 0
    assert kb.ingest(art).status == "loaded"  # the retry completes it


def test_filters_by_scope_date_and_outlet(make_kb):
    kb = make_kb()
    kb.ingest(_article(title="Bridge A", scope="111", source="Paper A", published="2024-01-01"))
    kb.ingest(_article(title="Bridge B", scope="222", source="Paper B", published="2024-06-01"))
    from knowledge import SearchFilter

    def titles(**kw):
        return {p.article.title for p in kb.retriever.search("council bridge", 5, SearchFilter(**kw))}

    assert titles(scopes=("global", "111")) == {"Bridge A"}
    assert titles(scopes=("global", "222")) == {"Bridge B"}
    assert titles(scopes=("111", "222"), since="2024-03-01") == {"Bridge B"}
    assert titles(scopes=("111", "222"), outlet="paper a") == {"Bridge A"}


def test_unwritable_store_path_gives_a_clear_error(tmp_path, embedder):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="CHROMA_PATH"):
        KnowledgeBase(CoreConfig(chroma_path=str(blocker / "chroma")), embedder=embedder)


def test_corrupt_store_gives_a_clear_error(tmp_path, embedder):
    path = tmp_path / "corrupt"
    path.mkdir()
    (path / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="corrupt|cannot be opened"):
        KnowledgeBase(CoreConfig(chroma_path=str(path)), embedder=embedder)


def test_the_articles_folder_is_mirrored_idempotently(make_kb, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    f = folder / "a.md"
    f.write_text("---\ntitle: Storm hits coast\nsource: Weather Desk\npublished: 2024-09-01\n---\nA storm hit the coast on Sunday.\n")
    kb = make_kb()
    assert [r.status for r in kb.sync_folder(folder)] == ["loaded"]
    assert [r.status for r in kb.sync_folder(folder)] == ["unchanged"]
    f.write_text("---\ntitle: Storm hits coast\nsource: Weather Desk\npublished: 2024-09-01\n---\nA storm hit the coast on Sunday night.\n")
    assert [r.status for r in kb.sync_folder(folder)] == ["updated"]
    assert kb.get(kb.list()[0].id).text.endswith("Sunday night.")
    f.unlink()
    assert kb.sync_folder(folder) == [] and kb.list() == []


class _QueryFails:
    """A chunk collection whose nearest-neighbour query fails as a busy Chroma server's once did
    ("Error finding id" while another process deleted chunks); everything else is passed on."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.queries = 0

    def query(self, **kw: object) -> object:
        from chromadb.errors import InternalError

        self.queries += 1
        raise InternalError("Error executing plan: Internal error: Error finding id")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_a_failing_dense_query_is_retried_then_bm25_alone_answers(kb, monkeypatch):
    failing = _QueryFails(kb.store._chunks)
    monkeypatch.setattr(kb.store, "_chunks", failing)
    answer = await kb.ask("Who is the Chinese Foreign Ministry spokesperson quoted in the article?")
    assert failing.queries == 3  # tried again twice, then the dense side gave nothing
    assert answer.answerable and "Guo Jiakun" in answer.text
