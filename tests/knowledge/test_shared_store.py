"""One store shared by several processes: a start beside a load in progress, a load killed with
SIGKILL, two revisions of one article racing, a fresh store opened by four processes at once.

The second process is `tests/knowledge/store_worker.py`, stopped at gates around its commit so
each interleaving is made exactly, not hoped for. Each case runs on an embedded store and on
the session's `chroma run` server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from knowledge.integrity import Breach, violations
from knowledge.loading import build_article
from tests.conftest import BBC, REPO
from tests.knowledge.store_worker import open_store, put
from tests.newspages import bbc_available

STORY = ("The harbour works began on Monday. The council said the new quay will cost {n} million euros. "
         "Divers inspected the old piers for a week. Work is due to finish next spring, the mayor said.")


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def where(request, tmp_path) -> str:
    if request.param == "embedded":
        return str(tmp_path / "store")
    host, port = request.getfixturevalue("chroma_server")
    return f"{host}:{port}"


def _worker(where: str, gate: Path, name: str, title: str, text: str, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tests.knowledge.store_worker", "put", "--store", where, "--gate", str(gate),
           "--name", name, "--title", title, "--text", text, *extra]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(path: Path, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"worker exited early: {proc.communicate()}")
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.01)


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _mine(store, article_id: str) -> list:
    return [v for v in violations(store, intents_allowed=True) if v.article_id == article_id]


def _title() -> str:
    return f"Harbour works {uuid.uuid4().hex[:8]}"


def _article_id(store, title: str) -> str:
    return next(a.id for a in store.list() if a.title == title)


def test_a_start_beside_a_load_in_progress_leaves_that_load_alone(where, tmp_path):
    title = _title()
    proc = _worker(where, tmp_path, "a", title, STORY.format(n=4))
    _wait(tmp_path / "a.ready", proc)  # its chunks are written, its commit not yet
    other = open_store(where)
    assert other.repair() == 0  # the start of `ask`, `list` or `bot run` in another process
    assert other.repair(full=True) == 0
    (tmp_path / "a.commit").touch()
    (tmp_path / "a.settle").touch()
    assert _finish(proc) == {"status": "loaded"}
    other.refresh()
    article_id = _article_id(other, title)
    assert _mine(other, article_id) == []
    assert article_id not in {i for i, _ in other.short_articles()}


def test_a_load_killed_with_sigkill_is_recovered_once_abandoned(where, tmp_path):
    title = _title()
    proc = _worker(where, tmp_path, "a", title, STORY.format(n=5), "--lease", "1.5")
    _wait(tmp_path / "a.ready", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(where)
    if "/" not in where:
        # A server has no shared file: the load counts as abandoned when its lease runs out.
        assert store.repair() == 0
        time.sleep(1.6)
    assert store.repair() > 0
    assert not [v for v in violations(store) if v.kind is Breach.LEFTOVER_INTENT]
    assert title not in {a.title for a in store.list()}
    leftovers = [k for k in store.chunk_census() if k[0].startswith("harbour-works-" + title.split()[-1])]
    assert leftovers == []


@pytest.mark.parametrize("order", ["first-commit-settles-last", "both-settle-together"])
def test_two_processes_revising_one_article_end_with_one_version_and_its_chunks(where, tmp_path, order):
    title = _title()
    store = open_store(where)
    assert put(store, title, STORY.format(n=1), seed=1) == "loaded"
    article_id = _article_id(store, title)
    a = _worker(where, tmp_path, "a", title, STORY.format(n=2) + " Revised by A.")
    b = _worker(where, tmp_path, "b", title, STORY.format(n=3) + " Revised by B, with a longer note. " * 3)
    _wait(tmp_path / "a.ready", a)
    _wait(tmp_path / "b.ready", b)
    (tmp_path / "a.commit").touch()
    _wait(tmp_path / "a.committed", a)
    (tmp_path / "b.commit").touch()
    _wait(tmp_path / "b.committed", b)
    if order == "first-commit-settles-last":
        (tmp_path / "b.settle").touch()  # B, the later commit, cleans up first ...
        assert _finish(b) == {"status": "updated"}
        (tmp_path / "a.settle").touch()  # ... then A, whose cleanup once deleted B's chunks
    else:
        (tmp_path / "a.settle").touch()
        (tmp_path / "b.settle").touch()
        assert _finish(b) == {"status": "updated"}
    assert _finish(a) == {"status": "updated"}
    store.refresh()
    assert "Revised by B" in store.get(article_id).text  # the later commit won
    assert _mine(store, article_id) == []  # exactly its chunks, nothing of A's or the original
    assert article_id not in {i for i, _ in store.short_articles()}


def test_a_revision_overtaken_after_its_cleanup_leaves_no_orphan_chunks(where, tmp_path):
    # A commits and cleans up while it is still the committed version; B then commits over it
    # while A's intent record still exists. Found by benchmarks/torture.py: B's clean-up took
    # A's version for a load in progress and left its chunks behind for good.
    title = _title()
    store = open_store(where)
    assert put(store, title, STORY.format(n=1), seed=1) == "loaded"
    article_id = _article_id(store, title)
    a = _worker(where, tmp_path, "a", title, STORY.format(n=2) + " Revised by A.", "--hold-intent")
    b = _worker(where, tmp_path, "b", title, STORY.format(n=3) + " Revised by B.")
    _wait(tmp_path / "a.ready", a)
    for step in ("commit", "settle"):
        (tmp_path / f"a.{step}").touch()
    _wait(tmp_path / "a.settled", a)
    _wait(tmp_path / "b.ready", b)
    for step in ("commit", "settle"):
        (tmp_path / f"b.{step}").touch()
    assert _finish(b) == {"status": "updated"}
    (tmp_path / "a.finish").touch()
    assert _finish(a) == {"status": "updated"}
    store.refresh()
    assert "Revised by B" in store.get(article_id).text
    assert _mine(store, article_id) == []


def test_a_fresh_store_opened_by_four_processes_at_once_just_works(tmp_path):
    # Four `list` commands on one new folder: before, Chroma's "table collections already
    # exists" (an InternalError) was reported as a corrupt store in 2 of 3 trials.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_"))}
    for trial in range(2):
        env["CHROMA_PATH"] = str(tmp_path / f"store{trial}")
        cmd = [sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none.env"), "list", "--json"]
        procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0 and "corrupt" not in err, err
            assert len(json.loads(out)) == 1  # the shipped article, once


def _fresh(path: str, model: str):
    from chromadb.api.client import SharedSystemClient

    from knowledge.store import ArticleStore

    SharedSystemClient.clear_system_cache()  # see what the other process wrote, not a cache
    return ArticleStore.open_local(path, model)


@pytest.mark.skipif(not bbc_available(), reason="BBC corpus folder is missing")
def test_ingest_beside_repeated_starts_commits_every_article_with_its_chunks(tmp_path, embedder):
    # Before: every start's repair deleted the chunks of the load in progress (3 of 80 articles
    # were left committed with no chunks while 50 `ask` commands ran).
    folder = tmp_path / "corpus"
    folder.mkdir()
    for n in range(1, 11):
        shutil.copy(BBC / "business" / f"{n:03d}.txt", folder / f"{n:03d}.txt")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_"))}
    env["CHROMA_PATH"] = path = str(tmp_path / "store")
    cmd = [sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none.env"), "ingest", str(folder), "--source", "BBC News"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    starts = 0
    while proc.poll() is None:
        if Path(path, "chroma.sqlite3").exists():
            _fresh(path, embedder.name).repair()
            starts += 1
        time.sleep(0.05)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    store = _fresh(path, embedder.name)
    assert starts > 0 and violations(store) == []
    assert len(store.committed()) == 11  # ten stories and the shipped article


def test_reindex_missing_heals_a_committed_version_short_of_chunks(make_kb):
    kb = make_kb()
    text = " ".join(f"Sentence {i} of the harbour story says the quay cost {i} million euros." for i in range(40))
    whole = kb.ingest(build_article(title="Harbour quay", text=text, source="Port News")).article
    short = kb.ingest(build_article(title="Ferry strike", text="The ferry crews went on strike on Tuesday over pay.", source="Port News")).article
    ids = kb.store._chunks.get(where={"article_id": whole.id}, include=[])["ids"]
    assert len(ids) > 2
    kb.store._chunks.delete(ids=[ids[1]])  # one chunk of a long article gone
    kb.store._chunks.delete(where={"article_id": short.id})  # every chunk of another gone
    assert {v.article_id for v in violations(kb.store)} == {whole.id, short.id}
    assert kb.reindex_missing() == 2
    assert violations(kb.store) == [] and kb.reindex_missing() == 0


def _ingester(where: str, gate: Path, name: str, title: str, text: str, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tests.knowledge.store_worker", "ingest", "--store", where, "--gate", str(gate),
           "--name", name, "--title", title, "--text", text, *extra]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_loading_copies_of_one_story_at_once_store_it_once(where, tmp_path):
    # Before: the decision was locked within a process only; two processes that had both looked
    # and found no copy stored both copies.
    gate = tmp_path / "gate"
    gate.mkdir()
    text = " ".join(STORY.format(n=n) for n in range(4, 9))
    first = _ingester(where, gate, "first", "Harbour works start", text, "--commit-gate")
    second = _ingester(where, gate, "second", "Quay works begin", text)  # ranks after "Harbour…": a plain copy
    _wait(gate / "first.planned", first)
    _wait(gate / "second.planned", second)  # both have looked: no copy stored yet, both embedded
    (gate / "first.decide").touch()
    _wait(gate / "first.ready", first)  # the first holds the decision lock, just before its commit
    (gate / "second.decide").touch()
    # The second now waits for the lock; without it, it would decide and store its copy meanwhile.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and second.poll() is None:
        time.sleep(0.05)
    for step in ("commit", "settle"):
        (gate / f"first.{step}").touch()
    assert _finish(first) == {"status": "loaded"}
    assert _finish(second) == {"status": "duplicate"}
    store = open_store(where)
    mine = [a for a in store.articles(store.committed().values()).values() if a.text == text]
    assert [a.title for a in mine] == ["Harbour works start"]
    assert _mine(store, mine[0].id) == []


def test_a_load_killed_while_holding_the_decision_lock_leaves_it_free(where, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    proc = _ingester(where, gate, "first", "Harbour works start", STORY.format(n=11), "--commit-gate")
    _wait(gate / "first.planned", proc)
    (gate / "first.decide").touch()
    _wait(gate / "first.ready", proc)  # holding the decision lock, its chunks written
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(where)
    with store.decision_lock():  # an flock dies with its holder; on a server its owner is seen gone
        pass
    assert store.repair(all_abandoned=True) > 0
    assert not [v for v in violations(store, intents_allowed=True) if v.article_id.startswith("harbour-works-start-")]


def test_a_lock_owner_is_gone_only_once_its_process_on_this_machine_has_exited():
    from knowledge.store.decisions import _gone

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    host = socket.gethostname()
    assert _gone(f"{host}-{ended.stdout.strip()}-0a1b2c3d")
    assert not _gone(f"{host}-{os.getpid()}-0a1b2c3d")
    assert not _gone(f"elsewhere-{ended.stdout.strip()}-0a1b2c3d")  # another machine's: only its lease tells
