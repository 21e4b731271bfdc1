"""The seed article: furniture stripped, body verbatim; files of each kind load or are refused."""

from __future__ import annotations

import pytest

from knowledge import ARTICLES_DIR, InputError
from knowledge.cleaning import clean_pasted
from knowledge.loading import build_article, load_file, parse_bytes
from tests.conftest import SEED_RAW

SEED_FILE = ARTICLES_DIR / "2025-01-14-xinhua-china-us-ai-restrictions.md"


def test_seed_article_is_shipped_with_its_metadata():
    a = load_file(SEED_FILE)
    assert a.title == "China to take actions to safeguard interests against US AI restrictions"
    assert (a.source, a.published, a.editor, a.language) == ("Xinhua", "2025-01-14", "Zhu Qing", "en")
    assert a.text.startswith("China firmly opposes US restrictions")
    assert a.text.endswith("ensuring that its benefits reach all countries.")


@pytest.mark.skipif(not SEED_RAW.exists(), reason="shared seed file not present")
def test_cleaning_the_raw_seed_gives_the_shipped_body_verbatim():
    raw = SEED_RAW.read_text(encoding="utf-8")
    clean = clean_pasted(raw)
    assert clean.body == load_file(SEED_FILE).text
    assert "\u00a0" not in clean.body
    for furniture in ("News / Nation", "UTC+8", "Editor:", "Source:"):
        assert furniture not in clean.body
    # Every body paragraph of the raw page survives word for word (after space normalisation).
    for para in raw.replace("\u00a0", " ").split("\n"):
        if len(para) > 200:
            assert " ".join(para.split()) in clean.body


def test_pasted_text_without_furniture_is_kept_whole():
    text = "Short headline here\n\nFirst paragraph. Second sentence.\n\nLast paragraph."
    c = clean_pasted(text)
    assert c.title == "" and c.body == text


def test_ids_are_stable_and_versions_follow_the_text():
    a = build_article(title="A title", text="Body one.", source="X", published="2024-01-02")
    b = build_article(title="A title", text="Body two.", source="X", published="2024-01-02")
    assert a.id == b.id and a.version != b.version
    c = build_article(title="A title", text="Body one.", source="X", published="2024-01-02", scope="123")
    assert c.id != a.id  # another server's copy is its own article


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"   \n\n ", "empty"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "not a text file"),
        ("photo.png", b"\x89PNG", "not supported"),
        ("notitle.txt", b"just one line with no headline at all", "no headline"),
        ("late-nul.txt", b"Harbour reopens\n\n" + b"The harbour reopened on Friday. " * 400 + b"\x00 tail", "not a text file"),
        ("nul16.txt", "Harbour reopens\n\nThe quay\x00 opened.".encode("utf-16"), "NUL"),
    ],
)
def test_bad_files_are_refused_with_a_reason(name, data, reason):
    with pytest.raises(InputError, match=reason):
        parse_bytes(data, name=name)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_text_with_a_byte_order_mark_loads(tmp_path, codec, suffix):
    p = tmp_path / f"story{suffix}"
    data = "Harbour reopens\n\nThe harbour reopened on Friday after repairs costing £4m.".encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data  # Python writes no mark for an explicit byte order
    p.write_bytes(data)
    a = load_file(p)
    assert a.title == "Harbour reopens" and a.text == "The harbour reopened on Friday after repairs costing £4m."


def test_a_nul_character_in_pasted_text_is_refused():
    with pytest.raises(InputError, match="NUL"):
        build_article(title="Harbour reopens", text="The harbour\x00 reopened.")


def test_latin1_text_is_decoded(tmp_path):
    p = tmp_path / "pound.txt"
    p.write_bytes("Prices rise\n\nA ticket now costs \xa345 at the gate.".encode("latin-1"))
    a = load_file(p)
    assert "£45" in a.text and a.title == "Prices rise"


def test_markdown_front_matter_and_bad_dates(tmp_path):
    p = tmp_path / "a.md"
    p.write_text('---\ntitle: "T"\nsource: Outlet\npublished: 2024-03-05\nurl: https://example.com/a\n---\n\nBody text here.\n', encoding="utf-8")
    a = load_file(p)
    assert (a.title, a.source, a.published, a.url, a.text) == ("T", "Outlet", "2024-03-05", "https://example.com/a", "Body text here.")
    p.write_text("---\ntitle: T\npublished: last tuesday\n---\nBody.\n", encoding="utf-8")
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        load_file(p)


def test_missing_file_and_folder_are_clear(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_file(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="folder"):
        load_file(tmp_path)


def test_a_given_title_keeps_the_first_paragraph_unless_it_repeats_the_title():
    from knowledge.loading import parse_plain

    a = parse_plain("First paragraph of the story.\n\nSecond one.", origin="pasted", scope="1", title="Given title")
    assert a.title == "Given title" and a.text.startswith("First paragraph")
    b = parse_plain("Given title\n\nFirst paragraph of the story.", origin="pasted", scope="1", title="Given title")
    assert b.text == "First paragraph of the story."
