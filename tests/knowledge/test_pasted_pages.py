"""Title and date recovery on the corpus of pasted page layouts (tests/knowledge/pasted_pages.py),
through the real loader (`parse_bytes` of a .txt file): the target is every page right."""

from __future__ import annotations

import pytest

from knowledge.loading import parse_bytes
from tests.knowledge.pasted_pages import PAGES, PastedPage


def recovered(page: PastedPage) -> tuple[bool, bool]:
    article = parse_bytes(page.raw.encode(), name="pasted.txt", scope="1")
    return article.title == page.title, article.published == page.published


def test_every_pasted_layout_gives_its_title_and_date():
    results = {page.name: recovered(page) for page in PAGES}
    titles = sum(t for t, _ in results.values()) / len(PAGES)
    dates = sum(d for _, d in results.values()) / len(PAGES)
    missed = [f"{name}: {'title' if not t else ''} {'date' if not d else ''}" for name, (t, d) in results.items() if not (t and d)]
    assert (titles, dates) == (1.0, 1.0), f"titles {titles:.0%}, dates {dates:.0%} of {len(PAGES)} layouts; missed: {missed}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_furniture_leaves_the_body_and_the_story_stays_word_for_word(page):
    article = parse_bytes(page.raw.encode(), name="pasted.txt", scope="1")
    assert (article.title, article.published, article.author) == (page.title, page.published, page.author)
    for furniture in page.gone:
        assert furniture.strip() not in article.text.split("\n\n") and furniture not in article.text + "\n"
    for text in page.kept:
        assert text in article.text
