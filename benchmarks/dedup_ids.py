"""Same files, same store, in any order: the BBC business folder loaded into fresh stores by
`python -m bot ingest`, in path order, in reverse order, and in a shuffled order killed with
SIGKILL part-way and run again; then the path-order store loaded a second time. The article ids
(and each article's outlets) in every store must be identical. The duplicate check once used
Python's salted hash() (501 articles one time, 502 the next), and once kept the first-loaded copy
of a story (reverse order: 10 of 500 ids differed); now the copy that ranks first is kept
(`knowledge/dedup.py`).

    python benchmarks/dedup_ids.py
    python benchmarks/dedup_ids.py --concurrent   # also: two processes, forward and reversed, on one store at once
    python benchmarks/dedup_ids.py --smoke        # 15 files holding two duplicate pairs (CI); --concurrent included

Writes benchmarks/results/dedup_ids.json (dedup_ids_smoke.json).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"
# two near-copy pairs of the business folder: in 007/253 the first file's copy ranks first, in
# 215/494 the second's (it takes the story over when the folder is loaded in path order)
SMOKE_PAIRS = ("007.txt", "253.txt", "215.txt", "494.txt")


def start(files: list[Path], store: Path, tmp: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_"))}
    env["CHROMA_PATH"] = str(store)
    cmd = [sys.executable, "-m", "bot", "--env-file", str(tmp / "none.env"), "ingest", *map(str, files), "--source", "BBC News"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ingest(files: list[Path], store: Path, tmp: Path, kill_after: float | None = None) -> float:
    started = time.monotonic()
    proc = start(files, store, tmp)
    if kill_after is not None:
        try:
            proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    proc.wait()
    return time.monotonic() - started


def articles(store: Path) -> list[tuple[str, list[str]]]:
    """(id, outlets) of every committed article, sorted, after a repair (as any start does)."""
    sys.path.insert(0, str(ROOT))
    from chromadb.api.client import SharedSystemClient

    from knowledge.embeddings import MiniLMOnnx
    from knowledge.store import ArticleStore

    SharedSystemClient.clear_system_cache()
    st = ArticleStore.open_local(store, MiniLMOnnx.name)
    st.repair()
    return sorted((i, list(a.outlets)) for i, a in st.committed().items())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--concurrent", action="store_true")
    ap.add_argument("--seed", type=int, default=None, help="shuffle and kill moment (default: random)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    concurrent = args.concurrent or args.smoke
    files = sorted((BBC / "business").glob("*.txt"))
    if args.smoke:
        files = sorted({*files[:11], *(BBC / "business" / n for n in SMOKE_PAIRS)})
    shuffled = files[:]
    rng.shuffle(shuffled)
    rows: list[tuple[str, float, list[tuple[str, list[str]]]]] = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        s = ingest(files, tmp / "a", tmp)
        rows.append(("path order", s, articles(tmp / "a")))
        s = ingest(files[::-1], tmp / "b", tmp)
        rows.append(("reverse order", s, articles(tmp / "b")))
        kill_after = rng.uniform(0.3, 0.7) * rows[0][1]
        s = ingest(shuffled, tmp / "c", tmp, kill_after=kill_after)
        partial = len(articles(tmp / "c"))
        s += ingest(shuffled, tmp / "c", tmp)
        rows.append((f"shuffled, SIGKILL at {kill_after:.0f}s, re-run", s, articles(tmp / "c")))
        s = ingest(files, tmp / "a", tmp)
        rows.append(("path order, again", s, articles(tmp / "a")))
        if concurrent:
            started = time.monotonic()
            procs = [start(files, tmp / "d", tmp), start(files[::-1], tmp / "d", tmp)]
            for p in procs:
                p.wait()
            rows.append(("two processes at once", time.monotonic() - started, articles(tmp / "d")))
    reference = rows[0][2]
    identical = all(r[2] == reference for r in rows)
    out = {"files": len(files), "seed": seed, "killed_after_s": round(kill_after, 1), "committed_when_killed": partial,
           "identical": identical, "articles": [len(r[2]) for r in rows],
           "runs": [{"run": name, "articles": len(got), "seconds": round(sec, 1), "same_as_first": got == reference,
                     "differing_ids": len({i for i, _ in got} ^ {i for i, _ in reference})} for name, sec, got in rows]}
    print(f"{'run':<36} {'articles':>8} {'seconds':>8} {'same ids+outlets':>17}")
    for r in out["runs"]:
        print(f"{r['run']:<36} {r['articles']:>8} {r['seconds']:>8} {str(r['same_as_first']):>17}")
    print(f"identical: {identical} (seed {seed}; the killed run had {partial} committed)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"dedup_ids{'_smoke' if args.smoke else ''}.json").write_text(json.dumps(out, indent=2))
    sys.exit(0 if identical else 1)


if __name__ == "__main__":
    main()
