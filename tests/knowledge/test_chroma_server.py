"""CHROMA_HOST mode: the same loads and answers against a real `chroma run` server on loopback."""

from __future__ import annotations

import pytest

from knowledge import CoreConfig, KnowledgeBase, StoreError
from knowledge.loading import build_article
from tests.chroma_server import free_port

pytestmark = pytest.mark.server


async def test_articles_and_answers_through_a_chroma_server(chroma_server, embedder, tmp_path):
    host, port = chroma_server
    kb = KnowledgeBase(CoreConfig(chroma_host=host, chroma_port=port, lexical_path=str(tmp_path / "a")), embedder=embedder)
    kb.sync_folder()
    assert kb.sync_folder()[0].status == "unchanged"
    answer = await kb.ask("Who is the Chinese Foreign Ministry spokesperson quoted in the article?")
    assert answer.answerable and "Guo Jiakun" in answer.text
    c = answer.citations[0]
    assert kb.get(c.article_id).text[c.start : c.end] == c.quote

    extra = build_article(title="Harbour reopens", text="The harbour reopened on Friday after repairs costing 4 million euros.", source="Port News")
    assert kb.ingest(extra).status == "loaded"
    # A second client (another process in real life) sees the same store.
    other = KnowledgeBase(CoreConfig(chroma_host=host, chroma_port=port, lexical_path=str(tmp_path / "b")), embedder=embedder)
    assert extra.id in {a.id for a in other.list()}
    a2 = await other.ask("How much did the harbour repairs cost?")
    assert a2.answerable and "4 million euros" in a2.citations[0].quote
    kb.remove(extra.id)
    assert extra.id not in {a.id for a in KnowledgeBase(CoreConfig(chroma_host=host, chroma_port=port), embedder=embedder).list()}


def test_an_unreachable_server_is_a_clear_error(embedder):
    with pytest.raises(StoreError, match="CHROMA_HOST"):
        KnowledgeBase(CoreConfig(chroma_host="127.0.0.1", chroma_port=free_port()), embedder=embedder)
