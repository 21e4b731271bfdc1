"""EMBEDDING_BACKEND=openai: vectors from an OpenAI-compatible /embeddings endpoint, never mixed
with the local model's; switching models re-indexes the stored articles."""

from __future__ import annotations

from knowledge import CoreConfig, KnowledgeBase
from knowledge.llm import LLMConfig
from knowledge.loading import build_article
from knowledge.store import chunk_collection_name


def test_switching_to_openai_embeddings_reindexes_into_its_own_collection(tmp_path, embedder, openai_standin):
    path = str(tmp_path / "store")
    local = KnowledgeBase(CoreConfig(chroma_path=path), embedder=embedder)
    local.sync_folder()
    added = local.ingest(build_article(title="Harbour reopens", text="The harbour reopened on Friday after repairs.", source="Port News")).article
    local_chunks = local.store.chunk_count()

    cfg = CoreConfig(chroma_path=path, embedding_backend="openai", openai_embedding_model="standin-embedding",
                     embedding_llm=LLMConfig(api_key="sk-test", base_url=openai_standin.base_url))
    remote = KnowledgeBase(cfg)
    assert remote.embedder.name == "openai-standin-embedding"
    assert remote.store.chunk_count() == 0  # a new collection: the local model's vectors are not reused
    remote.sync_folder()  # re-embeds every stored article, the one added by hand included
    assert remote.store.chunk_count() > 0
    assert remote.store.articles_with_chunks() >= {added.id}
    embeds = openai_standin.requests_to("/v1/embeddings")
    assert embeds and embeds[0].authorization == "Bearer sk-test"

    # The stand-in's vectors are hash noise, so only retrieval (not answerability) is checked.
    found = remote.retrieve("When did the harbour reopen?")
    assert found.passages and found.passages[0].article.id == added.id
    assert local.store.chunk_count() == local_chunks  # the local collection is untouched
    names = {c.name for c in remote.store._client.list_collections()}
    assert {chunk_collection_name(embedder.name), chunk_collection_name(remote.embedder.name)} <= names
    assert remote.reindex_missing() == 0  # nothing left to do on the next start
