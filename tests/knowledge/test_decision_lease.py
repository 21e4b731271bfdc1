"""The decision lock on a Chroma server: its lease is renewed while held, and a holder that lost
it writes nothing. Against a real `chroma run`, with a lease of two seconds."""

from __future__ import annotations

import threading
import time

import pytest

from knowledge import CoreConfig, KnowledgeBase
from knowledge.loading import build_article
from knowledge.store import ArticleStore, decisions
from knowledge.store.decisions import DecisionLost

pytestmark = pytest.mark.server
LEASE = 2.0  # seconds: renewed every quarter of it, leaving a loaded machine room


@pytest.fixture
def short_lease(monkeypatch):
    monkeypatch.setattr(decisions, "DECIDE_LEASE_S", LEASE)


def test_a_holder_past_its_lease_keeps_the_lock_and_a_second_taker_waits(chroma_server, embedder, short_lease):
    host, port = chroma_server
    first = ArticleStore.open_server(host, port, embedder.name)
    second = ArticleStore.open_server(host, port, embedder.name)  # another process's store in real life
    events: list[str] = []

    def take_second() -> None:
        with second.decision_lock():
            events.append("second took")

    with first.decision_lock():
        events.append("first took")
        taker = threading.Thread(target=take_second)
        taker.start()
        time.sleep(2.5 * LEASE)  # a long batch: without renewal the second takes the lock after one lease
        first.confirm_decision_lock()  # still ours: raises nothing
        events.append("first done")
    taker.join(timeout=60)
    assert events == ["first took", "first done", "second took"]


def test_a_holder_whose_lease_was_taken_raises_instead_of_writing(chroma_server, embedder, short_lease, tmp_path):
    host, port = chroma_server
    kb = KnowledgeBase(CoreConfig(chroma_host=host, chroma_port=port, lexical_path=str(tmp_path / "lex")), embedder=embedder)
    other = ArticleStore.open_server(host, port, embedder.name)
    kb.store._keep_lease = lambda *args: None  # type: ignore[method-assign]  # a holder stalled: no renewals
    article = build_article(title="Quay lease test", text="The quay reopened on Monday after the storm damage was repaired.",
                            source="Port News")
    taken, release = threading.Event(), threading.Event()

    def take_over() -> None:
        with other.decision_lock():  # waits for the stalled holder's lease to run out
            taken.set()
            release.wait(timeout=60)

    with kb.store.decision_lock():
        thief = threading.Thread(target=take_over)
        thief.start()
        assert taken.wait(timeout=60)
        with pytest.raises(DecisionLost, match="decision lock"):
            kb.ingest(article)
    release.set()
    thief.join(timeout=60)
    fresh = ArticleStore.open_server(host, port, embedder.name)
    assert article.id not in fresh.committed()
    assert fresh.pending_count() == 0  # its intents were abandoned, not left behind
    assert kb.ingest(article).status == "loaded"  # with the lock free again, the load goes through
