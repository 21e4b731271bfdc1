"""Tying each sentence of a model's answer to the verified quotes it cites; the rest is dropped.

The model writes its answer sentence by sentence, each naming the quotes (by number) that back it.
Once the quotes are checked against the stored articles, a sentence is kept only if

- at least one quote it cites was verified (the others are forgotten), and
- every stretch of it inside quotation marks stands in one of its verified quotes: the answer's
  own words may not put an unchecked quotation in anyone's mouth.

What is shown is then a list of claims, each with its quote numbers; nothing the model wrote
reaches the user without a verified quote beside it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .models import Citation, Claim
from .quotes import normalise
from .replies import DraftSentence

MAX_CLAIMS = 6
MAX_ANSWER_CHARS = 1500
# Double quotation marks of any style; single ones double as apostrophes and are left alone.
_QUOTATION = re.compile("[\"“”„‟″«»]")


@dataclass(frozen=True)
class Tied:
    claims: tuple[Claim, ...]
    dropped: int  # sentences left out
    unmarked: int  # of which: sentences that named no quote at all


def quoted_stretches(sentence: str) -> list[str]:
    """The parts of `sentence` inside double quotation marks (an unclosed one runs to the end)."""
    parts = _QUOTATION.split(sentence)
    return [p.strip() for p in parts[1::2] if p.strip()]


def quotations_backed(sentence: str, quotes: Sequence[str]) -> bool:
    """Every quoted stretch of `sentence` stands, normalised, in one of `quotes`."""
    norms = [normalise(q) for q in quotes]
    for stretch in quoted_stretches(sentence):
        s = normalise(stretch).strip(" .,;:!?'")
        if s and not any(s in n for n in norms):
            return False
    return True


def tie(sentences: Sequence[DraftSentence], ref_to_cite: dict[int, int], cites: Sequence[Citation]) -> Tied:
    """Claims from the model's sentences; `ref_to_cite` maps the reply's quote numbers to the
    (1-based) numbers of the verified citations they became."""
    claims: list[Claim] = []
    dropped = unmarked = size = 0
    for s in sentences:
        backing = tuple(dict.fromkeys(ref_to_cite[r] for r in s.refs if r in ref_to_cite))
        ok = bool(backing) and quotations_backed(s.text, [cites[n - 1].quote for n in backing])
        if ok and len(claims) < MAX_CLAIMS and size + len(s.text) <= MAX_ANSWER_CHARS:
            claims.append(Claim(s.text, backing))
            size += len(s.text) + 1
        else:
            dropped += 1
            unmarked += not s.refs
    return Tied(tuple(claims), dropped, unmarked)
