"""Messages as questions: when a message is for the bot, the question in it, and the earlier turns.

The bot answers a message that mentions it, replies to one of its answers, comes by DM, or is
written in a thread started on one of its answers. Earlier turns come from the answers' records
(`FeedbackStore`): every answer message carries its answer id in its buttons' custom_ids, so a
thread's history is read back through the API (at most `THREAD_READ_LIMIT` messages) and mapped to
the stored questions and answers, not scraped from embeds. Each turn carries the articles its
answer cited: the core retrieves a follow-up with them first (knowledge/followup.py).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict

import discord

from knowledge.followup import Turn

from .feedback import FeedbackStore

log = logging.getLogger(__name__)

ANSWER_CUSTOM_ID = re.compile(r"^nb:(?:q|v:[ud]):(?P<aid>[A-Za-z0-9_-]{4,32})$")
THREAD_READ_LIMIT = 30
MAX_TURNS = 4
_ANSWERABLE_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def answer_id_of(message: discord.Message) -> str | None:
    """The answer id a bot answer carries in its buttons, or None for any other message."""
    for row in message.components:
        for child in getattr(row, "children", ()):
            m = ANSWER_CUSTOM_ID.match(getattr(child, "custom_id", None) or "")
            if m:
                return m["aid"]
    return None


def question_in(message: discord.Message, bot_id: int) -> str:
    """The message text without the bot's mention(s)."""
    return " ".join(re.sub(rf"<@!?{bot_id}>", " ", message.content).split())


class Conversations:
    """Decides which messages are questions, and finds the turns before them."""

    def __init__(self, bot_user: discord.abc.User, feedback: FeedbackStore, *, cache_size: int = 1024):
        self.me = bot_user
        self.feedback = feedback
        self._threads: OrderedDict[int, str | None] = OrderedDict()  # thread id -> starter answer id ("" = ours)
        self._cache_size = cache_size

    def mentioned(self, message: discord.Message) -> bool:
        return any(u.id == self.me.id for u in message.mentions)

    def replied_answer(self, message: discord.Message) -> discord.Message | None:
        ref = message.reference
        resolved = ref.resolved if ref else None
        if isinstance(resolved, discord.Message) and resolved.author.id == self.me.id and answer_id_of(resolved):
            return resolved
        return None

    async def is_for_me(self, message: discord.Message) -> bool:
        if message.author.bot or message.type not in _ANSWERABLE_TYPES:
            return False
        if message.guild is None or self.mentioned(message) or self.replied_answer(message):
            return True
        return isinstance(message.channel, discord.Thread) and await self._answer_thread(message.channel) is not None

    async def _answer_thread(self, thread: discord.Thread) -> str | None:
        """The starter answer's id if `thread` was started on one of our answers ("" if we own the
        thread), else None. Remembered, so the API is asked once per thread."""
        if thread.id in self._threads:
            self._threads.move_to_end(thread.id)
            return self._threads[thread.id]
        found: str | None = "" if thread.owner_id == self.me.id else None
        if isinstance(thread.parent, discord.abc.Messageable):
            try:
                starter = await thread.parent.fetch_message(thread.id)  # a message's thread has its id
            except discord.NotFound:
                starter = None
            except discord.HTTPException as exc:
                log.warning("could not read the starter of thread %s: %s", thread.id, exc.status)
                return found  # not remembered: ask again next time
            if starter is not None and starter.author.id == self.me.id:
                found = answer_id_of(starter) or found
        self._threads[thread.id] = found
        if len(self._threads) > self._cache_size:
            self._threads.popitem(last=False)
        return found

    async def history(self, message: discord.Message) -> list[Turn]:
        """Earlier turns (question, answer, the articles it cited): the thread's, or the answer
        being replied to."""
        ids: list[str] = []
        if isinstance(message.channel, discord.Thread) and (starter := await self._answer_thread(message.channel)) is not None:
            if starter:
                ids.append(starter)
            try:
                earlier = [m async for m in message.channel.history(limit=THREAD_READ_LIMIT, before=message)]
            except discord.HTTPException as exc:
                log.warning("could not read thread %s: %s", message.channel.id, exc.status)
                earlier = []
            ids += [aid for m in reversed(earlier) if m.author.id == self.me.id and (aid := answer_id_of(m))]
        elif (replied := self.replied_answer(message)) is not None:
            ids.append(answer_id_of(replied) or "")
        ids = list(dict.fromkeys(i for i in ids if i))[-MAX_TURNS:]
        stored = await self.feedback.get_answers(ids)
        return [Turn(stored[i].question, stored[i].answer, tuple(dict.fromkeys(c.article_id for c in stored[i].citations)))
                for i in ids if i in stored]
