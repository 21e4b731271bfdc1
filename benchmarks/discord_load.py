"""Load on the Discord layer: 20 concurrent /ask through the real event path, and the event loop's lag.

The real `NewsBot` runs against the loopback Discord stand-in (`tests/bot/discord_standin.py`):
each question is a gateway INTERACTION_CREATE, answered by the defer then the follow-up with the
embeds, exactly as in production. Each round fires `--questions` /ask at once, from different
members (so no cooldown applies), and measures

* answers/s: questions ÷ (last follow-up − first interaction sent);
* latency per question: interaction sent → its follow-up received (p50, p95, max);
* event-loop lag: a ticker task sleeps 10 ms over and over and records how late it wakes (p50,
  p99, max). Lag is what every other event (heartbeats, other servers' commands) waits; the
  stand-in serves from the same loop, so the figure includes its own work (an upper bound).

Scenarios: extractive answers with the cap on questions in flight at or above the burst; the same
with the default cap of 8 (the rest are told "busy, try again"); the same again with retrieval on
as many threads as asyncio's default executor instead of the bot's small pool (to show why the
pool is small); and answers from a loopback OpenAI-compatible server (`tests/openai_standin.py`)
that replies with valid JSON after 1 s.

    python benchmarks/discord_load.py                  # 100 BBC articles + the seed, 3 rounds each
    python benchmarks/discord_load.py --smoke          # the seed article only, 1 round (CI)

Prints a table and writes benchmarks/results/discord_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.discord_app import make_bot  # noqa: E402
from knowledge import CoreConfig, KnowledgeBase  # noqa: E402
from knowledge.embeddings import MiniLMOnnx  # noqa: E402
from knowledge.loading import load_file  # noqa: E402
from tests.bot.harness import QUESTION, Harness, NewsStandin, bot_settings, llm_kb, make_guild, opt  # noqa: E402
from tests.openai_standin import OpenAIStandin, delay, reply_json  # noqa: E402

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"


# -- the knowledge base and questions -------------------------------------------------------

def dev_questions() -> list[dict]:
    path = BBC / "dev_qa.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def build_kb(embedder, folder: str, n_articles: int) -> tuple[KnowledgeBase, list[str], float]:
    """The seed plus `n_articles` BBC articles (those the dev questions name first); returns the
    knowledge base, the questions to ask and the seconds loading took."""
    kb = KnowledgeBase(CoreConfig(chroma_path=folder), embedder=embedder)
    t0 = time.perf_counter()
    kb.sync_folder()
    questions = [QUESTION]
    if n_articles and BBC.is_dir():
        qa = [q for q in dev_questions() if q.get("article")]
        named = list(dict.fromkeys(q["article"] for q in qa))
        others = [f"{p.parent.name}/{p.name}" for p in sorted(BBC.glob("*/*.txt"))]
        chosen = list(dict.fromkeys(named + others))[:n_articles]
        for rel in chosen:
            kb.ingest(load_file(BBC / rel))
        loaded = set(chosen)
        questions += [q["question"] for q in qa if q["article"] in loaded]
    return kb, questions, time.perf_counter() - t0


def model_reply(request: dict):
    """The loopback model: after 1 s, a valid answer quoting the first sentence of passage 1."""
    prompt = request["messages"][-1]["content"]
    first = next((line for line in prompt.splitlines() if line.startswith("{")), "")
    text = json.loads(first)["text"] if first else ""
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return delay(1.0, reply_json({"answerable": True, "answer": [{"sentence": "From the articles.", "quotes": [1]}],
                                  "quotes": [{"passage": 1, "quote": sentence}]}))


# -- measuring ------------------------------------------------------------------------------

class LagTicker:
    """Sleeps `period` over and over; records how late each wake-up is (the loop's lag)."""

    def __init__(self, period: float = 0.010):
        self.period = period
        self.lags: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(time.perf_counter() - t - self.period)

    def __enter__(self) -> LagTicker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def burst(h: Harness, members: list[int], questions: list[str]) -> dict:
    """Fire one /ask per member at once; wait for every reply; measure."""
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    kinds: dict[str, str] = {}

    async def one(user: int, question: str) -> None:
        payload = await h.slash("ask", [opt("question", question)], user=user)
        sent[payload["id"]] = time.perf_counter()
        first = await h.callback(payload, timeout=120)
        if first.callback_type == 5:
            follow = await h.followup(payload, timeout=120)
            kinds[payload["id"]] = "answered" if follow.embeds else "error"
        else:
            kinds[payload["id"]] = "busy" if "busy" in (first.content or "") else "refused"
        done[payload["id"]] = time.perf_counter()

    with LagTicker() as ticker:
        t0 = time.perf_counter()
        await asyncio.gather(*(one(u, questions[i % len(questions)]) for i, u in enumerate(members)))
        wall = time.perf_counter() - t0
    answered = [k for k, v in kinds.items() if v == "answered"]
    latencies = [done[k] - sent[k] for k in answered]
    return {"wall_s": wall, "answered": len(answered), "busy": sum(v == "busy" for v in kinds.values()),
            "other": sum(v not in ("answered", "busy") for v in kinds.values()),
            "latencies": latencies, "lags": ticker.lags}


async def scenario(name: str, kb: KnowledgeBase, questions: list[str], *, n: int, rounds: int, in_flight: int, tmp: Path,
                   workers: int | None = None) -> dict:
    guild = make_guild("Load", extra_members=n)
    async with NewsStandin([guild]) as standin:
        bot = make_bot(bot_settings(tmp, max_questions_in_flight=in_flight, log_level="warning"), kb=kb)
        await standin.start_bot(bot)
        asker = bot.get_cog("Ask").asker
        if workers:  # for comparison: as many retrieval threads as asyncio's default executor
            asker.executor.shutdown()
            asker.executor = ThreadPoolExecutor(workers)
        workers = asker.executor._max_workers
        h = Harness(standin, bot, kb, standin.guilds[guild.id])
        members = [m.id for m in h.guild.members if not m.bot][2 : 2 + n]
        await burst(h, members[:2], questions)  # warm-up: first embedding calls, connections
        runs = [await burst(h, members, questions) for _ in range(rounds)]
    lat = [x for r in runs for x in r["latencies"]]
    lags = [x for r in runs for x in r["lags"]]
    answered = sum(r["answered"] for r in runs)
    return {
        "scenario": name, "questions_per_round": n, "rounds": rounds, "max_in_flight": in_flight, "retrieval_threads": workers,
        "answered": answered, "busy": sum(r["busy"] for r in runs), "other": sum(r["other"] for r in runs),
        "answers_per_s": answered / sum(r["wall_s"] for r in runs),
        "latency_s": {"p50": pct(lat, 50), "p95": pct(lat, 95), "max": max(lat, default=0.0)},
        "loop_lag_ms": {"p50": pct(lags, 50) * 1e3, "p99": pct(lags, 99) * 1e3, "max": max(lags, default=0.0) * 1e3,
                        "samples": len(lags)},
    }


async def idle_lag(seconds: float = 1.0) -> dict:
    with LagTicker() as ticker:
        await asyncio.sleep(seconds)
    return {"p50": pct(ticker.lags, 50) * 1e3, "p99": pct(ticker.lags, 99) * 1e3, "max": max(ticker.lags) * 1e3}


async def main(args: argparse.Namespace) -> dict:
    embedder = MiniLMOnnx()
    with tempfile.TemporaryDirectory(prefix="newsbot-load-") as tmp:
        kb, questions, load_s = build_kb(embedder, str(Path(tmp) / "chroma"), 0 if args.smoke else args.articles)
        print(f"knowledge base: {len(kb.list())} articles ({load_s:.1f} s to load), {len(questions)} questions", flush=True)
        results = {"idle_loop_lag_ms": await idle_lag()}
        n, rounds = args.questions, 1 if args.smoke else args.rounds
        runs = [await scenario("extractive", kb, questions, n=n, rounds=rounds, in_flight=max(n, 8), tmp=Path(tmp))]
        runs.append(await scenario("extractive, cap 8", kb, questions, n=n, rounds=rounds, in_flight=8, tmp=Path(tmp)))
        default_pool = min(32, (os.cpu_count() or 1) + 4)
        runs.append(await scenario(f"extractive, {default_pool} thr", kb, questions, n=n, rounds=rounds, in_flight=max(n, 8),
                                   tmp=Path(tmp), workers=default_pool))
        with OpenAIStandin(default=model_reply) as llm:
            model_kb = llm_kb(kb, llm.base_url, timeout=30)
            runs.append(await scenario("loopback LLM (1 s)", model_kb, questions, n=n, rounds=rounds, in_flight=max(n, 8), tmp=Path(tmp)))
            await model_kb.aclose()
            runs[-1]["model_requests"] = len(llm.requests)
        results.update(runs=runs, articles=len(kb.list()), load_s=load_s)
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    return results


def table(results: dict) -> str:
    head = f"{'scenario':<22}{'threads':>8}{'answered':>9}{'busy':>6}{'answers/s':>11}{'lat p50':>9}{'lat p95':>9}{'lag p50':>9}{'lag p99':>9}{'lag max':>9}"
    lines = [head, "-" * len(head)]
    for r in results["runs"]:
        lat, lag = r["latency_s"], r["loop_lag_ms"]
        lines.append(f"{r['scenario']:<22}{r['retrieval_threads']:>8}{r['answered']:>9}{r['busy']:>6}{r['answers_per_s']:>11.1f}{lat['p50']:>8.2f}s"
                     f"{lat['p95']:>8.2f}s{lag['p50']:>7.1f}ms{lag['p99']:>7.1f}ms{lag['max']:>7.1f}ms")
    idle = results["idle_loop_lag_ms"]
    lines.append(f"(idle loop lag: p50 {idle['p50']:.1f} ms, p99 {idle['p99']:.1f} ms; {results['articles']} articles; "
                 f"{results['machine']['cpus']} CPUs)")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=20, help="concurrent /ask per round (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario (default 3)")
    parser.add_argument("--articles", type=int, default=100, help="BBC articles to load besides the seed (default 100)")
    parser.add_argument("--smoke", action="store_true", help="seed article only, one round")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = asyncio.run(main(args))
    print(table(out))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "discord_load_smoke.json" if args.smoke else "discord_load.json"
    (RESULTS / name).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS / name}")
