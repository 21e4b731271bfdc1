"""Two bot processes sharing one `chroma run` server, through discord.py's real event path.

Each bot runs in a process of its own (`tests.bot.bot_process`), opened from the environment as
`bot run` opens it, with its own lexical index folder (`LEXICAL_PATH`) and its own loopback
Discord holding the same server. An article an admin adds through the first bot is answered by
the second, found there by both the dense and the BM25 side, and its removal through the first
disappears from the second. The second learns of both only through the store's change log: it
polls at most once per `CHANGE_POLL_S` (1 s), on its next question; the test asks again until
the answer changes (a generous deadline, no timing asserted) and prints how long that took.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.bot.bot_process import BotProcess
from tests.bot.harness import make_guild

pytestmark = pytest.mark.server

TITLE = "Quillmere ferry pier to close for repairs"
TEXT = ("The Quillmere ferry pier will close for six weeks from 14 April while engineers replace its rotten timber "
        "piles, the harbour board said on Tuesday. Repairs will cost 3.4 million pounds, paid from the board's "
        "reserves. Ferries to Osslet Island will sail from the fish quay instead, with the timetable unchanged.")
# Shares its rare words with the article: BM25 finds it, and so does the dense side.
WORDS_QUESTION = "How much will the Quillmere pier repairs cost?"
# Shares no word stem with the article ("price", "fixing", "jetty"): only the dense side can match.
MEANING_QUESTION = "What is the price of fixing the jetty?"
DEADLINE_S = 60.0  # far beyond the 1 s poll: a loaded machine, not a bound


async def until(check, what: str) -> tuple[float, int]:
    """Call `await check()` until it is true: (seconds it took, calls made)."""
    started, calls = time.monotonic(), 0
    while True:
        calls += 1
        if await check():
            return time.monotonic() - started, calls
        if time.monotonic() - started > DEADLINE_S:
            raise AssertionError(f"after {DEADLINE_S:.0f}s the second bot still did not {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def two_bots(stoppable_chroma, tmp_path):
    guild = make_guild("Shared")
    bots = []
    for name in ("first", "second"):
        env = {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(stoppable_chroma.port),
               "LEXICAL_PATH": str(tmp_path / name / "lexical"), "FEEDBACK_DB": str(tmp_path / name / "feedback.sqlite3"),
               "ASK_COOLDOWN_SECONDS": "0", "ANSWER_MODE": "extractive", "LOG_LEVEL": "info"}
        (tmp_path / name).mkdir()
        bots.append(BotProcess(env, tmp_path / f"{name}.log"))
    try:
        # Both start at once, each loading the shipped articles into the one store.
        await asyncio.gather(*(b.start(guild) for b in bots))
        yield bots
    finally:
        await asyncio.gather(*(b.stop() for b in bots))


def cites(answer: dict, title: str) -> bool:
    return any(title in q for q in answer["quotes"])


async def test_an_article_added_through_one_bot_is_answered_by_the_other_from_both_sides_and_its_removal_too(two_bots):
    first, second = two_bots
    assert first.ready["pid"] != second.ready["pid"]
    listed = set((await first.call("lexical"))["articles"])
    before = await second.call("ask", question=WORDS_QUESTION)
    assert not cites(before, TITLE) and "3.4 million" not in before["description"]

    added = await first.call("add", title=TITLE, text=TEXT)
    assert added["said"].startswith(f"Added “{TITLE}”"), added
    [article_id] = set((await first.call("lexical"))["articles"]) - listed

    async def answered_from_both_sides() -> bool:
        answer = await second.call("ask", question=WORDS_QUESTION)
        words = await second.call("sides", question=WORDS_QUESTION)
        meaning = await second.call("sides", question=MEANING_QUESTION)
        return (cites(answer, TITLE) and "3.4 million pounds" in answer["description"] + "".join(answer["quotes"])
                and words["bm25"][:1] == [article_id] and words["dense"][:1] == [article_id]
                # a question no word of which is in the article: the dense side alone finds it
                and meaning["dense"][:1] == [article_id] and article_id not in meaning["bm25"])

    seen_s, calls = await until(answered_from_both_sides, "answer from the added article, found by both sides")
    print(f"\nsecond bot: answered from the new article, by both sides, {seen_s:.2f}s after the first confirmed it ({calls} tries)")
    # The second process took it into its own index folder, from the change log.
    lex_first, lex_second = await first.call("lexical"), await second.call("lexical")
    assert lex_first["path"] != lex_second["path"]
    assert lex_second["articles_indexed"] >= 1 and article_id in lex_second["articles"]

    removed = await first.call("remove", article=article_id)
    assert removed["said"] == f"Removed “{TITLE}”.", removed

    async def gone_from_both_sides() -> bool:
        answer = await second.call("ask", question=WORDS_QUESTION)
        words = await second.call("sides", question=WORDS_QUESTION)
        meaning = await second.call("sides", question=MEANING_QUESTION)
        return not cites(answer, TITLE) and article_id not in words["bm25"] + words["dense"] + meaning["dense"]

    gone_s, calls = await until(gone_from_both_sides, "forget the removed article on both sides")
    print(f"second bot: the removed article gone from its answers and both sides {gone_s:.2f}s after the first confirmed it ({calls} tries)")
    after = await second.call("lexical")
    assert article_id not in after["articles"] and after["articles_removed"] >= 1
