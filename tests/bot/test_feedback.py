"""The answers-and-votes store: records survive reopening, votes can change, servers stay apart."""

from __future__ import annotations

from bot.feedback import FeedbackStore, VoteResult
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
