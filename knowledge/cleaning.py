"""Cleaning raw article text: page furniture out, body text kept word for word.

Text copied from a news page carries lines that are not the article: a "date … News / Nation"
section header, a timestamp and view-counter line, a "Source: … Editor: …" trailer, and
non-breaking spaces. Those lines are turned into metadata; every other line is kept as written,
with only its horizontal whitespace normalised, so quotes stay verbatim.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

_HSPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_SECTION_HEADER = re.compile(r"^date\s+(\d{4}-\d{2}-\d{2})\b.*$", re.IGNORECASE)
_TRAILER = re.compile(r"^Source:\s*(?P<source>.+?)(?:\s+Editor:\s*(?P<editor>.+))?$")
_DATE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11,
    "dec": 12,
}
_MONTH = (r"(?P<{0}>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
# 2025-03-04 · 4 March 2025, 18-Sep-2024, Tue 4 Mar 2025 · March 4, 2025, Sept. 18 2024
_DATE = re.compile(
    r"\b(?:(?P<y1>\d{4})-(?P<m1>\d{2})-(?P<d1>\d{2})"
    r"|(?P<d2>\d{1,2})(?:st|nd|rd|th)?[ -]+" + _MONTH.format("mon2") + r"[ ,-]+(?P<y2>\d{4})"
    r"|" + _MONTH.format("mon3") + r"[ ]+(?P<d3>\d{1,2})(?:st|nd|rd|th)?,?[ ]+(?P<y3>\d{4}))\b",
    re.IGNORECASE,
)
_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}(?:[:.]\d{2})?\s*(?:[ap]\.?m\.?)?", re.IGNORECASE)
# words a date line may hold besides its date and time: labels, zones, weekdays, view counters
_DATE_LINE_WORDS = frozenset(
    ["updated", "update", "published", "posted", "on", "at", "last", "modified", "first", "utc", "gmt", "bst", "est", "edt", "et", "cet", "cest", "pst", "pdt", "ist", "jst", "views", "view", "ago", "hours", "hour", "minutes", "minute", "mins", "days", "day", "am", "pm", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
)
_UPDATED = re.compile(r"^(?:last\s+)?(?:updated|modified)\b", re.IGNORECASE)
_BY_TAIL = re.compile(r"\s+by\s+(?P<name>[^\d|]{2,60})$", re.IGNORECASE)
_BYLINE = re.compile(r"^by\s+(?P<name>[^\d.!?|]{2,80})$", re.IGNORECASE)
_ROLE = re.compile(r"\b(?:correspondent|reporter|editor|writer|journalist|columnist|staff|contributor|analyst)$",
                   re.IGNORECASE)
# whole lines of page furniture: share and save buttons, reading times, "Read more" teasers
_FURNITURE = re.compile(
    r"^(?:share|save|print|email|e-mail|copy link|link copied|comments?|listen|listen to this article|follow"
    r"|advertisement|related topics|related|more on this story|share this article|share on \w+"
    r"|\d+\s*min(?:ute)?s?\s+read|this article is more than \d+ \w+ old|views?:\s*[\d,.]+"
    r"|read more|read more\s*[:»>|-].*|also read\s*[:»>|-].*|image (?:source|caption),.*)$",
    re.IGNORECASE,
)
# "ROTTERDAM, 4 March 2025 - The port…", "GENEVA, March 4, 2025 (Reuters) — …" at a body's start
_DATELINE = re.compile(r"^[A-Z][A-Za-z.' -]{1,40}?,?\s+(?:\([^)]{1,30}\)\s*)?(?P<when>[^-–—(]{6,30}?)\s*"
                       r"(?:\([^)]{1,30}\)\s*)?[-–—]+\s")
HEADER_LINES = 15  # furniture is looked for in this many non-blank lines before the body


@dataclass(frozen=True)
class CleanText:
    """A body of article text and what the furniture around it said."""

    body: str
    title: str = ""
    source: str = ""
    published: str = ""
    editor: str = ""
    author: str = ""
    updated: str = ""


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


def find_date(text: str) -> tuple[str, re.Match[str]] | None:
    """The first calendar date written in `text`, as YYYY-MM-DD, with its match; None if none."""
    for m in _DATE.finditer(text):
        if m["y1"]:
            y, mo, d = int(m["y1"]), int(m["m1"]), int(m["d1"])
        elif m["y2"]:
            y, mo, d = int(m["y2"]), _MONTHS[m["mon2"][:3].lower()], int(m["d2"])
        else:
            y, mo, d = int(m["y3"]), _MONTHS[m["mon3"][:3].lower()], int(m["d3"])
        try:
            return dt.date(y, mo, d).isoformat(), m
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class _DateLine:
    date: str
    updated: bool
    author: str


def _date_line(line: str) -> _DateLine | None:
    """A line that is a date and time with labels ("Updated 3:14 PM UTC, March 6, 2025",
    "2024-09-18 14:05:33 | Views: 1,204", "Posted on March 4, 2025 by admin"), else None."""
    if len(line) > 100:
        return None
    found = find_date(line)
    if found is None:
        return None
    date, m = found
    rest = line[: m.start()] + " | " + line[m.end() :]
    author = ""
    if tail := _BY_TAIL.search(rest):
        author, rest = tail["name"].strip(), rest[: tail.start()]
    # a section label set off by a bar or dot ("Business | 2024-09-18 14:05") goes with the date
    rest = " ".join(part for part in re.split(r"\s[|·•]\s|^\s*[|·•]\s|\s[|·•]\s*$", rest)
                    if any(ch.isdigit() for ch in part) or len(part.split()) > 3 or _UPDATED.match(part.strip()))
    rest = _TIME.sub(" ", rest)
    words = re.findall(r"[A-Za-z]+", rest)
    if any(w.lower() not in _DATE_LINE_WORDS for w in words):
        return None
    return _DateLine(date, bool(_UPDATED.match(line)), author)


def _is_prose(line: str) -> bool:
    """The article's own text: a long line, or a sentence of eight words or more."""
    return len(line) > 150 or (len(line.split()) >= 8 and line.endswith((".", '."', ".”", ".’", ".'")))


def _looks_like_title(line: str) -> bool:
    return 0 < len(line) <= 200 and not line.endswith((".", ",", ";", ":")) and len(line.split()) >= 2


def clean_pasted(raw: str) -> CleanText:
    """Split pasted page text into a verbatim body and the metadata its furniture carried.

    The lines before the body (up to the first sentence of prose, at most `HEADER_LINES`) are
    read as a page header: a "date YYYY-MM-DD <section>" line, date and time lines (with
    "Updated", "Posted", zones, a "Views:" counter), bylines ("By …", or a name above a
    "… correspondent" line), share and save buttons, reading times, one- and two-word section
    labels, and an outlet line between the headline and its timestamp. The headline is the first
    other line of four words or more (else the first title-like one). Only when some furniture
    was recognised is the headline taken: plain "headline, blank line, text" is left whole for the
    caller. At the end a "Source: X Editor: Y" trailer; anywhere, whole lines of furniture
    ("Read more: …", "Share", "Related topics"). A wire dateline opening the body
    ("ROTTERDAM, 4 March 2025 - …") gives the date when nothing else did, and stays in the body.
    Anything not recognised stays in the body, word for word.
    """
    lines = [normalise_line(x) for x in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    meta = {"title": "", "source": "", "published": "", "updated": "", "author": "", "editor": ""}
    dated_published = ""  # from a line that says "Published"/"Posted", or a plain date line
    header: list[int] = []
    body_start = len(lines)
    for i, line in enumerate(lines):
        if not line:
            continue
        if _is_prose(line) or len(header) >= HEADER_LINES:
            body_start = i
            break
        header.append(i)
    drop: set[int] = set()
    candidates: list[int] = []
    date_lines: list[int] = []
    for i in header:
        line = lines[i]
        if m := _SECTION_HEADER.match(line):
            meta["published"] = m.group(1)
        elif _FURNITURE.match(line):
            pass
        elif m := _BYLINE.match(line):
            meta["author"] = meta["author"] or m["name"].strip()
        elif d := _date_line(line):
            date_lines.append(i)
            if d.updated:
                meta["updated"] = meta["updated"] or d.date
            else:
                dated_published = dated_published or d.date
            meta["author"] = meta["author"] or d.author
        else:
            candidates.append(i)
            continue
        drop.add(i)
    recognised = bool(drop)
    if recognised and candidates:
        long_enough = [i for i in candidates if len(lines[i].split()) >= 4 and _looks_like_title(lines[i])]
        titled = long_enough or [i for i in candidates if _looks_like_title(lines[i])]
        title_at = titled[0] if titled else -1
        if title_at >= 0:
            meta["title"] = lines[title_at]
            drop.add(title_at)
        for n, i in enumerate(candidates):
            line, after = lines[i], candidates[n + 1] if n + 1 < len(candidates) else -1
            if i == title_at:
                continue
            if after >= 0 and _ROLE.search(lines[after]) and len(line.split()) <= 4:
                meta["author"] = meta["author"] or line  # a name above "Transport correspondent"
                drop.update((i, after))
            elif _ROLE.search(line) and i in drop:
                continue
            elif (title_at >= 0 and i > title_at and len(line.split()) <= 5
                  and any(d > i for d in date_lines) and not meta["source"]):
                meta["source"] = line  # an outlet line between the headline and its timestamp
                drop.add(i)
            elif len(line.split()) <= 2 and not line.endswith((".", "!", "?")):
                drop.add(i)  # a section label ("Business", "World news")
    meta["published"] = meta["published"] or dated_published or meta["updated"]
    if meta["updated"] == meta["published"]:
        meta["updated"] = ""

    end = len(lines)
    last = end - 1
    while last >= body_start and (not lines[last] or _FURNITURE.match(lines[last])):
        last -= 1
    if last >= body_start and (m := _TRAILER.match(lines[last])):
        meta["source"] = m.group("source").strip() or meta["source"]
        meta["editor"] = (m.group("editor") or "").strip()
        end = last
    kept = [line for i, line in enumerate(lines[:end]) if i not in drop and not (i >= body_start and _FURNITURE.match(line))]
    body = normalise_body("\n".join(kept))
    if not meta["published"] and (m := _DATELINE.match(body)) and (found := find_date(m["when"])):
        meta["published"] = found[0]
    for key in ("published", "updated"):
        if meta[key] and not _DATE_ISO.match(meta[key]):
            meta[key] = ""
    return CleanText(body=body, **meta)
