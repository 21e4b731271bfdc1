"""Hybrid retrieval reads only what it keeps: dense hits are ranked by id, and the fused top k are
read in one call that also brings their sentence vectors; the nearest ids are the same whichever
fetch found them."""

from __future__ import annotations

import numpy as np

from knowledge import SearchFilter
from knowledge.loading import build_article

HARBOUR = [
    "The harbour authority approved a new quay on Monday. Work on the quay starts in May.",
    "Dredging of the harbour channel will cost 4 million euros, the port said.",
    "Fishermen protested outside the harbour office over berth fees on Friday.",
    "A storm damaged the old lighthouse on the north mole last winter.",
    "The ferry company added two crossings a day to the island in summer.",
    "Cranes at the container terminal were idle during the strike.",
]


def _kb_with_harbour_news(make_kb, scopes=("global",)):
    kb = make_kb()
    for n, text in enumerate(HARBOUR):
        for scope in scopes:
            kb.ingest(build_article(title=f"Harbour news {n} {scope}", text=text, source="Port Times",
                                    published=f"2024-05-0{n + 1}", scope=scope))
    return kb


def test_search_reads_only_the_fused_top_k_and_brings_their_stored_sentence_vectors(make_kb):
    kb = _kb_with_harbour_news(make_kb)
    reads: list[list[str]] = []
    chunks_by_id = kb.store.chunks_by_id

    def counted(ids, dim, **kw):
        reads.append(list(ids))
        return chunks_by_id(ids, dim, **kw)

    kb.store.chunks_by_id = counted
    passages = kb.retriever.search("How much will dredging the harbour cost?", 3)
    assert len(passages) == 3 and "4 million euros" in passages[0].chunk.text
    assert [len(r) for r in reads] == [3]  # one read, of the three kept, not of every dense hit
    stored = kb.store.sentence_vectors([p.chunk for p in passages], [p.article.version for p in passages], kb.embedder.dim)
    for p, vectors in zip(passages, stored, strict=True):
        assert p.sentence_vectors is not None and np.array_equal(p.sentence_vectors, vectors)
        assert len(p.sentence_vectors) == len(p.sentences)
    assert {p.article.id for p in passages} <= {a.id for a in kb.list()}


def test_nearest_ids_are_the_first_of_a_larger_fetch_and_a_narrow_filter_still_finds_its_articles(make_kb):
    kb = _kb_with_harbour_news(make_kb, scopes=("global", "111", "222", "333"))
    vec = kb.embedder.embed_query("harbour quay works")
    wide = kb.store.nearest(vec, 20)
    assert kb.store.nearest(vec, 5) == wide[:5]
    # One scope of four: the first fetch (k + 8 nearest) holds too few of its chunks, so the larger
    # fetch or Chroma's own filter finds them.
    only = SearchFilter(scopes=("222",))
    hits = kb.store.nearest(vec, 6, where=only.chroma_where(), admits=only.admits)
    committed = kb.store.committed()
    assert len(hits) == 6 and all(committed[i.rsplit("#", 2)[0]].scope == "222" for i, _ in hits)
    assert [d for _, d in hits] == sorted(d for _, d in hits)
    assert {p.article.scope for p in kb.retriever.search("harbour quay works", 6, only)} == {"222"}
