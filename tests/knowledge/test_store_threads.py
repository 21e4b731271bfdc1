"""Threads of one process sharing a knowledge base: snapshots that never change under a reader,
and loads decided one at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from knowledge.integrity import violations
from knowledge.loading import build_article

WIRE = ("The central bank raised its main interest rate by a quarter point on Thursday, its third rise this year. "
        "The governor said inflation was still too high and that further rises could not be ruled out. "
        "Markets had expected the move, and the currency barely moved after the announcement. ")


def test_committed_is_a_snapshot_that_a_later_load_does_not_change(make_kb):
    kb = make_kb()
    before = kb.store.committed()
    added = kb.ingest(build_article(title="Pier reopens", text="The pier reopened on Friday.", source="Coast News")).article
    assert added.id not in before and added.id in kb.store.committed()
    with pytest.raises(TypeError):
        before[added.id] = added  # type: ignore[index]


def test_threads_loading_copies_of_one_wire_story_store_it_once(make_kb):
    kb = make_kb()
    copies = [build_article(title=f"Rates rise ({n})", text=WIRE * 3 + f"Reported by desk {n}.", source=f"Outlet {n}") for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(r.status for r in pool.map(kb.ingest, copies))
    assert statuses == ["duplicate"] * 7 + ["loaded"]
    [kept] = [a for a in kb.list() if a.title.startswith("Rates rise")]
    assert set(kept.outlets) == {f"Outlet {n}" for n in range(8)}  # every outlet recorded, none lost
    assert violations(kb.store) == []
