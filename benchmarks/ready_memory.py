"""`bot run`'s start and memory as the store grows: ready time and RSS at each store size, this
tree beside another checkout, alternating, every round reported.

    python benchmarks/ready_memory.py --workdir .cache/scale --sizes 1,10,25 --rounds 3 --baseline /tmp/main
    python benchmarks/ready_memory.py --smoke        # 10 articles, this tree alone, 1 round (CI)

The stores are the ones `benchmarks/scale.py --build-only` leaves in --workdir (`bbc-<N>x`).
Each measurement is a fresh process (`python -c`, its working folder the candidate's tree, so it
imports that tree's `knowledge`) doing what `bot run` does before it answers, as `scale.py`'s
`ready` does: open the knowledge base, the folder sync (store check and shipped articles), one
embedding to load the model, the lexical index brought up to date, one search (which loads the
HNSW index). `ready_s` runs from the spawn to the end of that search (`cpu_ready_s`: the CPU the process
spent by then; on a shared machine the wall time also measures the queue for a core). `rss_ready_mb` is the
resident set then; `rss_answered_mb` after answering `--questions` dev questions (scale.py's RSS
column answers every one). Each phase's seconds are reported too, to see what dominates.

Before the rounds, each candidate starts once unmeasured on each store, this tree first: a
store written by an earlier release gets its word counts then (`first_start_s`, reported), and
both candidates are then measured on the same stores.
Writes benchmarks/results/ready_memory.json (ready_memory_smoke.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"

# Runs in the candidate's tree; prints one JSON line. Kept to the API both trees share.
CHILD = r"""
import asyncio, json, resource, sys, time
spawned = float(sys.argv[1]); store = sys.argv[2]; questions = json.loads(sys.argv[3])
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
out = {}
t = time.perf_counter()
from knowledge import CoreConfig, KnowledgeBase, SearchFilter
out["import_s"] = time.perf_counter() - t; t = time.perf_counter()
kb = KnowledgeBase(CoreConfig(chroma_path=store))
out["open_s"] = time.perf_counter() - t; t = time.perf_counter()
kb.sync_folder()
out["sync_folder_s"] = time.perf_counter() - t; t = time.perf_counter()
kb.embedder.embed_query("warm up")
out["model_s"] = time.perf_counter() - t; t = time.perf_counter()
kb.lexical.ensure_current()
out["lexical_s"] = time.perf_counter() - t; t = time.perf_counter()
kb.retriever.search("warm up the vector index", 8, SearchFilter())
out["first_search_s"] = time.perf_counter() - t
out["ready_s"] = time.time() - spawned
use = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_ready_s"] = use.ru_utime + use.ru_stime
out["rss_ready_mb"] = rss()
async def ask_all():
    for q in questions:
        await kb.ask(q)
asyncio.run(ask_all())
out["rss_answered_mb"] = rss()
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["articles"] = len(kb.list())
print(json.dumps(out))
"""

PHASES = ("import_s", "open_s", "sync_folder_s", "model_s", "lexical_s", "first_search_s")


def run_child(tree: Path, store: str, questions: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    spawned = time.time()
    done = subprocess.run([sys.executable, "-c", CHILD, repr(spawned), store, json.dumps(questions)], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"the start in {tree} on {store} exited {done.returncode}:\n{done.stderr[-3000:]}")
    out: dict = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.time() - spawned
    return out


def smoke_store(folder: Path) -> Path:
    from knowledge import CoreConfig, KnowledgeBase
    from knowledge.loading import load_file

    kb = KnowledgeBase(CoreConfig(chroma_path=str(folder)))
    for p in sorted(BBC.glob("business/*.txt"))[:10]:
        kb.ingest(load_file(p, source="BBC News"))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", default=".cache/scale", help="where scale.py --build-only left bbc-<N>x")
    ap.add_argument("--sizes", default="1,10,25")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--questions", type=int, default=20, help="dev questions answered before the second RSS reading")
    ap.add_argument("--baseline", type=Path, help="another checkout (e.g. a worktree of main), measured alternating with this tree")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    qs = [json.loads(x)["question"] for x in (BBC / "dev_qa.jsonl").read_text().splitlines() if x.strip()]
    temp = None
    if args.smoke:
        temp = tempfile.TemporaryDirectory(prefix="ready-memory-")
        stores = {1: str(smoke_store(Path(temp.name) / "store"))}
        args.rounds, args.questions, args.baseline = 1, 2, None
    else:
        stores = {int(s): str((Path(args.workdir) / f"bbc-{int(s)}x").resolve()) for s in args.sizes.split(",")}  # the trees differ
        missing = [s for s in stores.values() if not Path(s).is_dir()]
        if missing:
            sys.exit(f"no store at {', '.join(missing)}: build them with benchmarks/scale.py --build-only")
    questions = qs[: args.questions]
    cands = {"this tree": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    firsts: dict[str, dict[str, float]] = {}
    for size, store in stores.items():
        for name, tree in cands.items():
            first = run_child(tree, store, [])
            firsts.setdefault(str(size), {})[name] = round(first["ready_s"], 2)
            print(f"{size}×: first start of {name}: ready {first['ready_s']:.2f} s (unmeasured)", flush=True)
    runs: dict[str, dict[str, list[dict]]] = {str(s): {n: [] for n in cands} for s in stores}
    for r in range(args.rounds):
        for size, store in stores.items():
            order = list(cands) if r % 2 == 0 else list(cands)[::-1]
            for name in order:
                got = run_child(cands[name], store, questions)
                runs[str(size)][name].append(got)
                print(f"round {r + 1} {size}× {name}: ready {got['ready_s']:.2f} s ({got['cpu_ready_s']:.2f} s CPU), RSS {got['rss_ready_mb']:.0f} MB ready, "
                      f"{got['rss_answered_mb']:.0f} MB answered; " + ", ".join(f"{p[:-2]} {got[p]:.2f}" for p in PHASES)
                      + f" (load {os.getloadavg()[0]:.1f})", flush=True)
    rows: dict[str, dict[str, dict]] = {}
    for size, by in runs.items():
        for name, got in by.items():
            rows.setdefault(size, {})[name] = {
                "articles": got[0]["articles"],
                "ready_s": {"median": round(statistics.median(g["ready_s"] for g in got), 2), "rounds": [round(g["ready_s"], 2) for g in got]},
                "cpu_ready_s": {"median": round(statistics.median(g["cpu_ready_s"] for g in got), 2),
                                "rounds": [round(g["cpu_ready_s"], 2) for g in got]},
                "rss_ready_mb": {"median": round(statistics.median(g["rss_ready_mb"] for g in got)),
                                 "rounds": [round(g["rss_ready_mb"]) for g in got]},
                "rss_answered_mb": {"median": round(statistics.median(g["rss_answered_mb"] for g in got)),
                                    "rounds": [round(g["rss_answered_mb"]) for g in got]},
                "phases_median_s": {p: round(statistics.median(g[p] for g in got), 3) for p in PHASES},
                "first_start_s": firsts[size][name],
            }
    print(f"{'size':<6}{'candidate':<12}{'articles':>9}{'ready s':>9}{'CPU s':>7}{'RSS ready':>11}{'RSS answ.':>11}   phases (median s)")
    for size, by in rows.items():
        for name, row in by.items():
            print(f"{size + '×':<6}{name:<12}{row['articles']:>9}{row['ready_s']['median']:>9}{row['cpu_ready_s']['median']:>7}{row['rss_ready_mb']['median']:>11}"
                  f"{row['rss_answered_mb']['median']:>11}   " + ", ".join(f"{p[:-2]} {v}" for p, v in row["phases_median_s"].items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "ready_memory_smoke.json" if args.smoke else "ready_memory.json"
    (RESULTS / name).write_text(json.dumps({"rounds": args.rounds, "questions": len(questions), "cores": os.cpu_count(),
                                            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "rows": rows}, indent=2) + "\n")
    if temp:
        temp.cleanup()


if __name__ == "__main__":
    main()
