"""Quote checking: exact after normalisation, repaired near misses, dropped inventions."""

from __future__ import annotations

import pytest

from knowledge.chunking import split_sentences
from knowledge.models import Span
from knowledge.quotes import locate, trim

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
