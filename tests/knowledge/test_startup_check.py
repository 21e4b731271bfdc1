"""Start-up checks that stay cheap as the store grows: after a check, the next start counts the
chunks of the articles named in the change log since, not every chunk id, and still finds what a
killed load left; `python -m bot check` counts everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from knowledge.integrity import violations
from knowledge.loading import build_article
from knowledge.store import changes
from tests.conftest import REPO
from tests.knowledge.store_worker import open_store
from tests.knowledge.test_shared_store import STORY, _article_id, _title, _wait, _worker, where  # noqa: F401 - a fixture


class _Reads:
    """A chunk collection that records how each read chose its chunks."""

    def __init__(self, collection: Any):
        self._c, self.reads = collection, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)

    def get(self, **kw: Any) -> Any:
        self.reads.append(kw.get("where") or kw.get("ids") or "every chunk")
        return self._c.get(**kw)


def _story(n: int):
    return build_article(title=f"Harbour story {n}", text=STORY.format(n=n) + f" Story number {n}.", source="Port News")


def test_a_start_after_a_check_reads_the_chunks_of_the_changed_articles_only(make_kb, monkeypatch):
    # The window re-read covers the writers' clock skew (a minute); shortened here to 0.2 s.
    monkeypatch.setattr(changes, "CHANGE_GRACE_US", 200_000)
    kb = make_kb()
    for n in range(3):
        kb.ingest(_story(n))
    time.sleep(0.3)
    assert kb.check_store().full is False  # the first check of this store counts everything
    new = kb.ingest(_story(7)).article
    reads = kb.store._chunks = _Reads(kb.store._chunks)
    done = kb.check_store()
    assert (done.chunks_removed, done.reindexed) == (0, 0)
    assert "every chunk" not in reads.reads and reads.reads
    assert all(r == {"article_id": new.id} for r in reads.reads if isinstance(r, dict)), reads.reads
    reads.reads.clear()
    kb.check_store(full=True)
    assert "every chunk" in reads.reads


def test_a_killed_load_whose_intent_record_is_gone_is_still_found_by_the_next_start(tmp_path):
    path = str(tmp_path / "store")
    store = open_store(path)
    store.repair()  # a checked store: the next start reads only what changed since
    title = _title()
    proc = _worker(path, tmp_path, "a", title, STORY.format(n=6))
    _wait(tmp_path / "a.ready", proc)  # chunks written, not committed
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store._pending.delete(where={"owner": {"$ne": store.owner}})  # as if another recovery took the intent
    assert store.repair() > 0  # its article is in the change log from before its first chunk
    assert violations(store) == []


def test_chunks_removed_behind_the_stores_back_are_found_by_the_check_command(make_kb, tmp_path, monkeypatch):
    monkeypatch.setattr(changes, "CHANGE_GRACE_US", 200_000)
    kb = make_kb()
    text = " ".join(f"Sentence {i} of the harbour story says the quay cost {i} million euros." for i in range(40))
    art = kb.ingest(build_article(title="Harbour quay", text=text, source="Port News")).article
    time.sleep(0.3)
    kb.check_store()
    ids = kb.store._chunks.get(where={"article_id": art.id}, include=[])["ids"]
    kb.store._chunks.delete(ids=ids[:2])  # not through newsbot: no change record
    assert kb.check_store().reindexed == 0  # a start does not see it (see knowledge/store/checks.py)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_"))}
    env["CHROMA_PATH"] = kb.config.chroma_path
    out = subprocess.run([sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none.env"), "check"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "re-embedded 1 articles short of chunks" in out.stdout
    kb.store.refresh()
    assert violations(kb.store) == []
