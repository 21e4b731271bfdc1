"""Bulk loading, measured: the BBC corpus (2,225 articles) into a fresh store through
`KnowledgeBase.ingest`, the path every load takes (near-duplicate check, chunking, embedding,
all-or-nothing Chroma writes).

Printed and written to `benchmarks/results/ingest_bbc.json`: articles/s, chunks/s, the share of
the time spent embedding, the statuses (the corpus repeats some stories, so a few are "already
loaded", "updated" or "duplicate"), and peak memory (ru_maxrss of the child process that did the
load, so the benchmark's own memory is not counted).

    python benchmarks/ingest_bbc.py              # the whole corpus (~10 min on 2 cores)
    python benchmarks/ingest_bbc.py --limit 300  # a quick run (a mix of all five categories)
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
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
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


def newsbot_worker(paths: list[str], store_dir: str, source: str) -> dict:
    """Load `paths` into a new store at `store_dir` with newsbot's pipeline; returns counts and
    timings (seconds). Runs in the child process `measure` starts."""
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
    each: list[float] = []
    for p in paths:
        t = time.perf_counter()
        try:
            statuses[kb.ingest(load_file(p, source=source)).status] += 1
        except KnowledgeError:
            statuses["failed"] += 1
        each.append(time.perf_counter() - t)
    done = time.perf_counter()
    tenth = max(1, len(each) // 10)  # does a load slow down as the store grows?
    return {"setup_s": ready - started, "ingest_s": done - ready, "chunks": kb.store.chunk_count(),
            "stored_articles": len(kb.list()), "statuses": dict(statuses),
            "ms_per_article_first_tenth": round(1000 * sum(each[:tenth]) / tenth, 1),
            "ms_per_article_last_tenth": round(1000 * sum(each[-tenth:]) / tenth, 1), **spent}


def _child(worker: Callable[..., dict], args: tuple, conn) -> None:
    out = worker(*args)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    conn.send(out)
    conn.close()


def measure(files: list[Path], *, worker: Callable[..., dict] = newsbot_worker, source: str = "BBC News") -> dict:
    """Run `worker(paths, store_dir, source)` on `files` in a fresh (spawned) process and a fresh
    temporary store; returns its figures plus articles/s, chunks/s and the child's peak RSS."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(worker, ([str(f) for f in files], str(Path(tmp) / "store"), source), child))
        proc.start()
        child.close()
        out = parent.recv()
        proc.join()
    secs = out["ingest_s"]
    out.update(articles=len(files), articles_per_s=round(len(files) / secs, 2), chunks_per_s=round(out["chunks"] / secs, 1))
    out["embedding_share"] = round(out["embedding_s"] / secs, 3) if "embedding_s" in out else None
    for k in ("setup_s", "ingest_s", "embedding_s", "peak_rss_mb"):
        if k in out:
            out[k] = round(out[k], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="Load only the first N articles (categories interleaved).")
    ap.add_argument("--smoke", action="store_true", help="20 articles, written to ingest_bbc_smoke.json.")
    args = ap.parse_args()
    if not (BBC / "business" / "001.txt").is_file():
        sys.exit(f"The BBC corpus is not at {BBC}.")
    limit = 20 if args.smoke else args.limit or None
    files = corpus_files(limit)
    print(f"loading {len(files)} BBC articles through KnowledgeBase.ingest ...", flush=True)
    load = [round(x, 2) for x in os.getloadavg()]  # the machine is shared: say how busy it was
    row = measure(files)
    print(f"articles/s {row['articles_per_s']:>8}   chunks/s {row['chunks_per_s']:>8}   "
          f"embedding {row['embedding_share']:.0%} of the time   peak RSS {row['peak_rss_mb']:.0f} MB")
    print(f"{row['articles']} articles -> {row['stored_articles']} stored, {row['chunks']} chunks in {row['ingest_s']} s "
          f"(+{row['setup_s']} s start-up); statuses {row['statuses']}")
    print(f"ms per article: first tenth {row['ms_per_article_first_tenth']}, last tenth {row['ms_per_article_last_tenth']}")
    report = {
        "corpus": "BBC News 2004-2005 (2,225 articles)", "articles": len(files), "cores": os.cpu_count(),
        "loadavg_at_start": load, "python": platform.python_version(),
        "rows": {"newsbot": row},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("ingest_bbc_smoke.json" if args.smoke else "ingest_bbc.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
