"""Quote checking: exact after normalisation, repaired near misses, dropped inventions."""

from __future__ import annotations

import pytest

from knowledge.chunking import split_sentences
from knowledge.models import Span
from knowledge.quotes import locate, trim, whole_unit

TEXT = (
    "Guo described the US AI policy as a \"stumbling block\" to other countries, which contradicts "
    "the common interests of countries.\n\n\u201cAI is a shared asset of all humanity,\u201d Guo said. "
    "He said China would continue to work with all parties."
)


@pytest.mark.parametrize(
    "quote",
    [
        'Guo described the US AI policy as a "stumbling block" to other countries',
        "guo described the us ai policy as a \u201cstumbling block\u201d   to other countries",  # case, curly quotes, spaces
        '"AI is a shared asset of all humanity," Guo said.',
        "He said China would continue\nto work with all parties.",
    ],
)
def test_normalised_quotes_are_found_and_sliced_from_the_source(quote):
    found = locate(quote, TEXT, tuple(split_sentences(TEXT)))
    assert found is not None and not found.repaired
    shown = TEXT[found.start : found.end]
    assert shown.lower().replace("\u201c", '"').replace("\u201d", '"').split() == quote.lower().replace("\u201c", '"').replace("\u201d", '"').split()


def test_a_near_miss_is_repaired_to_the_real_sentence():
    quote = "He said China will continue to work with all parties."
    found = locate(quote, TEXT, tuple(split_sentences(TEXT)))
    assert found is not None and found.repaired
    assert TEXT[found.start : found.end] == "He said China would continue to work with all parties."


@pytest.mark.parametrize(
    "quote",
    [
        "China will retaliate with sanctions on American chipmakers.",
        "He said China would never work with the United States again.",  # changes the meaning
        "",
    ],
)
def test_inventions_are_dropped(quote):
    assert locate(quote, TEXT, tuple(split_sentences(TEXT))) is None


def test_trim_cuts_at_a_word_boundary():
    span, cut = trim(TEXT, Span(0, len(TEXT)), 50)
    assert cut and span.end - span.start <= 50 and TEXT[span.end] == " "


def test_a_long_sentence_is_cut_after_its_last_clause_within_the_limit():
    text = ("China has proposed the Global AI Governance Initiative, promoted the adoption of a resolution on AI "
            "capacity building by the United Nations General Assembly, and established a group of friends for "
            "international cooperation on AI capacity building.")
    span, cut = trim(text, Span(0, len(text)), 170)
    assert cut and text[span.start:span.end].endswith("United Nations General Assembly")


def test_a_sentence_with_no_clause_in_reach_is_cut_at_a_word():
    text = "word " * 40 + "and a long tail, after the limit."
    span, cut = trim(text, Span(0, len(text)), 100)
    assert cut and span.end <= 100 and text[span.end] == " " and text[span.end - 1] == "d"


# -- quotes as whole units --------------------------------------------------------------------

SEED = (
    "China firmly opposes US restrictions on artificial intelligence exports, Guo said on Tuesday.\n\n"
    "\"AI is a shared asset of all humanity and should not be a game for wealthy nations and individuals, nor should "
    "it be used to create new development gaps,\" Guo said.\n\n"
    "He said China would continue to work with all parties."
)


def _unit(quote: str, max_chars: int = 300):
    start = SEED.index(quote)
    span = whole_unit(SEED, Span(start, start + len(quote)), tuple(split_sentences(SEED)), max_chars)
    return None if span is None else SEED[span.start : span.end]


@pytest.mark.parametrize("quote", ["ate new dev", "ate new development gaps", "hina firmly opposes US restrictions"])
def test_a_quote_that_cuts_a_word_is_dropped(quote):
    assert _unit(quote) is None


def test_a_quote_of_fewer_than_four_words_is_dropped():
    assert _unit("Guo said on Tuesday") is not None and _unit("on Tuesday.") is None


def test_a_fragment_that_drops_its_negation_becomes_the_whole_sentence():
    shown = _unit("be a game for wealthy nations and individuals")
    assert shown is not None and shown.startswith('"AI is a shared asset') and "should not be a game" in shown


def test_a_fragment_whose_sentence_is_too_long_is_dropped():
    assert _unit("be a game for wealthy nations and individuals", max_chars=100) is None


def test_a_whole_sentence_longer_than_the_limit_is_dropped_not_cut():
    sentence = "He said China would continue to work with all parties."
    assert _unit(sentence, max_chars=len(sentence)) == sentence and _unit(sentence, max_chars=40) is None


@pytest.mark.parametrize(
    "quote",
    [
        "China firmly opposes US restrictions on artificial intelligence exports",  # up to a comma
        "nor should it be used to create new development gaps",  # between a comma and a quotation mark
        "He said China would continue to work with all parties.",  # a whole sentence
        "AI is a shared asset of all humanity and should not be a game for wealthy nations and individuals",
    ],
)
def test_a_clause_or_more_is_kept_as_quoted(quote):
    assert _unit(quote) == quote
