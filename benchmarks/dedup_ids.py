"""Same files, same store: the BBC business folder loaded into fresh stores by `python -m bot ingest`
three times: twice to the end, and once killed with SIGKILL part-way and run again. The article
ids in the three stores must be identical (the duplicate check once used Python's salted hash()
and gave 501 articles one time and 502 the next).

    python benchmarks/dedup_ids.py
    python benchmarks/dedup_ids.py --smoke      # the first 15 files (CI)

Writes benchmarks/results/dedup_ids.json (dedup_ids_smoke.json).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"


def ingest(folder: Path, store: Path, tmp: Path, kill_after: float | None = None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_"))}
    env["CHROMA_PATH"] = str(store)
    cmd = [sys.executable, "-m", "bot", "--env-file", str(tmp / "none.env"), "ingest", str(folder), "--source", "BBC News"]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is not None:
        try:
            proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    proc.wait()
    return time.monotonic() - started


def ids(store: Path) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from chromadb.api.client import SharedSystemClient

    from knowledge.embeddings import MiniLMOnnx
    from knowledge.store import ArticleStore

    SharedSystemClient.clear_system_cache()
    return sorted(ArticleStore.open_local(store, MiniLMOnnx.name).committed())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        folder = BBC / "business"
        if args.smoke:
            folder = tmp / "business"
            folder.mkdir()
            for f in sorted((BBC / "business").glob("*.txt"))[:15]:
                shutil.copy(f, folder / f.name)
        first_s = ingest(folder, tmp / "a", tmp)
        second_s = ingest(folder, tmp / "b", tmp)
        kill_after = random.uniform(0.3, 0.7) * first_s
        killed_s = ingest(folder, tmp / "c", tmp, kill_after=kill_after)
        partial = len(ids(tmp / "c"))
        rerun_s = ingest(folder, tmp / "c", tmp)
        a, b, c = ids(tmp / "a"), ids(tmp / "b"), ids(tmp / "c")
    row = {"files": len(list(folder.glob("*.txt"))) if not args.smoke else 15, "articles": [len(a), len(b), len(c)],
           "identical": a == b == c, "killed_after_s": round(kill_after, 1), "committed_when_killed": partial,
           "seconds": [round(first_s, 1), round(second_s, 1), round(killed_s + rerun_s, 1)]}
    print(f"{'run':<22} {'articles':>8} {'seconds':>8}")
    for name, n, s in zip(("clean 1", "clean 2", f"SIGKILL at {kill_after:.0f}s + re-run"), row["articles"], row["seconds"], strict=True):
        print(f"{name:<22} {n:>8} {s:>8}")
    print(f"identical ids: {row['identical']} (killed run had {partial} committed)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"dedup_ids{'_smoke' if args.smoke else ''}.json").write_text(json.dumps(row, indent=2))
    sys.exit(0 if row["identical"] else 1)


if __name__ == "__main__":
    main()
