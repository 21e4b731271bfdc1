"""Near-duplicate detection (syndicated copies) and how revisions carry metadata over."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from knowledge.dedup import THRESHOLD, DuplicateIndex, as_revision, similarity
from knowledge.loading import build_article
from knowledge.store import Record
from tests.newspages import bbc_available, load_story

needs_bbc = pytest.mark.skipif(not bbc_available(), reason="BBC corpus folder is missing")


def _text(category: str, number: int) -> str:
    return "\n\n".join(load_story(category, number).paragraphs)


def _art(text: str, *, title="Wire story", source="Wire", url="", scope="global"):
    return build_article(title=title, text=text, source=source, url=url, scope=scope)


@needs_bbc
def test_similarity_sees_wording_not_layout():
    text = _text("business", 20)
    assert similarity(text, text) == 1.0
    # Case, punctuation and line breaks do not matter; one changed word barely does.
    assert similarity(text, text.upper().replace(",", "").replace("\n\n", " ")) == 1.0
    words = text.split()
    words[len(words) // 2] = "flamingo"
    assert similarity(text, " ".join(words)) > 0.95
    # A different story on the same subject is far below the threshold.
    assert similarity(text, _text("business", 21)) < 0.1 < THRESHOLD


@needs_bbc
def test_the_index_finds_a_copy_in_the_same_scope_only():
    stored = {a.id: a for a in (_art(_text("tech", n), title=f"t{n}", url=f"https://a.example/{n}") for n in range(1, 30))}
    twin = next(iter(stored.values()))
    index = DuplicateIndex()
    index.sync(stored)
    copy = _art(twin.text + "\n\nThis story first appeared on a.example.", title="Other headline", source="B", url="https://b.example/x")
    found = index.find(copy, stored)
    assert found is not None and found[0].id == twin.id and found[1] >= THRESHOLD
    assert index.find(_art(copy.text, url="https://b.example/x", scope="1234"), stored) is None
    assert index.find(twin, stored) is None  # an article is not its own duplicate
    assert index.find(_art(_text("tech", 40), url="https://b.example/y"), stored) is None


@needs_bbc
def test_the_index_follows_removals_and_revisions():
    a = _art(_text("sport", 3), url="https://a.example/3")
    index = DuplicateIndex()
    index.sync({a.id: a})
    probe = _art(a.text, url="https://b.example/3")
    assert index.find(probe, {a.id: a}) is not None
    index.sync({})
    assert index.find(probe, {}) is None
    revised = _art(_text("sport", 4), url="https://a.example/3")  # same id, other text
    index.sync({revised.id: revised})
    assert index.find(probe, {revised.id: revised}) is None
    assert index.find(_art(revised.text, url="https://c.example/"), {revised.id: revised}) is not None


def test_a_revision_keeps_the_first_date_and_outlets_and_is_dated():
    old = build_article(title="T", text="Old text.", source="Wire", published="2024-01-02", updated="2024-01-02", url="https://a.example/t")
    old = replace(old, outlets=("Wire", "Daily"))
    new = build_article(title="T", text="New text.", source="Wire", url="https://a.example/t")
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    merged = as_revision(old, new)
    assert (merged.published, merged.updated, merged.outlets, merged.text) == ("2024-01-02", today, ("Wire", "Daily"), "New text.")
    dated = build_article(title="T", text="New text.", source="Wire", url="https://a.example/t", updated="2024-03-04")
    assert as_revision(old, dated).updated == "2024-03-04"


@needs_bbc
def test_ingest_stores_a_syndicated_copy_once(make_kb):
    kb = make_kb()
    text = _text("entertainment", 12)
    first = kb.ingest(_art(text, title="Star wins award", source="Wire A", url="https://a.example/1"))
    n = kb.store.chunk_count()
    again = kb.ingest(_art(text, title="The star's award", source="Paper B", url="https://b.example/2"))
    assert again.status == "duplicate" and again.article.outlets == ("Wire A", "Paper B")
    assert kb.ingest(_art(text, title="The star's award", source="Paper B", url="https://b.example/2")).status == "duplicate"
    assert [a.outlets for a in kb.list()] == [("Wire A", "Paper B")] and kb.store.chunk_count() == n
    # The outlets survive a restart: they are in the article record.
    assert kb.store.__class__.open_local(kb.config.chroma_path, kb.embedder.name).get(first.article.id).outlets == ("Wire A", "Paper B")
    # The same text in another server's scope is that server's own article.
    assert kb.ingest(_art(text, title="The star's award", source="Paper B", url="https://b.example/2", scope="42")).status == "loaded"


def _ids_and_outlets(kb) -> list[tuple[str, tuple[str, ...]]]:
    return sorted((a.id, a.outlets) for a in kb.list())


@needs_bbc
def test_a_later_copy_that_ranks_first_takes_the_story_over_with_every_outlet(make_kb):
    kb = make_kb()
    text = _text("entertainment", 12)
    first = kb.ingest(_art(text, title="Star wins award", source="Wire A", url="https://a.example/1"))
    n = kb.store.chunk_count()
    later = _art(text, title="Award for star", source="Paper B", url="https://b.example/2")  # its id sorts first
    got = kb.ingest(later)
    assert got.status == "duplicate" and got.replaced == (first.article.id,) and got.added_outlet == "Paper B"
    assert got.article.id == later.id and got.article.outlets == ("Paper B", "Wire A")
    assert _ids_and_outlets(kb) == [(later.id, ("Paper B", "Wire A"))] and kb.store.chunk_count() == n
    # other processes see the takeover through the change log: a fresh store reads the same
    other = kb.store.__class__.open_local(kb.config.chroma_path, kb.embedder.name)
    assert sorted(other.committed()) == [later.id]
    # loading either copy again changes nothing
    assert kb.ingest(_art(text, title="Star wins award", source="Wire A", url="https://a.example/1")).status == "duplicate"
    assert kb.ingest(later).status == "unchanged"
    assert _ids_and_outlets(kb) == [(later.id, ("Paper B", "Wire A"))] and kb.store.chunk_count() == n


@needs_bbc
def test_copies_loaded_in_either_order_leave_the_same_store(make_kb, tmp_path):
    stories = [_text("entertainment", 12), _text("business", 20), _text("sport", 3)]
    copies = [_art(t, title=f"{title} {n}", source=src, url=f"https://{src[0].lower()}.example/{n}")
              for n, t in enumerate(stories) for title, src in (("Zebra", "Wire A"), ("Aardvark", "Paper B"), ("Mango", "Daily C"))]
    forward, backward = make_kb(chroma_path=str(tmp_path / "f")), make_kb(chroma_path=str(tmp_path / "b"))
    for a in copies:
        forward.ingest(a)
    for a in reversed(copies):
        backward.ingest(a)
    assert _ids_and_outlets(forward) == _ids_and_outlets(backward)
    assert len(forward.list()) == 3 and all(a.title.startswith("Aardvark") for a in forward.list())
    assert all(a.outlets == ("Paper B", "Daily C", "Wire A") for a in backward.list())


@needs_bbc
def test_a_takeover_killed_between_its_two_writes_is_finished_by_the_next_load_of_either_copy(make_kb):
    kb = make_kb()
    text = _text("business", 20)
    low = _art(text, title="Star wins award", source="Wire A", url="https://a.example/1")
    high = _art(text, title="Award for star", source="Paper B", url="https://b.example/2")
    # What a takeover killed after storing the new copy leaves: its record, and both copies.
    kb.ingest(low)
    kb._takeovers.put(Record(high.id, "", {"replaces": low.id}))
    kb.store.refresh()
    kb._index(high)
    assert len(kb.list()) == 2
    assert kb.ingest(low).status == "unchanged"  # the copy that ranks second, loaded again
    assert [a.id for a in kb.list()] == [high.id] and kb.get(high.id).outlets == ("Paper B", "Wire A")
    assert kb._takeovers.all() == []  # finished, and forgotten
    from knowledge.integrity import violations

    kb.store.repair(all_abandoned=True)
    assert violations(kb.store) == []


def test_an_unchanged_load_does_not_build_the_duplicate_index_when_no_takeover_is_pending(make_kb, monkeypatch):
    # The shipped article is loaded, unchanged, on every start: it must not shingle the store.
    kb = make_kb()
    kb.sync_folder()
    from knowledge import dedup, ingesting

    def forbidden(*_a, **_k):
        raise AssertionError("the duplicate index was consulted")

    monkeypatch.setattr(ingesting, "find_duplicates", forbidden)
    monkeypatch.setattr(dedup, "find_duplicates", forbidden)
    assert [r.status for r in kb.sync_folder()] == ["unchanged"]
