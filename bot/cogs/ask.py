"""Asking: `/ask`, mentions of the bot, replies to its answers and follow-ups in their threads.

Every path goes through the same steps: check the question, take a turn (cooldown, questions in
flight), answer off the event loop, record the answer (for its buttons and for follow-ups), then
send it as embeds with no mentions allowed. A server's questions see the shipped articles and
that server's own; a DM sees the shipped articles only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from knowledge import Answer, SearchFilter

from ..asking import Asker, scopes_for
from ..conversation import Conversations, question_in
from ..errors import NO_MENTIONS, report_in_channel
from ..rendering import answer_embeds
from ..server_settings import Effective, ServerAnswerMode, effective
from .feedback import answer_view

if TYPE_CHECKING:
    from ..discord_app import NewsBot

log = logging.getLogger(__name__)

EMPTY_MENTION_HINT = "Ask me a question about the news, e.g. “@newsbot what did the minister say about tariffs?”, or use `/ask`."


class Ask(commands.Cog):
    """Questions about the loaded news articles, answered with verbatim quotes."""

    def __init__(self, bot: NewsBot):
        self.bot = bot
        settings = bot.settings
        self.asker = Asker(bot.kb, cooldown=settings.ask_cooldown_seconds, in_flight=settings.max_questions_in_flight,
                           burst=settings.ask_burst)
        self._conversations: Conversations | None = None

    async def cog_unload(self) -> None:
        self.asker.close()

    @property
    def conversations(self) -> Conversations:
        if self._conversations is None:  # bot.user is known once the bot has logged in
            assert self.bot.user is not None, "messages arrive only after login"
            self._conversations = Conversations(self.bot.user, self.bot.feedback)
        return self._conversations

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="What you want to know, e.g. “What did China say about the US AI restrictions?”",
        since="Only articles published on or after this date (YYYY-MM-DD).",
        outlet="Only articles from this outlet.",
    )
    async def ask(self, interaction: discord.Interaction, question: str, since: str | None = None, outlet: str | None = None) -> None:
        """Ask a question about the loaded news articles; the answer quotes its sources word for word."""
        question = self.bot.kb.check_question(question)
        flt = await self.asker.search_filter(interaction.guild_id, since=since, outlet=outlet)
        server = await self._server(interaction.guild_id)
        async with self.asker.turn(interaction.user.id, cooldown=server.cooldown_seconds):
            await interaction.response.defer(thinking=True)
            interaction.extras["public_thinking"] = True  # an error now must remove "thinking…"
            answer = await self.bot.kb.ask(question, flt, executor=self.asker.executor,
                                           use_model=server.answer_mode is ServerAnswerMode.MODEL)
        embeds, view = await self._prepare(answer, question, guild_id=interaction.guild_id,
                                           channel_id=interaction.channel_id, user_id=interaction.user.id)
        await interaction.followup.send(embeds=embeds, view=view, allowed_mentions=NO_MENTIONS, wait=True)
        interaction.extras.pop("public_thinking", None)

    @ask.autocomplete("outlet")
    async def outlet_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = await self.asker.outlets(interaction.guild_id)
        current = current.lower()
        return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names if current in n.lower()][:25]

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        conversations = self.conversations
        if not await conversations.is_for_me(message):
            return
        server = await self._server(message.guild.id if message.guild else None)
        if not self._answers_in(message, server):
            return
        question = question_in(message, conversations.me.id)
        if not question:
            if conversations.mentioned(message):
                await message.reply(EMPTY_MENTION_HINT, mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        try:
            await self._answer_message(message, question, server)
        except Exception as exc:
            await report_in_channel(message, exc)

    async def _server(self, guild_id: int | None) -> Effective:
        """A server's settings over the bot's defaults (`/newsbot settings`): cooldown, answer
        mode (quotes only or the model) and answer channels. Read once per question."""
        own = await self.bot.server_settings.get(guild_id)
        return effective(own, self.bot.settings, has_model=self.bot.kb.llm is not None)

    @staticmethod
    def _answers_in(message: discord.Message, server: Effective) -> bool:
        """False in a server channel (or a thread of one) outside the channels its admins chose
        for answering mentions; True in DMs and where nothing was chosen."""
        channels = server.answer_channel_ids
        if message.guild is None or channels is None:
            return True
        return bool({message.channel.id, getattr(message.channel, "parent_id", None)} & set(channels))

    async def _answer_message(self, message: discord.Message, question: str, server: Effective) -> None:
        question = self.bot.kb.check_question(question)
        guild_id = message.guild.id if message.guild else None
        async with self.asker.turn(message.author.id, cooldown=server.cooldown_seconds):
            history = await self.conversations.history(message)
            async with message.channel.typing():
                answer = await self.bot.kb.ask(question, SearchFilter(scopes=scopes_for(guild_id)), history=history,
                                               executor=self.asker.executor, use_model=server.answer_mode is ServerAnswerMode.MODEL)
        embeds, view = await self._prepare(answer, question, guild_id=guild_id, channel_id=message.channel.id, user_id=message.author.id)
        await message.reply(embeds=embeds, view=view, mention_author=False, allowed_mentions=NO_MENTIONS)
        log.info("answered a message in channel %s (%s, %d turns before)", message.channel.id, answer.mode, len(history))

    async def _prepare(self, answer: Answer, question: str, *, guild_id: int | None, channel_id: int | None,
                       user_id: int) -> tuple[list[discord.Embed], discord.ui.View]:
        answer_id = await self.bot.feedback.record_answer(answer, question=question, guild_id=guild_id,
                                                          channel_id=channel_id, user_id=user_id)
        rendered = answer_embeds(answer, question=question)
        if rendered.dropped:
            log.info("answer %s: %d sources left out of the message for lack of room", answer_id, rendered.dropped)
        return rendered.embeds, answer_view(answer_id, with_quotes=bool(answer.citations))


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Ask(bot))
