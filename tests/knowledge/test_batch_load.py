"""Loading in batches (`ArticleStore.put_many`, `KnowledgeBase.ingest_many` / `load_many`): one
Chroma call per step for the whole batch, each article still all or nothing, the same statuses
and stored articles as loading one at a time, and a batch killed with SIGKILL before or after
its commit recovered like a single load (on an embedded store and on `chroma run`)."""

from __future__ import annotations

import os
import signal
from collections import Counter
from typing import Any

import pytest

from knowledge import CoreConfig, KnowledgeBase, KnowledgeError, StoreError
from knowledge.integrity import violations
from knowledge.loading import build_article
from knowledge.models import Article
from tests.knowledge.store_worker import open_store
from tests.knowledge.test_shared_store import STORY, _finish, _title, _wait, _worker, where  # noqa: F401 - `where` is a fixture

WIRE = ("Rail fares will rise by 3.1% in January, the industry body said on Tuesday. Season tickets on some "
        "commuter routes will pass 5,000 pounds for the first time. Passenger groups called the rise a blow "
        "to workers already facing higher energy bills. The government said fares were capped below inflation.")


def _article(title: str, text: str, source: str = "Daily Post", published: str = "2024-11-05", **kw: Any) -> Article:
    return build_article(title=title, text=text, source=source, published=published, url=f"https://example.org/{title.lower().replace(' ', '-')}", **kw)


def _articles() -> list[Article]:
    """A load that exercises every decision: new, revision of one earlier in the batch, the same
    wire story from another outlet, an exact repeat, and one too long to load."""
    first = _article("Harbour works begin", STORY.format(n=4))
    return [
        first,
        _article("Rail fares rise", WIRE),
        _article("Library reopens", "The town library reopened on Saturday after a two-year refit. It now opens on Sundays."),
        _article("Harbour works begin", STORY.format(n=9)),  # same id as the first: a revision
        _article("Fares to go up in January", WIRE + " Unions said they would protest.", source="Evening Star"),  # a near copy
        first,  # the first text again, after its revision: a revision back
        _article("Library reopens", "The town library reopened on Saturday after a two-year refit. It now opens on Sundays."),
        _article("Long report", "The committee met again. " * 100),  # past max_article_chars below
    ]


class _Counting:
    """A Chroma collection that counts its writes (and can refuse some)."""

    def __init__(self, inner: Any, refuse: Any = None) -> None:
        self.inner, self.refuse, self.calls = inner, refuse, Counter[str]()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in ("upsert", "delete"):
            return attr

        def call(**kw: Any) -> Any:
            self.calls[name] += 1
            if self.refuse is not None and name == "upsert" and self.refuse(kw["ids"]):
                raise RuntimeError("refused")
            return attr(**kw)

        return call


def _outcome(r: object) -> tuple[str, str]:
    if isinstance(r, KnowledgeError):
        return ("error", type(r).__name__)
    return (str(r.status), r.article.id)  # type: ignore[attr-defined]


def test_a_batch_gives_the_statuses_and_store_that_loading_one_by_one_gives(tmp_path, embedder):
    one = KnowledgeBase(CoreConfig(chroma_path=str(tmp_path / "one"), max_article_chars=2000), embedder=embedder)
    singly = []
    for a in _articles():
        try:
            singly.append(one.ingest(a))
        except KnowledgeError as exc:
            singly.append(exc)
    many = KnowledgeBase(CoreConfig(chroma_path=str(tmp_path / "many"), max_article_chars=2000), embedder=embedder)
    batched = many.ingest_many(_articles())
    assert [_outcome(r) for r in batched] == [_outcome(r) for r in singly]
    assert [s for s, _ in map(_outcome, batched)] == ["loaded", "loaded", "loaded", "updated", "duplicate", "updated",
                                                      "unchanged", "error"]

    def stored(kb: KnowledgeBase) -> set[tuple[str, str, str, tuple[str, ...]]]:
        return {(a.id, a.version, a.published, a.outlets) for a in kb.list()}

    assert stored(many) == stored(one)
    assert violations(many.store) == []


def test_a_batch_writes_its_chunks_and_records_in_one_call_each(make_kb):
    kb = make_kb()
    chunks, records = _Counting(kb.store._chunks), _Counting(kb.store._articles)
    kb.store._chunks, kb.store._articles = chunks, records  # type: ignore[assignment]
    arts = [_article(f"Harbour works {n}", STORY.format(n=n)) for n in range(6)]
    assert [str(r.status) for r in kb.ingest_many(arts)] == ["loaded"] * 6  # type: ignore[union-attr]
    assert chunks.calls == Counter(upsert=1) and records.calls == Counter(upsert=1)
    assert violations(kb.store) == []
    assert {p.article.id for p in kb.retriever.search("harbour quay cost", 10)} == {a.id for a in arts}


def test_a_batch_whose_commit_fails_leaves_no_article_no_chunk_and_no_intent(make_kb):
    from knowledge.chunking import chunk_article, chunk_members
    from knowledge.embeddings import pool_chunks
    from knowledge.store import Load

    kb = make_kb()
    kb.store._articles = _Counting(kb.store._articles, refuse=lambda ids: True)  # type: ignore[assignment]
    loads = []
    for n in range(3):
        a = _article(f"Harbour works {n}", STORY.format(n=n))
        chunks, sentences = chunk_article(a.id, a.text)
        sv = kb.embedder.embed_documents([a.text[s.start : s.end] for s in sentences])
        loads.append(Load(a, chunks, sentences, pool_chunks(chunk_members(chunks, sentences), sv), sv))
    with pytest.raises(StoreError, match="nothing was half-loaded"):
        kb.store.put_many(loads)
    assert kb.store.list() == [] and kb.store.chunk_count() == 0 and kb.store.pending_count() == 0


def test_an_article_the_store_refuses_fails_alone_and_the_rest_of_its_batch_loads(make_kb):
    kb = make_kb()
    arts = [_article(f"Harbour works {n}", STORY.format(n=n)) for n in range(4)]
    bad = arts[2].id
    kb.store._articles = _Counting(kb.store._articles, refuse=lambda ids: bad in ids)  # type: ignore[assignment]
    out = kb.ingest_many(arts)
    assert [_outcome(r)[0] for r in out] == ["loaded", "loaded", "error", "loaded"]
    assert isinstance(out[2], StoreError)
    assert {a.id for a in kb.list()} == {a.id for n, a in enumerate(arts) if n != 2}
    assert violations(kb.store) == []


def test_load_many_yields_every_source_in_order_with_its_result_or_error(make_kb, tmp_path):
    kb = make_kb()
    files = []
    for n in range(5):
        f = tmp_path / f"{n}.txt"
        f.write_text(f"Harbour works {n}\n\n{STORY.format(n=n)}\n" if n != 3 else "")
        files.append(f)
    got = list(kb.load_many(files, outlet="Port News", batch=2))
    assert [src for src, _ in got] == files
    assert [_outcome(r)[0] for _, r in got] == ["loaded", "loaded", "loaded", "error", "loaded"]
    assert all(a.source == "Port News" for a in kb.list()) and len(kb.list()) == 4


@pytest.mark.parametrize("moment", ["before-commit", "after-commit"])
def test_a_batch_killed_with_sigkill_leaves_whole_articles_or_none(where, tmp_path, moment):  # noqa: F811
    title = _title()
    proc = _worker(where, tmp_path, "a", title, STORY.format(n=7), "--count", "3", "--lease", "1.5")
    _wait(tmp_path / "a.ready", proc)  # every chunk of the three is written, no record yet
    if moment == "after-commit":
        (tmp_path / "a.commit").touch()
        _wait(tmp_path / "a.committed", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(where)
    if "/" not in where:
        import time

        time.sleep(1.6)  # a server has no shared file: the loads count as abandoned once their lease runs out
    store.repair()
    mine = sorted(a.title for a in store.list() if a.title.startswith(title))
    assert mine == ([] if moment == "before-commit" else [f"{title} {n}" for n in range(3)])
    # Only this test's articles: other tests' articles on the shared test server may be mid-load.
    assert [v for v in violations(store) if v.article_id.startswith("harbour-works-" + title.split()[-1])] == []


def test_a_batch_beside_a_killed_one_on_the_same_store_is_left_alone(where, tmp_path):  # noqa: F811
    title = _title()
    proc = _worker(where, tmp_path, "a", title, STORY.format(n=8), "--count", "2")
    _wait(tmp_path / "a.ready", proc)
    other = open_store(where)
    assert other.repair() == 0  # a live batch is not debris
    (tmp_path / "a.commit").touch()
    (tmp_path / "a.settle").touch()
    assert _finish(proc) == {"status": ["loaded", "loaded"]}
    other.refresh()
    assert sorted(a.title for a in other.list() if a.title.startswith(title)) == [f"{title} 0", f"{title} 1"]
    assert [v for v in violations(other) if v.article_id.startswith("harbour-works-" + title.split()[-1])] == []
