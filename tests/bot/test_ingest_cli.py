"""Bulk loading and feeds from the command line, as a person runs them (`python -m bot ...` in a
fresh process), including a load killed with SIGKILL half-way and finished by a second run."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import numpy as np
import pytest

from knowledge.dedup import shingles
from knowledge.lexical import LexicalIndex
from knowledge.store import ArticleStore
from tests.conftest import BBC, REPO
from tests.loopback_site import rss, serve_site
from tests.newspages import bbc_available, build_page, load_story

pytestmark = pytest.mark.skipif(not bbc_available(), reason="BBC corpus folder is missing")
SUMMARY = re.compile(r"loaded (\d+), updated (\d+), already loaded (\d+), duplicate (\d+), failed (\d+)")


@pytest.fixture
def env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_", "MAX_", "FETCH_"))}
    return env | {"CHROMA_PATH": str(tmp_path / "store")}


@pytest.fixture
def run(tmp_path, env):
    def run(*args, **extra_env):
        return subprocess.run(_command(tmp_path, *args), capture_output=True, text=True, cwd=REPO, env=env | extra_env, timeout=240)

    return run


def _command(tmp_path, *args) -> list[str]:
    return [sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none.env"), *args]


def _summary(stdout: str) -> dict[str, int]:
    m = SUMMARY.search(stdout)
    assert m, stdout
    return dict(zip(("loaded", "updated", "unchanged", "duplicate", "failed"), map(int, m.groups()), strict=True))


def test_a_corpus_folder_loads_in_one_command(run, tmp_path):
    corpus = tmp_path / "bbc"
    for rel in ("business/001.txt", "sport/199.txt", "tech/002.txt"):  # sport/199 is Latin-1
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(BBC / rel, corpus / rel)
    shutil.copy(BBC / "business/001.txt", corpus / "tech" / "900.txt")  # the corpus repeats stories
    copy = (BBC / "tech/002.txt").read_text(encoding="utf-8").replace("\n", "\nReworded headline\n", 1).split("\n", 1)[1]
    (corpus / "tech" / "901.txt").write_text(copy, encoding="utf-8")  # a near-copy under another headline
    for junk in ("README.TXT", "LICENSE", "SOURCE.md", "dev_qa.jsonl"):
        (corpus / junk).write_text("Not an article.\n\nJust notes about the corpus.\n")

    out = run("ingest", str(corpus), "--source", "BBC News")
    assert out.returncode == 0, out.stderr
    # The repeated story (another file name) and the near-copy are both stored once, as duplicates.
    assert _summary(out.stdout) == {"loaded": 3, "updated": 0, "unchanged": 0, "duplicate": 2, "failed": 0}
    listed = json.loads(run("list", "--json").stdout)
    assert {a["title"] for a in listed} >= {load_story("sport", 199).headline, load_story("tech", 2).headline}
    assert "Not an article." not in {a["title"] for a in listed} and len(listed) == 4  # 3 + the shipped seed
    chelsea = next(a for a in listed if a["title"] == load_story("sport", 199).headline)
    shown = json.loads(run("show", "--json", chelsea["id"]).stdout)
    assert "£15.8m" in shown["text"] and shown["source"] == "BBC News"


def test_failures_are_listed_and_exit_non_zero(run, tmp_path):
    (tmp_path / "ok.md").write_text("---\ntitle: Pier reopens\nsource: Coast News\npublished: 2024-02-03\n---\nThe pier reopened on Friday.\n")
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01" * 200)
    urls = tmp_path / "links.urls"
    urls.write_text("# one address a line\nhttp://127.0.0.1/private\n")
    out = run("ingest", str(tmp_path / "ok.md"), str(tmp_path / "blob.txt"), str(urls))
    assert out.returncode == 1 and _summary(out.stdout)["failed"] == 2 and _summary(out.stdout)["loaded"] == 1
    assert "blob.txt: " in out.stderr and "not a text file" in out.stderr
    assert "http://127.0.0.1/private: That address points inside a private network" in out.stderr
    assert "Traceback" not in out.stderr


def test_limits_name_the_setting(run, tmp_path):
    files = []
    for n, words in enumerate((20, 20, 400)):
        f = tmp_path / f"a{n}.md"
        f.write_text(f"---\ntitle: Story {n}\nsource: Desk\npublished: 2024-01-0{n + 1}\n---\n" + f"Item {n} word. " * words)
        files.append(str(f))
    out = run("ingest", "--scope", "4242", *files, MAX_ARTICLES_PER_SERVER="1", MAX_ARTICLE_CHARS="3000")
    assert out.returncode == 1 and _summary(out.stdout)["loaded"] == 1
    assert "a1.md: This server already has 1 article, the most allowed (MAX_ARTICLES_PER_SERVER)" in out.stderr
    assert re.search(r"a2\.md: “Story 2” has [\d,]+ characters; the limit is 3,000 \(MAX_ARTICLE_CHARS\)", out.stderr)


def test_feeds_and_addresses_from_the_command_line(run, tmp_path):
    with serve_site() as site:
        story = load_story("politics", 9)
        link = site.put("/news/9", build_page(story).html)
        other = load_story("politics", 10)
        urls = tmp_path / "today.urls"
        urls.write_text(site.put("/news/10", build_page(other).html) + "\n")
        loaded = run("ingest", str(urls), FETCH_ALLOW_HOSTS="127.0.0.1")
        assert loaded.returncode == 0 and _summary(loaded.stdout)["loaded"] == 1, loaded.stderr
        feed_url = site.put("/rss", rss("Politics Wire", [(story.headline, link, "2005-01-09")]), "application/rss+xml")
        allow = {"FETCH_ALLOW_HOSTS": "127.0.0.1"}
        refused = run("feeds", "add", feed_url)  # 127.0.0.1 is fetched only when FETCH_ALLOW_HOSTS says so
        assert refused.returncode == 1 and refused.stderr.startswith("error: ") and json.loads(run("feeds", "list", "--json").stdout) == []
        not_a_feed = run("feeds", "add", link, **allow)
        assert not_a_feed.returncode == 1 and "not an RSS or Atom feed" in not_a_feed.stderr
        added = run("feeds", "add", feed_url, **allow)
        assert added.returncode == 0, added.stderr
        assert added.stdout.startswith(f"Following “Politics Wire” (1 item) at {feed_url} (id ")
        [feed] = json.loads(run("feeds", "list", "--json").stdout)
        assert feed["url"] == feed_url and feed["last_polled"] == 0
        polled = run("feeds", "poll", **allow)
        assert polled.returncode == 0, polled.stderr
        assert "Politics Wire" in polled.stdout and "loaded 1" in polled.stdout
        assert run("feeds", "poll", **allow).stdout.strip() == "No feeds are due."
        assert {story.headline, other.headline} <= {a["title"] for a in json.loads(run("list", "--json").stdout)}
        removed = run("feeds", "remove", feed["id"])
        assert removed.returncode == 0 and json.loads(run("feeds", "list", "--json").stdout) == []
        assert run("feeds", "remove", feed["id"]).returncode == 1


# --- a load killed with SIGKILL ------------------------------------------------------------

N_ARTICLES = 150
KILL_AFTER = 30


def _distinct_short_stories(n: int) -> list:
    """The `n` shortest BBC stories whose headline and wording are each unique (the corpus
    carries some stories twice), so every one of them is a separate article."""
    files = sorted(BBC.glob("*/*.txt"), key=lambda p: (p.stat().st_size, str(p)))
    titles: dict[str, int] = {}
    for f in files:
        first = f.read_bytes().split(b"\n", 1)[0].strip()
        titles[first] = titles.get(first, 0) + 1
    chosen, kept = [], []
    for f in files:
        if titles[f.read_bytes().split(b"\n", 1)[0].strip()] > 1:
            continue
        sh = shingles(f.read_bytes().decode("utf-8", "replace"))
        if all(len(sh & other) < 0.5 * len(sh) for other in kept):
            chosen.append(f)
            kept.append(sh)
        if len(chosen) == n:
            return chosen
    raise AssertionError("not enough distinct stories")


def _run_until_killed(cmd, env, after: int, delay: float) -> int:
    """Start `cmd`, SIGKILL it `delay` s after its progress bar shows `after` articles (a
    random delay lands the kill anywhere in the next article's load, writes included);
    returns the count shown."""
    # stderr on a terminal: the progress bar is shown on a terminal only
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 0-column terminal shows no bar
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = [0]
    reached = threading.Event()

    def read() -> bytes:
        try:
            return os.read(leader, 4096)
        except OSError:  # the process is gone
            return b""

    def watch():
        buf = b""
        while chunk := read():
            buf = (buf + chunk)[-4096:]
            counts = [int(m) for m in re.findall(rb"(\d+)/\d+ \[", buf)]
            if counts and max(counts) >= after:
                seen[0] = max(counts)
                reached.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert reached.wait(90), "the load never got going"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
        os.close(leader)
    assert proc.returncode == -signal.SIGKILL
    return seen[0]


def _open(path: str, model_name: str) -> ArticleStore:
    # A fresh embedded client each time: chromadb caches one per folder in a process, and the
    # subprocesses write to that folder in between.
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    return ArticleStore.open_local(path, model_name)


def _check_consistent(store: ArticleStore) -> int:
    """Assert what a reader may see after a crash; return how many chunks repair() removed."""
    committed = store.committed()
    records = store._articles.get(include=["metadatas"])
    n_chunks = {i: int(m["n_chunks"]) for i, m in zip(records["ids"], records["metadatas"], strict=True)}
    raw = store._chunks.get(include=["documents", "metadatas", "embeddings"])
    by_article: dict[str, list] = {}
    orphans = []
    for doc, meta, vec in zip(raw["documents"], raw["metadatas"], raw["embeddings"], strict=True):
        art = committed.get(meta["article_id"])
        if art is None or art.version != meta["version"]:
            orphans.append((meta["article_id"], doc, vec))
        else:
            by_article.setdefault(art.id, []).append(meta)
    for art in store.articles(committed.values()).values():  # every committed article has chunks covering its text
        metas = sorted(by_article.get(art.id, []), key=lambda m: m["index"])
        assert [m["index"] for m in metas] == list(range(n_chunks[art.id])) and metas, art.id
        ends = [0] + [x for m in metas for x in (m["start"], m["end"])] + [len(art.text)]
        gaps = [art.text[a:b] for a, b in zip(ends[::2], ends[1::2], strict=True)]
        assert all(not g.strip() for g in gaps), f"{art.id}: text outside every chunk"
    lexical = LexicalIndex(store)
    for article_id, doc, vec in orphans:  # a chunk of an uncommitted load is invisible to search
        assert all(sc.chunk.article_id != article_id for sc, _ in store.dense_search(np.asarray(vec), 10))
        assert all(sc.chunk.article_id != article_id for sc, _ in lexical.search(doc, 10))
    removed = store.repair()
    assert removed == len(orphans)
    assert store._pending.count() == 0 and store.chunk_count() == sum(n_chunks.values())
    return removed


def test_a_load_killed_half_way_is_consistent_and_a_second_run_finishes_it(tmp_path, env, embedder):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for f in _distinct_short_stories(N_ARTICLES):
        shutil.copy(f, folder / f"{f.parent.name}-{f.name}")
    cmd = _command(tmp_path, "ingest", str(folder), "--source", "BBC News")
    delay = random.uniform(0, 0.6)
    shown = _run_until_killed(cmd, env, KILL_AFTER, delay)

    store = _open(env["CHROMA_PATH"], embedder.name)
    before = len(store.committed()) - 1  # less the shipped seed article
    assert shown <= before < N_ARTICLES
    removed = _check_consistent(store)
    print(f"killed {delay:.2f}s after {shown} articles: {before} committed, {removed} chunks of an unfinished load")
    del store

    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    assert _summary(again.stdout) == {"loaded": N_ARTICLES - before, "updated": 0, "unchanged": before, "duplicate": 0, "failed": 0}
    final = _open(env["CHROMA_PATH"], embedder.name)
    assert len(final.committed()) == N_ARTICLES + 1
    assert _check_consistent(final) == 0
