"""The buttons under every answer: "Show quotes" and 👍/👎.

They are `DynamicItem`s: the custom_id carries the answer id (`nb:q:<id>`, `nb:v:u:<id>`,
`nb:v:d:<id>`) and the answer's record is in the feedback store, so buttons on old messages keep
working after a restart. "Show quotes" re-reads each quoted article and shows the quote in bold
with some of the text around it, privately; a quote that no longer stands in the article is said
to be so rather than shown as if checked.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from knowledge import Article, NotFoundError

from ..asking import scopes_for
from ..errors import NO_MENTIONS, report
from ..feedback import VoteResult
from ..rendering import pack, quote_embed

if TYPE_CHECKING:
    from ..discord_app import NewsBot

log = logging.getLogger(__name__)

_ID = r"(?P<aid>[A-Za-z0-9_-]{4,32})"


class QuotesButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"nb:q:{_ID}"):
    def __init__(self, answer_id: str):
        super().__init__(discord.ui.Button(label="Show quotes", emoji="📰", style=discord.ButtonStyle.secondary, custom_id=f"nb:q:{answer_id}"))
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]) -> QuotesButton:
        return cls(match["aid"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # NewsBot dispatches it
        try:
            await self._show(interaction)
        except Exception as exc:
            await report(interaction, exc)

    async def _show(self, interaction: discord.Interaction[NewsBot]) -> None:
        bot = interaction.client
        stored = await bot.feedback.get_answer(self.answer_id)
        if stored is None or not stored.citations:
            await interaction.response.send_message("I have no quotes for that answer.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        visible = scopes_for(interaction.guild_id)

        def articles() -> list[Article | None]:
            out: list[Article | None] = []
            for c in stored.citations:
                try:
                    art = bot.kb.get(c.article_id)
                except NotFoundError:
                    art = None
                out.append(art if art is not None and art.scope in visible else None)
            return out

        found = await asyncio.to_thread(articles)
        embeds = [quote_embed(n, c, a) for n, (c, a) in enumerate(zip(stored.citations, found, strict=True), start=1)]
        for group in pack(embeds):
            await interaction.followup.send(embeds=group, ephemeral=True, allowed_mentions=NO_MENTIONS)


class VoteButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"nb:v:(?P<vote>[ud]):{_ID}"):
    def __init__(self, answer_id: str, vote: str):
        emoji, style = ("👍", discord.ButtonStyle.success) if vote == "u" else ("👎", discord.ButtonStyle.secondary)
        super().__init__(discord.ui.Button(emoji=emoji, style=style, custom_id=f"nb:v:{vote}:{answer_id}"))
        self.answer_id = answer_id
        self.vote = vote

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]) -> VoteButton:
        return cls(match["aid"], match["vote"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # NewsBot dispatches it
        try:
            result = await interaction.client.feedback.vote(self.answer_id, interaction.user.id, 1 if self.vote == "u" else -1)
            await interaction.response.send_message(vote_reply(result, self.vote), ephemeral=True)
        except Exception as exc:
            await report(interaction, exc)


def vote_reply(result: VoteResult, vote: str) -> str:
    """What a voter is told: a changed vote says so, so nobody wonders which one counts."""
    mark, other = ("👍", "👎") if vote == "u" else ("👎", "👍")
    return {
        VoteResult.RECORDED: f"Thanks, noted {mark}.",
        VoteResult.CHANGED: f"Vote changed: {other} → {mark}. Only your latest vote counts.",
        VoteResult.UNCHANGED: f"You had already voted {mark}; nothing changed.",
        VoteResult.UNKNOWN_ANSWER: "I no longer have a record of that answer.",
    }[result]


def answer_view(answer_id: str, *, with_quotes: bool) -> discord.ui.View:
    """The buttons for an answer message (persistent: no timeout, state in the custom_ids)."""
    view = discord.ui.View(timeout=None)
    if with_quotes:
        view.add_item(QuotesButton(answer_id))
    view.add_item(VoteButton(answer_id, "u"))
    view.add_item(VoteButton(answer_id, "d"))
    return view


class Feedback(commands.Cog):
    """Registers the answer buttons so clicks on any answer, old or new, are handled."""

    def __init__(self, bot: NewsBot):
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(QuotesButton, VoteButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(QuotesButton, VoteButton)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Feedback(bot))
