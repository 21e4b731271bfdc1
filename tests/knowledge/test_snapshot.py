"""What each process keeps of the stored articles: their facts without texts (`ArticleInfo`),
texts read by id when needed (a bounded cache), and a duplicate index built from the records'
stored signatures."""

from __future__ import annotations

import asyncio
import random

from knowledge import Article, ArticleInfo, CoreConfig, KnowledgeBase
from knowledge.dedup import find_duplicates
from knowledge.loading import build_article
from knowledge.store.texts import TextCache

_VOCAB = [f"{a}{b}" for a in ("har", "bel", "tor", "mun", "sel", "vak", "dor", "pel") for b in ("an", "ot", "ex", "ur", "il", "om")]


def _text(seed: int, sentences: int = 30) -> str:
    """A text of its own (shares no 5-word run with another seed's)."""
    rng = random.Random(seed)
    return " ".join(" ".join(rng.choice(_VOCAB) for _ in range(9)).capitalize() + "." for _ in range(sentences))


def _art(seed: int, **kw: str) -> Article:
    kw.setdefault("title", f"Story {seed}")
    kw.setdefault("url", f"https://a.example/{seed}")
    return build_article(text=_text(seed), source=kw.pop("source", "Wire"), **kw)


def _near_copy(a: Article) -> Article:
    """`a` with one word changed, from another outlet: a syndicated copy."""
    words = a.text.split(" ")
    words[len(words) // 2] = "edited"
    return build_article(title=a.title + " (wire)", text=" ".join(words), source="Other", url="https://b.example/copy")


def _reopen(path: str, embedder) -> KnowledgeBase:
    """A knowledge base on the same folder that has read nothing yet, as a new process has."""
    return KnowledgeBase(CoreConfig(chroma_path=path), embedder=embedder)


def test_the_snapshot_holds_facts_only_and_get_reads_the_text(make_kb):
    kb = make_kb()
    arts = [_art(n) for n in range(3)]
    for a in arts:
        kb.ingest(a)
    snap = kb.store.committed()
    assert {type(a) for a in snap.values()} == {ArticleInfo}
    assert not any(hasattr(a, "text") for a in snap.values())
    assert all(type(a) is ArticleInfo for a in kb.list())
    for a in arts:
        full = kb.get(a.id)
        assert type(full) is Article and full.text == a.text and full.info == snap[a.id]
        assert snap[a.id].word_count == len(a.text.split()) > 0


def test_a_new_process_reads_no_text_to_start_and_only_the_quoted_articles_to_answer(make_kb, embedder):
    kb = make_kb()
    kb.sync_folder()
    for n in range(12):
        kb.ingest(_art(n))
    fresh = _reopen(kb.config.chroma_path, embedder)
    assert len(fresh.list()) == 13 and fresh.store.texts_read == 0
    answer = asyncio.run(fresh.ask("Who is the Chinese Foreign Ministry spokesperson quoted in the article?"))
    quotes = [c for c in answer.citations if not c.metadata]
    assert answer.answerable and quotes and all(c.verified for c in answer.citations)
    for c in quotes:  # every quote stands, word for word, in the text read on demand
        assert fresh.get(c.article_id).text[c.start : c.end] == c.quote
    assert all(p.article.text for p in answer.passages)
    assert 0 < fresh.store.texts_read <= fresh.config.top_k


def test_a_text_is_read_once_then_served_from_the_cache(make_kb, embedder):
    kb = make_kb()
    a = _art(1)
    kb.ingest(a)
    fresh = _reopen(kb.config.chroma_path, embedder)
    assert fresh.get(a.id).text == fresh.get(a.id).text == a.text
    assert fresh.store.texts_read == 1


def test_a_text_is_never_paired_with_another_versions_facts(make_kb, embedder):
    kb = make_kb()
    a = _art(1)
    kb.ingest(a)
    cached, bare = _reopen(kb.config.chroma_path, embedder), _reopen(kb.config.chroma_path, embedder)
    assert cached.get(a.id).text == a.text and bare.list()[0].version == a.version  # `bare` read no text
    cached.store.poll_seconds = bare.store.poll_seconds = 3600  # neither follows the change log by itself
    revised = build_article(title=a.title, text=_text(99), source="Wire", url=a.url)
    assert revised.id == a.id and kb.ingest(revised).status == "updated"
    # Before either follows the change log: `cached` answers from the version it holds, whole;
    # `bare` finds the stored text is of a newer version and reads that version's facts with it.
    old = cached.get(a.id)
    assert (old.text, old.version) == (a.text, a.version)
    new = bare.get(a.id)
    assert (new.text, new.version) == (revised.text, revised.version)
    assert bare.store.articles([a.info]) == {}  # the old version's text is no longer stored
    cached.store.catch_up()
    assert (cached.get(a.id).text, cached.get(a.id).version) == (revised.text, revised.version)


def test_the_text_cache_keeps_the_most_recent_within_its_characters():
    cache = TextCache(max_chars=10)
    cache.put("a", "1", "aaaa")
    cache.put("b", "1", "bbbb")
    assert cache.get("a", "1") == "aaaa"  # now the most recent
    cache.put("c", "1", "cccc")  # 12 characters: the least recently used goes
    assert cache.get("b", "1") is None and cache.get("a", "1") == "aaaa" and cache.get("c", "1") == "cccc"
    assert cache.chars == 8 and len(cache) == 2
    cache.put("big", "1", "x" * 11)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("big", "1") is None and len(cache) == 2
    assert cache.get("a", "2") is None  # another version is another text


def test_building_the_duplicate_index_reads_no_text_and_a_check_reads_only_candidates(make_kb, embedder):
    kb = make_kb()
    arts = [_art(n) for n in range(6)]
    for a in arts:
        kb.ingest(a)
    fresh = _reopen(kb.config.chroma_path, embedder)
    assert find_duplicates(fresh.store, _art(50)) == []
    assert fresh.store.texts_read == 0  # built from the records' signatures
    twins = find_duplicates(fresh.store, _near_copy(arts[2]))
    assert [t.id for t in twins] == [arts[2].id] and twins[0].text == arts[2].text
    assert fresh.store.texts_read == 1  # the one candidate, for the exact check


def _strip_to_old_records(kb: KnowledgeBase) -> None:
    """Rewrite every article record as an earlier release wrote it: no word count, no signature."""
    got = kb.store._articles.get(include=["documents", "metadatas"])
    kb.store._articles.delete(ids=got["ids"])  # an upsert would merge the old keys back in
    kb.store._articles.add(
        ids=got["ids"], documents=got["documents"], embeddings=[[1.0]] * len(got["ids"]),
        metadatas=[{k: v for k, v in m.items() if k not in ("words", "words_of", "minhash")} for m in got["metadatas"]])


def test_records_from_an_earlier_release_get_counts_and_signatures_once(make_kb, embedder):
    kb = make_kb()
    arts = [_art(n) for n in range(4)]
    for a in arts:
        kb.ingest(a)
    _strip_to_old_records(kb)
    old = _reopen(kb.config.chroma_path, embedder)
    assert {a.id: a.word_count for a in old.list()} == {a.id: len(a.text.split()) for a in arts}
    assert old.store.texts_read == 4  # counted once, and written back
    twins = find_duplicates(old.store, _near_copy(arts[1]))
    assert [t.id for t in twins] == [arts[1].id]
    assert old.store.texts_read == 4 + 4 + 1  # each signature computed once, then the candidate
    again = _reopen(kb.config.chroma_path, embedder)
    assert {a.id: a.word_count for a in again.list()} == {a.id: len(a.text.split()) for a in arts}
    assert find_duplicates(again.store, _art(60)) == []
    assert again.store.texts_read == 0  # both were written back


def test_a_start_takes_the_saved_facts_and_the_changes_since(make_kb, embedder):
    kb = make_kb()
    for n in range(3):
        kb.ingest(_art(n))
    assert kb.store.full_reads == 1  # no file yet: every record (none then), and saved
    assert kb.store.snapshot_file is not None and kb.store.snapshot_file.is_file()
    first = _reopen(kb.config.chroma_path, embedder)
    assert len(first.list()) == 3 and first.store.full_reads == 0  # the file and the three loads since
    late = _art(3)
    kb.ingest(late)  # after the file was saved
    kb.remove(_art(0).id)
    second = _reopen(kb.config.chroma_path, embedder)
    assert {a.id for a in second.list()} == {_art(n).id for n in (1, 2, 3)}
    assert second.store.full_reads == 0  # the file, then the change log since its cursor
    assert second.store.committed()[late.id].word_count == late.word_count
    assert second.get(late.id).text == late.text


def test_a_damaged_or_foreign_saved_file_is_ignored(make_kb, embedder):
    kb = make_kb()
    kb.ingest(_art(1))
    path = _reopen(kb.config.chroma_path, embedder).store.snapshot_file
    assert path is not None
    path.write_text('{"format": 1, "store": "another store", "cursor": 0, "saved": 0, "rows": []}')
    other = _reopen(kb.config.chroma_path, embedder)
    assert [a.id for a in other.list()] == [_art(1).id] and other.store.full_reads == 1
    path.write_text("{not json")
    damaged = _reopen(kb.config.chroma_path, embedder)
    assert [a.id for a in damaged.list()] == [_art(1).id] and damaged.store.full_reads == 1


def test_records_added_behind_the_change_log_are_read_despite_a_saved_file(make_kb, embedder):
    kb = make_kb()
    a = _art(1)
    kb.ingest(a)
    assert _reopen(kb.config.chroma_path, embedder).list()[0].id == a.id  # the file is saved
    # A copy of the record written with Chroma's own API, as a benchmark builds a larger store:
    # no change record names it.
    got = kb.store._articles.get(ids=[a.id], include=["documents", "metadatas"])
    kb.store._articles.add(ids=[a.id + "~1"], documents=got["documents"], metadatas=got["metadatas"], embeddings=[[1.0]])
    later = _reopen(kb.config.chroma_path, embedder)
    assert {x.id for x in later.list()} == {a.id, a.id + "~1"} and later.store.full_reads == 1
