"""RGB's English counterfactual set (Chen et al., AAAI-24): conflicting sources, noise and refusals.

Each of the 100 questions in `../shared/bench/rgb/en_fact.json` comes with passages holding the
true answer (`positive`), the same passages with the answer replaced by a planted fake one
(`positive_wrong`) and related passages without the answer (`negative`). Every passage is loaded
as its own small article (title: its first words; source: "RGB passage N") into one store, each in
its own scope, so a question sees exactly the passages of a condition through
`SearchFilter(scopes=...)` (and the syndication check, which works within a scope, cannot merge a
passage with its counterfactual twin). Conditions, each asked through `KnowledgeBase.ask`:

* conflict: all positive + all counterfactual passages. Accuracy by RGB's definition (every
  required answer part appears, case-insensitively, in the answer text with its quotes), and
  whether the answer shows both the true and the fake answer, each in a quote of a passage that
  holds it (conflict surfaced), only the fake, or only the true one;
* fake only: up to 5 counterfactual passages, RGB's own counterfactual input (its Acc_doc);
* negative: the first 5 negative passages only (RGB's noise ratio 1): the refusal rate
  (`answerable == False`), RGB's negative rejection;
* noise 0.8: RGB's input building, 5 passages, ceil(5 × 0.8) = 4 negative and 1 positive in file
  order, shuffled with random.seed(2333): accuracy.

The paper's published ChatGPT figures are printed beside ours, and so are ours with the first
main's answering model (18faab9) and before any fitted model (b8811ad). RGB's negative and noise-0.8 inputs are also training data of that model
(benchmarks/fit_answering.py, as near misses): the figures here are in-sample for it, and
fit_answering.py reports the cross-validated ones. They come from `en.json`, which is
not available here: our noise and rejection conditions use en_fact.json's passages instead, so
the comparison is indicative only. Answers are extractive; with OPENAI_BASE_URL set (and
LLM_MODEL, OPENAI_API_KEY as for the bot) the model's answers are measured too.

    python benchmarks/rgb_counterfactual.py            # 100 questions (~5 min on 2 cores)
    python benchmarks/rgb_counterfactual.py --smoke    # 3 questions (CI)

Writes benchmarks/results/rgb_counterfactual.json (rgb_counterfactual_smoke.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ceiling import best, show  # noqa: E402
from ceiling import decision_case as ceiling_case  # noqa: E402
from ceiling import summary as ceiling_summary  # noqa: E402

from knowledge import CoreConfig, InputError, KnowledgeBase, SearchFilter  # noqa: E402
from knowledge.dedup import THRESHOLD, similarity  # noqa: E402
from knowledge.llm import LLMConfig  # noqa: E402
from knowledge.loading import build_article  # noqa: E402

RGB = ROOT.parent / "shared" / "bench" / "rgb" / "en_fact.json"
RESULTS = ROOT / "benchmarks" / "results"
KINDS = {"positive": "pos", "positive_wrong": "fake", "negative": "neg"}
PASSAGES = 5  # RGB's passage_num
# The paper's ChatGPT (gpt-3.5-turbo) figures, English (AAAI-24, tables 1, 3 and 7; SOURCE.md).
PAPER = {"noise 0.8 accuracy": 76.00, "negative rejection": 24.67, "counterfactual Acc_doc": 9.0,
         "counterfactual ED": 8.0, "counterfactual CR": 57.14}
# newsbot's extractive figures before the fitted answering model (b8811ad, benchmarks/README.md).
BEFORE = {"noise 0.8": 54.00, "negative": 11.00, "acc_doc": 1.00, "fake_given": 88.00, "conflict_accuracy": 80.00,
          "both": 71.00, "only_fake": 9.00, "only_true": 9.00, "neither": 4.00, "conflict_refused": 7.00}


# main at 18faab9 (the answering model fitted before the long reader-style questions), measured by
# this script on this machine (in-sample for that model, as for this one). The first fitted model
# (b65b563) gave 32 / 34 / 0 / 68 / 66 / 55 / 2 / 11 / 7 / 25.
LANDED = {"noise 0.8": 43.00, "negative": 37.00, "acc_doc": 0.00, "fake_given": 70.00, "conflict_accuracy": 64.00,
          "both": 58.00, "only_fake": 6.00, "only_true": 6.00, "neither": 4.00, "conflict_refused": 26.00}


def has_answer(text: str, answer) -> bool:
    """RGB's `checkanswer`: every required part (a string, or a list of accepted spellings of
    which one will do) appears in the text, case-insensitively."""
    low = text.lower()
    parts = answer if isinstance(answer, list) else [answer]
    return bool(parts) and all(
        any(s.lower() in low for s in part) if isinstance(part, list) else part.lower() in low for part in parts
    )


def title_of(passage: str, n_words: int = 8) -> str:
    words = passage.split()
    return " ".join(words[:n_words]) + (" …" if len(words) > n_words else "")


def scope(qid: int, kind: str, i: int) -> str:
    return f"rgb-{qid}-{KINDS[kind]}-{i}"


def load_passages(kb: KnowledgeBase, records: list[dict]) -> dict:
    """Every passage of every record as its own article in its own scope; returns counts."""
    loaded, skipped = 0, 0
    for r in records:
        n = 0
        for kind in KINDS:
            for i, text in enumerate(r[kind]):
                n += 1
                try:
                    art = build_article(title=title_of(text), text=text, source=f"RGB passage {n}",
                                        scope=scope(r["id"], kind, i), origin=f"rgb/{r['id']}/{kind}/{i}")
                    kb.ingest(art)
                    loaded += 1
                except InputError:
                    skipped += 1
    return {"passages": loaded, "skipped": skipped}


def conditions(r: dict, rng: random.Random) -> dict[str, list[str]]:
    """The scopes each condition shows for record `r` (RGB's input building where it has one)."""
    pos, neg, qid = r["positive"], r["negative"], r["id"]
    fake_pick = rng.sample(range(len(r["positive_wrong"])), min(len(r["positive_wrong"]), PASSAGES))
    neg_num = math.ceil(PASSAGES * 0.8)
    pos_num = PASSAGES - neg_num
    if neg_num > len(neg):
        neg_num, pos_num = len(neg), PASSAGES - len(neg)
    elif pos_num > len(pos):
        pos_num, neg_num = len(pos), PASSAGES - len(pos)
    noisy = [scope(qid, "positive", i) for i in range(min(pos_num, len(pos)))] + [scope(qid, "negative", i) for i in range(min(neg_num, len(neg)))]
    rng.shuffle(noisy)  # RGB shuffles its documents; the order does not matter to retrieval
    return {
        "conflict": [scope(qid, "positive", i) for i in range(len(pos))] + [scope(qid, "positive_wrong", i) for i in range(len(r["positive_wrong"]))],
        "fake only": [scope(qid, "positive_wrong", i) for i in fake_pick],
        "negative": [scope(qid, "negative", i) for i in range(min(PASSAGES, len(neg)))],
        "noise 0.8": noisy,
    }


def judge(r: dict, answer, scopes_of: dict[str, str]) -> dict:
    """What an answer shows: RGB accuracy, the true and fake answers quoted from their passages."""
    shown = "\n".join([answer.text, *(c.quote for c in answer.citations)])  # a model's text lacks its quotes
    correct = answer.answerable and has_answer(shown, r["answer"])
    true_quoted = any(scopes_of.get(c.article_id, "").split("-")[2] == "pos" and has_answer(c.quote, r["answer"]) for c in answer.citations)
    fake_quoted = any(scopes_of.get(c.article_id, "").split("-")[2] == "fake" and r["fakeanswer"].lower() in c.quote.lower() for c in answer.citations)
    return {"answered": answer.answerable, "correct": correct, "fake_in_text": answer.answerable and r["fakeanswer"].lower() in shown.lower(),
            "true_quoted": true_quoted, "fake_quoted": fake_quoted,
            "error_flagged": "factual error" in answer.text.lower(), "text": answer.text[:400],
            "outcome": answer.outcome.value if answer.outcome else ""}


async def run_mode(kb: KnowledgeBase, records: list[dict], scopes_of: dict[str, str]) -> tuple[dict, list[dict]]:
    rng = random.Random(2333)
    per_q, secs = [], []
    for r in records:
        row = {"id": r["id"], "query": r["query"]}
        for name, scopes in conditions(r, rng).items():
            t = time.perf_counter()
            answer = await kb.ask(r["query"], SearchFilter(scopes=tuple(scopes)))
            secs.append(time.perf_counter() - t)
            row[name] = judge(r, answer, scopes_of) | {"passages": len(scopes)}
        per_q.append(row)
    return summarise(per_q, secs), per_q


def operating_curve(kb: KnowledgeBase, records: list[dict]) -> dict:
    """The decision's ceiling on RGB (benchmarks/ceiling.py), extractive: the noise 0.8 inputs as
    the answerable questions ("fact" is the noise 0.8 accuracy), the negative-only inputs as the
    unanswerable ones, every threshold tried."""
    rng = random.Random(2333)  # the same inputs as run_mode
    pos, neg = [], []
    for r in records:
        conds = conditions(r, rng)
        pos.append(ceiling_case(kb, r["query"], lambda text, a=r["answer"]: has_answer(text, a),
                                SearchFilter(scopes=tuple(conds["noise 0.8"]))))
        neg.append(ceiling_case(kb, r["query"], lambda text: False, SearchFilter(scopes=tuple(conds["negative"]))))
    return ceiling_summary(pos, neg, {
        "most refused with noise accuracy >= 0.70": lambda rows: best(rows, lambda x: x[1] >= 0.70, lambda x: (x[2], x[1])),
        "best noise accuracy with refused >= 0.60": lambda rows: best(rows, lambda x: x[2] >= 0.60, lambda x: (x[1], x[2])),
        "best noise accuracy of any threshold": lambda rows: best(rows, lambda x: True, lambda x: (x[1], x[2])),
    })


def summarise(per_q: list[dict], secs: list[float]) -> dict:
    n = len(per_q)

    def pct(cond: str, key) -> float:
        return round(100 * sum(1 for q in per_q if key(q[cond])) / n, 2) if n else 0.0

    flagged = [q["fake only"] for q in per_q if q["fake only"]["error_flagged"]]
    return {
        "questions": n,
        "conflict": {
            "accuracy": pct("conflict", lambda x: x["correct"]),
            "both_surfaced": pct("conflict", lambda x: x["true_quoted"] and x["fake_quoted"]),
            "only_fake": pct("conflict", lambda x: x["fake_quoted"] and not x["true_quoted"]),
            "only_true": pct("conflict", lambda x: x["true_quoted"] and not x["fake_quoted"]),
            "neither_quoted": pct("conflict", lambda x: x["answered"] and not (x["true_quoted"] or x["fake_quoted"])),
            "refused": pct("conflict", lambda x: not x["answered"]),
        },
        "fake only": {
            "accuracy": pct("fake only", lambda x: x["correct"]),  # RGB's Acc_doc
            "fake_answer_given": pct("fake only", lambda x: x["fake_in_text"]),
            "error_detected": pct("fake only", lambda x: x["error_flagged"]),  # RGB's ED (exact match)
            "correction_rate": round(100 * sum(x["correct"] for x in flagged) / len(flagged), 2) if flagged else None,
            "refused": pct("fake only", lambda x: not x["answered"]),
        },
        "negative": {"refusal_rate": pct("negative", lambda x: not x["answered"]),
                     "not_stated": pct("negative", lambda x: x.get("outcome") == "not_stated"),
                     "not_covered": pct("negative", lambda x: x.get("outcome") == "not_covered")},
        "noise 0.8": {"accuracy": pct("noise 0.8", lambda x: x["correct"]), "refused": pct("noise 0.8", lambda x: not x["answered"])},
        "latency_ms_p50": round(statistics.median(secs) * 1000, 1) if secs else None,
    }


def table(mode: str, s: dict) -> str:
    c, f = s["conflict"], s["fake only"]
    ed = "n/a" if mode == "extractive" else f"{f['error_detected']:.2f}"
    b = BEFORE if mode == "extractive" else {}

    landed = LANDED if mode == "extractive" else {}

    def was(key: str) -> str:
        first = f"{landed[key]:>10.2f}" if key in landed else f"{'-':>10}"
        return first + (f"{b[key]:>10.2f}" if key in b else f"{'-':>10}")

    lines = [
        f"{mode}: {s['questions']} questions, median {s['latency_ms_p50']} ms per answer",
        f"{'measure (%)':<52}{'newsbot':>10}{'18faab9':>10}{'b8811ad':>10}{'ChatGPT (paper)':>18}",
        f"{'noise 0.8: accuracy (1 positive + 4 negative)':<52}{s['noise 0.8']['accuracy']:>10.2f}{was('noise 0.8')}{PAPER['noise 0.8 accuracy']:>18.2f}",
        f"{'negative only: refusal rate (Rej)':<52}{s['negative']['refusal_rate']:>10.2f}{was('negative')}{PAPER['negative rejection']:>18.2f}",
        f"{'negative only: refused as not stated / not covered':<52}{s['negative']['not_stated']:>5.0f}/{s['negative']['not_covered']:<4.0f}{'26/11':>10}{'-':>10}{'-':>18}",
        f"{'fake only: accuracy (Acc_doc)':<52}{f['accuracy']:>10.2f}{was('acc_doc')}{PAPER['counterfactual Acc_doc']:>18.2f}",
        f"{'fake only: error detected (ED)':<52}{ed:>10}{'-':>10}{'-':>10}{PAPER['counterfactual ED']:>18.2f}",
        f"{'fake only: corrected when detected (CR)':<52}{'-' if f['correction_rate'] is None else f['correction_rate']:>10}{'-':>10}{'-':>10}{PAPER['counterfactual CR']:>18.2f}",
        f"{'fake only: fake answer given':<52}{f['fake_answer_given']:>10.2f}{was('fake_given')}{'-':>18}",
        f"{'true + fake: accuracy (true answer in the answer)':<52}{c['accuracy']:>10.2f}{was('conflict_accuracy')}{'-':>18}",
        f"{'true + fake: both quoted, each with its source':<52}{c['both_surfaced']:>10.2f}{was('both')}{'-':>18}",
        f"{'true + fake: only the fake quoted':<52}{c['only_fake']:>10.2f}{was('only_fake')}{'-':>18}",
        f"{'true + fake: only the true quoted':<52}{c['only_true']:>10.2f}{was('only_true')}{'-':>18}",
        f"{'true + fake: answered, neither quoted':<52}{c['neither_quoted']:>10.2f}{was('neither')}{'-':>18}",
        f"{'true + fake: refused':<52}{c['refused']:>10.2f}{was('conflict_refused')}{'-':>18}",
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict:
    records = [json.loads(line) for line in RGB.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.smoke:
        records = records[:3]
    twins = sum(1 for r in records for p, w in zip(r["positive"], r["positive_wrong"], strict=False) if similarity(p, w) >= THRESHOLD)
    pairs = sum(len(r["positive"]) for r in records)
    store = args.store
    kb = KnowledgeBase(CoreConfig(chroma_path=store))
    t = time.perf_counter()
    loaded = load_passages(kb, records) | {"seconds": round(time.perf_counter() - t, 1)}
    print(f"loaded {loaded['passages']} passages of {len(records)} questions in {loaded['seconds']} s", flush=True)
    scopes_of = {a.id: a.scope for a in kb.list()}
    kb.lexical.ensure_current()
    modes = {"extractive": kb}
    if os.environ.get("OPENAI_BASE_URL"):
        llm = LLMConfig(model=os.environ.get("LLM_MODEL", "gpt-4o-mini"), api_key=os.environ.get("OPENAI_API_KEY"),
                        base_url=os.environ["OPENAI_BASE_URL"])
        modes["llm"] = KnowledgeBase(CoreConfig(chroma_path=store, llm=llm), store=kb.store, embedder=kb.embedder)
    out = {"data": "en_fact.json only (en.json, which the paper's noise and rejection figures use, is missing)",
           "questions": len(records), "load": loaded, "paper_chatgpt_en": PAPER,
           "syndication_twins": {"pairs": pairs, "merged_if_one_scope": twins}, "modes": {}}
    for name, mkb in modes.items():
        summary, per_q = await run_mode(mkb, records, scopes_of)
        out["modes"][name] = {"summary": summary, "questions": per_q}
        if mkb is not kb:
            await mkb.aclose()
    out["operating_curve"] = operating_curve(kb, records)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="Chroma folder for the passages (default: a temporary one)")
    ap.add_argument("--smoke", action="store_true", help="3 questions")
    args = ap.parse_args()
    if not RGB.is_file():
        sys.exit(f"RGB's en_fact.json is not at {RGB}.")
    with tempfile.TemporaryDirectory(prefix="rgb-bench-") as tmp:
        args.store = args.store or tmp
        out = asyncio.run(main_async(args))
    print("RGB English counterfactual set; en.json is missing, so every condition runs on en_fact.json's passages "
          "and the paper's noise / rejection figures (from en.json) are a rough reference only.")
    for mode, m in out["modes"].items():
        print(table(mode, m["summary"]))
    print("the decision's ceiling (extractive; noise 0.8 inputs as answerable, negative-only as unanswerable; "
          "every answer threshold tried; 'fact' is the noise 0.8 accuracy):")
    print("\n".join(show(out["operating_curve"])))
    t = out["syndication_twins"]
    print(f"positive / counterfactual pairs the syndication check would merge if loaded in one scope: {t['merged_if_one_scope']} of {t['pairs']}")
    if "llm" not in out["modes"]:
        print("(model answers not measured: OPENAI_BASE_URL is not set)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "rgb_counterfactual_smoke.json" if args.smoke else "rgb_counterfactual.json"
    (RESULTS / name).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT) / name}")


if __name__ == "__main__":
    main()
