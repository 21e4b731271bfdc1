"""Who may change a server's articles: Manage Server holders, or the roles and users in settings.

Discord hides the `/articles` group from members without Manage Server (`default_permissions`),
but a server can grant it to anyone in its Integrations settings, so every change is checked
again here, on the bot's side.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

log = logging.getLogger(__name__)


class NotArticleAdmin(app_commands.CheckFailure):
    """The member may read the articles but not change them."""

    reason = "Only members with the Manage Server permission (or a role the bot's operator named) can change this server's articles."


def can_manage_articles(interaction: discord.Interaction) -> bool:
    settings = interaction.client.settings  # type: ignore[attr-defined]
    user = interaction.user
    if user.id in settings.discord_admin_user_ids:
        return True
    if interaction.guild_id is None or not isinstance(user, discord.Member):
        return False
    # interaction.permissions is what Discord computed for this member in this channel
    if interaction.permissions.manage_guild or interaction.permissions.administrator:
        return True
    return any(role.id in settings.discord_admin_role_ids for role in user.roles)


def article_admin():
    """An app-command check: raise `NotArticleAdmin` unless the member may change articles."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if can_manage_articles(interaction):
            return True
        log.info("refused %s to user %s in guild %s: not an article admin",
                 interaction.command.qualified_name if interaction.command else "?", interaction.user.id, interaction.guild_id)
        raise NotArticleAdmin()

    return app_commands.check(predicate)
