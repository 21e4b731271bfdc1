"""Does a check between a model's sentence and its quotes catch invented claims without dropping
good ones? Word overlap (`claims.words_backed`: numbers and names must stand in the quotes, and at
most a share of the content words may be new) against the local embedding model's cosine.

Claims are built from public question sets, each paired with the one quote that backs it:

* BBC dev questions (`../shared/bench/bbc/dev_qa.jsonl`, the 45 answerable ones), quote = the
  evidence sentence. good: "<question> <answer>."; wrong answer: the question with another
  question's answer; unrelated: another question's evidence sentence; added claim: the good claim
  with another evidence sentence joined on.
* RGB counterfactual (`../shared/bench/rgb/en_fact.json`, 100 questions), quote = the first
  `positive` passage holding the answer. good: "<query>: <answer>."; wrong answer: "<query>:
  <planted fake answer>." (RGB's own counterfactual).
* The shipped seed article: 16 faithful paraphrases of its sentences as a model writes them,
  7 inventions leaning on a real sentence (the issue's "Reuters issued an official correction: …"
  among them) and 5 wrong answers (a changed name, day, verb or negation).

A good claim written from a question is harder to back than a model's paraphrase of its quote
(questions bring their own words and context), so "good kept" on BBC and RGB is a lower bound;
the seed set's paraphrases are the realistic case. Figures are printed per set.

    python benchmarks/claim_support.py           # all claims (~20 s)
    python benchmarks/claim_support.py --smoke   # 5 questions of each set (CI)

Writes benchmarks/results/claim_support.json (claim_support_smoke.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.claims import MAX_NEW_WORDS_SHARE, words_backed  # noqa: E402

BBC_QA = ROOT.parent / "shared" / "bench" / "bbc" / "dev_qa.jsonl"
RGB = ROOT.parent / "shared" / "bench" / "rgb" / "en_fact.json"
RESULTS = ROOT / "benchmarks" / "results"
SHARES = [0.0, 0.1, 0.25, 0.4, 0.5]
COSINES = [0.3, 0.4, 0.5, 0.6, 0.7]
SEED_QUOTE = "China will retaliate with a total ban on US chips by March."


def bbc_claims(limit: int | None) -> list[tuple[str, str, str]]:
    qa = [json.loads(line) for line in BBC_QA.read_text().splitlines() if line.strip()]
    qa = [q for q in qa if q.get("answerable") and q.get("evidence") and q.get("answer")][:limit]
    out = []
    for i, q in enumerate(qa):
        other = qa[(i + 1) % len(qa)]
        good = f"{q['question'].rstrip()} {q['answer']}."
        out += [("good", good, q["evidence"]),
                ("wrong answer", f"{q['question'].rstrip()} {other['answer']}.", q["evidence"]),
                ("unrelated", other["evidence"], q["evidence"]),
                ("added claim", f"{good[:-1]}, and {other['evidence'][0].lower()}{other['evidence'][1:]}", q["evidence"])]
    return out


def _first(answer: object) -> str:
    while isinstance(answer, list) and answer:
        answer = answer[0]
    return answer if isinstance(answer, str) else ""


def rgb_claims(limit: int | None) -> list[tuple[str, str, str]]:
    out = []
    for line in RGB.read_text().splitlines()[:limit]:
        item = json.loads(line)
        ans, fake = _first(item["answer"]), _first(item["fakeanswer"])
        quote = next((p for p in item["positive"] if ans and ans.lower() in p.lower()), "")
        if not quote or not fake or fake.lower() in quote.lower():
            continue
        out += [("good", f"{item['query']}: {ans}.", quote), ("wrong answer", f"{item['query']}: {fake}.", quote)]
    return out


# Sentences of the shipped seed article (knowledge/articles) and claims about them as a model
# writes them: faithful paraphrases ("good"), and inventions leaning on the same sentence.
S1 = ("China firmly opposes US restrictions on artificial intelligence exports and will take resolute actions to "
      "safeguard the legitimate rights and interests of Chinese enterprises, Chinese Foreign Ministry spokesperson "
      "Guo Jiakun said at a regular press conference on Tuesday.")
S2 = ("The restrictions further tighten export controls on AI chips and model parameters, while extending "
      "extraterritorial jurisdiction.")
S3 = ("\"AI is a shared asset of all humanity and should not be a game for wealthy nations and individuals, nor should "
      "it be used to create new development gaps,\" Guo said.")
S4 = ("Guo described the US AI policy as a \"stumbling block\" to other countries, which contradicts the common "
      "interests of countries promoting the responsible development of AI, raising concerns about the United States "
      "initiating a new Cold War in technology.")
S5 = ("He said that many US technology companies and industry associations had explicitly opposed the measures taken "
      "by the Biden administration.")
S6 = ("He said China would continue to work with all parties to create an open, inclusive, universally beneficial, "
      "and non-discriminatory environment for the development of AI, ensuring that its benefits reach all countries.")
SEED = [
    ("good", "The spokesperson quoted is Guo Jiakun.", S1),
    ("good", "China opposes the US restrictions on AI exports.", S1),
    ("good", "China says it will take resolute actions to protect its enterprises' rights and interests.", S1),
    ("good", "Guo Jiakun spoke at a regular press conference on Tuesday.", S1),
    ("good", "The restrictions tighten export controls on AI chips and model parameters.", S2),
    ("good", "The US measures extend extraterritorial jurisdiction.", S2),
    ("good", "Guo said AI is a shared asset of all humanity.", S3),
    ("good", "He said AI should not be a game for wealthy nations.", S3),
    ("good", "Guo called the US AI policy a stumbling block to other countries.", S4),
    ("good", "He raised concerns about a new Cold War in technology.", S4),
    ("good", "Many US technology companies opposed the Biden administration's measures.", S5),
    ("good", "Industry associations in the US explicitly opposed the measures.", S5),
    ("good", "China will keep working with all parties on AI development.", S6),
    ("good", "China wants the benefits of AI to reach all countries.", S6),
    ("good", "According to Xinhua, China firmly opposes the restrictions.", S1),
    ("good", "China promised an open and inclusive environment for AI.", S6),
    ("added claim", f"Reuters issued an official correction: {SEED_QUOTE}", SEED_QUOTE),
    ("added claim", "Guo Jiakun said China will ban US chips in retaliation.", S1),
    ("added claim", "China will impose sanctions on Nvidia and other chipmakers.", S2),
    ("added claim", "The restrictions were announced by President Trump in March.", S2),
    ("added claim", "Guo said the EU and Japan back China's position.", S4),
    ("added claim", "Apple and Google asked Congress to repeal the measures.", S5),
    ("added claim", "China will spend 50 billion dollars on domestic AI chips.", S6),
    ("wrong answer", "The spokesperson quoted is Wang Yi.", S1),
    ("wrong answer", "Guo spoke at a press conference on Friday.", S1),
    ("wrong answer", "The restrictions loosen export controls on AI chips.", S2),
    ("wrong answer", "Guo said AI should be a game for wealthy nations.", S3),
    ("wrong answer", "Few US technology companies opposed the measures.", S5),
]


def seed_claims() -> list[tuple[str, str, str]]:
    return SEED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="5 questions of each set")
    args = ap.parse_args()
    limit = 5 if args.smoke else None
    sets = {"bbc": bbc_claims(limit), "rgb": rgb_claims(limit), "seed": seed_claims()}
    claims = [(name, kind, s, q) for name, rows in sets.items() for kind, s, q in rows]

    from knowledge.embeddings import MiniLMOnnx

    model = MiniLMOnnx()
    sv = np.asarray(model.embed_documents([c[2] for c in claims]))
    qv = np.asarray(model.embed_documents([c[3] for c in claims]))
    cos = (sv * qv).sum(axis=1) / (np.linalg.norm(sv, axis=1) * np.linalg.norm(qv, axis=1))

    kinds = sorted({c[1] for c in claims}, key=lambda k: (k != "good", k))
    methods: dict[str, list[bool]] = {"no check": [True] * len(claims)}
    for share in SHARES:
        # as in claims.tie: the outlet and date of the quote count as its words
        methods[f"overlap ≤{share:.2f} new"] = [words_backed(s, [q] + (["Xinhua 2025-01-14"] if n == "seed" else []), share)
                                                for n, _, s, q in claims]
    for t in COSINES:
        methods[f"cosine ≥{t:.1f}"] = [bool(c >= t) for c in cos]

    tables: dict[str, dict[str, dict[str, float]]] = {}
    for set_name in ["seed", "bbc", "rgb"]:
        idx_set = [i for i, c in enumerate(claims) if c[0] == set_name]
        here = [k for k in kinds if any(claims[i][1] == k for i in idx_set)]
        print(f"\n{set_name}: " + ", ".join(f"{k} {sum(claims[i][1] == k for i in idx_set)}" for k in here))
        print(f"{'method':<22}" + "".join(f"{('kept ' if k == 'good' else 'caught ') + k:>22}" for k in here))
        rows = tables[set_name] = {}
        for name, kept in methods.items():
            row = {}
            for k in here:
                idx = [i for i in idx_set if claims[i][1] == k]
                share_kept = sum(kept[i] for i in idx) / len(idx)
                row[k] = round(100 * (share_kept if k == "good" else 1 - share_kept), 1)
            rows[name] = row
            print(f"{name:<22}" + "".join(f"{row[k]:>21.1f}%" for k in here))
    out = {"claims": {s_: {k: sum(c[0] == s_ and c[1] == k for c in claims) for k in kinds} for s_ in sets},
           "in_use": f"overlap ≤{MAX_NEW_WORDS_SHARE:.2f} new", "rows": tables,
           "note": "good: % kept; others: % caught (dropped)"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "claim_support_smoke.json" if args.smoke else "claim_support.json"
    (RESULTS / name).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT) / name}")


if __name__ == "__main__":
    main()
