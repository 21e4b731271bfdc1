"""LLM mode through the real openai client against loopback servers: checked quotes, graceful fallbacks."""

from __future__ import annotations

import json
import time

import pytest

from knowledge.errors import ModelFailure
from knowledge.llm import LLMConfig, checked_answer
from knowledge.replies import completion_content, read_draft, read_reply
from tests.openai_standin import delay, malformed, reply, reply_json, status

Q = "Who is the Chinese Foreign Ministry spokesperson quoted in the article?"
REAL = "Chinese Foreign Ministry spokesperson Guo Jiakun said at a regular press conference on Tuesday"


def _passage_number(request_json, needle):
    prompt = request_json["messages"][-1]["content"]
    for line in prompt.splitlines():
        if line.startswith("{"):
            passage = json.loads(line)
            if needle in passage["text"]:
                return passage["number"]
    raise AssertionError("the passage with the answer was not in the prompt")


def _assert_exact(kb, answer):
    for c in answer.citations:
        assert c.verified and kb.get(c.article_id).text[c.start : c.end] == c.quote


async def test_a_good_model_answer_is_shown_with_its_checked_quote(llm_kb, openai_standin):
    kb = llm_kb()
    openai_standin.script(lambda req: reply_json({
        "answerable": True, "answer": [{"sentence": "The spokesperson is Guo Jiakun.", "quotes": [1]}],
        "quotes": [{"passage": _passage_number(req, "Guo Jiakun"), "quote": REAL}],
    }))
    answer = await kb.ask(Q)
    assert answer.mode == "llm" and answer.answerable and answer.note == ""
    assert answer.text == "The spokesperson is Guo Jiakun."
    assert answer.cited_text() == "The spokesperson is Guo Jiakun. [1]"
    assert [c.quote for c in answer.citations] == [REAL]
    _assert_exact(kb, answer)
    req = openai_standin.chat_requests[0]
    assert req.authorization == "Bearer sk-test"
    system = req.json["messages"][0]["content"]
    assert "untrusted" in system and "JSON" in system
    assert req.json["response_format"] == {"type": "json_object"}


async def test_a_paraphrased_quote_is_repaired_to_the_real_sentence(llm_kb, openai_standin):
    kb = llm_kb()
    paraphrase = ("He said China will continue to work with all parties to create an open, inclusive, universally "
                  "beneficial, and non-discriminatory environment for the development of AI, ensuring that its benefits reach all countries.")
    openai_standin.script(reply_json({"answerable": True, "answer": [{"sentence": "China will keep working with all parties.", "quotes": [1]}],
                                      "quotes": [{"passage": 1, "quote": paraphrase}]}))
    answer = await kb.ask("What did China say it would continue to do?")
    assert answer.mode == "llm" and len(answer.citations) == 1
    assert "would continue to work with all parties" in answer.citations[0].quote
    _assert_exact(kb, answer)


async def test_an_invented_quote_is_never_shown(llm_kb, openai_standin):
    kb = llm_kb()
    openai_standin.script(reply_json({"answerable": True, "answer": "China will ban US chips.",
                                      "quotes": [{"passage": 1, "quote": "China will ban all US chips from next month."}]}))
    answer = await kb.ask(Q)
    assert "ban" not in " ".join(c.quote for c in answer.citations)
    assert answer.mode == "extractive" and "could not be found" in answer.note
    assert answer.answerable and "Guo Jiakun" in answer.text  # the extractive fallback still answers
    _assert_exact(kb, answer)


async def test_the_model_saying_not_answerable_is_a_refusal(llm_kb, openai_standin):
    kb = llm_kb()
    openai_standin.script(reply_json({"answerable": False, "answer": "", "quotes": []}))
    answer = await kb.ask("What did the Chinese president say?")  # a name the article has: the model is asked
    assert not answer.answerable and answer.mode == "llm" and answer.citations == ()


@pytest.mark.parametrize(
    ("steps", "note"),
    [
        ([malformed()], "unreadable"),
        ([reply("Sure! Guo Jiakun is the spokesperson.")], "expected form"),
        ([reply_json({"answerable": True, "answer": "x", "quotes": "not a list"})], "expected form"),
        ([status(500), status(500)], "HTTP 500"),
        ([status(429), status(429)], "rate-limited"),
    ],
)
async def test_model_failures_fall_back_to_the_extractive_answer(llm_kb, openai_standin, steps, note):
    kb = llm_kb(max_retries=1)
    openai_standin.script(*steps)
    answer = await kb.ask(Q)
    assert answer.mode == "extractive" and answer.answerable
    assert note in answer.note and "quoted straight from the articles" in answer.note
    _assert_exact(kb, answer)


async def test_a_429_then_success_is_retried(llm_kb, openai_standin):
    kb = llm_kb(max_retries=2)
    openai_standin.script(status(429), reply_json({"answerable": True, "answer": [{"sentence": "Guo Jiakun.", "quotes": [1]}], "quotes": [{"passage": 1, "quote": REAL}]}))
    answer = await kb.ask(Q)
    assert answer.mode == "llm" and len(openai_standin.chat_requests) == 2


async def test_a_model_that_times_out_falls_back_quickly(llm_kb, openai_standin):
    kb = llm_kb(timeout=1.0, max_retries=0)
    openai_standin.script(delay(10, reply("too late")))
    started = time.monotonic()
    answer = await kb.ask(Q)
    assert time.monotonic() - started < 9  # the reply would come after 10 s
    assert answer.mode == "extractive" and "too long" in answer.note and answer.answerable


def test_a_reply_in_code_fences_with_chatter_is_read():
    draft = read_draft('Here you go:\n```json\n{"answerable": true, "answer": [{"sentence": "a", "quotes": [1]}], "quotes": []}\n```')
    assert [s.text for s in draft.sentences] == ["a"] and draft.sentences[0].refs == (1,)


@pytest.mark.server
async def test_a_real_small_model_through_llama_cpp(make_kb, llama_server):
    """SmolLM2-135M is too small to answer well; this proves the transport and that whatever
    it quotes is either found in the article or never shown."""
    kb = make_kb(llm=LLMConfig(model=llama_server.model, base_url=llama_server.base_url, timeout=600, max_retries=0, max_tokens=160))
    kb.sync_folder()
    # One request (a second one doubled a run that already takes minutes on a loaded machine),
    # with the three best passages: its body is read both raw and through the checks.
    passages = kb.retrieve(Q).passages[:3]
    body = await kb.llm.fetch(kb.llm.messages(Q, passages))
    raw = completion_content(body)
    assert raw.strip(), "the real model returned an empty reply"
    try:
        answer = checked_answer(read_reply(body), passages, max_quotes=3, max_quote_chars=300)
    except ModelFailure:
        answer = None  # the extractive fallback, which the other tests cover
    if answer is not None:
        assert answer.mode == "llm"
        _assert_exact(kb, answer)
        assert all(cl.quotes for cl in answer.claims)
    try:
        claimed = [str(q.get("quote", "")) for q in json.loads(raw).get("quotes", []) if isinstance(q, dict)]
    except (json.JSONDecodeError, AttributeError):
        claimed = []
    shown = {c.quote for c in answer.citations} if answer else set()
    article = kb.get(passages[0].article.id).text
    for q in claimed:
        if q and q not in article:
            assert q not in shown  # a paraphrased or invented quote is never shown as is
    await kb.aclose()
