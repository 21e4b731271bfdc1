"""Extractive answers from the seed article: right answer, exact quotes, honest refusals."""

from __future__ import annotations

import pytest

from knowledge import InputError, SearchFilter

SPOKESPERSON_Q = "Who is the Chinese Foreign Ministry spokesperson quoted in the article?"


async def test_spokesperson_question_is_answered_with_an_exact_quote(kb):
    answer = await kb.ask(SPOKESPERSON_Q)
    assert answer.answerable and answer.mode == "extractive"
    assert "Guo Jiakun" in answer.text
    assert answer.citations
    for c in answer.citations:
        article = kb.get(c.article_id)
        assert c.verified
        assert article.text[c.start : c.end] == c.quote
        assert (c.source, c.published) == ("Xinhua", "2025-01-14")
    assert any("Guo Jiakun" in c.quote for c in answer.citations)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Guo call the US AI policy?", "stumbling block"),
        ("What initiative has China proposed on AI governance?", "Global AI Governance Initiative"),
        ("Which administration's measures did US technology companies oppose?", "Biden"),
    ],
)
async def test_other_facts_of_the_seed_article(kb, question, expected):
    answer = await kb.ask(question)
    assert answer.answerable, answer.text
    assert any(expected in c.quote for c in answer.citations)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Who won the 2022 football World Cup?",
        "How many AI chips did Nvidia sell to China in 2024?",
        "What tariff rate did China set on US soybeans?",
    ],
)
async def test_questions_the_article_cannot_answer_are_refused(kb, question):
    answer = await kb.ask(question)
    assert not answer.answerable
    assert answer.text.startswith("That is not in the loaded articles.")
    assert answer.citations == ()


@pytest.mark.parametrize(
    ("question", "match"),
    [("", "empty"), ("   \n\t ", "empty"), ("?!?", "question"), ("why " * 400, "characters long")],
)
async def test_bad_questions_get_a_clear_message(kb, question, match):
    with pytest.raises(InputError, match=match):
        await kb.ask(question)


async def test_quote_length_and_count_are_capped(make_kb):
    kb = make_kb(max_quotes=1, max_quote_chars=60)
    kb.sync_folder()
    answer = await kb.ask(SPOKESPERSON_Q)
    assert len(answer.citations) == 1
    c = answer.citations[0]
    assert len(c.quote) <= 60 and kb.get(c.article_id).text[c.start : c.end] == c.quote


async def test_an_empty_store_refuses(make_kb):
    answer = await make_kb().ask(SPOKESPERSON_Q)
    assert not answer.answerable and answer.citations == ()


async def test_filters_that_exclude_everything_refuse(kb):
    answer = await kb.ask(SPOKESPERSON_Q, SearchFilter(since="2030-01-01"))
    assert not answer.answerable


async def test_outlet_filter_ignores_case(kb):
    for outlet in ("xinhua", "XINHUA", "Xinhua"):
        answer = await kb.ask(SPOKESPERSON_Q, SearchFilter(outlet=outlet))
        assert answer.answerable and answer.citations[0].source == "Xinhua"
    assert not (await kb.ask(SPOKESPERSON_Q, SearchFilter(outlet="Reuters"))).answerable
