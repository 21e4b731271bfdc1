"""Tying each sentence of a model's answer to the verified quotes it cites; the rest is dropped.

The model writes its answer sentence by sentence, each naming the quotes (by number) that back it.
Once the quotes are checked against the stored articles, a sentence is kept only if

- at least one quote it cites was verified (the others are forgotten), and
- every stretch of it inside quotation marks stands in one of its verified quotes: the answer's
  own words may not put an unchecked quotation in anyone's mouth; and
- its words are its quotes' words (`words_backed`): every number and name (a capitalised word
  after the first) in it stands in its quotes, and at most MAX_NEW_WORDS_SHARE of its content words (stemmed, stop words aside) are new. The outlet
  and date of its quotes count as theirs ("According to Xinhua, …"). A sentence that adds a claim
  to a real quote ("Reuters issued a correction: <quote>") fails this; a paraphrase passes.
  Measured in benchmarks/claim_support.py (see benchmarks/README.md).

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
from .textstats import _WORD, QUESTION_WORDS, STOPWORDS, content_stems, stem, words

MAX_CLAIMS = 6
MAX_NEW_WORDS_SHARE = 0.25
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


def _numbers(text: str) -> set[str]:
    return {w.replace(",", "") for w in words(text) if any(ch.isdigit() for ch in w)}


def new_words(sentence: str, backing: Sequence[str]) -> tuple[int, int]:
    """(content words of `sentence` not in `backing`, content words of `sentence`), stemmed."""
    have = set(content_stems(" ".join(backing)))
    mine = set(content_stems(sentence, QUESTION_WORDS))
    return len(mine - have), len(mine)


def _names(text: str) -> set[str]:
    """Capitalised words: the names a sentence brings in ("Reuters", "Friday"); the first word
    counts unless it is a stop word ("The", "He") or a question word ("According")."""
    found = _WORD.findall(text)
    names = {w.lower() for w in found[1:] if w[0].isupper()}
    if found and found[0][0].isupper() and found[0].lower() not in STOPWORDS | QUESTION_WORDS:
        names.add(found[0].lower())
    return {stem(w) for w in names}


def words_backed(sentence: str, backing: Sequence[str], max_new_share: float = MAX_NEW_WORDS_SHARE) -> bool:
    """Every number and name of `sentence` stands in `backing`, and few of its content words are new."""
    joined = " ".join(backing)
    if not _numbers(sentence) <= _numbers(joined):
        return False
    if not _names(sentence) <= {stem(w) for w in words(joined)}:
        return False
    new, total = new_words(sentence, backing)
    return new <= max_new_share * total


def tie(sentences: Sequence[DraftSentence], ref_to_cite: dict[int, int], cites: Sequence[Citation], *,
        check_words: bool = True) -> Tied:
    """Claims from the model's sentences; `ref_to_cite` maps the reply's quote numbers to the
    (1-based) numbers of the verified citations they became."""
    claims: list[Claim] = []
    dropped = unmarked = size = 0
    for s in sentences:
        backing = tuple(dict.fromkeys(ref_to_cite[r] for r in s.refs if r in ref_to_cite))
        quotes = [cites[n - 1].quote for n in backing]
        about = [f"{cites[n - 1].source} {cites[n - 1].published}" for n in backing]
        ok = bool(backing) and quotations_backed(s.text, quotes) and (not check_words or words_backed(s.text, quotes + about))
        if ok and len(claims) < MAX_CLAIMS and size + len(s.text) <= MAX_ANSWER_CHARS:
            claims.append(Claim(s.text, backing))
            size += len(s.text) + 1
        else:
            dropped += 1
            unmarked += not s.marked
    return Tied(tuple(claims), dropped, unmarked)
