"""Turning files and pasted text into articles: front matter, encodings, cleaning and stable ids."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .cleaning import clean_pasted, normalise_body
from .errors import ExtractionError, InputError
from .models import GLOBAL_SCOPE, Article

if TYPE_CHECKING:
    from .extraction import ExtractedArticle

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_FIELDS = ("title", "source", "published", "updated", "url", "language", "author", "editor")


def slugify(text: str, max_len: int = 48) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = _SLUG_DROP.sub("-", ascii_text).strip("-")
    return slug[:max_len].rstrip("-") or "article"


def content_version(title: str, text: str) -> str:
    """A short hash of what a reader sees; it changes exactly when the article is revised."""
    return hashlib.sha256(f"{title}\n\n{text}".encode()).hexdigest()[:16]


def article_id(*, title: str, url: str = "", source: str = "", published: str = "", scope: str = GLOBAL_SCOPE, origin: str = "") -> str:
    """A stable id: the same URL (or, without one, the same title, outlet and date) keeps its id
    when the text changes, so a revised article replaces the old one instead of sitting beside it.
    Undated files without a URL also key on their file name (its folder and name), since
    different stories can share a headline (the BBC corpus has 13 such pairs)."""
    key = url.strip() or f"{title.strip().lower()}|{source.strip().lower()}|{published}"
    if not url.strip() and not published and origin and Path(origin).suffix:
        key += "|" + "/".join(Path(origin).parts[-2:])
    digest = hashlib.sha256(f"{scope}|{key}".encode()).hexdigest()[:10]
    return f"{slugify(title, 40)}-{digest}"


def _iso_date(value: object) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError as exc:
        raise InputError(f"The date {text!r} is not a date of the form YYYY-MM-DD.") from exc


def build_article(
    *,
    title: str,
    text: str,
    scope: str = GLOBAL_SCOPE,
    origin: str = "",
    **fields: object,
) -> Article:
    """An `Article` with its id and version worked out; `text` is stored exactly as given."""
    title = " ".join(title.split())
    if not text.strip():
        raise InputError("The article has no text.")
    if "\x00" in text or "\x00" in title:
        raise InputError("The article holds a NUL character, so it is not text.")
    if not title:
        raise InputError("The article has no title.")
    values = {k: ("" if fields.get(k) is None else str(fields.get(k, ""))).strip() for k in _FIELDS if k != "title"}
    values["published"] = _iso_date(fields.get("published"))
    values["updated"] = _iso_date(fields.get("updated"))
    values["language"] = values["language"] or "en"
    art = Article(
        id="",
        title=title,
        text=text,
        scope=scope,
        origin=origin,
        version=content_version(title, text),
        source=values["source"], published=values["published"], updated=values["updated"],
        url=values["url"], language=values["language"], author=values["author"], editor=values["editor"],
    )
    return replace(
        art,
        id=article_id(title=title, url=art.url, source=art.source, published=art.published, scope=scope, origin=origin),
        outlets=(art.source,) if art.source else (),
    )


# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes, name: str = "file") -> str:
    """Bytes to text: a byte-order mark's encoding, else UTF-8, else a detected encoding.
    Binary data is refused, and so is a NUL character anywhere in the text."""
    if not data.strip():
        raise InputError(f"{name} is empty.")
    # The mark first: UTF-16 and UTF-32 text is full of NUL bytes and is still text.
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return _no_nul(data.decode(codec), name)
            except UnicodeDecodeError as exc:
                raise InputError(f"{name} is not valid {codec.upper().removesuffix('-SIG')} text.") from exc
    if b"\x00" in data:
        raise InputError(f"{name} is not a text file.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from .extraction import decode_bytes

    # The web's decoder: a Latin-1 / cp1252 file with one "£" is read as such, not as a CJK
    # codec a detector guesses from so few high bytes.
    try:
        return _no_nul(decode_bytes(data), name)
    except ExtractionError as exc:
        raise InputError(f"{name} is not text in any encoding I can read.") from exc


def _no_nul(text: str, name: str) -> str:
    if "\x00" in text:
        raise InputError(f"{name} is not a text file (it holds a NUL character).")
    return text


def parse_markdown(text: str, *, origin: str, scope: str) -> Article:
    meta: dict[str, object] = {}
    if m := _FRONT_MATTER.match(text):
        try:
            meta = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{origin}: the front matter is not valid YAML ({exc.__class__.__name__}).") from exc
        if not isinstance(meta, dict):
            raise InputError(f"{origin}: the front matter must be `key: value` lines.")
        text = text[m.end():]
    body = normalise_body(text)
    title = str(meta.get("title") or "")
    if not title:
        first, _, rest = body.partition("\n\n")
        title, body = first.lstrip("# ").strip(), rest
    return build_article(title=title, text=body, scope=scope, origin=origin, **{k: meta.get(k) for k in _FIELDS if k != "title"})


def parse_plain(text: str, *, origin: str, scope: str, **overrides: object) -> Article:
    """Pasted or .txt text: page furniture becomes metadata; the first line is the headline when
    nothing else names one (the BBC corpus's layout)."""
    clean = clean_pasted(text)
    body, title = clean.body, clean.title
    given = " ".join(str(overrides.get("title") or "").split())
    first, _, rest = body.partition("\n\n")
    if given:
        if rest and first == given:  # the headline repeated above the body
            body = rest
    elif not title and rest and len(first) <= 200:
        title, body = first, rest
    fields: dict[str, object] = {"source": clean.source, "published": clean.published, "editor": clean.editor,
              "author": clean.author, "updated": clean.updated}
    fields.update({k: v for k, v in overrides.items() if v})
    title = str(overrides.get("title") or title)
    if not title:
        raise InputError(f"{origin}: no headline found; give the article a title.")
    fields.pop("title", None)
    return build_article(title=title, text=body, scope=scope, origin=origin, **fields)


def from_extracted(ext: ExtractedArticle, *, origin: str, scope: str, url: str = "") -> Article:
    """The article for what was extracted from a page or PDF (the one page-to-article mapping,
    for files and fetched pages alike); `url` is where it came from when the page names none."""
    return build_article(
        title=ext.title, text=normalise_body(ext.text), scope=scope, origin=origin,
        source=ext.source, author=ext.author, published=ext.published, updated=ext.updated,
        url=ext.url or url, language=ext.language or "en",
    )


def parse_html(data: bytes | str, *, origin: str, scope: str, url: str = "") -> Article:
    from .extraction import extract_html

    try:
        ext = extract_html(data, url=url)
    except ExtractionError as exc:
        raise InputError(f"{origin}: {exc.reason}") from exc
    return from_extracted(ext, origin=origin, scope=scope, url=url)


def parse_pdf(data: bytes, *, origin: str, scope: str) -> Article:
    from .extraction import extract_pdf

    try:
        ext = extract_pdf(data)
    except ExtractionError as exc:
        raise InputError(f"{origin}: {exc.reason}") from exc
    return from_extracted(ext, origin=origin, scope=scope)


def parse_bytes(data: bytes, *, name: str, scope: str = GLOBAL_SCOPE, origin: str = "", **overrides: object) -> Article:
    """An article from a file's bytes; the name's suffix picks the format."""
    origin = origin or name
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"{name}: files of type {suffix or '(none)'} are not supported; use {', '.join(SUPPORTED_SUFFIXES)}.")
    if suffix == ".pdf":
        return parse_pdf(data, origin=origin, scope=scope)
    if suffix in (".html", ".htm"):
        return parse_html(data, origin=origin, scope=scope)
    text = decode_text(data, name)
    if suffix in (".md", ".markdown"):
        return parse_markdown(text, origin=origin, scope=scope)
    return parse_plain(text, origin=origin, scope=scope, **overrides)


def load_file(path: str | Path, *, scope: str = GLOBAL_SCOPE, **overrides: object) -> Article:
    """An article from a local file (.md with front matter, .txt, .html, .pdf)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such file.") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{p} is a folder, not a file.") from exc
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc.strerror}).") from exc
    return parse_bytes(data, name=p.name, scope=scope, origin=str(p), **overrides)
