"""Each sentence of a model's answer is kept only on a verified quote that says what it says."""

from __future__ import annotations

import pytest

from knowledge.claims import quotations_backed, tie, words_backed
from knowledge.models import Citation
from knowledge.replies import DraftSentence

GUO = "Chinese Foreign Ministry spokesperson Guo Jiakun said at a regular press conference on Tuesday"


def cite(quote: str) -> Citation:
    return Citation(article_id="a", title="t", source="Xinhua", published="2025-01-14", url="", quote=quote,
                    start=0, end=len(quote), verified=True)


def test_a_sentence_is_kept_with_only_its_verified_quotes():
    tied = tie([DraftSentence("The spokesperson is Guo Jiakun.", (1, 2), True)], {1: 1}, [cite(GUO)])
    assert [(c.text, c.quotes) for c in tied.claims] == [("The spokesperson is Guo Jiakun.", (1,))] and tied.dropped == 0


@pytest.mark.parametrize(
    ("sentence", "refs"),
    [
        ("Guo Jiakun spoke on Tuesday.", (2,)),  # its only quote was dropped
        ("Guo Jiakun spoke on Tuesday.", ()),  # it names no quote
        ("According to Xinhua: “China will ban US chips by March.”", (1,)),  # an unbacked quotation
        ("Reuters said Guo Jiakun spoke on Tuesday.", (1,)),  # a name its quote lacks
        ("Guo Jiakun spoke at 3 press conferences on Tuesday.", (1,)),  # a number its quote lacks
    ],
)
def test_a_sentence_its_quotes_do_not_back_is_left_out(sentence, refs):
    tied = tie([DraftSentence(sentence, refs, bool(refs))], {1: 1}, [cite(GUO)])
    assert tied.claims == () and tied.dropped == 1


def test_quotation_marks_must_hold_words_of_the_quotes():
    assert quotations_backed("Guo spoke at a “regular press conference”.", [GUO])
    assert not quotations_backed("Guo spoke at an “emergency press conference”.", [GUO])
    assert not quotations_backed("Guo said “China will", [GUO])  # an unclosed quotation runs to the end


def test_the_outlet_of_a_quote_counts_as_its_words():
    assert words_backed("According to Xinhua, the spokesperson is Guo Jiakun.", [GUO, "Xinhua 2025-01-14"])
    assert not words_backed("According to Reuters, the spokesperson is Guo Jiakun.", [GUO, "Xinhua 2025-01-14"])
