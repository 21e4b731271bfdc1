"""Bulk loading, measured: the BBC corpus (2,225 articles) into a fresh store through
`KnowledgeBase.ingest`, the path every load takes (near-duplicate check, chunking, embedding,
all-or-nothing Chroma writes).

Printed and written to `benchmarks/results/ingest_bbc.json`: articles/s, chunks/s, the share of
the time spent embedding, the statuses (the corpus repeats some stories, so a few are "already
loaded", "updated" or "duplicate"), and peak memory (ru_maxrss of the child process that did the
load, so the benchmark's own memory is not counted).

Three others run in the same way, alternating with ours (`--rounds`; the order is reversed
every other round), and every round's figures and ratios are printed as well as the medians:

* newsbot one by one: `kb.ingest` per article, each its own Chroma writes (before batching);
* chroma: the plainest Chroma path: the same chunks' texts (no sentence vectors, no length
  sorting, no duplicate check) through `collection.add` in batches of 64, embedded by Chroma
  calling its embedding function, which wraps the same int8 ONNX model;
* model alone: the same chunks' texts embedded one at a time, no store (files read and chunked
  before the clock starts): the most the model can give, what "≥ 0.85× model-alone" measures.

    python benchmarks/ingest_bbc.py --limit 0 --only newsbot --only "model alone"   # the whole corpus
    python benchmarks/ingest_bbc.py --limit 0 --only newsbot --only "model alone" --side-by-side  # both at once
    python benchmarks/ingest_bbc.py --limit 300  # a quick run (a mix of all five categories)
    python benchmarks/ingest_bbc.py --limit 300 --only newsbot   # ours alone
    python benchmarks/ingest_bbc.py --smoke      # 20 articles, for CI (ingest_bbc_smoke.json)

`measure(files, worker=...)` is reusable: a baseline is another module-level worker function
with the same signature as `newsbot_worker`, run the same way in its own child process.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"
CATEGORIES = ("business", "entertainment", "politics", "sport", "tech")


def corpus_files(limit: int | None = None) -> list[Path]:
    """The corpus's article files, the categories interleaved so any prefix is a fair mix."""
    lists = [sorted((BBC / c).glob("*.txt")) for c in CATEGORIES]
    mixed = [f for row in itertools.zip_longest(*lists) for f in row if f is not None]
    return mixed[:limit] if limit else mixed


def newsbot_worker(paths: list[str], store_dir: str, source: str, *, batched: bool = True) -> dict:
    """Load `paths` into a new store at `store_dir` with newsbot's pipeline (`kb.load_many`, the
    CLI's path; `batched=False`: `kb.ingest` one article at a time); returns counts and timings
    (seconds). Runs in the child process `measure` starts."""
    from knowledge import CoreConfig, KnowledgeBase, KnowledgeError
    from knowledge.loading import load_file

    started = time.perf_counter()
    kb = KnowledgeBase(CoreConfig(chroma_path=store_dir))
    kb.embedder.embed_documents(["warm-up"])  # the model load is reported apart from the load
    embed = kb.embedder.embed_documents
    spent = {"embedding_s": 0.0}

    def timed(texts):
        t = time.perf_counter()
        try:
            return embed(texts)
        finally:
            spent["embedding_s"] += time.perf_counter() - t

    kb.embedder.embed_documents = timed  # type: ignore[method-assign]
    ready = time.perf_counter()
    statuses: Counter[str] = Counter()
    each: list[float] = []  # seconds from one article's result to the next (batches: in bursts)
    t = time.perf_counter()
    if batched:
        for _, outcome in kb.load_many([Path(p) for p in paths], outlet=source):
            statuses["failed" if isinstance(outcome, KnowledgeError) else str(outcome.status)] += 1
            each.append(time.perf_counter() - t)
            t = time.perf_counter()
    else:
        for p in paths:
            try:
                statuses[kb.ingest(load_file(p, source=source)).status] += 1
            except KnowledgeError:
                statuses["failed"] += 1
            each.append(time.perf_counter() - t)
            t = time.perf_counter()
    done = time.perf_counter()
    tenth = max(1, len(each) // 10)  # does a load slow down as the store grows?
    return {"setup_s": ready - started, "ingest_s": done - ready, "chunks": kb.store.chunk_count(),
            "stored_articles": len(kb.list()), "statuses": dict(statuses),
            "ms_per_article_first_tenth": round(1000 * sum(each[:tenth]) / tenth, 1),
            "ms_per_article_last_tenth": round(1000 * sum(each[-tenth:]) / tenth, 1), **spent}


def newsbot_one_by_one_worker(paths: list[str], store_dir: str, source: str) -> dict:
    """newsbot one article at a time (`kb.ingest` per file, as loads were before batching)."""
    return newsbot_worker(paths, store_dir, source, batched=False)


def _chunk_texts(paths: list[str], source: str) -> list[tuple[str, list[str]]]:
    """Each file's article id and chunk texts, chunked exactly as newsbot chunks."""
    from knowledge.chunking import chunk_article
    from knowledge.loading import load_file

    out = []
    for p in paths:
        a = load_file(p, source=source)
        out.append((a.id, [c.text for c in chunk_article(a.id, a.text)[0]]))
    return out


def chroma_worker(paths: list[str], store_dir: str, source: str) -> dict:
    """The plainest Chroma path: read, chunk, `collection.add(documents=...)` in batches of 64,
    Chroma calling an embedding function around the same ONNX model (one padded batch each)."""
    import warnings

    import chromadb
    from chromadb.api.types import EmbeddingFunction
    from chromadb.config import Settings as ChromaSettings

    from knowledge.chunking import chunk_article
    from knowledge.embeddings import MiniLMOnnx
    from knowledge.loading import load_file

    model = MiniLMOnnx()
    model.embed_documents(["warm-up"])
    spent = {"embedding_s": 0.0}

    class OnnxMiniLM(EmbeddingFunction):
        def __init__(self) -> None:
            pass

        def __call__(self, input):  # noqa: A002 (Chroma's parameter name)
            t = time.perf_counter()
            tokenizer, session = model._load()
            vecs = model._run(session, tokenizer.encode_batch(list(input)))  # as given: no sorting
            spent["embedding_s"] += time.perf_counter() - t
            return list(vecs)

    started = time.perf_counter()
    warnings.simplefilter("ignore")  # a legacy-style embedding function warns about its config
    client = chromadb.PersistentClient(path=store_dir, settings=ChromaSettings(anonymized_telemetry=False))
    col = client.get_or_create_collection("baseline-chunks", embedding_function=OnnxMiniLM(), configuration={"hnsw": {"space": "cosine"}})
    ready = time.perf_counter()
    ids, docs, metas = [], [], []
    for p in paths:
        a = load_file(p, source=source)
        for c in chunk_article(a.id, a.text)[0]:
            ids.append(f"{a.id}#{c.index}")
            docs.append(c.text)
            metas.append({"article_id": a.id, "start": c.start, "end": c.end, "title": a.title})
        while len(ids) >= 64:
            col.add(ids=ids[:64], documents=docs[:64], metadatas=metas[:64])
            del ids[:64], docs[:64], metas[:64]
    if ids:
        col.add(ids=ids, documents=docs, metadatas=metas)
    done = time.perf_counter()
    return {"setup_s": ready - started, "ingest_s": done - ready, "chunks": col.count(), "stored_articles": len(paths), **spent}


def model_alone_worker(paths: list[str], store_dir: str, source: str) -> dict:
    """The model alone: the same chunk texts, embedded one at a time; nothing is stored."""
    from knowledge.embeddings import MiniLMOnnx

    started = time.perf_counter()
    model = MiniLMOnnx()
    model.embed_documents(["warm-up"])
    chunks = _chunk_texts(paths, source)  # reading and chunking are not the model's time
    ready = time.perf_counter()
    n = 0
    for _, texts in chunks:
        for t in texts:
            model.embed_documents([t])
            n += 1
    done = time.perf_counter()
    return {"setup_s": ready - started, "ingest_s": done - ready, "chunks": n, "stored_articles": 0, "embedding_s": done - ready}


WORKERS: dict[str, Callable[..., dict]] = {"newsbot": newsbot_worker, "newsbot one by one": newsbot_one_by_one_worker,
                                           "chroma": chroma_worker, "model alone": model_alone_worker}
DEFAULT = ("newsbot", "newsbot one by one", "chroma", "model alone")


def _child(worker: Callable[..., dict], args: tuple, conn) -> None:
    out = worker(*args)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    conn.send(out)
    conn.close()


def measure(files: list[Path], *, worker: Callable[..., dict] = newsbot_worker, source: str = "BBC News",
            keep: Path | None = None) -> dict:
    """Run `worker(paths, store_dir, source)` on `files` in a fresh (spawned) process and a fresh
    temporary store; returns its figures plus articles/s, chunks/s and the child's peak RSS.
    `keep`: move the store there afterwards (replacing what was there)."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(worker, ([str(f) for f in files], str(Path(tmp) / "store"), source), child))
        proc.start()
        child.close()
        out = parent.recv()
        proc.join()
        if keep is not None and (Path(tmp) / "store").is_dir():
            shutil.rmtree(keep, ignore_errors=True)
            shutil.move(str(Path(tmp) / "store"), keep)
    secs = out["ingest_s"]
    out.update(articles=len(files), articles_per_s=round(len(files) / secs, 2), chunks_per_s=round(out["chunks"] / secs, 1))
    out["embedding_share"] = round(out["embedding_s"] / secs, 3) if "embedding_s" in out else None
    for k in ("setup_s", "ingest_s", "embedding_s", "peak_rss_mb"):
        if k in out:
            out[k] = round(out[k], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="Load only the first N articles (categories interleaved); 0: the whole corpus.")
    ap.add_argument("--rounds", type=int, default=1, help="Rounds over the candidates (the order reversed every other round).")
    ap.add_argument("--only", choices=sorted(WORKERS), action="append", help="Measure only these candidates (repeatable).")
    ap.add_argument("--smoke", action="store_true", help="20 articles, written to ingest_bbc_smoke.json.")
    ap.add_argument("--out", default="ingest_bbc.json", help="File name under benchmarks/results/.")
    ap.add_argument("--side-by-side", action="store_true",
                    help="Run a round's candidates at the same time (for a long run on a busy shared machine).")
    ap.add_argument("--keep-store", type=Path, help="Keep the store newsbot built in its last round here (for startup.py).")
    args = ap.parse_args()
    if not (BBC / "business" / "001.txt").is_file():
        sys.exit(f"The BBC corpus is not at {BBC}.")
    limit = 20 if args.smoke else args.limit or None
    files = corpus_files(limit)
    names = args.only or list(DEFAULT)
    how = "side by side" if args.side_by_side else "alternating"
    print(f"loading {len(files)} BBC articles: {', '.join(names)}; {args.rounds} round(s), {how} ...", flush=True)
    load = [round(x, 2) for x in os.getloadavg()]  # the machine is shared: say how busy it was
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        if args.side_by_side:  # every candidate at once, each in its own process: the same noise for all
            with ThreadPoolExecutor(len(order)) as pool:
                futures = {name: pool.submit(measure, files, worker=WORKERS[name], keep=args.keep_store if name == "newsbot" else None)
                           for name in order}
                done = {name: f.result() for name, f in futures.items()}
        for name in order:
            if args.side_by_side:
                runs[name].append(done[name])
            else:
                runs[name].append(measure(files, worker=WORKERS[name], keep=args.keep_store if name == "newsbot" else None))
            print(f"  round {r + 1} {name}: {runs[name][-1]['articles_per_s']} articles/s, {runs[name][-1]['ingest_s']} s, "
                  f"{runs[name][-1]['peak_rss_mb']:.0f} MB peak, load {os.getloadavg()[0]:.1f}", flush=True)
        if "model alone" in names:  # this round's ratios: the machine is shared, so every round counts
            alone = runs["model alone"][-1]["articles_per_s"]
            print("  round " + str(r + 1) + ": " + ", ".join(f"{n} / model alone {runs[n][-1]['articles_per_s'] / alone:.2f}"
                                                        for n in names if n != "model alone"), flush=True)
    rows = {}
    for name, rs in runs.items():
        row = dict(rs[0])
        for k in ("articles_per_s", "chunks_per_s", "ingest_s", "peak_rss_mb", "embedding_share"):
            vals = [x[k] for x in rs if x.get(k) is not None]
            row[k] = round(statistics.median(vals), 3) if vals else None
        row["rounds"] = len(rs)
        row["every_round"] = [{k: x.get(k) for k in ("articles_per_s", "ingest_s", "peak_rss_mb", "embedding_share",
                                                     "ms_per_article_first_tenth", "ms_per_article_last_tenth")} for x in rs]
        rows[name] = row
    print(f"{'candidate':<20}{'articles/s':>11}{'chunks/s':>10}{'embedding':>10}{'peak RSS MB':>13}{'stored':>8}{'chunks':>8}")
    for name, row in rows.items():
        share = "-" if row.get("embedding_share") is None else f"{row['embedding_share']:.0%}"
        print(f"{name:<20}{row['articles_per_s']:>11}{row['chunks_per_s']:>10}{share:>10}{row['peak_rss_mb']:>13.0f}"
              f"{row['stored_articles']:>8}{row['chunks']:>8}")
    ratios = {}
    if "model alone" in rows:
        alone = rows["model alone"]["articles_per_s"]
        ratios = {f"{n} / model alone (articles/s)": round(r["articles_per_s"] / alone, 2) for n, r in rows.items() if n != "model alone"}
        for n in rows:
            if n != "model alone":
                ratios[f"{n} / model alone, each round"] = [round(a["articles_per_s"] / b["articles_per_s"], 2)
                                                            for a, b in zip(runs[n], runs["model alone"], strict=True)]
    if "newsbot" in rows and "chroma" in rows:
        ratios["newsbot / chroma (articles/s)"] = round(rows["newsbot"]["articles_per_s"] / rows["chroma"]["articles_per_s"], 2)
    for k, v in ratios.items():
        print(f"{k}: {v}")
    if "newsbot" in rows:
        nb = rows["newsbot"]
        print(f"newsbot: {nb['articles']} articles -> {nb['stored_articles']} stored, {nb['chunks']} chunks; statuses {nb['statuses']}; "
              f"ms per article: first tenth {nb['ms_per_article_first_tenth']}, last tenth {nb['ms_per_article_last_tenth']}")
    report = {
        "corpus": "BBC News 2004-2005 (2,225 articles)", "articles": len(files), "cores": os.cpu_count(),
        "loadavg_at_start": load, "python": platform.python_version(), "rounds": args.rounds, "side_by_side": args.side_by_side,
        "rows": rows, "ratios": ratios,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("ingest_bbc_smoke.json" if args.smoke else args.out)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
