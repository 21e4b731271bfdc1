"""Torture: 4 processes load, revise, remove and ask at random on one store, killed with SIGKILL at
random moments; then the store's invariants are checked directly.

Each worker is a real `KnowledgeBase` in its own process (the local embedding model, extractive
answers) doing, until the shared operation budget is spent: load a new article (30%), revise a
stored one (30%: new figures, same id), remove one (10%) or ask about one (30%). Articles are
few (about 30) so workers often touch the same article at once. Every article names its own
project ("Project Vorlak-3f2a") and its budget; only it answers "What was the budget of the
Vorlak-3f2a project?". A controller kills a random worker with SIGKILL every `--kill-every`
operations on average (half to one and a half times that, then a random moment up to 0.5 s
later, at whatever it is doing) and starts a new one, which repairs and heals on start, as every
newsbot process does.

Afterwards, with every worker stopped: `repair()` (and on a server, where killed loads wait for
their lease, `repair(all_abandoned=True)`), both the start-up check of the articles named in the
change log since the last check, then `knowledge.integrity.violations` (each committed article
has exactly its version's chunks, no orphans, no intent records; read from every record), what
a full `repair(full=True)` still removes (must be 0: the start-up check missed nothing), and one
question per committed article, which must be answered from that article's committed text.

    python benchmarks/torture.py --ops 1000                 # embedded store and `chroma run`
    python benchmarks/torture.py --ops 1000 --kind embedded
    python benchmarks/torture.py --smoke                    # 40 operations each (CI)

Writes benchmarks/results/torture.json (torture_smoke.json).
"""

from __future__ import annotations

import argparse
import asyncio
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
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
WORDS = ["harbour", "quay", "ferry", "council", "tender", "bridge", "river", "market", "station", "depot", "tunnel", "canal", "pier", "crane", "dock", "warehouse", "signal", "track", "platform", "engine", "turbine", "cable", "pylon", "grid", "meter", "valve", "pump", "filter", "basin", "reservoir", "dam", "sluice", "lock", "weir", "barge", "tug", "hull", "mast", "keel", "rudder"]
POOL = 30  # about this many articles at a time: enough overlap for racing writers


def article_text(name: str, figure: int, rng: random.Random) -> str:
    filler = " ".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14))).capitalize() + "." for _ in range(rng.randint(10, 22))
    )
    return (f"The {name} project reached a new stage this week. Engineers of the {name} project said its budget was "
            f"{figure} million euros. {filler} The {name} works are due to finish within {figure % 9 + 2} years.")


def question(name: str) -> str:
    return f"What was the budget of the {name} project?"


# -- a worker ---------------------------------------------------------------------------------

def worker(args: argparse.Namespace) -> None:
    from knowledge import CoreConfig, KnowledgeBase, KnowledgeError
    from knowledge.loading import build_article

    config = CoreConfig(chroma_path=args.store, chroma_host=args.host, chroma_port=args.port, embedding_threads=1)
    kb = KnowledgeBase(config)
    kb.store.repair()  # what every process start does
    kb.reindex_missing()
    rng = random.Random()
    log = open(args.log, "a", buffering=1)  # noqa: SIM115 - one line per operation, to the end
    budget = Path(args.budget)
    while True:
        op = rng.choices(("load", "revise", "remove", "ask"), (3, 3, 1, 3))[0]
        mine = [a for a in kb.store.list() if a.title.startswith("Project ")] if op != "load" else []
        if op == "load" or not mine:
            op = "load"
        if op == "load" and len(kb.store.list()) > POOL:
            op = "revise"
            mine = [a for a in kb.store.list() if a.title.startswith("Project ")]
        if not _take(budget):
            return
        try:
            if op == "load":
                name = f"Vorlak-{rng.getrandbits(24):06x}"
                art = build_article(title=f"Project {name}", text=article_text(name, rng.randint(1, 999), rng),
                                    url=f"https://torture.example/{name}", source="Torture Wire")
                result = kb.ingest(art).status
            elif op == "revise":
                old = rng.choice(mine)
                name = old.title.removeprefix("Project ")
                art = build_article(title=old.title, text=article_text(name, rng.randint(1, 999), rng), url=old.url, source="Torture Wire")
                result = kb.ingest(art).status
            elif op == "remove":
                result = kb.remove(rng.choice(mine).id).id and "removed"
            else:
                target = rng.choice(mine)
                answer = asyncio.run(kb.ask(question(target.title.removeprefix("Project "))))
                result = "answered" if answer.answerable else "refused"
        except KnowledgeError as exc:
            result = f"error: {exc.reason}"
        log.write(json.dumps({"op": op, "result": result}) + "\n")
        kb.store.refresh()  # see the other workers' writes (the change log is another module's)


def _take(budget: Path) -> bool:
    """Take one operation from the shared budget file (a count, under an flock). The count is
    rewritten in place with one fixed-width write, so a worker killed here never leaves the
    file empty (a truncate then a write did, and ended a run early)."""
    import fcntl

    fd = os.open(budget, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        left = int(os.pread(fd, 32, 0) or 0)
        if left <= 0:
            return False
        os.pwrite(fd, f"{left - 1:012d}".encode(), 0)
        return True
    finally:
        os.close(fd)


# -- the controller ---------------------------------------------------------------------------

def _left(budget: Path) -> int:
    import fcntl

    with open(budget) as f:
        fcntl.flock(f, fcntl.LOCK_SH)  # not mid-rewrite by a worker
        return int(f.read() or 0)


def run_kind(kind: str, ops: int, procs: int, kill_every: float, tmp: Path) -> dict:
    from chromadb.api.client import SharedSystemClient

    from knowledge import CoreConfig, KnowledgeBase
    from knowledge.integrity import violations
    from tests.chroma_server import ChromaProcess

    server = None
    store_path, host, port = str(tmp / f"{kind}-store"), "", 8000
    if kind == "server":
        server = ChromaProcess(tmp / "server-db")
        host, port = server.start()
    budget, log = tmp / f"{kind}.budget", tmp / f"{kind}.log"
    budget.write_text(f"{ops:012d}")
    log.write_text("")
    cmd = [sys.executable, __file__, "--worker", "--store", store_path, "--host", host, "--port", str(port),
           "--budget", str(budget), "--log", str(log)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_"))}
    rng = random.Random(1)
    started = time.monotonic()
    errors = tmp / f"{kind}.stderr"

    def spawn() -> subprocess.Popen:
        return subprocess.Popen(cmd, env=env, stderr=errors.open("a"))

    workers = [spawn() for _ in range(procs)]
    kills, crashes, stalled = 0, [], False
    next_kill = rng.randint(kill_every // 2, kill_every * 3 // 2)
    progress, last_change = 0, time.monotonic()
    try:
        while True:
            time.sleep(0.1)
            done = log.read_text().count("\n")
            if done != progress:
                progress, last_change = done, time.monotonic()
            for i, w in enumerate(workers):
                if w.poll() not in (None, 0, -signal.SIGKILL):  # a worker died by itself: a bug
                    crashes.append(w.returncode)
                    workers[i] = spawn()
            alive = [w for w in workers if w.poll() is None]
            if not alive or _left(budget) <= 0:
                for w in alive:
                    w.wait(300)
                break
            if time.monotonic() - last_change > 300:
                stalled = True
                break
            if done >= next_kill:
                time.sleep(rng.uniform(0, 0.5))  # a random moment of whatever it is doing
                victim = rng.choice(alive)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                kills += 1
                workers[workers.index(victim)] = spawn()
                next_kill = done + rng.randint(kill_every // 2, kill_every * 3 // 2)
        seconds = time.monotonic() - started
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        SharedSystemClient.clear_system_cache()
        kb = KnowledgeBase(CoreConfig(chroma_path=store_path, chroma_host=host, chroma_port=port))
        left_for_lease = len(kb.store._pending.get(include=[])["ids"])
        # The start-up check, as every process start makes it: only the articles named in the
        # change log since the last check (knowledge/store/checks.py). Nothing may be left for
        # the full check to find.
        kb.store.repair()
        waiting = kb.store.pending_count()
        kb.store.repair(all_abandoned=True)  # every worker has stopped: no load is in progress
        found = violations(kb.store)
        full_found = kb.store.repair(full=True, all_abandoned=True)
        kb.store.refresh()
        arts = [a for a in kb.list() if a.title.startswith("Project ")]
        unanswered = []
        for a in arts:
            answer = asyncio.run(kb.ask(question(a.title.removeprefix("Project "))))
            c = answer.citations[0] if answer.citations else None
            if not (answer.answerable and c is not None and c.article_id == a.id and kb.get(a.id).text[c.start : c.end] == c.quote):
                unanswered.append(a.id)
        counts: dict[str, int] = {}
        for x in lines:
            key = f"{x['op']}:{x['result'] if not x['result'].startswith('error') else 'error'}"
            counts[key] = counts.get(key, 0) + 1
        return {
            "kind": kind, "operations": len(lines), "budget": ops, "kills": kills, "seconds": round(seconds, 1), "stalled": stalled,
            "articles": len(arts), "intents_at_end": left_for_lease, "intents_waiting_for_lease": waiting,
            "violations": [f"{v.kind.value} {v.article_id}: {v.detail}" for v in found],
            "left_for_the_full_check": full_found,
            "unanswerable": unanswered, "outcomes": counts, "crashes": len(crashes),
            "crash_tracebacks": [t for t in errors.read_text().split("Traceback")[1:]][-3:],
        }
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        if server is not None:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--store", default="")
    ap.add_argument("--host", default="")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--budget", default="")
    ap.add_argument("--log", default="")
    ap.add_argument("--ops", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--kill-every", type=int, default=25, help="operations between kills, on average")
    ap.add_argument("--kind", choices=("embedded", "server", "both"), default="both")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    ops = 40 if args.smoke else args.ops
    kill_every = 12 if args.smoke else args.kill_every
    kinds = ("embedded", "server") if args.kind == "both" else (args.kind,)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            row = run_kind(kind, ops, args.procs, kill_every, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'store':<9} {'operations':>10} {'kills':>6} {'crashes':>7} {'seconds':>8} {'articles':>8} {'violations':>10} {'unanswerable':>12}")
    for r in rows:
        print(f"{r['kind']:<9} {r['operations']:>10} {r['kills']:>6} {r['crashes']:>7} {r['seconds']:>8} {r['articles']:>8} "
              f"{len(r['violations']):>10} {len(r['unanswerable']):>12}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"torture{'_smoke' if args.smoke else ''}.json").write_text(json.dumps({"rows": {r["kind"]: r for r in rows}}, indent=2))
    if any(r["violations"] or r["unanswerable"] or r["stalled"] or r["crashes"] or r["left_for_the_full_check"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
