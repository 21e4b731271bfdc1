"""Search filters built from what a person typed, and "the latest" ordering (core steps)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from knowledge import SearchFilter
from knowledge.errors import FilterError
from knowledge.loading import build_article
from knowledge.models import Chunk, Passage
from knowledge.recency import prefer_recent, wants_latest
from knowledge.retrieval import Retrieved, parse_since


@dataclass(frozen=True)
class Scored:
    """What prefer_recent reads of a `knowledge.support.Support`."""

    passage: Passage
    supports: bool


@pytest.mark.parametrize("question, latest", [
    ("What is the latest on the strike?", True), ("Any recent news about tariffs?", True),
    ("What's the newest model?", True), ("Who won the election?", False), ("Is the news current?", True),
])
def test_wants_latest(question, latest):
    assert wants_latest(question) is latest


@pytest.mark.parametrize("typed", ["yesterday", "2025-13-45", "31/01/2025"])
def test_since_that_is_not_a_date_is_a_filter_error_naming_the_option(typed):
    assert parse_since(" 2025-01-31 ") == "2025-01-31"
    assert parse_since(None) == ""
    with pytest.raises(FilterError) as err:
        SearchFilter.parse(since=typed)
    assert err.value.option == "since" and typed in err.value.reason and "YYYY-MM-DD" in err.value.reason


def test_outlet_is_matched_whatever_its_case_and_kept_as_stored():
    flt = SearchFilter.parse(scopes=("global", "7"), outlet="  xinHUA ", known_outlets=["BBC News", "Xinhua"])
    assert flt == SearchFilter(scopes=("global", "7"), since="", outlet="Xinhua")
    assert SearchFilter.parse(outlet="", known_outlets=[]).outlet == ""
    with pytest.raises(FilterError) as err:
        SearchFilter.parse(outlet="Reuters", known_outlets=["Xinhua"])
    assert err.value.option == "outlet" and "Reuters" in err.value.reason


def _passage(published: str, title: str) -> Passage:
    art = build_article(title=title, text="Some text.", published=published, scope="1")
    return Passage(Chunk(art.id, 0, 0, 10, "Some text."), art, score=1.0)


def test_prefer_recent_orders_newest_first_and_keeps_unsupported_last():
    old, new, newer = _passage("2023-01-01", "old"), _passage("2025-01-01", "new"), _passage("2025-06-01", "newer")
    supports = [Scored(old, True), Scored(new, True), Scored(newer, False)]  # best first; newer: no support
    out = prefer_recent(Retrieved([old, new, newer], supports))

    assert [p.article.title for p in out.passages] == ["newer", "new", "old"]
    assert [s.passage.article.title for s in out.supports] == ["new", "old", "newer"]
