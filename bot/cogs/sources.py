"""`/sources`: what the bot knows here, for everyone.

`/articles list` sits in the admin group, which Discord hides from members without Manage
Server, so a refusal pointing there pointed at nothing. `/sources` is open to every member (and
in DMs), read-only and private: the shipped articles and this server's own, newest first, ten a
page with ◀️ ▶️ buttons.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from ..asking import scopes_for
from ..errors import NO_MENTIONS
from ._article_ui import Paginator, list_pages

if TYPE_CHECKING:
    from ..discord_app import NewsBot


class Sources(commands.Cog):
    """The articles questions here are answered from."""

    def __init__(self, bot: NewsBot):
        self.bot = bot

    @app_commands.command(name="sources")
    async def sources(self, interaction: discord.Interaction) -> None:
        """List the articles questions here are answered from, newest first."""
        arts = await asyncio.to_thread(self.bot.kb.list, scopes_for(interaction.guild_id))
        pages = list_pages(arts, heading="What I can answer from")
        if len(pages) == 1:
            await interaction.response.send_message(embed=pages[0], ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        view = Paginator(interaction.user.id, pages)
        await interaction.response.send_message(embed=pages[0], view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)
        view.message = await interaction.original_response()


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Sources(bot))
