"""Fit the answering model (knowledge/data/answering.json) and report k-fold cross-validated figures.

One command re-fits the weights:

    python benchmarks/fit_answering.py --bbc-store data/bbc --rgb-store data/rgb
    python benchmarks/fit_answering.py --smoke          # a few questions, nothing written to knowledge/ (CI)

Training data (never the BBC dev set, which stays held out for benchmarks/bbc_quality.py):
- our labelled question set, `benchmarks/questions/newsbot_qa.jsonl` (or `--qset`): questions over
  the BBC corpus, each asked of a store holding all of it (`--bbc-store`, built by
  bbc_quality.py). A sentence is a positive when it is in the right article and overlaps the
  question's evidence sentence (or holds its answer); unanswerable questions have none;
- RGB's en_fact.json (`--rgb-store`, loaded by rgb_counterfactual.py the same way): every question
  over its positive passages (answerable), over its first five negative passages (RGB's near
  misses: same topic, no answer) and over RGB's noise-0.8 input (one positive, four negative). A
  sentence is a positive when it holds the answer (RGB's own answer check);
- our question set's RGB rows, reader-worded questions over a record's positive passages
  (answerable) or negative ones (near misses), in the record's fold.

Every case goes through `KnowledgeBase.retrieve`, so the measurements are exactly the ones the
answer path sees. Folds are by question (a question's RGB conditions stay together). Both models
are fitted on the training folds only; the answer threshold is chosen on the training folds too.
The figures per held-out fold are pooled; the "signals" table re-runs the whole cross-validation
without one group of measurements at a time, which is each signal's measured contribution.

`--compare-models` also cross-validates the alternatives measured and not kept (a depth-3 tree,
class balancing, an answer model without the wording-bound inputs, a sentence model ranked within
each question); `--cases-cache F` keeps the measured cases between runs.

Writes knowledge/data/answering.json (not with --smoke) and benchmarks/results/fit_answering.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from knowledge import CoreConfig, KnowledgeBase, SearchFilter  # noqa: E402
from knowledge.answerability import ANSWER_FEATURES, AnsweringModel, Logistic, fit_logistic, save  # noqa: E402
from knowledge.answering import answer_vector  # noqa: E402
from knowledge.evaluation import load_questions, matches  # noqa: E402
from knowledge.question import analyse  # noqa: E402
from knowledge.support import FEATURES  # noqa: E402

WEIGHTS = ROOT / "knowledge" / "data" / "answering.json"
RESULTS = ROOT / "benchmarks" / "results"
QSET = ROOT / "benchmarks" / "questions" / "newsbot_qa.jsonl"
RGB = ROOT.parent / "shared" / "bench" / "rgb" / "en_fact.json"
FOLDS = 5
SENTENCE_MIN = 0.05
EXTRA_QUOTE_RATIO = 0.5
NOT_STATED_COVERAGE = 0.5
MAX_QUOTES = 3
MAX_WRONGFUL = 0.08  # issue 11's cap on answerable questions refused

# Groups of measurements, for the ablation table (each dropped in turn from both models).
SIGNALS = {
    "meaning (embedding cosine)": ("similarity", "sim_gap"),
    "words (IDF coverage)": ("coverage", "cov_gap", "context_coverage"),
    "article coverage": ("article_coverage",),
    "answer kind": ("kind_asked", "kind_match"),
    "answer kind near the question's words": ("kind_near",),
    "focus": ("focus_asked", "focus_in"),
    "novelty": ("novelty",),
    "names near the sentence": ("names_near",),
    "years (missing from the article, near the sentence)": ("years_missing", "years_near"),
    "position (rank, lead)": ("passage_rank", "lead"),
}


@dataclass
class Case:
    """One question asked over one set of passages, with every candidate sentence measured."""

    group: str  # fold key: the question (an RGB question's conditions share it)
    source: str  # "qset", "rgb positive", "rgb negative", "rgb noise 0.8"
    question: str
    answerable: bool
    x: np.ndarray  # candidate sentences × FEATURES
    y: np.ndarray  # 1 where the sentence holds the answer
    gated: np.ndarray  # True where the sentence's article lacks a name or figure of the question
    maxsim: np.ndarray | None = None  # late interaction per sentence, when measured (--late-interaction)


class LateInteraction:
    """ColBERT-style MaxSim with the ONNX model's own token vectors: each question token's best
    cosine against the sentence's tokens, averaged. Measured here only (see the module docstring)."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.runs = 0

    def tokens(self, text: str) -> np.ndarray:
        got = self.cache.get(text)
        if got is not None:
            return got
        e = self.embedder
        if e._session is None:
            e._load()
        started = time.perf_counter()
        enc = e._tokenizer.encode(text)
        ids = np.array([enc.ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in e._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        h = e._session.run(None, feeds)[0][0][1:-1]  # without [CLS] and [SEP]
        h = h / np.clip(np.linalg.norm(h, axis=1, keepdims=True), 1e-12, None)
        self.seconds += time.perf_counter() - started
        self.runs += 1
        self.cache[text] = h
        return h

    def maxsim(self, question: str, sentence: str) -> float:
        q, d = self.tokens(question), self.tokens(sentence)
        return float((q @ d.T).max(axis=1).mean()) if len(q) and len(d) else 0.0


LATE: LateInteraction | None = None


def measure(kb: KnowledgeBase, question: str, flt: SearchFilter | None, label) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    r = kb.retrieve(question, flt)
    x = np.array([s.features for s in r.supports], dtype=np.float64).reshape(-1, len(FEATURES))
    y = np.array([1.0 if label(s) else 0.0 for s in r.supports])
    gated = np.array([bool(s.missing) for s in r.supports], dtype=bool)
    late = None
    if LATE is not None:
        late = np.array([LATE.maxsim(question, s.passage.article.text[s.sentence.start : s.sentence.end]) for s in r.supports])
    return x, y, gated, late


def qset_cases(kb: KnowledgeBase, path: Path, limit: int | None) -> tuple[list[Case], dict]:
    questions = load_questions(path)
    # RGB rows have no article: they are asked over their own passages (`rgb_cases`)
    skipped = {"metadata": 0, "rgb rows (asked over RGB's passages)": 0, "article not in the store": 0}
    stored = kb.list()
    cases = []
    for q in questions[:limit]:
        if analyse(q["question"]).about is not None:
            skipped["metadata"] += 1  # answered from metadata, not by a sentence
            continue
        if q.get("split") == "rgb":
            skipped["rgb rows (asked over RGB's passages)"] += 1
            continue
        answerable = bool(q.get("answerable", True))
        ref, answer, evidence = str(q.get("article", "") or ""), str(q.get("answer", "") or ""), str(q.get("evidence", "") or "")
        # a story the corpus holds twice may be stored under either copy
        refs = [r for r in (ref, *q.get("also_in", ())) if r]
        if ref and not any(matches(a, r) for a in stored for r in refs):
            skipped["article not in the store"] += 1
            continue

        def label(s, refs=refs, answer=answer, evidence=evidence, answerable=answerable) -> bool:
            """The sentence holds the answer (or, with no answer text, overlaps the evidence)."""
            if not answerable or not any(matches(s.passage.article, r) for r in refs):
                return False
            text = s.passage.article.text
            if answer:
                return answer.lower() in text[s.sentence.start : s.sentence.end].lower()
            at = text.find(evidence) if evidence else -1
            return at >= 0 and s.sentence.start < at + len(evidence) and at < s.sentence.end

        x, y, gated, late = measure(kb, q["question"], None, label)
        cases.append(Case(f"q:{q.get('id')}", "qset", q["question"], answerable, x, y, gated, late))
    return cases, {"questions": len(questions[:limit]), "skipped": skipped}


def rgb_cases(kb: KnowledgeBase, limit: int | None, reader_rows: list[dict]) -> list[Case]:
    from rgb_counterfactual import conditions, has_answer, scope

    records = [json.loads(line) for line in RGB.read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
    rng = random.Random(2333)  # the benchmark's own draw, so "noise 0.8" is the very same input
    cases = []
    for r in records:
        conds = conditions(r, rng)
        pos = [s for s in conds["conflict"] if "-pos-" in s]
        for name, scopes, answerable in (("rgb positive", pos, True), ("rgb negative", conds["negative"], False),
                                         ("rgb noise 0.8", conds["noise 0.8"], True)):
            if not scopes:
                continue

            def label(s, answer=r["answer"]) -> bool:
                a = s.passage.article
                return "-neg-" not in a.scope and has_answer(a.text[s.sentence.start : s.sentence.end], answer)

            x, y, gated, late = measure(kb, r["query"], SearchFilter(scopes=tuple(scopes)), label)
            if not len(y):  # passages not loaded (a store still being built)
                continue
            cases.append(Case(f"rgb:{r['id']}", name, r["query"], answerable, x, y, gated, late))
    # Our question set rewrites some RGB queries as a reader would ask them, over the record's
    # positive passages (answerable) or its negative ones (a near miss): worded unlike the
    # passages, as the BBC dev questions are. They share the record's fold.
    by_id = {r["id"]: r for r in records}
    for row in reader_rows:
        r = by_id.get(row["rgb_id"])
        if r is None:
            continue
        kind = "positive" if row["context"] == "positive" else "negative"
        scopes = [scope(r["id"], kind, i) for i in range(min(len(r[kind]), 5))]

        def label(s, answer=r["answer"]) -> bool:
            a = s.passage.article
            return "-neg-" not in a.scope and has_answer(a.text[s.sentence.start : s.sentence.end], answer)

        x, y, gated, late = measure(kb, row["question"], SearchFilter(scopes=tuple(scopes)), label)
        if len(y):
            cases.append(Case(f"rgb:{r['id']}", f"rgb reader {kind}", row["question"], kind == "positive", x, y, gated, late))
    return cases


def names_of(late: bool) -> tuple[str, ...]:
    return (*FEATURES, "maxsim") if late else FEATURES


def sentence_x(c: Case, late: bool) -> np.ndarray:
    return np.hstack([c.x, c.maxsim[:, None]]) if late and c.maxsim is not None else c.x


def columns(drop: tuple[str, ...], late: bool = False) -> tuple[list[int], list[int]]:
    keep_s = [i for i, f in enumerate(names_of(late)) if f not in drop]
    keep_a = [i for i, f in enumerate(ANSWER_FEATURES) if f not in drop and f not in OPTIONS["answer_drop"]]
    return keep_s, keep_a


def answer_rows(cases: list[Case], sent_model, keep_s: list[int], gate: bool, late: bool = False) -> list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Per case: (answer-model input, sentence probabilities, eligible sentence order), or None."""
    out = []
    for c in cases:
        ok = ~c.gated if gate else np.ones(len(c.y), dtype=bool)
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            out.append(None)
            continue
        p = sent_model.probability(sentence_x(c, late)[idx][:, keep_s])
        order = idx[np.argsort(-p)]
        ps = np.sort(p)[::-1]
        best = c.x[order[0]]
        vec = answer_vector([float(v) for v in ps], lambda n, best=best: float(best[FEATURES.index(n)]))
        out.append((vec, ps, order))
    return out


LONG_STYLE: set[str] = set()  # the case groups of our set's "style": "long" rows (set in main)
OPTIONS: dict = {"balanced": False, "answer_model": "logistic", "answer_drop": (), "sentence_model": "pointwise"}
# The answerability inputs that depend most on the question's wording: how many of its words
# a sentence or article repeats, and the embedding cosine (the dev set's paraphrases score low).
WORDING = ("similarity", "coverage", "article_coverage")


class Tree:
    """A shallow classification tree (CART, Gini), the inspectable alternative to the logistic
    answerability model: compared under the same cross-validation (--compare-models)."""

    def __init__(self, node: dict, features: list[str]) -> None:
        self.node, self.features = node, features

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, features: list[str], sw: np.ndarray | None = None, depth: int = 3,
            min_leaf: int = 20) -> Tree:
        w = np.ones(len(y)) if sw is None else sw

        def grow(idx: np.ndarray, d: int) -> dict:
            tot = w[idx].sum()
            p = float((w[idx] * y[idx]).sum() + 1) / float(tot + 2)  # Laplace-smoothed leaf
            if d == 0 or len(idx) < 2 * min_leaf or p in (0.0, 1.0):
                return {"p": p}
            best = None
            for j in range(x.shape[1]):
                order = idx[np.argsort(x[idx, j], kind="stable")]
                xs, ws, wy = x[order, j], w[order], w[order] * y[order]
                cw, cy = np.cumsum(ws), np.cumsum(wy)
                for k in range(min_leaf, len(order) - min_leaf):
                    if xs[k] == xs[k - 1]:
                        continue
                    lw, ly, rw, ry = cw[k - 1], cy[k - 1], tot - cw[k - 1], cy[-1] - cy[k - 1]
                    gini = ly * (1 - ly / lw) + ry * (1 - ry / rw)
                    if best is None or gini < best[0]:
                        best = (gini, j, float((xs[k] + xs[k - 1]) / 2))
            if best is None:
                return {"p": p}
            _, j, t = best
            left, right = idx[x[idx, j] <= t], idx[x[idx, j] > t]
            return {"feature": j, "name": features[j], "at": t, "le": grow(left, d - 1), "gt": grow(right, d - 1)}

        return cls(grow(np.arange(len(y)), depth), features)

    def probability(self, x: np.ndarray) -> np.ndarray:
        out = []
        for row in x:
            n = self.node
            while "p" not in n:
                n = n["le"] if row[n["feature"]] <= n["at"] else n["gt"]
            out.append(n["p"])
        return np.array(out)


def fit_ranked(x: np.ndarray, y: np.ndarray, group: np.ndarray, features: list[str], *, l2: float = 1.0,
               steps: int = 400) -> Logistic:
    """The sentence model fitted to rank within each question (a conditional logit: the chance that
    the answer sentences win among that question's candidates), then calibrated to a probability
    by a one-feature logistic regression on its score (Platt). A pointwise fit learns that long,
    word-rich questions have likelier sentences; this one learns only which sentence of a
    question to quote. The result is an ordinary Logistic (weights scaled, bias shifted)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    keep = np.isin(group, np.unique(group[y > 0]))  # questions with an answer sentence teach the ranking
    z_k, y_k, g_k = z[keep], y[keep], group[keep]
    _, g_idx = np.unique(g_k, return_inverse=True)
    n_g = int(g_idx.max()) + 1 if len(g_idx) else 0
    w = np.zeros(z.shape[1])
    lr = 0.5
    for _ in range(steps):
        sc = z_k @ w
        sc = sc - np.bincount(g_idx, weights=sc, minlength=n_g)[g_idx] / np.bincount(g_idx, minlength=n_g)[g_idx]
        e = np.exp(np.clip(sc, -30, 30))
        tot = np.bincount(g_idx, weights=e, minlength=n_g)
        pos = np.bincount(g_idx, weights=e * y_k, minlength=n_g)
        p_all = e / tot[g_idx]  # softmax within the question
        p_pos = e * y_k / np.maximum(pos[g_idx], 1e-300)  # softmax within its answer sentences
        grad = z_k.T @ (p_pos - p_all) - l2 * w  # gradient of the log-likelihood
        w += lr * grad / max(1, n_g)
    score = z @ w
    platt = fit_logistic(score.reshape(-1, 1), y, ["score"])
    a = float(platt.weights[0] / platt.scale[0])
    return Logistic(tuple(features), a * w, float(platt.bias - a * platt.mean[0]), mean, scale)


def fit(cases: list[Case], drop: tuple[str, ...] = (), gate: bool = True, late: bool = False):
    keep_s, keep_a = columns(drop, late)
    rows = [(sentence_x(c, late)[i], c.y[i], n) for n, c in enumerate(cases) for i, out in enumerate(c.gated) if not (gate and out)]
    x = np.array([r[0] for r in rows])[:, keep_s]
    y = np.array([r[1] for r in rows])
    names_s = [names_of(late)[i] for i in keep_s]
    if OPTIONS["sentence_model"] == "ranked":
        sent = fit_ranked(x, y, np.array([r[2] for r in rows]), names_s)
    else:
        sent = fit_logistic(x, y, names_s)
    ans = answer_rows(cases, sent, keep_s, gate, late)
    ax = np.array([a[0][keep_a] for a in ans if a is not None])
    # the target: some eligible sentence holds the answer (else refusing is the right call)
    ay = np.array([float(c.answerable and bool(c.y[a[2]].any())) for c, a in zip(cases, ans, strict=True) if a is not None])
    names_a = [ANSWER_FEATURES[i] for i in keep_a]
    # balanced: each class weighs half, so the cut is not pulled toward the majority class
    sw = np.where(ay > 0, 0.5 / max(1e-9, ay.mean()), 0.5 / max(1e-9, 1 - ay.mean())) if OPTIONS["balanced"] else None
    answerable = Tree.fit(ax, ay, names_a, sw) if OPTIONS["answer_model"] == "tree" else fit_logistic(ax, ay, names_a, sample_weight=sw)
    # every case counts in the choice, a ruled-out one as certainly refused
    conf = np.array([0.0 if a is None else float(answerable.probability(a[0][keep_a].reshape(1, -1))[0]) for a in ans])
    truth = np.array([c.answerable for c in cases])
    reach = np.array([c.answerable and a is not None and bool(c.y[a[2]].any()) for c, a in zip(cases, ans, strict=True)])
    threshold = choose_threshold(conf, truth, reach)
    return sent, answerable, threshold


def choose_threshold(conf: np.ndarray, answerable: np.ndarray, reachable: np.ndarray) -> float:
    """The strictest cut that keeps wrongful refusals within the product's cap (MAX_WRONGFUL of
    the answerable questions whose answer is among the candidates refused): refusing what can
    be answered is the costlier mistake. With no such cut, the one that maximises (answerable
    answered) + (unanswerable refused)."""
    best, best_t = -1.0, 0.5
    capped = [float(t) for t in np.linspace(0.02, 0.95, 94)
              if reachable.any() and (conf[reachable] < t).mean() <= MAX_WRONGFUL]
    if capped:
        return round(max(capped), 3)
    for t in np.linspace(0.05, 0.95, 91):
        a = (conf[answerable] >= t).mean() if answerable.any() else 0.0
        r = (conf[~answerable] < t).mean() if (~answerable).any() else 0.0
        if a + r > best:
            best, best_t = a + r, float(t)
    return round(best_t, 3)


def judge(cases: list[Case], sent, answerable, threshold: float, drop: tuple[str, ...] = (), gate: bool = True,
          late: bool = False) -> list[dict]:
    keep_s, keep_a = columns(drop, late)
    out = []
    for c, a in zip(cases, answer_rows(cases, sent, keep_s, gate, late), strict=True):
        if a is None:
            out.append({"source": c.source, "group": c.group, "question": c.question, "answerable": c.answerable, "answered": False, "correct": False, "reachable": False,
                        "confidence": 0.0})
            continue
        vec, ps, order = a
        conf = float(answerable.probability(vec[keep_a].reshape(1, -1))[0])
        answered = conf >= threshold and ps[0] >= SENTENCE_MIN
        floor = max(SENTENCE_MIN, EXTRA_QUOTE_RATIO * ps[0])
        chosen = [order[0]] + [order[i] for i in range(1, len(order)) if ps[i] >= floor][: MAX_QUOTES - 1]
        out.append({"source": c.source, "group": c.group, "question": c.question, "answerable": c.answerable, "answered": bool(answered), "confidence": conf,
                    "correct": bool(answered and c.answerable and c.y[chosen].any()),
                    "top1": bool(c.y[order[0]] > 0), "reachable": bool(c.y[order].any())})
    return out


def summary(results: list[dict]) -> dict:
    def share(xs: list[bool]) -> float | None:
        return round(sum(xs) / len(xs), 3) if xs else None

    pos = [r for r in results if r["answerable"]]
    neg = [r for r in results if not r["answerable"]]
    # how well the confidence tells answerable from unanswerable whatever the threshold (AUC: the
    # chance that an answerable case scores above an unanswerable one; ties count half)
    auc = None
    if pos and neg:
        cp, cn = np.array([r["confidence"] for r in pos]), np.array([r["confidence"] for r in neg])
        auc = round(float(((cp[:, None] > cn[None, :]).sum() + 0.5 * (cp[:, None] == cn[None, :]).sum()) / (len(cp) * len(cn))), 3)
    return {"cases": len(results), "answerable": len(pos), "unanswerable": len(neg), "auc": auc,
            "answer_accuracy": share([r["correct"] for r in pos]),
            "refusal_accuracy": share([not r["answered"] for r in neg]),
            "wrongful_refusals": share([not r["answered"] for r in pos]),
            "top_sentence_right": share([r.get("top1", False) for r in pos]),
            "ceiling (answer among candidates)": share([r["reachable"] for r in pos])}


def cross_validate(cases: list[Case], drop: tuple[str, ...] = (), gate: bool = True, folds: int = FOLDS, late: bool = False) -> dict:
    groups = sorted({c.group for c in cases})
    random.Random(7).shuffle(groups)
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    results: list[dict] = []
    for k in range(folds):
        train = [c for c in cases if fold_of[c.group] != k]
        test = [c for c in cases if fold_of[c.group] == k]
        if not train or not test:
            continue
        sent, ans, t = fit(train, drop, gate, late)
        results += judge(test, sent, ans, t, drop, gate, late)
    by_source = {s: summary([r for r in results if r["source"] == s]) for s in sorted({r["source"] for r in results})}
    # pooled, so that the AUC compares RGB's answerable and unanswerable inputs
    by_source["rgb (positive, negative, noise)"] = summary([r for r in results if r["source"] in ("rgb positive", "rgb negative", "rgb noise 0.8")])
    by_source["rgb reader-worded"] = summary([r for r in results if r["source"].startswith("rgb reader")])
    # our set's long questions with a reader's context ("style": "long"), the BBC dev set's shape
    if any(r["group"] in LONG_STYLE for r in results):
        by_source["qset, long reader style"] = summary([r for r in results if r["group"] in LONG_STYLE])
    out: dict = {"all": summary(results), **by_source}
    out["_results"] = results
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bbc-store", default=str(ROOT / "data" / "bbc"), help="a store holding the BBC corpus (bbc_quality.py builds one)")
    ap.add_argument("--rgb-store", default=str(ROOT / "data" / "rgb"), help="a store holding RGB's passages (rgb_counterfactual.py builds one)")
    ap.add_argument("--qset", default=str(QSET), help="our labelled questions (JSON Lines)")
    ap.add_argument("--smoke", action="store_true", help="a few questions; writes no weights")
    ap.add_argument("--sources", default="rgb,qset", help="training sources, comma-separated (default: rgb,qset)")
    ap.add_argument("--late-interaction", action="store_true", help="also measure token-level MaxSim as a signal (slow)")
    ap.add_argument("--balanced", action="store_true", help="weigh answerable and unanswerable cases equally in the answerability model")
    ap.add_argument("--sentence-model", choices=("pointwise", "ranked"), default="pointwise",
                    help="pointwise logistic, or ranked within each question then calibrated (see fit_ranked)")
    ap.add_argument("--compare-models", action="store_true",
                    help="also cross-validate logistic vs a depth-3 tree, each with and without class balancing")
    ap.add_argument("--errors", help="write each case's out-of-fold decision (JSON Lines) to this file")
    ap.add_argument("--no-signals", action="store_true", help="skip the table of each signal's contribution")
    ap.add_argument("--cv-only", action="store_true", help="cross-validate and print; write no weights")
    ap.add_argument("--cases-cache", help="pickle of the measured cases: read if present, else written (saves re-measuring)")
    args = ap.parse_args()
    OPTIONS["balanced"] = args.balanced
    OPTIONS["sentence_model"] = args.sentence_model
    started = time.perf_counter()
    limit = 6 if args.smoke else None
    cases: list[Case] = []
    info: dict = {}
    if args.cases_cache and Path(args.cases_cache).exists():
        import pickle

        cases, info = pickle.loads(Path(args.cases_cache).read_bytes())
        args.sources = ""
    tmp = tempfile.TemporaryDirectory(prefix="fit-answering-") if args.smoke else None
    if tmp is not None:  # the smoke run loads what its few questions need into stores of its own
        args.rgb_store, args.bbc_store = f"{tmp.name}/rgb", f"{tmp.name}/bbc"
    rgb = KnowledgeBase(CoreConfig(chroma_path=args.rgb_store))
    if tmp is not None:
        from rgb_counterfactual import load_passages

        load_passages(rgb, [json.loads(line) for line in RGB.read_text(encoding="utf-8").splitlines() if line.strip()][:limit])
    global LATE
    LATE = LateInteraction(rgb.embedder) if args.late_interaction else None
    qset = Path(args.qset)
    if qset.exists():
        LONG_STYLE.update(f"q:{q.get('id')}" for q in load_questions(qset) if q.get("style") == "long")
    if "rgb" in args.sources:
        reader = [q for q in load_questions(qset) if q.get("split") == "rgb"] if "qset" in args.sources and qset.exists() else []
        cases += rgb_cases(rgb, limit, reader)
    if "qset" in args.sources and qset.exists():
        bbc = KnowledgeBase(CoreConfig(chroma_path=args.bbc_store), embedder=rgb.embedder)
        if tmp is not None:
            from bbc_quality import BBC, load_corpus

            wanted = sorted({BBC / q["article"] for q in load_questions(qset)[:limit] if q.get("article")})
            load_corpus(bbc, wanted + [p for p in sorted(BBC.glob("*/*.txt")) if p not in wanted][:10])
        if not bbc.list():
            sys.exit(f"{args.bbc_store} holds no articles: build it with benchmarks/bbc_quality.py --store {args.bbc_store}")
        qcases, info = qset_cases(bbc, qset, limit)
        cases += qcases
    elif args.sources:
        print(f"(no question set at {qset}: fitting on RGB only)")
    if args.cases_cache and not Path(args.cases_cache).exists():
        import pickle

        Path(args.cases_cache).write_bytes(pickle.dumps((cases, info)))
    if info:
        print(f"question set: {info}")
    print(f"{len(cases)} cases ({sum(c.answerable for c in cases)} answerable), {sum(len(c.y) for c in cases)} sentences, "
          f"measured in {time.perf_counter() - started:.0f} s", flush=True)
    folds = 2 if args.smoke else FOLDS
    if args.compare_models:
        print("\nanswerability model, cross-validated (answer acc / refused / wrongful), all and reader-worded RGB rows")
        for model_kind in ("logistic", "tree"):
            for balanced in (False, True):
                OPTIONS.update(answer_model=model_kind, balanced=balanced)
                c = cross_validate(cases, folds=folds)
                cells = [c["all"]] + [c[k] for k in ("rgb reader positive", "rgb reader negative", "qset") if k in c]
                print(f"  {model_kind + (' balanced' if balanced else ''):<20}" + "  ".join(
                    f"{x['answer_accuracy']}/{x['refusal_accuracy']}/{x['wrongful_refusals']}/top {x['top_sentence_right']}" for x in cells), flush=True)
        OPTIONS.update(answer_model="logistic", balanced=args.balanced, answer_drop=WORDING)
        c = cross_validate(cases, folds=folds)
        cells = [c["all"]] + [c[k] for k in ("rgb reader positive", "rgb reader negative", "qset") if k in c]
        print(f"  {'logistic, no wording':<20}" + "  ".join(
            f"{x['answer_accuracy']}/{x['refusal_accuracy']}/{x['wrongful_refusals']}/top {x['top_sentence_right']}" for x in cells), flush=True)
        for sm in ("ranked",):
            for balanced in (False, True):
                OPTIONS.update(answer_model="logistic", balanced=balanced, answer_drop=(), sentence_model=sm)
                c = cross_validate(cases, folds=folds)
                cells = [c["all"]] + [c[k] for k in ("rgb reader positive", "rgb reader negative", "qset") if k in c]
                print(f"  {sm + ' sentences' + (' bal' if balanced else ''):<20}" + "  ".join(
                    f"{x['answer_accuracy']}/{x['refusal_accuracy']}/{x['wrongful_refusals']}/top {x['top_sentence_right']}"
                    for x in cells), flush=True)
        OPTIONS.update(answer_model="logistic", balanced=args.balanced, answer_drop=(), sentence_model=args.sentence_model)
    cv = cross_validate(cases, folds=folds)
    ablations = {"all signals": cv["all"]}
    if not args.no_signals:
        ablations["without the missing-name gate"] = cross_validate(cases, gate=False, folds=folds)["all"]
        for name, feats in SIGNALS.items():
            ablations[f"without {name}"] = cross_validate(cases, drop=feats, folds=folds)["all"]
    late_info = None
    if LATE is not None:
        ablations["with late interaction (MaxSim)"] = cross_validate(cases, folds=folds, late=True)["all"]
        late_info = {"model_runs": LATE.runs, "ms_per_sentence": round(1000 * LATE.seconds / max(1, LATE.runs), 2),
                     "candidates_per_question": round(sum(len(c.y) for c in cases) / max(1, len(cases)), 1)}
        print(f"late interaction: {late_info['ms_per_sentence']} ms of model time per sentence, "
              f"{late_info['candidates_per_question']} candidate sentences a question")
    sent, ans, _ = fit(cases)
    # The shipped threshold is chosen on the out-of-fold confidences: in-sample ones are
    # optimistic for answerable questions, so a cut chosen on them refuses too much elsewhere.
    oof = cv.pop("_results")
    if args.errors:  # each case's out-of-fold decision, for error analysis
        Path(args.errors).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in oof), encoding="utf-8")
    threshold = choose_threshold(np.array([r["confidence"] for r in oof]), np.array([r["answerable"] for r in oof]),
                                 np.array([r["answerable"] and r["reachable"] for r in oof]))
    m = AnsweringModel(sent, ans, threshold, SENTENCE_MIN, EXTRA_QUOTE_RATIO, NOT_STATED_COVERAGE, {
        "fitted_on": {"cases": len(cases), "sources": sorted({c.source for c in cases}), "qset": str(qset.name) if qset.exists() else None,
                      "qset_info": info},
        "cross_validated": cv["all"], "folds": folds, "command": "python benchmarks/fit_answering.py",
    })
    cols = ("answer_accuracy", "refusal_accuracy", "wrongful_refusals", "top_sentence_right", "auc", "ceiling (answer among candidates)")
    print(f"\n{folds}-fold cross-validated, by source")
    print(f"{'':<34}{'cases':>7}" + "".join(f"{c[:22]:>24}" for c in cols))
    for name, s in cv.items():
        print(f"{name:<34}{s['cases']:>7}" + "".join(f"{'-' if s[c] is None else s[c]:>24}" for c in cols))
    print("\nsignals: the same cross-validation without each group of measurements")
    for name, s in ablations.items():
        print(f"{name:<44}" + "".join(f"{'-' if s[c] is None else s[c]:>24}" for c in cols[:5]))
    print(f"\nthreshold {threshold}; sentence weights: " + ", ".join(f"{f} {w:+.2f}" for f, w in zip(sent.features, sent.weights, strict=True)))
    print("answerability weights: " + ", ".join(f"{f} {w:+.2f}" for f, w in zip(ans.features, ans.weights, strict=True)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "fit_answering_smoke.json" if args.smoke else "fit_answering.json"
    (RESULTS / name).write_text(json.dumps({"cross_validated": cv, "signals": ablations, "late_interaction": late_info, "model": m.to_dict()}, indent=1) + "\n")
    if not args.smoke and not args.cv_only:
        save(m, WEIGHTS)
        print(f"wrote {WEIGHTS.relative_to(ROOT)}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
