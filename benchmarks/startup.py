"""Start-up, measured as a user meets it: `python -m bot --help` and `python -m bot ask` as fresh
processes on a store holding the BBC corpus, alternating, every round reported.

    python benchmarks/startup.py --store data/bbc --rounds 5
    python benchmarks/startup.py --store data/bbc --rounds 5 --baseline /tmp/main   # beside another checkout
    python benchmarks/startup.py --smoke        # 10 articles, 2 rounds (CI)

`ask` is timed from process start to exit, model load and store opening included; the store's
lexical index is opened once before the first round (a store built before the index existed
gets it then). Writes benchmarks/results/startup.json (startup_smoke.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"
QUESTION = "How much did Yukos have to pay in back taxes?"


CPU: dict[str, list[float]] = {}  # CPU seconds (user + system) of each run, by candidate


def _children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def timed(cmd: list[str], env: dict[str, str], cwd: Path = ROOT, name: str = "") -> float:
    """Wall seconds of one run; its CPU seconds go to CPU[name]: on a shared machine the wall
    time mostly measures the queue for a core, the CPU time what the command itself costs."""
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    if name:
        CPU.setdefault(name, []).append(_children_cpu() - cpu)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="a store holding the BBC corpus (the seed article may be added to it)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--baseline", type=Path, help="another checkout (e.g. `git archive` of main) whose `python -m bot` runs "
                                                   "alternating with this tree's, on the same store")
    args = ap.parse_args()
    temp = None
    if args.smoke:
        from knowledge import CoreConfig, KnowledgeBase
        from knowledge.loading import load_file

        temp = tempfile.TemporaryDirectory(prefix="startup-")
        store = str(Path(temp.name) / "store")
        kb = KnowledgeBase(CoreConfig(chroma_path=store))
        for p in sorted(BBC.glob("business/*.txt"))[:10]:
            kb.ingest(load_file(p, source="BBC News"))
        args.rounds = 2
    elif args.store:
        store = args.store
    else:
        sys.exit("--store STORE is needed: a store holding the BBC corpus (see bbc_quality.py --store).")
    env = {**os.environ, "CHROMA_PATH": store, "CHROMA_HOST": "", "ANSWER_MODE": "extractive", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    empty_env = str(Path(tempfile.gettempdir()) / "startup-none.env")
    base = [sys.executable, "-m", "bot", "--env-file", empty_env]
    cands = {"--help": ([*base, "--help"], ROOT), "ask": ([*base, "ask", QUESTION], ROOT)}
    if args.baseline:
        cands |= {"--help baseline": ([*base, "--help"], args.baseline), "ask baseline": ([*base, "ask", QUESTION], args.baseline)}
    timed(cands["ask"][0], env)  # opens (or builds) the lexical index and adds the seed article once
    runs: dict[str, list[float]] = {name: [] for name in cands}
    for r in range(args.rounds):
        for name in (list(cands) if r % 2 == 0 else list(cands)[::-1]):
            cmd, cwd = cands[name]
            runs[name].append(timed(cmd, env, cwd, name))
        print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.2f} s ({CPU[n][-1]:.2f} s CPU)" for n, v in runs.items()), flush=True)
    rows = {n: {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3), "rounds_s": [round(x, 3) for x in v],
                "median_cpu_s": round(statistics.median(CPU[n]), 3), "rounds_cpu_s": [round(x, 3) for x in CPU[n]]}
            for n, v in runs.items()}
    print(f"{'command':<16}{'median s':>10}{'min s':>8}{'median CPU s':>14}   (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")
    for n, row in rows.items():
        print(f"{n:<16}{row['median_s']:>10}{row['min_s']:>8}{row['median_cpu_s']:>14}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "startup_smoke.json" if args.smoke else "startup.json"
    (RESULTS / name).write_text(json.dumps({"rounds": args.rounds, "cores": os.cpu_count(),
                                            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "rows": rows}, indent=2) + "\n")
    if temp:
        temp.cleanup()


if __name__ == "__main__":
    main()
