"""Query latency, start-up and memory as the store grows: the BBC corpus at 1×, 10×, 25×, 50×.

The larger stores are made without re-embedding: the chunk records (ids, texts, metadata,
vectors) and article records of a loaded BBC store are written again under new ids (`~k` after
each article id, consistent in the chunks' `article_id`), in Chroma batches of the largest size
the client accepts, so 10× holds ten exact copies of every article. A size starts from the largest
smaller store already built (50× is a copy of 25× plus 25 copies), and the copies' lexical index
is written by `knowledge.lexical` itself, each chunk stemmed once. Each size is then measured in
fresh processes:

* readiness as `bot run` starts: from the process's spawn through the imports, opening the store,
  the folder sync (`repair`, `reindex_missing`, the shipped articles), the model, the lexical
  index (which reads only the changes since it was last open) and the first question (Chroma
  loads its HNSW index); a first start on each new store, not measured, loads the shipped articles;
* RSS once the process has answered every dev question (what a running bot holds);
* retrieval: `Retriever.search` (hybrid: Chroma HNSW + BM25, fused), the question vector given;
* end to end: `await KnowledgeBase.ask(...)`, extractive (embedding, retrieval, support, answer);
* baselines on the same vectors and chunks: brute-force numpy cosine (`M @ v`, top 30, BLAS on
  one thread) and BM25 alone (`Retriever.bm25`, top 30), plus Chroma's dense search alone;
* HNSW recall at the store's `ef_search` (200): the share of Chroma's top 30 whose cosine reaches
  brute force's 30th best (copies tie exactly, so scores are compared, not ids);
* the cost of one article load at that size: `KnowledgeBase.ingest` of a new article, and the
  time until the lexical index holds it (the article is removed again afterwards);
* hit@1 / MRR@10 of the right article for the dev questions (copies rank as their original).

The candidates alternate question by question, for `--rounds` rounds over the 60 dev questions.

    python benchmarks/scale.py --source STORE --workdir data/bbc-scale --sizes 1,10,25,50
    python benchmarks/scale.py --source STORE --workdir data/bbc-scale --sizes 1,10,25,50 --build-only
    python benchmarks/scale.py --source STORE --workdir data/bbc-scale --sizes 1,10,25,50 --server
    python benchmarks/scale.py --smoke                            # 15 articles at 1×, 2×, 3× (CI)

`--server` measures each size twice, alternating which goes first: embedded as above, and through
`chroma run` serving the same folder on 127.0.0.1 (started for that size, stopped after), where the
measuring process is a bot and the server holds the HNSW index: RSS is then reported for each
process apart, the server's read from /proc. The measuring process uses the lexical index beside
the store (current, as on a host whose bot has run before). Server mode adds how long another
process's load and removal take to reach this one: a second process on the same server loads a
probe article and removes it again (4 probes at `--rounds 2`, at random phases of the change-log
poll), while this one asks every 20 ms, and the delay after each write returned is recorded for
the dense side (HNSW on the server, filtered by this process's article cache) and the BM25 side
(this process's lexical index). `--smoke` serves its largest size too, when `chroma` is installed.

`--source` is a store holding the BBC corpus (as `bbc_quality.py --store` loads it); it is copied,
never written. Built stores stay in `--workdir` and are reused by the next run (50× takes about
10 GB). Writes benchmarks/results/scale.json (scale_smoke.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"
MODEL = "all-minilm-l6-v2-int8"  # MiniLMOnnx.name: the chunk collection is named after it
BATCH = 2000
DEPTH = 30  # the retriever's depth: each side of the fusion asks for 30


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


# -- building the larger stores -------------------------------------------------------------

def _records(collection, include: list[str]):
    offset = 0
    while True:
        got = collection.get(include=include, limit=BATCH, offset=offset)
        yield got
        if len(got["ids"]) < BATCH:
            return
        offset += BATCH


def read_source(source: str) -> dict:
    """Every record of the 1× store, read once in a process of its own: a store copied from it
    holds the same collection ids, and one process must not open two such folders (Chroma then
    mixes their segments up: "Error finding id")."""
    import numpy as np

    from knowledge.store import ArticleStore

    src = ArticleStore.open_local(Path(source), MODEL)
    articles = [(i, d, m) for got in _records(src._articles, ["documents", "metadatas"])
                for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]
    chunks, rows = [], []
    for got in _records(src._chunks, ["documents", "metadatas", "embeddings"]):
        chunks.extend(zip(got["ids"], got["documents"], got["metadatas"], strict=True))
        rows.extend(got["embeddings"])
    arts = dict(src.committed())
    per_article = src.chunks_of({a.id: a.version for a in arts.values()})
    return {"articles": articles, "chunks": chunks, "vectors": np.asarray(rows, dtype=np.float32),
            "lexical": [(aid, art, per_article.get(aid, [])) for aid, art in arts.items()]}


def replicate(target: str, data: dict, copies: int, first: int) -> dict:
    """Write copies `first`..`copies`-1 of every article and chunk of the 1× store (`data`) into
    the store at `target` (copy 0 keeps its ids, copy k gets `~k`); vectors are copied, not
    recomputed, in Chroma batches of the largest size the client takes."""
    from knowledge.store import ArticleStore

    started = time.perf_counter()
    dst = ArticleStore.open_local(Path(target), MODEL)
    batch = max(BATCH, int(dst._client.get_max_batch_size()))
    articles, chunks, vectors = data["articles"], data["chunks"], data["vectors"]
    for k in range(first, copies):
        tag = f"~{k}" if k else ""
        for s in range(0, len(chunks), batch):
            part = chunks[s : s + batch]
            dst._chunks.add(
                ids=[_renamed(i, tag) for i, _, _ in part], documents=[d for _, d, _ in part],
                metadatas=[{**m, "article_id": m["article_id"] + tag} for _, _, m in part],
                embeddings=vectors[s : s + batch],
            )
        for s in range(0, len(articles), batch):
            part = articles[s : s + batch]
            dst._articles.add(ids=[i + tag for i, _, _ in part], documents=[d for _, d, _ in part],
                              metadatas=[m for _, _, m in part], embeddings=[[1.0]] * len(part))
    chroma_s = time.perf_counter() - started
    t = time.perf_counter()
    replicate_lexical(dst, data["lexical"], first, copies)
    return {"copies": copies, "from_copies": first, "chunks": dst.chunk_count(), "articles": len(articles) * copies,
            "chroma_batch": batch, "chroma_s": round(chroma_s, 1), "lexical_s": round(time.perf_counter() - t, 1),
            "build_s": round(time.perf_counter() - started, 1)}


def replicate_lexical(dst, per_article: list, first: int, copies: int) -> None:  # noqa: ANN001 - an ArticleStore
    """The copies' lexical index, written by `knowledge.lexical` itself, a commit per 2,000 articles,
    then marked as fed by the new store up to now, as if it had followed every write. Each chunk's
    stems are computed once, not once per copy."""
    import functools

    from knowledge import lexical
    from knowledge.store import ChangeLog

    lexical.body_of = functools.lru_cache(maxsize=None)(lexical.body_of)  # type: ignore[assignment]
    index = lexical.LexicalIndex(dst)
    index._open_index()
    work = [(aid + (f"~{k}" if k else ""), art, cs) for k in range(first, copies) for aid, art, cs in per_article]
    cursor = ChangeLog.start()
    for s in range(0, len(work), 2000):
        last = s + 2000 >= len(work)
        index._commit(work[s : s + 2000], cursor if last else None, dst.identity() if last else None)
    index.close()


def _renamed(chunk_id: str, tag: str) -> str:
    article_id, rest = chunk_id.split("#", 1)
    return f"{article_id}{tag}#{rest}"


# -- measuring one size (in its own process) ------------------------------------------------

def original(article_id: str) -> str:
    return article_id.split("~", 1)[0]


def proc_mb(pid: int, field: str = "VmRSS") -> float:
    """Another process's resident memory (`VmRSS`) or its peak (`VmHWM`), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure_size(store: str, base_vectors: str, copies: int, questions: list[dict], rounds: int, server: dict | None,
                 spawned_at: float) -> dict:
    """One size, in a fresh process: the store opened embedded (`server` None) or through the
    `chroma run` serving it (`server`: host, port, pid, lexical_path; the lexical index is the
    one beside the store, already current, as on a host whose bot has run before)."""
    t0 = time.perf_counter()
    import numpy as np
    from threadpoolctl import threadpool_limits

    from knowledge import CoreConfig, KnowledgeBase, SearchFilter
    from knowledge.evaluation import matches

    imported_s = time.perf_counter() - t0
    t = time.perf_counter()
    kb = KnowledgeBase(server_config(server) if server else CoreConfig(chroma_path=store))
    kb.sync_folder()  # as `bot run` starts: repair, reindex_missing, the shipped articles
    kb.embedder.embed_query("warm up")
    opened_s = time.perf_counter() - t
    t = time.perf_counter()
    kb.lexical.ensure_current()
    lexical_s = time.perf_counter() - t
    started_s = time.perf_counter() - t0
    flt = SearchFilter()
    t = time.perf_counter()
    kb.retriever.search("warm up the vector index", 8, flt)  # first query loads the HNSW index
    first_query_s = time.perf_counter() - t
    ready_s = time.time() - spawned_at  # from the process's spawn to its first answer
    rss_loaded = rss_mb()
    server_loaded = proc_mb(server["pid"]) if server else 0.0

    qtexts = [kb.check_question(q["question"]) for q in questions]

    async def ask_all() -> None:
        for q in qtexts:
            await kb.ask(q)

    asyncio.run(ask_all())  # what a `bot run` process holds once it has answered every question
    rss_answered = rss_mb()
    server_answered = proc_mb(server["pid"]) if server else 0.0

    # The brute-force baseline searches the very vectors the store holds: the 1× store's, tiled.
    matrix = np.tile(np.load(base_vectors), (copies, 1))

    vectors = [kb.embedder.embed_query(q) for q in qtexts]
    timings: dict[str, list[float]] = {k: [] for k in ("hybrid", "chroma_dense", "numpy_dense", "bm25", "ask")}

    def numpy_top(v):
        scores = matrix @ v
        top = np.argpartition(-scores, DEPTH)[:DEPTH]
        return top[np.argsort(-scores[top])]

    async def run() -> None:
        for _ in range(rounds):
            for q, v in zip(qtexts, vectors, strict=True):
                for name, call in (
                    ("hybrid", lambda q=q, v=v: kb.retriever.search(q, kb.config.top_k, flt, vector=v)),
                    ("chroma_dense", lambda v=v: kb.store.dense_search(v, DEPTH, where=flt.chroma_where(), admits=flt.admits)),
                    ("numpy_dense", lambda v=v: numpy_top(v)),
                    ("bm25", lambda q=q: kb.retriever.bm25(q, DEPTH, flt)),
                ):
                    s = time.perf_counter()
                    call()
                    timings[name].append(time.perf_counter() - s)
                s = time.perf_counter()
                await kb.ask(q)
                timings["ask"].append(time.perf_counter() - s)

    # numpy and onnxruntime would fight over the cores: BLAS on one thread (entering the limit
    # costs ~1 ms, so once around the run rather than around each search).
    with threadpool_limits(limits=1, user_api="blas"):
        asyncio.run(run())

    # HNSW recall at the store's ef_search (200): the share of Chroma's top 30 whose cosine
    # reaches the 30th best of brute force (copies tie exactly, so ids cannot be compared).
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    recalls = []
    for v in vectors:
        cos = unit @ (v / np.linalg.norm(v))
        floor = float(np.partition(-cos, DEPTH - 1)[DEPTH - 1]) * -1
        got = kb.store.dense_search(v, DEPTH)
        recalls.append(sum(1 for _, dist in got if 1 - dist >= floor - 1e-4) / DEPTH)
    del unit

    # The cost of one more article at this size: the load, then the lexical index taking it in.
    from knowledge.loading import build_article

    load_ms, take_in_ms = [], []
    for n in range(3):
        extra = build_article(title=f"Scale probe {n} {time.time_ns()}", source="Probe", published="2024-01-01",
                              text=" ".join(f"Probe sentence {i} about harbour number {n * 100 + i} and the ferry timetable." for i in range(40)))
        s = time.perf_counter()
        kb.ingest(extra)
        load_ms.append((time.perf_counter() - s) * 1000)
        s = time.perf_counter()
        kb.lexical.ensure_current()
        take_in_ms.append((time.perf_counter() - s) * 1000)
        assert kb.lexical.indexed_versions().get(extra.id) == extra.version
        kb.remove(extra.id)
        kb.lexical.ensure_current()

    # Another process's writes, as this one sees them (a Chroma server only: embedded Chroma keeps
    # the HNSW index in the process that opened it).
    spread = propagation(kb, server, rounds) if server else {}

    # Quality: rank of the right article among the top 10 passages, copies counted as one.
    hit1, rr, n = 0, 0.0, 0
    arts = kb.store.committed()
    for q in questions:
        if not q.get("article"):
            continue
        n += 1
        seen: list[str] = []
        for p in kb.retriever.search(kb.check_question(q["question"]), 10, flt):
            if original(p.article.id) not in seen:
                seen.append(original(p.article.id))
        rank = next((i for i, a in enumerate(seen, start=1) if matches(arts[a], q["article"])), None)
        hit1 += rank == 1
        rr += 1 / rank if rank else 0.0
    out = {
        "mode": "server" if server else "embedded",
        "copies": copies, "chunks": kb.store.chunk_count(), "articles": len(arts),
        "import_s": round(imported_s, 2), "open_s": round(opened_s, 2), "lexical_open_s": round(lexical_s, 3),
        "startup_s": round(started_s, 2), "ready_s": round(ready_s, 2), "rss_mb_answered": round(rss_answered),
        "hnsw_recall@30": round(statistics.mean(recalls), 4), "hnsw_recall_min": round(min(recalls), 4),
        "lexical_rebuilds": kb.lexical.stats.rebuilds, "first_query_s": round(first_query_s, 2),
        "load_one_article_ms": round(statistics.median(load_ms), 1), "lexical_take_in_ms": round(statistics.median(take_in_ms), 1),
        "rss_mb_loaded": round(rss_loaded), "numpy_matrix_mb": round(matrix.nbytes / 1e6),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "ms": {k: {"p50": round(statistics.median(v) * 1000, 2), "p95": round(pct(v, 95) * 1000, 2)} for k, v in timings.items()},
        "hit@1": round(hit1 / max(1, n), 4), "mrr@10": round(rr / max(1, n), 4), "samples": len(timings["ask"]),
    }
    if server:
        out.update({"server_rss_mb_loaded": round(server_loaded), "server_rss_mb_answered": round(server_answered),
                    "server_peak_rss_mb": round(proc_mb(server["pid"], "VmHWM")), "server_start_s": server["start_s"],
                    "propagation": spread})
    return out


def server_config(server: dict):  # noqa: ANN201 - a CoreConfig, imported late (the parent never loads the core)
    from knowledge import CoreConfig

    return CoreConfig(chroma_host=server["host"], chroma_port=server["port"], lexical_path=server["lexical_path"])


PROBE_TEXT = ("The {word} lighthouse keepers will repaint the tower in {colour} stripes next spring, the harbour trust said. "
              "Volunteers from {word} will carry the paint up the 212 steps by hand.")


def _loader(server: dict, conn) -> None:  # noqa: ANN001 - a multiprocessing Connection
    """Another process on the same Chroma server: loads and removes the probe articles it is sent,
    replying with the wall-clock time each write returned (its change record written)."""
    from knowledge import KnowledgeBase
    from knowledge.loading import build_article

    kb = KnowledgeBase(server_config({**server, "lexical_path": tempfile.mkdtemp(prefix="newsbot-loader-")}))  # never opened
    kb.embedder.embed_query("warm up")
    conn.send("ready")
    while (msg := conn.recv()) is not None:
        op, word = msg
        if op == "load":
            art = build_article(title=f"{word} lighthouse to be repainted", source="Probe", published="2024-01-01",
                                text=PROBE_TEXT.format(word=word, colour="red and white"))
            kb.ingest(art)
            conn.send((art.id, time.time()))
        else:
            kb.remove(word)
            conn.send((word, time.time()))


def propagation(kb, server: dict, probes: int) -> dict:  # noqa: ANN001 - a KnowledgeBase
    """How long after another process's load returns this one finds the article on each side
    (dense: Chroma's HNSW on the server and this process's article cache; BM25: this process's
    lexical index, fed from the change log), and likewise for a removal. This process asks every
    20 ms, as a busy bot would; the change log is read at most once per `CHANGE_POLL_S`. Probes
    start at random phases of that poll."""
    import random

    from knowledge import SearchFilter

    ctx = mp.get_context("spawn")
    mine, theirs = ctx.Pipe()
    loader = ctx.Process(target=_loader, args=(server, theirs))
    loader.start()
    assert mine.recv() == "ready"
    flt = SearchFilter()
    rng = random.Random(12)
    rows: list[dict] = []

    def sides(question: str, article_id: str | None) -> tuple[bool, bool]:
        dense = kb.retriever.dense(question, DEPTH, flt)
        bm25 = kb.retriever.bm25(question, DEPTH, flt)
        if article_id is None:
            return False, False
        return (any(sc.chunk.article_id == article_id for sc, _ in dense),
                any(sc.chunk.article_id == article_id for sc, _ in bm25))

    def until(question: str, article_id: str | None, present: bool,
              sent: float) -> tuple[str, float, float | None, float | None]:
        """Ask until both sides agree with `present`: the article's id, the write's own time, then
        each side's delay after the write returned (None: not within 30 s, which is reported)."""
        done_at: dict[str, float] = {}
        returned = None
        while len(done_at) < 2 or returned is None:
            if returned is None and mine.poll():
                article_id, returned = mine.recv()
            d, b = sides(question, article_id)
            now = time.time()
            if article_id is not None:
                if "dense" not in done_at and d == present:
                    done_at["dense"] = now
                if "bm25" not in done_at and b == present:
                    done_at["bm25"] = now
            if returned is not None and now - returned > 30:
                break
            time.sleep(0.02)
        assert returned is not None and article_id is not None
        return (article_id, returned - sent, done_at["dense"] - returned if "dense" in done_at else None,
                done_at["bm25"] - returned if "bm25" in done_at else None)

    def r3(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    for n in range(max(3, probes * 2)):
        word = f"Quillmere{n}x{rng.randrange(10**6)}"
        # The probe's own sentence: the dense side ranks it first, whatever the copies hold.
        question = PROBE_TEXT.format(word=word, colour="red and white").split(". ")[0]
        time.sleep(rng.random() * 1.0)  # a random phase of this process's poll
        sent = time.time()
        mine.send(("load", word))
        art_id, load_s, dense_s, bm25_s = until(question, None, True, sent)
        time.sleep(rng.random() * 1.0)
        sent = time.time()
        mine.send(("remove", art_id))
        _, remove_s, dense_gone_s, bm25_gone_s = until(question, art_id, False, sent)
        rows.append({"load_s": r3(load_s), "dense_s": r3(dense_s), "bm25_s": r3(bm25_s),
                     "remove_s": r3(remove_s), "dense_gone_s": r3(dense_gone_s), "bm25_gone_s": r3(bm25_gone_s)})
    mine.send(None)
    loader.join(30)
    both = [max(r[a], r[b]) for r in rows for a, b in (("dense_s", "bm25_s"), ("dense_gone_s", "bm25_gone_s"))
            if r.get(a) is not None and r.get(b) is not None]
    missed = sum(1 for r in rows for k in ("dense_s", "bm25_s", "dense_gone_s", "bm25_gone_s") if r.get(k) is None)
    return {"probes": rows, "seen_both_median_s": round(statistics.median(both), 3) if both else None,
            "seen_both_max_s": round(max(both), 3) if both else None, "missed": missed}


def prepare(store: str) -> dict:
    """A first start on a newly built store, not measured: `bot run`'s folder sync loads the
    shipped articles once, and the 1× store's lexical index is built from Chroma once."""
    from knowledge import CoreConfig, KnowledgeBase

    t = time.perf_counter()
    kb = KnowledgeBase(CoreConfig(chroma_path=store))
    kb.sync_folder()
    kb.lexical.ensure_current()
    return {"first_start_s": round(time.perf_counter() - t, 1), "lexical_rebuilds": kb.lexical.stats.rebuilds}


def _child(fn, args: tuple, conn) -> None:  # noqa: ANN001
    try:
        conn.send(fn(*args))
    except BaseException as exc:  # report, do not hang the parent
        conn.send({"error": f"{exc.__class__.__name__}: {exc}"})
    conn.close()


def in_child(fn, *args) -> dict:  # noqa: ANN001
    """`fn(*args)` in a fresh process; `measure_size` also gets the wall-clock time of the spawn."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    if fn is measure_size:
        args = (*args, time.time())
    proc = ctx.Process(target=_child, args=(fn, args, child))
    proc.start()
    child.close()
    out = parent.recv()
    proc.join()
    if "error" in out:
        raise SystemExit(f"measuring failed: {out['error']}")
    return out


def measure_served(target: Path, vectors: str, copies: int, questions: list[dict], rounds: int) -> dict:
    """`chroma run` on the store's folder (127.0.0.1, a free port), one measuring process through
    it, then the server stopped: the bot's and the server's memory apart."""
    from tests.chroma_server import ChromaProcess

    chroma = ChromaProcess(target)
    t = time.perf_counter()
    chroma.start(timeout=600)
    assert chroma.proc is not None
    server = {"host": "127.0.0.1", "port": chroma.port, "pid": chroma.proc.pid, "lexical_path": str(target / "lexical"),
              "start_s": round(time.perf_counter() - t, 2)}
    try:
        return in_child(measure_size, str(target), vectors, copies, questions, rounds, server)
    finally:
        chroma.stop()


def print_side_by_side(rows: dict, server_rows: dict) -> None:
    cols = [("ask p50", lambda r: r["ms"]["ask"]["p50"]), ("ask p95", lambda r: r["ms"]["ask"]["p95"]),
            ("hybrid p50", lambda r: r["ms"]["hybrid"]["p50"]), ("bm25 p50", lambda r: r["ms"]["bm25"]["p50"]),
            ("ready s", lambda r: r["ready_s"]), ("bot RSS", lambda r: r["rss_mb_answered"]),
            ("server RSS", lambda r: r.get("server_rss_mb_answered", "-")), ("HNSW rec.", lambda r: r["hnsw_recall@30"]),
            ("+1 art. ms", lambda r: r["load_one_article_ms"]),
            ("seen p50 s", lambda r: r.get("propagation", {}).get("seen_both_median_s", "-")),
            ("seen max s", lambda r: r.get("propagation", {}).get("seen_both_max_s", "-"))]
    print("embedded and `chroma run` side by side (RSS in MB after answering; seen: another process's load or "
          "removal found by both sides)")
    print(f"{'size':<6}{'mode':<10}" + "".join(f"{c:>12}" for c, _ in cols))
    for m in rows:
        for mode, r in (("embedded", rows.get(m)), ("server", server_rows.get(m))):
            if r:
                print(f"{str(m) + '×':<6}{mode:<10}" + "".join(f"{f(r):>12}" for _, f in cols))


# -- the run ---------------------------------------------------------------------------------

def smoke_source(folder: Path, questions: list[dict]) -> Path:
    """A small loaded store for --smoke: the articles the questions name plus a few others."""
    from knowledge import CoreConfig, KnowledgeBase
    from knowledge.loading import load_file

    kb = KnowledgeBase(CoreConfig(chroma_path=str(folder)))
    wanted = [BBC / q["article"] for q in questions if q.get("article")]
    others = [p for p in sorted(BBC.glob("*/*.txt")) if p not in wanted][:15 - len(wanted)]
    for p in wanted + others:
        kb.ingest(load_file(p, source="BBC News"))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", help="a store holding the BBC corpus (copied, never written)")
    ap.add_argument("--workdir", help="where the scaled stores are built and kept (default: a temporary folder)")
    ap.add_argument("--sizes", default="1,10,25,50", help="copies of the corpus, comma-separated (default 1,10,25,50)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="15 articles at 1×, 2×, 3×, 5 questions, 1 round")
    ap.add_argument("--build-only", action="store_true", help="build the stores of --sizes in --workdir, measure nothing")
    ap.add_argument("--server", action="store_true", help="also measure each size through `chroma run` serving the same "
                    "folder on 127.0.0.1, embedded and server alternating (writes results/scale_server.json); --smoke "
                    "does both whenever the `chroma` command is installed")
    ap.add_argument("--no-first-start", action="store_true", help="no unmeasured first start per size: the measured start "
                    "then also loads the shipped articles (one article, about a second), and a large store's start is paid once")
    args = ap.parse_args()
    if not (BBC / "dev_qa.jsonl").is_file():
        sys.exit(f"The BBC corpus is not at {BBC}.")
    questions = [json.loads(x) for x in (BBC / "dev_qa.jsonl").read_text().splitlines() if x.strip()]
    sizes = [int(s) for s in args.sizes.split(",")]
    temp = None
    if args.workdir:
        work = Path(args.workdir)
    else:
        temp = tempfile.TemporaryDirectory(prefix="newsbot-scale-")
        work = Path(temp.name)
    work.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        questions = [q for q in questions if q.get("answerable")][:4] + [q for q in questions if not q.get("answerable")][:1]
        sizes, args.rounds = [1, 2, 3], 1
        base = smoke_source(work / "smoke-source", questions)
    else:
        if not args.source:
            sys.exit("--source STORE is needed: a store holding the BBC corpus (see bbc_quality.py --store).")
        base = work / "bbc-1x"
        if not base.exists():
            shutil.copytree(args.source, base)
    import numpy as np

    builds, rows = {}, {}
    in_child(prepare, str(base))  # the 1× store's lexical index, before it is copied
    data = in_child(read_source, str(base))
    vectors = work / "bbc-1x-vectors.npy"
    np.save(vectors, data["vectors"])
    for m in sorted(sizes):
        target = base if m == 1 else work / f"bbc-{m}x"
        if m != 1 and not target.exists():
            # Start from the largest smaller store already built: 50× copies 25× and adds 25.
            smaller = max([(work / f"bbc-{k}x", k) for k in range(2, m) if (work / f"bbc-{k}x").exists()] + [(base, 1)],
                          key=lambda p: p[1])
            print(f"building {m}× from {smaller[1]}× ...", flush=True)
            try:
                shutil.copytree(smaller[0], target)
                builds[m] = in_child(replicate, str(target), data, m, smaller[1])
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)  # never leave a half-built store to reuse
                raise
            print(f"  {builds[m]}", flush=True)
    if args.build_only:
        return
    from tests.chroma_server import chroma_executable

    served = args.server or (args.smoke and chroma_executable() is not None)
    server_rows: dict[int, dict] = {}
    for i, m in enumerate(sizes):
        target = base if m == 1 else work / f"bbc-{m}x"
        print(f"measuring {m}× ...", flush=True)
        prepared = {} if args.no_first_start else in_child(prepare, str(target))
        # Embedded and server alternate which goes first, size by size (the machine is shared).
        modes = ["embedded", "server"] if i % 2 == 0 else ["server", "embedded"]
        if not served or (args.smoke and m != max(sizes)):  # the smoke run serves its largest size only
            modes = ["embedded"]
        for mode in modes:
            if mode == "embedded":
                rows[m] = in_child(measure_size, str(target), str(vectors), m, questions, args.rounds, None)
                rows[m]["prepare"] = prepared
            else:
                server_rows[m] = measure_served(target, str(vectors), m, questions, args.rounds)
        partial = RESULTS / "scale_partial.tmp"  # what is measured so far, should a later size fail
        RESULTS.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"rows": rows, "server_rows": server_rows}, indent=2) + "\n")
    cols = [("chunks", lambda r: r["chunks"]), ("hybrid p50", lambda r: r["ms"]["hybrid"]["p50"]),
            ("hybrid p95", lambda r: r["ms"]["hybrid"]["p95"]), ("ask p50", lambda r: r["ms"]["ask"]["p50"]),
            ("ask p95", lambda r: r["ms"]["ask"]["p95"]), ("chroma p50", lambda r: r["ms"]["chroma_dense"]["p50"]),
            ("numpy p50", lambda r: r["ms"]["numpy_dense"]["p50"]), ("bm25 p50", lambda r: r["ms"]["bm25"]["p50"]),
            ("RSS MB", lambda r: r["rss_mb_answered"]), ("ready s", lambda r: r["ready_s"]), ("start-up s", lambda r: r["startup_s"]),
            ("lexical s", lambda r: r["lexical_open_s"]), ("+1 art. ms", lambda r: r["load_one_article_ms"]),
            ("HNSW rec.", lambda r: r["hnsw_recall@30"]), ("hit@1", lambda r: r["hit@1"]), ("mrr@10", lambda r: r["mrr@10"])]
    print(f"{len(questions)} questions × {args.rounds} rounds, candidates alternating; latencies in ms; {os.cpu_count()} cores")
    print(f"{'size':<6}" + "".join(f"{c:>12}" for c, _ in cols))
    for m, r in rows.items():
        print(f"{str(m) + '×':<6}" + "".join(f"{f(r):>12}" for _, f in cols))
    if 1 in rows and len(rows) > 1:
        one = rows[1]["ms"]
        for m, r in rows.items():
            if m != 1:
                print(f"{m}× / 1×: hybrid {r['ms']['hybrid']['p50'] / one['hybrid']['p50']:.2f}, ask {r['ms']['ask']['p50'] / one['ask']['p50']:.2f}, "
                      f"numpy {r['ms']['numpy_dense']['p50'] / one['numpy_dense']['p50']:.2f}, bm25 {r['ms']['bm25']['p50'] / one['bm25']['p50']:.2f}")
    if server_rows:
        print_side_by_side(rows, server_rows)
    out = {"sizes": sizes, "questions": len(questions), "rounds": args.rounds, "cores": os.cpu_count(),
           "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "builds": builds, "rows": rows}
    if server_rows:
        out["server_rows"] = server_rows
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "scale_smoke.json" if args.smoke else "scale_server.json" if args.server else "scale.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT) / name}")
    if temp:
        temp.cleanup()


if __name__ == "__main__":
    main()
