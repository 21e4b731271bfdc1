"""Who may change a server's articles: Manage Server holders, the server's admin roles (set with
`/newsbot settings`, else `DISCORD_ADMIN_ROLE_IDS`), or the users in `DISCORD_ADMIN_USER_IDS`.

Discord hides the `/articles` group from members without Manage Server (`default_permissions`),
but a server can grant it to anyone in its Integrations settings, so every change is checked
again here, on the bot's side.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from .server_settings import Effective, effective

log = logging.getLogger(__name__)


class NotArticleAdmin(app_commands.CheckFailure):
    """The member may read the articles but not change them."""

    reason = "Only members with the Manage Server permission (or one of this server's newsbot admin roles) can change this server's articles."


async def server_settings(interaction: discord.Interaction) -> Effective:
    """The server's settings with the operator's defaults filled in (the defaults alone in a DM)."""
    bot = interaction.client
    own = await bot.server_settings.get(interaction.guild_id)  # type: ignore[attr-defined]
    return effective(own, bot.settings, has_model=bot.kb.llm is not None)  # type: ignore[attr-defined]


async def can_manage_articles(interaction: discord.Interaction) -> bool:
    settings = interaction.client.settings  # type: ignore[attr-defined]
    user = interaction.user
    if user.id in settings.discord_admin_user_ids:
        return True
    if interaction.guild_id is None or not isinstance(user, discord.Member):
        return False
    # interaction.permissions is what Discord computed for this member in this channel
    if interaction.permissions.manage_guild or interaction.permissions.administrator:
        return True
    roles = (await server_settings(interaction)).admin_role_ids
    return any(role.id in roles for role in user.roles)


def article_admin():
    """An app-command check: raise `NotArticleAdmin` unless the member may change articles."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if await can_manage_articles(interaction):
            return True
        log.info("refused %s to user %s in guild %s: not an article admin",
                 interaction.command.qualified_name if interaction.command else "?", interaction.user.id, interaction.guild_id)
        raise NotArticleAdmin()

    return app_commands.check(predicate)


class NotServerManager(app_commands.CheckFailure):
    reason = "Only members with the Manage Server permission can change this server's newsbot settings."


def server_manager():
    """An app-command check: Manage Server (or Administrator) in this server, or an operator id."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.user.id in interaction.client.settings.discord_admin_user_ids:  # type: ignore[attr-defined]
            return True
        if interaction.guild_id is not None and (interaction.permissions.manage_guild or interaction.permissions.administrator):
            return True
        raise NotServerManager()

    return app_commands.check(predicate)
