"""The on-disk lexical index and the store's change log: writes change the index in place, and
other processes (embedded store and `chroma run` server) see loads and revisions."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import uuid

import pytest

from knowledge import CoreConfig, KnowledgeBase
from knowledge.lexical import LexicalIndex
from knowledge.loading import build_article
from knowledge.store import ChangeKind, ChangeLog

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _harbour(cost: str, tag: str = "") -> object:
    return build_article(title=f"Harbour reopens {tag}".strip(), source="Port News", published="2024-03-01",
                         text=f"The harbour reopened on Friday after repairs costing {cost} euros. Ferries resume on Monday.")


def test_a_load_a_revision_and_a_removal_change_the_index_without_a_rebuild(make_kb):
    kb = make_kb()
    kb.lexical.ensure_current()  # an empty store: the file is created, nothing to build
    assert kb.lexical.stats.rebuilds == 0 and kb.lexical.size() == 0

    art = kb.ingest(_harbour("4 million")).article
    kb.lexical.ensure_current()
    assert kb.lexical.indexed_versions() == {art.id: art.version}
    assert kb.lexical.stats.articles_indexed == 1
    assert [sc.chunk.article_id for sc, _ in kb.lexical.search("harbour repairs", 5)] == [art.id]
    assert kb.lexical.document_frequencies(["harbour", "nowher"]) == {"harbour": 1}

    revised = kb.ingest(_harbour("7 million")).article
    assert revised.id == art.id and revised.version != art.version
    hits = kb.lexical.search("harbour repairs", 5)
    assert [sc.version for sc, _ in hits] == [revised.version] and "7 million" in hits[0][0].chunk.text
    assert kb.lexical.stats.articles_indexed == 2

    kb.remove(art.id)
    assert kb.lexical.search("harbour repairs", 5) == []
    assert kb.lexical.indexed_versions() == {} and kb.lexical.size() == 0
    assert kb.lexical.stats.rebuilds == 0 and kb.lexical.stats.articles_removed == 1


def test_reopening_the_index_reads_nothing_when_it_is_current(make_kb, tmp_path):
    kb = make_kb()
    art = kb.ingest(_harbour("4 million")).article
    kb.lexical.ensure_current()
    again = LexicalIndex(kb.store, kb.lexical.path)
    again.ensure_current()
    assert again.stats.articles_indexed == 0 and again.stats.rebuilds == 0
    assert again.indexed_versions() == {art.id: art.version}


def test_an_index_file_that_missed_writes_catches_up_on_open(make_kb, tmp_path):
    kb = make_kb()
    kb.lexical.ensure_current()
    stale_copy = tmp_path / "copy"
    kept = kb.ingest(_harbour("4 million", "one")).article
    other = LexicalIndex(kb.store, stale_copy / "lexical")  # a process that was away
    other.ensure_current()
    gone = kb.ingest(_harbour("5 million", "two")).article
    kb.remove(kept.id)
    other.close()
    back = LexicalIndex(kb.store, stale_copy / "lexical")
    back.ensure_current()
    assert back.indexed_versions() == {gone.id: gone.version}


def test_an_index_file_fed_by_another_store_is_brought_in_line_with_this_one(make_kb, tmp_path):
    first = make_kb(chroma_path=str(tmp_path / "first"))
    first.ingest(_harbour("4 million", "first"))
    shared = tmp_path / "index" / "lexical"
    LexicalIndex(first.store, shared).ensure_current()
    second = make_kb(chroma_path=str(tmp_path / "second"))
    art = second.ingest(_harbour("9 million", "second")).article
    index = LexicalIndex(second.store, shared)
    index.ensure_current()
    assert index.indexed_versions() == {art.id: art.version}
    assert [sc.chunk.article_id for sc, _ in index.search("harbour repairs", 5)] == [art.id]


def test_the_change_log_reports_each_write_once_a_poll_has_passed(make_kb):
    kb = make_kb()
    cursor = ChangeLog.start()
    art = kb.ingest(_harbour("4 million")).article
    kb.remove(art.id)
    changes, cursor2 = kb.store.changes.since(cursor)
    assert [(c.article_id, c.kind) for c in changes] == [(art.id, ChangeKind.REMOVE)]  # one record per article
    assert cursor2 >= cursor


# -- another process ---------------------------------------------------------------------------

_OTHER = textwrap.dedent("""
    import json, sys
    from knowledge import CoreConfig, KnowledgeBase
    from knowledge.loading import build_article
    cfg = CoreConfig(**json.loads(sys.argv[1]))
    kb = KnowledgeBase(cfg)
    for title, text in json.loads(sys.argv[2]):
        print(kb.ingest(build_article(title=title, source="Port News", published="2024-03-01", text=text)).status)
""")


def _in_another_process(config: dict, articles: list[tuple[str, str]]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _OTHER, json.dumps(config), json.dumps(articles)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def shared_config(request, tmp_path):
    """Settings two processes share: one embedded folder, or one `chroma run` server (each
    process then keeps its own lexical index file)."""
    if request.param == "embedded":
        return {"chroma_path": str(tmp_path / "chroma")}
    host, port = request.getfixturevalue("chroma_server")
    return {"chroma_host": host, "chroma_port": port, "lexical_path": str(tmp_path / "lexical-this")}


async def test_another_process_s_load_and_same_size_revision_are_answered_after_one_poll(shared_config, embedder, tmp_path):
    tag = uuid.uuid4().hex[:8]  # the session's Chroma server is shared by tests
    title = f"Harbour reopens {tag}"
    kb = KnowledgeBase(CoreConfig(**shared_config), embedder=embedder)
    assert kb.ingest(build_article(title=title, source="Port News", published="2024-03-01",
                                   text="The harbour reopened on Friday after repairs costing 4 million euros. Ferries resume on Monday.")).status == "loaded"
    first = await kb.ask(f"How much did the repairs of the harbour {tag} cost?")
    assert first.answerable and "4 million euros" in first.citations[0].quote
    chunks_before, rebuilds = kb.store.chunk_count(), kb.lexical.stats.rebuilds

    other = dict(shared_config)
    if "lexical_path" in other:
        other["lexical_path"] = str(tmp_path / "lexical-other")
    statuses = _in_another_process(other, [
        (title, "The harbour reopened on Friday after repairs costing 7 million euros. Ferries resume on Monday."),
        (f"Lighthouse relit {tag}", "The lighthouse on the north mole was relit on Tuesday after 12 years dark."),
    ])
    assert statuses == ["updated", "loaded"]
    assert kb.store.chunk_count() == chunks_before + 1  # the revision kept its chunk count

    # The stated delay is one poll of the change log; make the next question the first after it.
    kb.store.poll_seconds = kb.lexical.poll_seconds = 0.0
    revised = await kb.ask(f"How much did the repairs of the harbour {tag} cost?")
    assert revised.answerable and "7 million euros" in revised.citations[0].quote
    assert "4 million" not in revised.text
    new = await kb.ask(f"When was the lighthouse {tag} relit?")
    assert new.answerable and "relit on Tuesday" in new.citations[0].quote
    # Each side on its own finds the other process's article. Dense search only through a server:
    # embedded Chroma keeps its vector index in the process that opened it, so a long-lived
    # process sees vectors written by another one after it restarts (docs/deployment.md).
    for mode in ("bm25", "dense") if "chroma_host" in shared_config else ("bm25",):
        top = kb.retriever.search(f"lighthouse {tag} north mole relit", 3, mode=mode)
        assert top and "lighthouse" in top[0].chunk.text, mode
    assert kb.lexical.stats.rebuilds == rebuilds  # taken in, not rebuilt
    c = revised.citations[0]
    assert kb.get(c.article_id).text[c.start : c.end] == c.quote


@pytest.mark.server
def test_the_index_answers_from_what_it_holds_while_the_chroma_server_is_down(embedder, tmp_path):
    from tests.chroma_server import run_chroma

    with run_chroma(tmp_path / "db") as (host, port):
        kb = KnowledgeBase(CoreConfig(chroma_host=host, chroma_port=port, lexical_path=str(tmp_path / "lex")), embedder=embedder)
        art = kb.ingest(_harbour("4 million")).article
        kb.lexical.ensure_current()
    kb.lexical.poll_seconds = 0.0  # the next search polls the change log of a server that is gone
    hits = kb.lexical.search("harbour repairs", 5)
    assert [sc.chunk.article_id for sc, _ in hits] == [art.id]


def _council(i: int, extra: str = "") -> object:
    # Words of its own in each, or the duplicate check would take them for one story.
    own = " ".join(f"item{i}n{j}" for j in range(12))
    return build_article(title=f"Council meeting {i}", source="Town News", published="2024-03-01",
                         text=f"The council voted on the budget for roads and schools. Minutes: {own}. {extra}".strip())


def test_a_question_whose_only_distinguishing_term_is_rare_finds_its_chunk(make_kb):
    kb = make_kb()
    for i in range(12):  # "council", "budget", "vote", "road", "school" are in every chunk
        kb.ingest(_council(i))
    rare = kb.ingest(_council(99, "A zeppelin will carry the mayor.")).article
    hits = kb.lexical.search("council budget zeppelin", 5)
    assert hits[0][0].chunk.article_id == rare.id
    assert hits[0][1] > hits[1][1]  # the rare term outweighs a shorter chunk's common ones
    assert kb.lexical.document_frequencies(["council", "zeppelin"]) == {"council": 13, "zeppelin": 1}


def test_a_filter_applies_to_the_hits(make_kb):
    from knowledge import SearchFilter

    kb = make_kb()
    kb.ingest(_council(1, "A zeppelin will carry the mayor."))
    other = kb.ingest(build_article(title="Zeppelin museum", source="Air News", published="2024-03-02",
                                    text="The zeppelin museum opened its doors.")).article
    hits = kb.lexical.search("zeppelin", 5, SearchFilter(outlet="Air News"))
    assert [sc.chunk.article_id for sc, _ in hits] == [other.id]
    assert [sc.chunk.article_id for sc, _ in kb.lexical.search("zeppelin", 5, SearchFilter(since="2024-03-02"))] == [other.id]


def test_a_filter_that_hides_every_top_hit_still_finds_the_one_it_admits(make_kb):
    from knowledge import SearchFilter

    kb = make_kb()
    for i in range(40):  # more matches than the unfiltered query fetches for k = 1 (4·(1+8))
        kb.ingest(_council(i))
    wanted = kb.ingest(build_article(title="Harbour dues", source="Air News", published="2024-03-02",
                                     text="The harbour board set its dues for the year, and its minutes mention that the "
                                          "council was told of the change in a letter sent on Monday morning.")).article
    hits = kb.lexical.search("council", 1, SearchFilter(outlet="Air News"))
    assert [sc.chunk.article_id for sc, _ in hits] == [wanted.id]
    assert "harbour board" in hits[0][0].chunk.text and hits[0][0].version == wanted.version


def test_a_writer_held_by_another_process_is_waited_for_then_the_change_is_taken_in(make_kb):
    kb = make_kb()
    kb.lexical.ensure_current()
    art = kb.ingest(_harbour("4 million")).article
    held = kb.lexical._index.writer(heap_size=15_000_000, num_threads=1)  # the lock file another process would hold
    release = threading.Timer(0.5, held.wait_merging_threads)  # it finishes its batch half a second later
    release.start()
    assert [sc.chunk.article_id for sc, _ in kb.lexical.search("harbour repairs", 5)] == [art.id]
    release.join()
    assert kb.lexical.stats.writer_waits == 1 and kb.lexical.stats.rebuilds == 0


def test_a_writer_that_never_lets_go_leaves_the_index_answering_then_it_catches_up(make_kb, monkeypatch):
    monkeypatch.setattr("knowledge.lexical.WRITER_WAIT_S", 0.2)
    kb = make_kb()
    old = kb.ingest(_harbour("4 million", "old")).article
    kb.lexical.ensure_current()
    held = kb.lexical._index.writer(heap_size=15_000_000, num_threads=1)
    new = kb.ingest(_harbour("5 million", "new")).article
    assert [sc.chunk.article_id for sc, _ in kb.lexical.search("harbour repairs old", 5)] == [old.id]  # as it was
    held.wait_merging_threads()
    kb.lexical.poll_seconds = 0.0  # the next question is the next poll
    assert {sc.chunk.article_id for sc, _ in kb.lexical.search("harbour repairs", 5)} == {old.id, new.id}


def test_a_second_index_on_the_same_folder_sees_the_first_one_s_commits(make_kb):
    kb = make_kb()
    kb.lexical.ensure_current()
    reader = LexicalIndex(kb.store, kb.lexical.path)  # a second process on the same store folder
    reader.ensure_current()
    art = kb.ingest(_harbour("4 million")).article
    kb.lexical.ensure_current()  # the writing process takes its own change in
    reader.poll_seconds = 0.0
    assert [sc.chunk.article_id for sc, _ in reader.search("harbour repairs", 5)] == [art.id]
    assert reader.stats.articles_indexed == 0  # read from the shared index, not written again


def test_the_next_poll_is_due_a_poll_interval_after_the_last_one_started_not_after_it_ended(make_kb, monkeypatch):
    import knowledge.lexical as lexical

    kb = make_kb()
    kb.lexical.ensure_current()
    clock = [100.0]
    monkeypatch.setattr(lexical.time, "monotonic", lambda: clock[0])
    taken_in = kb.lexical._apply

    def slow_take_in(*args, **kwargs):  # a take-in that lasts 0.9 of the poll interval
        clock[0] += 0.9
        return taken_in(*args, **kwargs)

    monkeypatch.setattr(kb.lexical, "_apply", slow_take_in)
    kb.lexical.poll_seconds = 1.0
    kb.lexical._polled = 0.0  # due
    kb.lexical.ensure_current()  # starts at 100.0, ends at 100.9
    polls = kb.lexical.stats.polls
    clock[0] = 101.05  # 1.05 s after it started, 0.15 s after it ended
    kb.lexical.ensure_current()
    assert kb.lexical.stats.polls == polls + 1
