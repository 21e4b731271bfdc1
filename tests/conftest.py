"""Shared pytest fixtures for the newsbot tests.

Fixtures for the LLM path:

* ``openai_standin`` -- a fresh scripted OpenAI-compatible server
  (:class:`tests.openai_standin.OpenAIStandin`) per test; point the code under
  test at ``openai_standin.base_url`` and script answers with
  ``openai_standin.script(...)``.
* ``llama_server`` -- (session) a real SmolLM2-135M model behind llama.cpp's
  OpenAI-compatible server (:class:`tests.llama_server.LlamaServer`); skips
  when the GGUF or ``xllamacpp`` is missing. Tests using it should be marked
  ``@pytest.mark.server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.llama_server import (
    LlamaServer,
    find_test_gguf,
    missing_model_reason,
    run_llama_server,
)
from tests.openai_standin import OpenAIStandin


@pytest.fixture
def openai_standin() -> Iterator[OpenAIStandin]:
    """A running :class:`OpenAIStandin`, stopped after the test.

    Re-raises at teardown any exception a callable step raised while serving.
    """
    standin = OpenAIStandin().start()
    try:
        yield standin
    finally:
        standin.stop()
    standin.raise_errors()


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """A real llama.cpp server with SmolLM2-135M-Instruct, shared by the session.

    Yields a :class:`LlamaServer` (``base_url`` ending in ``/v1``, ``model``,
    ``startup_seconds``).
    """
    pytest.importorskip("xllamacpp", reason="xllamacpp not installed (pip install -e .[llm-test])")
    gguf = find_test_gguf()
    if gguf is None:
        pytest.skip(missing_model_reason())
    with run_llama_server(gguf) as server:
        yield server


# --- the core -------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SEED_RAW = SHARED / "seeds" / "000_737cb7a12349f113.txt"
BBC = SHARED / "bench" / "bbc"


@pytest.fixture(scope="session")
def embedder():
    """The real local embedding model, loaded once for the session."""
    from knowledge.embeddings import MiniLMOnnx

    return MiniLMOnnx()


@pytest.fixture
def make_kb(tmp_path, embedder):
    """Build a KnowledgeBase on a fresh embedded Chroma folder: ``make_kb(**CoreConfig fields)``."""
    from knowledge import CoreConfig, KnowledgeBase

    made = []

    def make(**overrides):
        overrides.setdefault("chroma_path", str(tmp_path / "chroma"))
        kb = KnowledgeBase(CoreConfig(**overrides), embedder=embedder)
        made.append(kb)
        return kb

    yield make


@pytest.fixture
def kb(make_kb):
    """A KnowledgeBase holding the shipped articles (the Xinhua seed), extractive answers."""
    kb = make_kb()
    kb.sync_folder()
    return kb


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on 127.0.0.1 for the session: yields (host, port)."""
    from tests.chroma_server import run_chroma

    with run_chroma(tmp_path_factory.mktemp("chroma-server") / "db") as addr:
        yield addr


@pytest.fixture
def stoppable_chroma(tmp_path):
    """A `chroma run` of this test's own, which the test may stop and start again (the shared
    `chroma_server` must stay up for the others): a `tests.chroma_server.ChromaProcess`."""
    from tests.chroma_server import ChromaProcess

    chroma = ChromaProcess(tmp_path / "db")
    chroma.start()
    yield chroma
    chroma.stop()
