"""Cleaning raw article text: page furniture out, body text kept word for word.

Text copied from a news page carries lines that are not the article: a "date … News / Nation"
section header, a timestamp and view-counter line, a "Source: … Editor: …" trailer, and
non-breaking spaces. Those lines are turned into metadata; every other line is kept as written,
with only its horizontal whitespace normalised, so quotes stay verbatim.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_HSPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_SECTION_HEADER = re.compile(r"^date\s+(\d{4}-\d{2}-\d{2})\b.*$", re.IGNORECASE)
_TIMESTAMP = re.compile(
    r"^(\d{1,2}:\d{2})\s*(?:UTC|GMT)?\s*[+-]?\d{0,2},?\s*(\d{4}-\d{2}-\d{2})(?:\s+\d+)?$"
)
_TRAILER = re.compile(r"^Source:\s*(?P<source>.+?)(?:\s+Editor:\s*(?P<editor>.+))?$")
_DATE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CleanText:
    """A body of article text and what the furniture around it said."""

    body: str
    title: str = ""
    source: str = ""
    published: str = ""
    editor: str = ""


def normalise_line(line: str) -> str:
    """One line with non-breaking and other odd spaces made plain, runs folded, ends trimmed."""
    line = _ZERO_WIDTH.sub("", line)
    return _HSPACE.sub(" ", line).strip()


def normalise_body(text: str) -> str:
    """Paragraphs separated by one blank line, lines normalised; words and punctuation untouched."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in text.split("\n"):
        line = normalise_line(raw)
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def _looks_like_title(line: str) -> bool:
    return 0 < len(line) <= 200 and not line.endswith((".", ",", ";", ":")) and len(line.split()) >= 2


def clean_pasted(raw: str) -> CleanText:
    """Split pasted page text into a verbatim body and the metadata its furniture carried.

    Recognised: a leading "date YYYY-MM-DD <section>" header, the headline (the first short line
    without a full stop), an outlet line right below it, a "HH:MM UTC+8, YYYY-MM-DD  <views>"
    timestamp, and a trailing "Source: X  Editor: Y" line. Anything not recognised stays in the body.
    """
    lines = [normalise_line(x) for x in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    title = source = published = editor = ""

    def next_nonblank(i: int) -> int:
        while i < len(lines) and not lines[i]:
            i += 1
        return i

    i = next_nonblank(0)
    if i < len(lines) and (m := _SECTION_HEADER.match(lines[i])):
        published = m.group(1)
        i = next_nonblank(i + 1)
    # A headline followed (possibly after an outlet line) by a timestamp line is page furniture.
    head = i
    j = next_nonblank(head + 1)
    k = next_nonblank(j + 1)
    if head < len(lines) and _looks_like_title(lines[head]):
        if j < len(lines) and (m := _TIMESTAMP.match(lines[j])):
            title, published = lines[head], published or m.group(2)
            i = j + 1
        elif (
            j < len(lines)
            and k < len(lines)
            and len(lines[j].split()) <= 5
            and (m := _TIMESTAMP.match(lines[k]))
        ):
            title, source, published = lines[head], lines[j], published or m.group(2)
            i = k + 1
        elif published:
            # A section header promised furniture: take the headline even without a timestamp.
            title = lines[head]
            i = head + 1

    end = len(lines)
    last = end - 1
    while last >= i and not lines[last]:
        last -= 1
    if last >= i and (m := _TRAILER.match(lines[last])):
        source = m.group("source").strip() or source
        editor = (m.group("editor") or "").strip()
        end = last

    body = normalise_body("\n".join(lines[i:end]))
    if published and not _DATE_ISO.match(published):
        published = ""
    return CleanText(body=body, title=title, source=source, published=published, editor=editor)
