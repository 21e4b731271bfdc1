"""Fixtures for the core's tests: a news site on 127.0.0.1 (see ``tests/loopback_site.py``) and a
knowledge base whose model is the loopback OpenAI stand-in."""

from __future__ import annotations

import pytest

from knowledge.llm import LLMConfig
from tests.loopback_site import serve_site


@pytest.fixture
def site():
    """A running loopback ``Site``, empty; publish pages with ``site.put(path, body)``."""
    with serve_site() as s:
        yield s


@pytest.fixture
def llm_kb(make_kb, openai_standin):
    """``llm_kb(**llm)``: a knowledge base holding the shipped article, answering through the
    stand-in server (``openai_standin``); ``llm`` overrides ``LLMConfig`` fields."""

    def make(**llm):
        cfg = LLMConfig(model="standin-model", api_key="sk-test", base_url=openai_standin.base_url,
                        timeout=llm.pop("timeout", 5.0), max_retries=llm.pop("max_retries", 1), **llm)
        kb = make_kb(llm=cfg)
        kb.sync_folder()
        return kb

    return make
