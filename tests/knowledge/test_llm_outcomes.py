"""LLM mode's outcomes: a reply saying the passages lack the answer is "not stated"; a question about
a name no article mentions is refused before any model is asked."""

from __future__ import annotations

import pytest

from knowledge import Outcome
from knowledge.llm import LLMConfig
from tests.openai_standin import reply_json


@pytest.fixture
def llm_kb(make_kb, openai_standin):
    cfg = LLMConfig(model="standin-model", api_key="sk-test", base_url=openai_standin.base_url, timeout=5.0, max_retries=0)
    kb = make_kb(llm=cfg)
    kb.sync_folder()
    return kb


@pytest.mark.parametrize(
    "reply",
    [
        {"answerable": False, "answer": "", "quotes": []},
        {"answerable": True, "answer": "The passages do not say when the restrictions take effect.", "quotes": []},
        {"answerable": True, "answer": "This is not stated in the provided passages.", "quotes": []},
    ],
)
async def test_a_reply_that_the_passages_lack_the_answer_is_not_stated(llm_kb, openai_standin, reply):
    openai_standin.script(reply_json(reply))
    answer = await llm_kb.ask("On what date do the US AI export restrictions take effect?")
    assert answer.outcome is Outcome.NOT_STATED and not answer.answerable
    assert answer.mode == "llm" and answer.citations == ()
    assert answer.missing == ("the date",)
    assert answer.to_dict()["outcome"] == "not_stated"


async def test_a_name_no_article_mentions_is_not_covered_without_asking_the_model(llm_kb, openai_standin):
    answer = await llm_kb.ask("What is Japan's policy on exporting AI chips?")
    assert answer.outcome is Outcome.NOT_COVERED and answer.missing == ("Japan",)
    assert openai_standin.chat_requests == []
