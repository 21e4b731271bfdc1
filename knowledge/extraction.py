"""Turns fetched bytes into article fields: main text and metadata of a web page or a PDF.

HTML goes through trafilatura (main-text detection and metadata); the few facts trafilatura
does not report -- the modified date, the canonical link, the page language -- are read from
the page's own markup with the standard library. Dates always come from the document, never
from the time it was loaded. Paragraphs are separated by one blank line ("\\n\\n").
"""

from __future__ import annotations

import codecs
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urljoin

import charset_normalizer
import trafilatura
from lxml.etree import _Element
from pypdf import PdfReader
from trafilatura.settings import Document

from .errors import ExtractionError

MIN_TEXT_CHARS = 200


@dataclass(frozen=True)
class ExtractedArticle:
    title: str
    text: str
    source: str = ""  # site name / outlet
    author: str = ""
    published: str = ""  # YYYY-MM-DD or ""
    updated: str = ""
    url: str = ""  # canonical if the page names one, else the address it was loaded from
    language: str = ""
    description: str = ""


# --- decoding ---------------------------------------------------------------------------

_BINARY_MAGIC = (
    b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x7fELF", b"PK\x03\x04", b"\x1f\x8b", b"%PDF",
    b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!", b"MZ", b"\x00\x00\x01\x00", b"RIFF", b"OggS",
    b"ID3", b"\x00asm", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe",
)
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"),
)
_LATIN_FAMILY = {"latin_1", "iso8859_1", "ascii", "cp1252", "iso8859_15"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _looks_textual(text: str) -> bool:
    return len(_CONTROL.findall(text[:20000])) <= max(2, len(text[:20000]) // 200)


_WESTERN = set("àáâäãåæçèéêëìíîïñòóôöõøœùúûüÿßÀÁÂÄÃÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÖÕØŒÙÚÛÜŸ£€¥©®°±·«»–—‘’‚“”„…•´¿¡§¶\xa0")


def _as_western(data: bytes) -> str | None:
    """cp1252 text when the data is mostly ASCII with a sprinkle of Western accents and
    symbols; a detector guesses badly from so few high bytes (it took "£" for Japanese)."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    high = [ch for ch in text if ord(ch) > 127]
    if len(high) <= len(text) // 4 and all(ch in _WESTERN for ch in high):
        return text
    return None


def decode_bytes(data: bytes, declared_charset: str | None = None) -> str:
    """Decode ``data`` as text: BOM, then the declared charset, then UTF-8, then detection."""
    not_text = ExtractionError("That file is not text.")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if data.startswith(_BINARY_MAGIC) or b"\x00" in data[:8192]:
        raise not_text
    candidates: list[str] = []
    if declared_charset:
        try:
            name = codecs.lookup(declared_charset.strip().strip("\"'")).name.replace("-", "_")
            candidates.append(name)
        except LookupError:
            pass
    # A page labelled Latin-1 that is valid UTF-8 is almost always mislabelled UTF-8.
    if not candidates or candidates[0] in _LATIN_FAMILY:
        candidates.insert(0, "utf-8")
    for codec in candidates:
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        if _looks_textual(text):
            return text
        raise not_text
    western = _as_western(data)
    if western is not None:
        return western
    # Not .best(): with only a few high bytes (one "£" in English text) it can pick a CJK
    # codec that is "clean" but meaningless; weigh the language coherence in as well.
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        raise not_text
    # Ties go to cp1252, the web's default for undeclared Western text (WHATWG).
    best = max(matches, key=lambda m: (round(m.coherence - m.chaos, 3), m.encoding == "cp1252"))
    text = str(best)
    if not _looks_textual(text):
        raise not_text
    return text


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.I)


def _html_to_str(html: str | bytes) -> str:
    if isinstance(html, str):
        return html
    m = _META_CHARSET.search(html[:4096])
    return decode_bytes(html, m.group(1).decode("ascii") if m else None)


# --- page metadata trafilatura does not give --------------------------------------------


class _MetaScanner(HTMLParser):
    """Collects <meta>, canonical <link>, <html lang> and JSON-LD blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.canonical = ""
        self.lang = ""
        self.jsonld: list[str] = []
        self._in_ld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or a.get("itemprop") or "").lower()
            if key and "content" in a:
                self.meta.setdefault(key, a["content"])
        elif tag == "link" and "canonical" in a.get("rel", "").lower().split():
            self.canonical = self.canonical or a.get("href", "")
        elif tag == "script" and a.get("type", "").lower() == "application/ld+json":
            self._in_ld = True
            self.jsonld.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_ld = False

    def handle_data(self, data: str) -> None:
        if self._in_ld:
            self.jsonld[-1] += data


def _jsonld_first(blocks: list[str], key: str) -> str:
    """The first string value of ``key`` anywhere in the page's JSON-LD blocks."""
    stack: list[object] = []
    for block in blocks:
        try:
            stack.append(json.loads(block))
        except ValueError:
            continue
    stack.reverse()
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            value = node.get(key)
            if isinstance(value, str):
                return value
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return ""


def iso_date(value: str | None) -> str:
    """Return ``value`` as YYYY-MM-DD, or "" when it is not a recognisable date."""
    if not value:
        return ""
    value = value.strip()
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", value)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        return parsedate_to_datetime(value).date().isoformat()
    except (ValueError, TypeError):
        return ""


# --- HTML -------------------------------------------------------------------------------


def _block_lines(block: _Element) -> list[str]:
    """The text of one block, split at its line breaks (<br> becomes trafilatura's <lb/>):
    legacy pages separate paragraphs with <br><br> inside a single block."""
    parts = [""]

    def walk(node: _Element) -> None:
        if node.tag == "lb":
            parts.append("")
        elif node.text:
            parts[-1] += node.text
        for child in node:
            walk(child)
            if child.tail:
                parts[-1] += child.tail

    walk(block)
    return [" ".join(part.split()) for part in parts if part.strip()]


def _paragraphs(body: _Element, title: str) -> list[str]:
    """One string per block of trafilatura's body tree; list items each count as one."""
    out: list[str] = []
    for el in body:
        if not out and el.tag == "head" and _block_lines(el) == [" ".join(title.split())]:
            continue  # the headline repeated at the top of the body
        blocks = el.findall(".//item") if el.tag == "list" else [el]
        for block in blocks:
            out.extend(_block_lines(block))
    return out


def extract_html(html: str | bytes, url: str = "", *, min_chars: int = MIN_TEXT_CHARS) -> ExtractedArticle:
    """Extract the article of a web page; ExtractionError when it has no article text."""
    page = _html_to_str(html)
    doc = trafilatura.bare_extraction(
        page,
        url=url or None,
        with_metadata=True,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        # Only dates in the markup: the extensive search reads years out of the body text
        # ("profits rose in 2003") and reports them as the publication date.
        date_extraction_params={
            "original_date": True,
            "extensive_search": False,
            "max_date": date.today().isoformat(),
        },
    )
    if not isinstance(doc, Document):  # None: no article (a dict comes only with as_dict=True)
        raise ExtractionError("No article text was found on that page.")
    paragraphs = _paragraphs(doc.body, doc.title or "") if doc.body is not None else []
    text = "\n\n".join(paragraphs)
    if len(text) < min_chars:
        raise ExtractionError("No article text was found on that page.")

    scan = _MetaScanner()
    try:
        scan.feed(page)
        scan.close()
    except Exception:  # a broken page still has trafilatura's fields
        pass
    published = iso_date(doc.date) or iso_date(
        scan.meta.get("article:published_time")
        or _jsonld_first(scan.jsonld, "datePublished")
    )
    updated = iso_date(
        scan.meta.get("article:modified_time")
        or _jsonld_first(scan.jsonld, "dateModified")
        or scan.meta.get("og:updated_time")
    )
    canonical = urljoin(url, scan.canonical) if scan.canonical else (doc.url or "")
    if not canonical.startswith(("http://", "https://")):
        canonical = url
    language = (doc.language or scan.lang or scan.meta.get("og:locale", "")).replace("_", "-")
    return ExtractedArticle(
        title=doc.title or "",
        text=text,
        source=doc.sitename or doc.hostname or "",
        author=doc.author or "",
        published=published,
        updated=updated,
        url=canonical,
        language=language.split("-")[0].lower(),
        description=doc.description or "",
    )


# --- PDF --------------------------------------------------------------------------------


def _pdf_paragraphs(raw: str) -> list[str]:
    """Rejoin PDF lines into paragraphs, ended by a blank line, a short line closing a
    sentence, or a much shorter line (a heading)."""
    lines = [line.strip() for line in raw.splitlines()]
    widest = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if current.endswith("-") and line[:1].islower():
            current = current[:-1] + line  # undo end-of-line hyphenation
        else:
            current = f"{current} {line}".strip()
        short = len(line) < 0.8 * widest
        if short and (line[-1] in ".!?\"'\u201d:" or len(line) < 0.6 * widest):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


_FILE_TITLE = re.compile(r"^(microsoft \w+ - |untitled)|\.(docx?|odt|pdf|indd|tex|rtf)$", re.I)


def extract_pdf(data: bytes, *, min_chars: int = MIN_TEXT_CHARS) -> ExtractedArticle:
    """Extract the text of a PDF with pypdf; the title is its metadata title or first line."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("That PDF is password-protected.")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        title = str((meta.title if meta else "") or "").strip()
        author = str((meta.author if meta else "") or "").strip()
        created, modified = (meta.creation_date, meta.modification_date) if meta else (None, None)
    except ExtractionError:
        raise
    except Exception as exc:  # pypdf raises many kinds on malformed files
        raise ExtractionError("That PDF could not be read.") from exc
    paragraphs = [p for page in pages for p in _pdf_paragraphs(page)]
    text = "\n\n".join(paragraphs)
    if len(text) < min_chars:
        raise ExtractionError("That PDF has no readable text (it may be a scanned image).")
    if not title or _FILE_TITLE.search(title):  # "Microsoft Word - draft3.docx" is no title
        title = paragraphs[0][:200]
        if len(paragraphs) > 1 and len(paragraphs[0]) <= 200:  # a heading line, not body text
            text = "\n\n".join(paragraphs[1:])
    return ExtractedArticle(
        title=title,
        text=text,
        author=author,
        published=created.date().isoformat() if created else "",
        updated=modified.date().isoformat() if modified else "",
    )
