"""Rendering answers inside Discord's limits without ever cutting a quote."""

from __future__ import annotations

from dataclasses import replace

import discord
import pytest

from bot import rendering
from bot.rendering import (
    answer_embeds,
    excerpt,
    fit_lines,
    pack,
    quote_embed,
    shorten,
    source_field,
)
from bot.sources import sources_of
from knowledge import Answer, Citation, Outcome
from knowledge.loading import build_article


def cite(n: int, quote_chars: int = 300, *, title_chars: int = 60, url: str = "https://news.example/a") -> Citation:
    quote = (f"Quote {n} " + "word " * quote_chars)[:quote_chars].strip() + "."
    return Citation(article_id=f"a{n}", title=("Headline " * 60)[:title_chars], source="Outlet", published="2025-01-14",
                    url=url, quote=quote, start=0, end=len(quote), verified=True)


def within_limits(embeds: list[discord.Embed]) -> None:
    assert len(embeds) <= rendering.EMBEDS_PER_MESSAGE
    assert sum(len(e) for e in embeds) <= rendering.EMBED_TOTAL
    for e in embeds:
        assert len(e.title or "") <= rendering.TITLE
        assert len(e.description or "") <= rendering.DESCRIPTION
        assert len(e.fields) <= rendering.FIELDS_PER_EMBED
        assert len(e.footer.text or "") <= rendering.FOOTER
        for f in e.fields:
            assert len(f.name) <= rendering.FIELD_NAME and len(f.value) <= rendering.FIELD_VALUE


def shown_quotes(embeds: list[discord.Embed]) -> list[str]:
    return [line.split("“", 1)[1].removesuffix("”") for e in embeds for f in e.fields
            for line in f.value.split("\n") if "“" in line]


@pytest.mark.parametrize("count, quote_chars, title_chars", [(10, 1000, 300), (10, 999, 40), (40, 80, 250), (3, 300, 60)])
def test_many_long_citations_stay_within_every_limit_and_no_quote_is_cut(count, quote_chars, title_chars):
    cites = tuple(cite(n, quote_chars, title_chars=title_chars) for n in range(count))
    answer = Answer(text="Short answer. " * 40, answerable=True, mode="llm", citations=cites, note="A note.")

    out = answer_embeds(answer, question="Why? " * 300)

    within_limits(out.embeds)
    quotes = shown_quotes(out.embeds)
    assert set(quotes) <= {c.quote for c in cites}  # each shown quote is a whole one
    assert out.shown == len(quotes) and out.shown + out.dropped == count
    if out.dropped:
        assert f"{out.dropped} more quote" in out.embeds[-1].footer.text


def test_more_than_25_sources_continue_in_a_second_embed():
    cites = tuple(cite(n, 40, title_chars=20) for n in range(30))
    out = answer_embeds(Answer(text="Yes.", answerable=True, mode="llm", citations=cites), question="Q?")

    assert [len(e.fields) for e in out.embeds] == [25, 5]
    assert out.dropped == 0
    within_limits(out.embeds)


def test_a_quote_too_long_for_a_field_is_left_out_not_cut():
    too_long = cite(1, 1100)
    out = answer_embeds(Answer(text="Yes.", answerable=True, mode="llm", citations=(too_long, cite(2))), question="Q?")

    assert shown_quotes(out.embeds) == [cite(2).quote]
    assert out.dropped == 1


def test_long_extractive_text_is_cut_between_lines_only():
    lines = [f"According to Outlet: “{'x' * 480} {n}.” [{n}]" for n in range(12)]
    out = answer_embeds(Answer(text="\n".join(lines), answerable=True, mode="extractive"), question="Q?")

    description = out.embeds[0].description
    assert len(description) <= rendering.DESCRIPTION
    kept = description.removesuffix("\n…").split("\n")
    assert kept == [rendering.plain(line) for line in lines[: len(kept)]] and description.endswith("\n…")


def field_for(*cites: Citation, mode: str = "llm", text: str = "Yes.") -> tuple[str, str] | None:
    answer = Answer(text=text, answerable=True, mode=mode, citations=cites)
    return source_field(sources_of(answer)[0], answer)[0]


def test_link_is_added_only_when_it_fits():
    name, value = field_for(cite(1, 200))
    assert value.endswith("[Read the article](<https://news.example/a>)")
    assert name == f"[1] {cite(1).title} — Outlet, 2025-01-14"
    _, value = field_for(cite(1, 1000, url="https://news.example/" + "p" * 200))
    assert "Read the article" not in value and len(value) <= rendering.FIELD_VALUE


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://files.example/a", "https://x.example/a) [b](http://evil.example",
                                 "http://", "https://x.example/a b"])
def test_only_plain_http_links_from_the_article_are_shown(url):
    _, value = field_for(cite(1, 100, url=url))
    assert "Read the article" not in value


def test_three_quotes_from_one_article_share_one_source_line():
    quotes = [replace(cite(1, 80), quote=f"Sentence number {n} of the article.") for n in range(3)]
    other = cite(2, 60)
    answer = Answer(text="Yes [1][2][3], and [4].", answerable=True, mode="llm", citations=(*quotes, other))

    out = answer_embeds(answer, question="Q?")

    fields = out.embeds[0].fields
    assert [f.name for f in fields] == [f"[1] [2] [3] {quotes[0].title} — Outlet, 2025-01-14",
                                        f"[4] {other.title} — Outlet, 2025-01-14"]
    assert fields[0].value.split("\n") == ["[1] “Sentence number 0 of the article.”", "[2] “Sentence number 1 of the article.”",
                                           "[3] “Sentence number 2 of the article.”",
                                           "[Read the article](<https://news.example/a>)"]
    assert "Quoted above" not in str(out.embeds[0].to_dict())


def test_extractive_quotes_are_not_repeated_under_their_source():
    quotes = [replace(cite(1, 80), quote=f"Sentence number {n} of the article.", url="") for n in range(2)]
    text = "\n".join(f"According to Outlet (2025-01-14): “{c.quote}” [{n}]" for n, c in enumerate(quotes, start=1))

    name, value = field_for(*quotes, mode="extractive", text=text)

    assert name.startswith("[1] [2] ") and value == "Quoted in the answer above."


def test_not_found_answer_has_hint_and_no_fields():
    out = answer_embeds(Answer(text="That is not in the loaded articles.", answerable=False, mode="extractive"), question="Q?")
    assert out.embeds[0].description.endswith(rendering.NOT_FOUND_HINT)
    assert not out.embeds[0].fields and out.embeds[0].footer.text is None


def test_not_stated_answer_is_shown_apart_from_answers_and_refusals():
    answer = Answer(text="Not stated: the article covers this subject but does not give the date.\nRelated passages (not the answer):\n- “A.”",
                    answerable=False, mode="extractive", outcome=Outcome.NOT_STATED, missing=("the date",), related=(cite(1),))
    out = answer_embeds(answer, question="When?")
    first = out.embeds[0]
    assert first.colour == rendering.COLOUR_NOT_STATED != rendering.COLOUR_NOT_FOUND
    assert first.description.startswith("Not stated") and rendering.NOT_FOUND_HINT not in first.description
    assert first.footer.text == rendering.NOT_STATED_FOOTER
    assert not first.fields  # related passages are never listed as sources


def test_a_byline_citation_is_shown_as_the_byline_not_as_a_quote():
    c = Citation(article_id="a1", title="Headline", source="Xinhua", published="2025-01-14", url="", quote="Editor: Zhu Qing",
                 start=0, end=0, verified=True, metadata="editor")
    answer = Answer(text="The article's editor is Zhu Qing.", answerable=True, mode="extractive", citations=(c,))
    field, _ = source_field(sources_of(answer)[0], answer)
    assert field is not None and field[1] == "[1] From the article's byline: Editor: Zhu Qing"
    embed = quote_embed(1, c, build_article(title="Headline", text="Body text.", source="Xinhua"))
    assert embed.description == "From the article's byline: Editor: Zhu Qing"


def test_excerpt_bolds_the_quote_with_context_cut_at_words():
    text = "First sentence here. " * 30 + "The quoted words stand here." + " Then more text follows." * 30
    start = text.index("The quoted")
    end = start + len("The quoted words stand here.")

    out = excerpt(text, start, end, context=60)

    assert "**The quoted words stand here.**" in out
    assert out.startswith("…") and out.endswith("…")
    before = out[1 : out.index("**")]
    assert text[start - len(before) : start] == before and before.startswith("First")


def test_quote_embed_says_when_the_article_no_longer_holds_the_quote():
    art = build_article(title="T", text="The minister resigned on Friday. Nobody expected it.", scope="1")
    c = Citation(art.id, "T", "", "", "", "The minister resigned on Friday.", 0, 32, True)
    revised = build_article(title="T", text="The minister stayed on. Nobody expected it.", scope="1")

    assert quote_embed(1, c, art).description.startswith("**The minister resigned on Friday.**")
    assert "revised since" in quote_embed(1, c, revised).description
    assert "removed since" in quote_embed(1, c, None).description


def test_pack_respects_embeds_per_message_and_total_characters():
    embeds = [discord.Embed(description="x" * 1000) for _ in range(25)]
    messages = pack(embeds)
    assert sum(len(m) for m in messages) == 25
    assert all(len(m) <= 10 and sum(len(e) for e in m) <= 6000 for m in messages)


@pytest.mark.parametrize("text, limit, expected", [
    ("short", 10, "short"), ("several words in a row", 12, "several…"), ("x" * 20, 5, "xxxx…"),
])
def test_shorten_cuts_at_words(text, limit, expected):
    assert shorten(text, limit) == expected


def test_fit_lines_shortens_a_single_overlong_line():
    assert len(fit_lines("word " * 2000, 100)) <= 100
