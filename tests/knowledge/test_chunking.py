"""Chunks and sentences keep exact offsets into the article text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge import ARTICLES_DIR
from knowledge.chunking import chunk_article, split_sentences
from knowledge.loading import load_file
from tests.conftest import BBC


def _check(text: str, max_words: int = 120):
    chunks, sentences = chunk_article("x", text, max_words=max_words)
    for s in sentences:
        piece = text[s.start : s.end]
        assert piece == piece.strip() and piece
        assert "\n\n" not in piece  # never across a paragraph break
    for c in chunks:
        assert text[c.start : c.end] == c.text
    # every sentence is in some chunk, and chunks walk forward
    covered = {(s.start, s.end) for c in chunks for s in sentences if c.start <= s.start and s.end <= c.end}
    assert covered == {(s.start, s.end) for s in sentences}
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    return chunks, sentences


def test_seed_article_chunks_slice_exactly():
    text = next(ARTICLES_DIR.glob("*.md")).read_text(encoding="utf-8")
    chunks, sentences = _check(load_file(next(ARTICLES_DIR.glob("*.md"))).text)
    assert len(chunks) >= 3 and len(sentences) >= 10
    assert text  # the file is readable


def test_sentences_of_a_quote_heavy_paragraph():
    text = '"AI is a shared asset," Guo said. He added: "It is not a game." Mr. Smith, of the U.S. firm, left at 5 p.m. on Jan. 3.'
    spans = split_sentences(text)
    pieces = [text[s.start : s.end] for s in spans]
    assert pieces[0] == '"AI is a shared asset," Guo said.'
    assert any(p.startswith("Mr. Smith") for p in pieces)


def test_chunks_overlap_by_one_sentence():
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(60))
    chunks, _ = _check(text, max_words=30)
    assert len(chunks) > 5
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end  # shared sentence


@pytest.mark.skipif(not BBC.exists(), reason="BBC corpus not present")
def test_bbc_articles_chunk_exactly():
    for path in sorted(BBC.glob("*/*.txt"))[::150]:
        _check(load_file(path).text)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200), min_size=1, max_size=8))
def test_offsets_hold_for_arbitrary_text(paragraphs):
    _check("\n\n".join(paragraphs), max_words=20)


def test_a_long_paragraph_split_a_window_at_a_time_keeps_pysbds_boundaries(monkeypatch):
    from knowledge import chunking

    text = " ".join(f"Mr. Smith said on Jan. {n} that the U.K. budget of $4.{n}m was approved. \"It is done,\" he added." for n in range(1, 60))
    whole = chunking.split_sentences(text)
    monkeypatch.setattr(chunking, "_WINDOW_CHARS", 300)
    assert chunking.split_sentences(text) == whole and len(whole) > 100


def test_a_paragraph_with_no_sentence_end_is_still_covered_in_windows(monkeypatch):
    from knowledge import chunking

    monkeypatch.setattr(chunking, "_WINDOW_CHARS", 300)
    text = "word " * 400 + "end."
    spans = chunking.split_sentences(text)
    assert "".join(text[s.start : s.end] for s in spans).replace(" ", "") == text.replace(" ", "")
