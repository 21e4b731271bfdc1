"""The fitted model behind the answer: which sentence to quote, and whether to answer at all.

Two logistic regressions, small enough to read (`knowledge/data/answering.json` lists every
weight by name; `benchmarks/fit_answering.py` fits them again in one command):

- the sentence model: the chance that a sentence holds the answer, from its measurements
  (`support.FEATURES`); the best sentences are quoted;
- the answerability model: the chance that the question is answerable at all, from the best
  sentence's measurements and its margin over the runner-up (`ANSWER_FEATURES`). Below
  `threshold`, the question is refused as "not stated" or "not covered".

Features are standardised with the training mean and scale stored beside the weights, so a
weight says how much one standard deviation of its feature moves the log-odds.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_FILE = "answering.json"

#: The question-level measurements: the best sentence's probability, the runner-up's, and the best
#: sentence's own measurements. (The best's share of all candidates' probability was measured and
#: dropped: −0.003 wrongful refusals, −0.007 refusals under cross-validation, benchmarks/README.md.)
ANSWER_FEATURES = (
    "p_best", "p_second", "similarity", "coverage", "article_coverage", "kind_asked", "kind_match", "focus_asked",
    "focus_in", "novelty", "names_near", "years_missing", "kind_near", "years_near",
)


@dataclass(frozen=True)
class Logistic:
    """One standardised logistic regression: P = sigmoid(bias + Σ weight·(x − mean)/scale)."""

    features: tuple[str, ...]
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        p: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        return p

    def probability_of(self, x: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """`probability` for rows whose columns are `names` (a superset of this model's features,
        so weights fitted without a measurement keep working when it is added)."""
        return self.probability(x[:, [list(names).index(f) for f in self.features]])

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features), "bias": round(self.bias, 6),
            "weights": {f: round(float(w), 6) for f, w in zip(self.features, self.weights, strict=True)},
            "mean": [round(float(v), 6) for v in self.mean], "scale": [round(float(v), 6) for v in self.scale],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Logistic:
        feats = tuple(d["features"])
        return cls(feats, np.array([d["weights"][f] for f in feats], dtype=np.float64), float(d["bias"]),
                   np.array(d["mean"], dtype=np.float64), np.array(d["scale"], dtype=np.float64))


@dataclass(frozen=True)
class AnsweringModel:
    sentence: Logistic
    answerable: Logistic
    threshold: float  # answer when the answerability probability reaches this
    sentence_min: float  # a sentence below this is never quoted
    extra_quote_ratio: float  # further quotes need this share of the best sentence's probability
    not_stated_coverage: float  # refusals: "not stated" when the best article covers this much of the question
    meta: dict[str, Any]

    def sentence_probability(self, x: np.ndarray, names: Sequence[str]) -> np.ndarray:
        return self.sentence.probability_of(x, names)

    def answerable_probability(self, x: np.ndarray) -> float:
        return float(self.answerable.probability_of(x.reshape(1, -1), ANSWER_FEATURES)[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentence": self.sentence.to_dict(), "answerable": self.answerable.to_dict(), "threshold": self.threshold,
            "sentence_min": self.sentence_min, "extra_quote_ratio": self.extra_quote_ratio,
            "not_stated_coverage": self.not_stated_coverage, "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnsweringModel:
        return cls(Logistic.from_dict(d["sentence"]), Logistic.from_dict(d["answerable"]), float(d["threshold"]),
                   float(d["sentence_min"]), float(d["extra_quote_ratio"]), float(d["not_stated_coverage"]), d.get("meta", {}))


@functools.lru_cache(maxsize=1)
def model() -> AnsweringModel:
    """The shipped model (package data)."""
    text = resources.files("knowledge").joinpath("data").joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
    return AnsweringModel.from_dict(json.loads(text))


def save(m: AnsweringModel, path: Path) -> None:
    path.write_text(json.dumps(m.to_dict(), indent=1) + "\n", encoding="utf-8")
    model.cache_clear()


def fit_logistic(x: np.ndarray, y: np.ndarray, features: Sequence[str], *, l2: float = 1.0, steps: int = 300,
                 sample_weight: np.ndarray | None = None) -> Logistic:
    """L2-regularised logistic regression by Newton's method (a few dozen features: exact and fast)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[0] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (sw * (p - y)) + reg * w
        hess = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return Logistic(tuple(features), w[1:], float(w[0]), mean, scale)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(y) else math.nan

