"""The answers-and-votes store: records survive reopening, votes can change, servers stay apart."""

from __future__ import annotations

import sqlite3
import time

import pytest

from bot.feedback import MIGRATIONS, FeedbackStore, Forgotten, VoteResult
from bot.migrations import SchemaTooNew
from knowledge import Answer, Citation

CITE = Citation("a1", "Title", "Xinhua", "2025-01-14", "", "A quote.", 10, 18, True)


async def test_answers_and_votes_survive_reopening_and_votes_can_change(tmp_path):
    store = await FeedbackStore.open(tmp_path / "sub" / "feedback.sqlite3")
    answer = Answer(text="Because.", answerable=True, mode="extractive", citations=(CITE,))
    aid = await store.record_answer(answer, question="Why?", guild_id=1, channel_id=2, user_id=3)
    assert await store.vote(aid, user_id=5, vote=1) is VoteResult.RECORDED
    assert await store.vote(aid, user_id=5, vote=-1) is VoteResult.CHANGED  # changed, not added
    assert await store.vote(aid, user_id=5, vote=-1) is VoteResult.UNCHANGED
    assert await store.vote(aid, user_id=6, vote=-1) is VoteResult.RECORDED
    await store.aclose()

    store = await FeedbackStore.open(tmp_path / "sub" / "feedback.sqlite3")
    stored = await store.get_answer(aid)
    assert (stored.question, stored.answer, stored.citations) == ("Why?", "Because.", (CITE,))
    assert await store.totals(1) == (0, 2)
    assert [v.user_id for v in await store.recent_votes(1)] == [6, 5]
    await store.aclose()


async def test_votes_are_kept_per_server_and_unknown_answers_refused(tmp_path):
    store = await FeedbackStore.open(tmp_path / "f.sqlite3")
    answer = Answer(text="No.", answerable=False, mode="extractive")
    in_one = await store.record_answer(answer, question="Q1", guild_id=1, channel_id=1, user_id=1)
    in_dm = await store.record_answer(answer, question="Q2", guild_id=None, channel_id=9, user_id=1)
    await store.vote(in_one, 2, 1)
    await store.vote(in_dm, 2, 1)

    assert await store.totals(1) == (1, 0)
    assert [v.question for v in await store.recent_votes(None)] == ["Q2"]
    assert await store.totals(7) == (0, 0)
    assert await store.vote("nonexistent", 2, 1) is VoteResult.UNKNOWN_ANSWER
    await store.aclose()


OLD_SCHEMA = """
CREATE TABLE answers (id TEXT PRIMARY KEY, created REAL NOT NULL, guild_id INTEGER, channel_id INTEGER, user_id INTEGER,
    question TEXT NOT NULL, answer TEXT NOT NULL, mode TEXT NOT NULL, answerable INTEGER NOT NULL, citations TEXT NOT NULL);
CREATE TABLE votes (answer_id TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE, user_id INTEGER NOT NULL,
    vote INTEGER NOT NULL, created REAL NOT NULL, PRIMARY KEY (answer_id, user_id));
CREATE INDEX answers_guild ON answers(guild_id, created);
INSERT INTO answers VALUES ('old1', 1.0, 1, 2, 3, 'Old?', 'Yes.', 'extractive', 1, '[]');
"""


async def test_a_file_from_before_numbered_migrations_is_upgraded_and_keeps_its_answers(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)

    store = await FeedbackStore.open(path)
    assert (await store.get_answer("old1")).question == "Old?"
    await store.aclose()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert "votes_user" in {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


async def test_a_file_from_a_newer_version_is_refused_not_guessed_at(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNew, match="newer than this newsbot knows"):
        await FeedbackStore.open(path)


async def test_answers_older_than_the_retention_period_are_purged_with_their_votes(tmp_path):
    store = await FeedbackStore.open(tmp_path / "f.sqlite3", retention_days=30)
    answer = Answer(text="Yes.", answerable=True, mode="extractive", citations=(CITE,))
    aid = await store.record_answer(answer, question="Q", guild_id=1, channel_id=1, user_id=1)
    await store.vote(aid, 2, 1)

    assert await store.purge_expired(now=time.time() + 29 * 86400) == 0
    assert await store.purge_expired(now=time.time() + 31 * 86400) == 1
    assert await store.get_answer(aid) is None and await store.totals(1) == (0, 0)
    await store.aclose()


async def test_forget_user_deletes_their_questions_and_votes_only(tmp_path):
    store = await FeedbackStore.open(tmp_path / "f.sqlite3")
    answer = Answer(text="Yes.", answerable=True, mode="extractive")
    mine = await store.record_answer(answer, question="Mine", guild_id=1, channel_id=1, user_id=5)
    theirs = await store.record_answer(answer, question="Theirs", guild_id=1, channel_id=1, user_id=6)
    await store.vote(theirs, 5, 1)
    await store.vote(theirs, 6, 1)
    await store.vote(mine, 5, -1)

    assert await store.forget_user(5) == Forgotten(questions=1, votes=1)
    assert await store.get_answer(mine) is None
    assert [(v.user_id, v.question) for v in await store.recent_votes(1)] == [(6, "Theirs")]
    await store.aclose()
