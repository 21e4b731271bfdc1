"""A Chroma server that goes away and comes back: a one-line error, never a traceback, and a
running process that recovers by itself (a real `chroma run`, stopped and started again)."""

from __future__ import annotations

import pytest

from bot.errors import reason_for
from bot.ingest_command import run_ingest
from knowledge import CoreConfig, KnowledgeBase, StoreUnavailable
from knowledge.loading import build_article

pytestmark = pytest.mark.server
QUESTION = "How much did the harbour repairs cost?"


@pytest.fixture
def server(stoppable_chroma):
    return stoppable_chroma


async def test_an_outage_is_a_one_line_error_and_the_process_recovers_when_the_server_returns(server, embedder, tmp_path, capsys):
    kb = KnowledgeBase(CoreConfig(chroma_host="127.0.0.1", chroma_port=server.port), embedder=embedder)
    kb.ingest(build_article(title="Harbour reopens", text="The harbour reopened on Friday after repairs costing 4 million euros.", source="Port News"))
    assert (await kb.ask(QUESTION)).answerable

    server.stop()
    with pytest.raises(StoreUnavailable) as caught:
        await kb.ask(QUESTION)
    reason = reason_for(caught.value)  # what the Discord error handler sends
    assert reason is not None and reason.startswith("The article store is unreachable right now") and "\n" not in reason

    files = []
    for n in range(3):
        f = tmp_path / f"story{n}.md"
        f.write_text(f"---\ntitle: Ferry story {n}\nsource: Port News\n---\nThe ferry sailed {n} times on Sunday.\n")
        files.append(str(f))
    code = run_ingest(kb, files, scope="global", source="")
    out, err = capsys.readouterr()
    assert code == 1 and "loaded 0, updated 0, already loaded 0, duplicate 0, failed 3" in out
    assert err.count("The article store is unreachable right now") == 3 and "Traceback" not in err

    server.start()
    answer = await kb.ask(QUESTION)  # the same process, no restart
    assert answer.answerable and "4 million euros" in answer.citations[0].quote
    assert run_ingest(kb, files, scope="global", source="") == 0
    assert {f"Ferry story {n}" for n in range(3)} <= {a.title for a in kb.list()}
