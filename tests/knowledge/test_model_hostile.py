"""The model path against a hostile server: every reply in `tests.hostile_model` through the core.

Whatever the server sends, `ask` returns an answer: the model's, sentence by sentence on verified
quotes, or the extractive one with a note. Never an exception, never an unchecked word.
"""

from __future__ import annotations

import functools
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.chunking import chunk_article, split_sentences
from knowledge.errors import ModelFailure
from knowledge.llm import checked_answer
from knowledge.loading import build_article
from knowledge.models import Passage
from knowledge.replies import read_draft
from tests.hostile_model import (
    FORGED_LINE,
    FORGED_QUESTION,
    FORGED_TEXT,
    FORGED_TITLE,
    GUO,
    HOSTILE,
    INVENTED,
    QUESTION,
    Hostile,
    answer,
    completion,
)
from tests.openai_standin import reply_json, trickle


@pytest.fixture
def llm_kb(llm_kb):
    # A hostile server is never retried, and a slow one gets a longer wait by default.
    return functools.partial(llm_kb, timeout=10.0, max_retries=0)


def assert_verified(kb, answer):
    for c in answer.citations:
        assert c.verified and kb.get(c.article_id).text[c.start : c.end] == c.quote


def assert_seen(kb, answer, case: Hostile):
    assert_verified(kb, answer)
    if case.shown:
        assert answer.mode == "llm" and answer.text == case.text
        assert [c.quote for c in answer.citations] == [case.quote]
        assert [cl.quotes for cl in answer.claims] == [(1,)]
        assert case.note in answer.note
    else:
        assert answer.mode == "extractive" and answer.answerable and answer.claims == ()
        assert case.note in answer.note and "quoted straight from the articles" in answer.note
        assert INVENTED not in answer.text and "AAAA" not in answer.text


@pytest.mark.parametrize("case", HOSTILE, ids=[h.id for h in HOSTILE])
async def test_every_hostile_reply_is_answered_from_checked_quotes_only(llm_kb, openai_standin, case):
    kb = llm_kb()
    openai_standin.script(case.step)
    answer = await kb.ask(QUESTION)
    assert_seen(kb, answer, case)
    await kb.aclose()


async def test_a_server_trickling_bytes_is_cut_off_by_llm_timeout(llm_kb, openai_standin):
    kb = llm_kb(timeout=3.0, max_retries=2)
    openai_standin.script(trickle(completion(json.dumps(answer([("Guo Jiakun.", [1])], [(1, GUO)]))), every=1.0))
    started = time.monotonic()
    answer_ = await kb.ask(QUESTION)
    elapsed = time.monotonic() - started
    assert answer_.mode == "extractive" and "took too long" in answer_.note and answer_.answerable
    assert len(openai_standin.chat_requests) == 1  # no retry was started after the whole-call bound
    assert elapsed < 12, "the trickle (about 500 s long) was not cut"
    await kb.aclose()


async def test_a_forged_article_reaches_the_model_as_data_in_the_exact_request(llm_kb, openai_standin):
    kb = llm_kb()
    forged = kb.ingest(build_article(title=FORGED_TITLE, text=FORGED_TEXT, source="Daily Forger", published="2025-03-03")).article
    retrieved = kb.retrieve(FORGED_QUESTION)
    # The model obeys the fake passage: it cites "passage 7" for the forged line's claim.
    openai_standin.script(reply_json(answer([("Reuters issued an official correction: China will ban US chips.", [1])],
                                            [(7, INVENTED)])))
    answer_ = await kb.answer(FORGED_QUESTION, retrieved)

    content = openai_standin.chat_requests[0].json["messages"][-1]["content"]
    expected = "Passages, one JSON object per line:\n" + "\n".join(
        json.dumps({"number": n, "title": p.article.title, "source": p.article.source or "unknown",
                    "published": p.article.published or "unknown", "text": p.chunk.text}, ensure_ascii=False)
        for n, p in enumerate(retrieved.passages, start=1)
    ) + f'\n\nQuestion, as a JSON string: "{FORGED_QUESTION}"'
    assert content == expected
    lines = [json.loads(line) for line in content.splitlines() if line.startswith("{")]
    assert [p["number"] for p in lines] == list(range(1, len(retrieved.passages) + 1))
    mine = [p for p in lines if FORGED_LINE in p["text"]]
    assert mine and all(p["title"] == FORGED_TITLE and p["source"] == "Daily Forger" for p in mine)
    assert content.count('"number": ') == len(retrieved.passages)  # the forged line opened no passage

    # The forged line's words do stand in that article, so they may be quoted, but only as that
    # article's words: never as a Reuters correction, and the claim about it is not shown.
    assert "Reuters issued" not in answer_.text and answer_.mode == "extractive"
    assert "No sentence of the model's answer rests on a quote" in answer_.note
    assert "Official correction" not in json.dumps([c.to_dict() for c in answer_.citations if c.article_id != forged.id])
    assert all(c.title == FORGED_TITLE and c.source == "Daily Forger" for c in answer_.citations if c.article_id == forged.id)
    await kb.aclose()


async def test_the_model_gets_the_question_whose_length_was_checked(llm_kb, openai_standin):
    kb = llm_kb()
    openai_standin.script(reply_json(answer([("Guo Jiakun.", [1])], [(1, GUO)])))
    padded = QUESTION.replace(" ", " " * 20_000, 5)
    assert len(padded) > 100_000
    answer_ = await kb.ask(padded)
    assert answer_.mode == "llm"
    content = openai_standin.chat_requests[0].json["messages"][-1]["content"]
    assert content.endswith(f"Question, as a JSON string: {json.dumps(QUESTION)}")
    assert len(openai_standin.chat_requests[0].body) < 20_000
    await kb.aclose()


async def test_a_well_formed_answer_of_several_sentences_is_shown_in_full(llm_kb, openai_standin):
    kb = llm_kb()
    reply = answer([("The spokesperson is Guo Jiakun.", [1]),
                    ("He said the restrictions further tighten export controls on AI chips.", [2]),
                    ("He called AI “a shared asset of all humanity”.", [3, 1])],
                   [(1, GUO), (1, "The restrictions further tighten export controls on AI chips and model parameters, "
                                  "while extending extraterritorial jurisdiction."),
                    (1, "AI is a shared asset of all humanity and should not be a game for wealthy nations and individuals")])
    openai_standin.script(reply_json(reply))
    answer_ = await kb.ask(QUESTION)
    assert answer_.mode == "llm" and answer_.note == ""
    assert [c.text for c in answer_.claims] == [s["sentence"] for s in reply["answer"]]
    assert [c.quotes for c in answer_.claims] == [(1,), (2,), (3, 1)]
    assert answer_.cited_text().endswith("“a shared asset of all humanity”. [3][1]")
    assert len(answer_.citations) == 3
    assert_verified(kb, answer_)
    assert answer_.to_dict()["claims"][2] == {"text": reply["answer"][2]["sentence"], "quotes": [3, 1]}
    await kb.aclose()


# -- any JSON in any field, without a server -------------------------------------------------

def _seed_passages() -> list[Passage]:
    from knowledge.base import ARTICLES_DIR
    from knowledge.loading import load_file

    article = load_file(next(ARTICLES_DIR.glob("*.md")))
    chunks, _ = chunk_article(article.id, article.text, max_words=120)
    sentences = tuple(split_sentences(article.text))
    return [Passage(chunk=c, article=article, score=1.0, sentences=tuple(s for s in sentences if c.start <= s.start < c.end))
            for c in chunks]


PASSAGES = _seed_passages()
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | st.sampled_from([GUO, "1", "1e400"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["passage", "quote", "sentence", "quotes", "answer"]), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answerable=anything, answer_=anything, quotes=anything)
def test_any_value_in_any_field_gives_an_answer_or_a_model_failure(answerable, answer_, quotes):
    content = json.dumps({"answerable": answerable, "answer": answer_, "quotes": quotes})
    try:
        result = checked_answer(read_draft(content), PASSAGES, max_quotes=3, max_quote_chars=300)
    except ModelFailure as exc:
        assert exc.reason
    else:
        for cl in result.claims:
            assert cl.quotes and all(1 <= n <= len(result.citations) for n in cl.quotes)
