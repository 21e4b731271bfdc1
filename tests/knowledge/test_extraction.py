"""Article extraction from news pages built around BBC texts, text decoding, and PDFs."""

from __future__ import annotations

import html
import random
import textwrap
import zlib

import pytest

from knowledge.extraction import ExtractionError, decode_bytes, extract_html, extract_pdf
from tests.newspages import (
    CATEGORIES,
    bbc_available,
    build_page,
    empty_page,
    load_story,
    read_bbc_bytes,
)

pytestmark = pytest.mark.skipif(not bbc_available(), reason="BBC corpus folder is missing")

# Layouts 0-5 (see newspages.build_page), each category at least once, two stories each.
CASES = [(CATEGORIES[v % 5], number, v) for v in range(6) for number in (7, 199)]


@pytest.mark.parametrize(("category", "number", "variant"), CASES)
def test_news_page_keeps_article_and_drops_clutter(category, number, variant):
    page = build_page(load_story(category, number), variant)
    article = extract_html(page.html, "https://mirror.example/x")
    assert article.text.split("\n\n") == list(page.story.paragraphs)
    assert [b for b in page.boilerplate if b in article.text] == []
    assert article.title == page.story.headline
    assert (article.published, article.updated) == (page.published, page.updated)
    assert (article.source, article.author) == (page.site, page.author)
    assert article.url == page.canonical
    assert article.language == "en"
    assert page.story.paragraphs[0].startswith(article.description[:100])


def test_clutter_inside_the_body_keeps_every_paragraph():
    """Layout 6 puts read-more links, a podcast promo and a tweet between the paragraphs;
    trafilatura keeps some of them (see the benchmark), but no article text is lost."""
    page = build_page(load_story("tech", 123), 6)
    paragraphs = extract_html(page.html).text.split("\n\n")
    assert [p for p in page.story.paragraphs if p not in paragraphs] == []


def test_bytes_are_decoded_with_the_declared_meta_charset():
    page = build_page(load_story("sport", 199))
    data = page.html.replace('<meta charset="utf-8">', '<meta charset="windows-1252">').encode("cp1252")
    article = extract_html(data)
    assert "a £15.8m signing" in article.text


def test_page_without_article_text_is_refused():
    with pytest.raises(ExtractionError) as err:
        extract_html(empty_page(), "https://metrowire.example/sport")
    assert err.value.reason == "No article text was found on that page."


def test_dates_come_from_the_page_never_the_load_time():
    # business/001 mentions "2003" and "2005" in its text: those are not publication dates.
    story = load_story("business", 1)
    body = "".join(f"<p>{html.escape(p)}</p>" for p in story.paragraphs)
    page = f"<html><head><title>{story.headline}</title></head><body><article><h1>{story.headline}</h1>{body}</article></body></html>"
    article = extract_html(page, "https://plain.example/story")
    assert (article.published, article.updated) == ("", "")
    assert article.url == "https://plain.example/story"  # no canonical link: the given address


# --- decoding ---------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [None, "iso-8859-1", "latin-1"])
def test_latin1_file_is_decoded(declared):
    raw = read_bbc_bytes("sport", 199)
    text = decode_bytes(raw, declared)
    assert "a £15.8m signing from Parma" in text
    assert text.startswith("Chelsea sack Mutu")


def test_mislabelled_utf8_and_bom_encodings():
    text = load_story("business", 1).paragraphs[0]  # contains "£600m"
    assert decode_bytes(text.encode("utf-8"), "iso-8859-1") == text
    assert decode_bytes(text.encode("utf-16"), None) == text
    assert decode_bytes(text.encode("utf-8"), "no-such-charset") == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Le café est très chaud, déjà servi à la fenêtre du quai. " * 3, "cp1252"),
        ("Правительство объявило о новых мерах поддержки экономики. " * 3, "cp1251"),
        ("東京の株式市場は今日、大幅に値上がりしました。" * 3, "shift_jis"),
    ],
)
def test_undeclared_legacy_encodings_are_detected(text, encoding):
    assert decode_bytes(text.encode(encoding)) == text


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        b"\x7fELF\x02\x01\x01\x00" + bytes(200),
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"word/document.xml" + bytes(100),
        zlib.compress(b"hello " * 1000),
        random.Random(7).randbytes(4096),
    ],
    ids=["png", "elf", "zip", "zlib", "random"],
)
def test_binary_data_is_refused(data):
    with pytest.raises(ExtractionError) as err:
        decode_bytes(data)
    assert err.value.reason == "That file is not text."


# --- PDF --------------------------------------------------------------------------------


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(lines: list[str], info: dict[str, str]) -> bytes:
    """A one-page PDF with Helvetica text lines, written object by object with its xref."""
    ops = ["BT /F1 10 Tf 12 TL 50 770 Td"] + [f"({_pdf_escape(line)}) Tj T*" for line in lines] + ["ET"]
    stream = "\n".join(ops).encode("cp1252")
    info_dict = " ".join(f"/{k} ({_pdf_escape(v)})" for k, v in info.items())
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        f"<< {info_dict} >>".encode("cp1252"),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _story_lines(story, count: int) -> list[str]:
    lines = [story.headline, ""]
    for paragraph in story.paragraphs[:count]:
        lines += textwrap.wrap(paragraph, 95) + [""]
    return lines


def test_pdf_text_and_metadata():
    story = load_story("sport", 199)
    data = make_pdf(_story_lines(story, 3), {"Title": "Chelsea sack Mutu", "Author": "Sports desk", "CreationDate": "D:20050314081500Z"})
    article = extract_pdf(data)
    assert article.title == "Chelsea sack Mutu" and article.author == "Sports desk"
    assert article.published == "2005-03-14"
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0] == story.headline
    assert paragraphs[1:] == list(story.paragraphs[:3])


def test_pdf_title_falls_back_to_first_line():
    story = load_story("tech", 3)
    article = extract_pdf(make_pdf(_story_lines(story, 2), {}))
    assert article.title == story.headline
    assert article.text.split("\n\n") == list(story.paragraphs[:2])
    assert article.published == ""


def test_broken_or_empty_pdf_is_refused():
    with pytest.raises(ExtractionError, match="could not be read"):
        extract_pdf(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(ExtractionError, match="no readable text"):
        extract_pdf(make_pdf([], {"Title": "Scanned page"}))
