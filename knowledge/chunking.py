"""Sentence splitting and chunking that keep the character offsets of everything in the article.

Sentences come from pysbd (rule-based sentence boundary detection) run paragraph by paragraph,
so no sentence crosses a paragraph break. A chunk is a run of whole sentences; consecutive chunks
share one sentence so a fact at a chunk edge keeps its context. Offsets always index the article's
stored text: ``text[start:end]`` is the chunk or sentence itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Protocol

from .models import Chunk, Span

_PARAGRAPH = re.compile(r"[^\n]+(?:\n(?!\n)[^\n]+)*")
# pysbd splits "He said: \"...\" Then" oddly on rare inputs; a very long "sentence" is cut
# at clause boundaries so one chunk never blows past the embedding model's window.
_MAX_SENTENCE_CHARS = 1200
# pysbd's time grows with the square of a paragraph's length (45 s for 200,000 characters with
# no paragraph break), so a longer paragraph is segmented a window at a time: every sentence but
# the window's last is kept, and the next window starts where that last one began. Its rules
# look a few characters around a boundary, so the boundaries are pysbd's own (see
# benchmarks/sentence_split.py for the check on the BBC corpus and the timings).
_WINDOW_CHARS = 3000


class _Segmenter(Protocol):
    """What pysbd (untyped) offers that we use."""

    def segment(self, text: str) -> list[str]: ...


class _CompiledOnce:
    """`re` as pysbd sees it, with each pattern compiled once. pysbd passes pattern strings to
    `re.sub` and friends, more distinct ones than `re`'s own cache holds (512), so Python
    compiled them again and again: 14 s of 22 s spent chunking 291 BBC articles went to
    `re._compile`."""

    def __getattr__(self, name: str) -> object:
        return getattr(re, name)

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def compile(pattern: str | re.Pattern[str], flags: int = 0) -> re.Pattern[str]:
        return re.compile(pattern, flags)

    def search(self, pattern: str, string: str, flags: int = 0) -> re.Match[str] | None:
        return self.compile(pattern, flags).search(string)

    def match(self, pattern: str, string: str, flags: int = 0) -> re.Match[str] | None:
        return self.compile(pattern, flags).match(string)

    def fullmatch(self, pattern: str, string: str, flags: int = 0) -> re.Match[str] | None:
        return self.compile(pattern, flags).fullmatch(string)

    def findall(self, pattern: str, string: str, flags: int = 0) -> list[object]:
        return self.compile(pattern, flags).findall(string)

    def finditer(self, pattern: str, string: str, flags: int = 0) -> Iterator[re.Match[str]]:
        return self.compile(pattern, flags).finditer(string)

    def split(self, pattern: str, string: str, maxsplit: int = 0, flags: int = 0) -> list[str | object]:
        return self.compile(pattern, flags).split(string, maxsplit)

    def sub(self, pattern: str, repl: object, string: str, count: int = 0, flags: int = 0) -> str:
        return self.compile(pattern, flags).sub(repl, string, count)  # type: ignore[call-overload,no-any-return]

    def subn(self, pattern: str, repl: object, string: str, count: int = 0, flags: int = 0) -> tuple[str, int]:
        return self.compile(pattern, flags).subn(repl, string, count)  # type: ignore[call-overload,no-any-return]


@functools.lru_cache(maxsize=1)
def _segmenter() -> _Segmenter:
    import sys

    import pysbd

    shim = _CompiledOnce()
    for name, module in list(sys.modules.items()):
        if (name == "pysbd" or name.startswith("pysbd.")) and getattr(module, "re", None) is re:
            module.re = shim  # type: ignore[attr-defined]
    segmenter: _Segmenter = pysbd.Segmenter(language="en", clean=False)
    return segmenter


def _split_long(text: str, start: int, end: int) -> list[Span]:
    spans: list[Span] = []
    while end - start > _MAX_SENTENCE_CHARS:
        window = text[start : start + _MAX_SENTENCE_CHARS]
        cut = max(window.rfind("; "), window.rfind(", "), window.rfind(" "))
        cut = start + (cut + 1 if cut > 0 else _MAX_SENTENCE_CHARS)
        spans.append(Span(start, cut))
        while cut < end and text[cut].isspace():
            cut += 1
        start = cut
    spans.append(Span(start, end))
    return spans


def _pieces(para: str, window: int = _WINDOW_CHARS) -> Iterator[str]:
    """pysbd's sentences of one paragraph, in time linear in its length."""
    seg = _segmenter()
    start = 0
    while len(para) - start > window:
        part = para[start : start + window]
        found = seg.segment(part)
        last = found[-1].strip() if found else ""
        at = part.rfind(last) if last else -1
        if len(found) < 2 or at <= 0:
            # No sentence ends inside the window: cut at its last space (the piece is then cut
            # to _MAX_SENTENCE_CHARS like any over-long sentence).
            at = part.rfind(" ") + 1 or window
            yield part[:at]
        else:
            yield from found[:-1]
        start += at
    yield from seg.segment(para[start:])


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text`, in order, without surrounding whitespace."""
    spans: list[Span] = []
    for para in _PARAGRAPH.finditer(text):
        cursor = para.start()
        for piece in _pieces(para.group()):
            piece = piece.strip()
            if not piece:
                continue
            found = text.find(piece, cursor, para.end())
            if found < 0:  # pysbd altered the text; fall back to the rest of the paragraph
                found, piece = cursor, text[cursor : para.end()].strip()
                if not piece:
                    break
            end = found + len(piece)
            spans.extend(_split_long(text, found, end))
            cursor = end
    return spans


def chunk_article(article_id: str, text: str, *, max_words: int = 120, overlap_sentences: int = 1) -> tuple[list[Chunk], list[Span]]:
    """Chunks of whole sentences of about `max_words` words, and the sentence spans they use."""
    sentences = split_sentences(text)
    if not sentences:
        return [], []
    words = [len(text[s.start : s.end].split()) for s in sentences]
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j, total = i, 0
        while j < len(sentences) and (j == i or total + words[j] <= max_words):
            total += words[j]
            j += 1
        start, end = sentences[i].start, sentences[j - 1].end
        chunks.append(Chunk(article_id=article_id, index=len(chunks), start=start, end=end, text=text[start:end]))
        if j >= len(sentences):
            break
        i = max(j - overlap_sentences, i + 1)
    return chunks, sentences


def chunk_members(chunks: list[Chunk], sentences: list[Span]) -> list[list[int]]:
    """For each chunk, the indexes of the sentences it holds."""
    return [[i for i, s in enumerate(sentences) if c.start <= s.start and s.end <= c.end] for c in chunks]
