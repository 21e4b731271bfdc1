"""`/newsbot`: a server's own settings (Manage Server) and a member's own data (everyone).

- `/newsbot settings` shows this server's settings and changes them: the roles that may manage
  articles, the channels where mentions of the bot are answered, quotes-only or model answers
  (a model only where the operator configured one), and the pause between a member's questions.
  Anything not set follows the operator's environment settings; `reset` returns to them all.
- `/newsbot forget-me` deletes what the bot stored about the member who runs it.

Both reply privately. The group is open to everyone (Discord's default permissions apply to a
whole group), so `settings` checks Manage Server itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from ..checks import server_manager, server_settings
from ..errors import NO_MENTIONS, UserFacingError
from ..server_settings import Effective, ServerAnswerMode, ServerSettings

if TYPE_CHECKING:
    from ..discord_app import NewsBot

MODE_TEXT = {ServerAnswerMode.EXTRACTIVE: "quotes straight from the articles",
             ServerAnswerMode.MODEL: "written by the language model, quotes checked"}


def settings_embed(own: ServerSettings, eff: Effective) -> discord.Embed:
    """This server's settings, each marked when it is the operator's default."""

    def default(value: object) -> str:
        return " (default)" if value is None else ""

    roles = " ".join(f"<@&{r}>" for r in eff.admin_role_ids) or "none: Manage Server holders only"
    channels = " ".join(f"<#{c}>" for c in eff.answer_channel_ids) if eff.answer_channel_ids is not None else "every channel"
    embed = discord.Embed(title="newsbot settings for this server", colour=discord.Colour.blurple())
    embed.add_field(name="Article admin roles", value=roles + default(own.admin_role_ids), inline=False)
    embed.add_field(name="Mentions answered in", value=channels + default(own.answer_channel_ids), inline=False)
    embed.add_field(name="Answers", value=MODE_TEXT[eff.answer_mode] + default(own.answer_mode), inline=False)
    embed.add_field(name="Pause between a member's questions", value=f"{eff.cooldown_seconds:g} s" + default(own.cooldown_seconds),
                    inline=False)
    embed.set_footer(text="Manage Server holders can always manage articles. /newsbot settings reset:True returns to the defaults.")
    return embed


class Newsbot(commands.Cog):
    """Server settings and members' data."""

    group = app_commands.Group(name="newsbot", description="This server's newsbot settings, and your data.")

    def __init__(self, bot: NewsBot):
        self.bot = bot

    @group.command(name="settings")
    @app_commands.guild_only()
    @server_manager()
    @app_commands.describe(
        add_admin_role="A role whose members may add and remove this server's articles.",
        remove_admin_role="Stop a role managing articles.",
        answer_in="Answer mentions in this channel (once any is set, only in those).",
        stop_answering_in="Stop answering mentions in this channel.",
        answer_everywhere="Answer mentions in every channel again.",
        answer_mode="Quotes only, or answers written by the language model (if this bot has one).",
        cooldown="Seconds a member waits between questions (0 to 3600).",
        reset="Return every setting to the bot's defaults.",
    )
    @app_commands.choices(answer_mode=[app_commands.Choice(name="quotes only", value="extractive"),
                                       app_commands.Choice(name="language model", value="model"),
                                       app_commands.Choice(name="the bot's default", value="default")])
    async def settings(self, interaction: discord.Interaction, add_admin_role: discord.Role | None = None,
                       remove_admin_role: discord.Role | None = None, answer_in: discord.TextChannel | None = None,
                       stop_answering_in: discord.TextChannel | None = None, answer_everywhere: bool = False,
                       answer_mode: str | None = None, cooldown: app_commands.Range[float, 0, 3600] | None = None,
                       reset: bool = False) -> None:
        """Show or change this server's newsbot settings (Manage Server)."""
        assert interaction.guild_id is not None
        store = self.bot.server_settings
        if answer_mode == "model" and self.bot.kb.llm is None:
            raise UserFacingError("This bot has no language model configured, so its answers are quotes only.")
        if reset:
            await store.update(interaction.guild_id, interaction.user.id, **{k: None for k in ServerSettings.__dataclass_fields__})
        eff = await server_settings(interaction)
        changes: dict[str, object] = {}
        roles = list(eff.admin_role_ids)
        if add_admin_role is not None and add_admin_role.id not in roles:
            roles.append(add_admin_role.id)
        if remove_admin_role is not None and remove_admin_role.id in roles:
            roles.remove(remove_admin_role.id)
        if add_admin_role is not None or remove_admin_role is not None:
            changes["admin_role_ids"] = tuple(roles)
        channels = list(eff.answer_channel_ids or ())
        if answer_in is not None and answer_in.id not in channels:
            channels.append(answer_in.id)
        if stop_answering_in is not None and stop_answering_in.id in channels:
            channels.remove(stop_answering_in.id)
        if answer_everywhere:
            changes["answer_channel_ids"] = None
        elif answer_in is not None or stop_answering_in is not None:
            if not channels:
                raise UserFacingError("That would leave no channel where mentions are answered: "
                                      "use `answer_everywhere:True` to answer in every channel.")
            changes["answer_channel_ids"] = tuple(channels)
        if answer_mode is not None:
            changes["answer_mode"] = None if answer_mode == "default" else ServerAnswerMode(answer_mode)
        if cooldown is not None:
            changes["cooldown_seconds"] = float(cooldown)
        own = (await store.update(interaction.guild_id, interaction.user.id, **changes) if changes
               else await store.get(interaction.guild_id))
        await interaction.response.send_message(embed=settings_embed(own, await server_settings(interaction)),
                                                ephemeral=True, allowed_mentions=NO_MENTIONS)

    @group.command(name="forget-me")
    async def forget_me(self, interaction: discord.Interaction) -> None:
        """Delete what newsbot stored about you: your questions, the answers to them, your votes."""
        gone = await self.bot.feedback.forget_user(interaction.user.id)
        await interaction.response.send_message(
            f"Done: I deleted {gone.questions} question{'s' if gone.questions != 1 else ''} you asked (with my answers to "
            f"{'them' if gone.questions != 1 else 'it'}) and {gone.votes} vote{'s' if gone.votes != 1 else ''}. "
            "I keep nothing else about you.", ephemeral=True)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Newsbot(bot))
