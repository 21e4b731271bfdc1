"""The one error handler: every failure a person can cause or meet becomes one short sentence.

Handled in this order (first match wins):

1. `CommandInvokeError` / `TransformerError` wrappers are unwrapped to their cause.
2. `knowledge.KnowledgeError`, `UserFacingError` (busy, cooling down) among them: its `.reason`.
3. Refusals of permission (`NotArticleAdmin`, `MissingPermissions`) and `NoPrivateMessage`.
4. A value Discord could not convert (`TransformerError`): "that value is not valid".
5. Anything else: an apology to the user, the full traceback to the log.

Raw exception text never reaches a user: only `.reason` strings written for people, and fixed
sentences, are sent. Replies to slash commands and buttons are ephemeral.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from knowledge import KnowledgeError, StoreUnavailable

log = logging.getLogger(__name__)

STORE_UNREACHABLE = "The article store is unreachable right now; try again in a minute."
APOLOGY = "Sorry, something went wrong on my side. It has been logged; please try again later."
NO_MENTIONS = discord.AllowedMentions.none()


class UserFacingError(KnowledgeError):
    """A refusal raised by the Discord layer itself (the core's error type with a reason, so it
    is handled like one); `reason` is one sentence for the user."""


class Busy(UserFacingError):
    """Too many questions are being answered at once."""


class CoolingDown(UserFacingError):
    """This user asked a moment ago."""


def _unwrap(error: BaseException) -> BaseException:
    if isinstance(error, app_commands.CommandInvokeError):
        return error.original
    if isinstance(error, app_commands.TransformerError) and isinstance(error.__cause__, KnowledgeError):
        return error.__cause__
    return error


def reason_for(error: BaseException) -> str | None:
    """The sentence to show for an expected error, or None for a bug (log it, apologise)."""
    error = _unwrap(error)
    if isinstance(error, StoreUnavailable):
        # The reason names the server's address and the error class: for the log, not for members.
        log.warning("%s", error.reason)
        return STORE_UNREACHABLE
    if isinstance(error, KnowledgeError):
        return error.reason
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in servers only."
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the Manage Server permission for that."
    if isinstance(error, app_commands.CheckFailure):
        # NotArticleAdmin (bot.checks) carries its own sentence
        return getattr(error, "reason", None) or "You cannot use this command here."
    if isinstance(error, app_commands.TransformerError):
        return "One of the values you gave is not valid for that option."
    return None


def describe(interaction: discord.Interaction) -> str:
    command = interaction.command.qualified_name if interaction.command else dict(interaction.data or {}).get("custom_id", "?")
    return f"{command!s} by user {interaction.user.id} in guild {interaction.guild_id}"


async def send_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Tell the person who interacted, privately, whatever state the interaction is in."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        if interaction.extras.pop("public_thinking", False):
            # A public "thinking…" message would be filled by the next follow-up and show the
            # error to everyone: remove it, then answer privately.
            await interaction.delete_original_response()
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:  # the interaction expired or was deleted
        log.warning("could not tell the user about an error (%s): %s", describe(interaction), exc.status)


async def report(interaction: discord.Interaction, error: BaseException) -> None:
    """Handle an error raised while serving an interaction (command, button, modal, autocomplete)."""
    reason = reason_for(error)
    if reason is None:
        original = _unwrap(error)
        log.error("unexpected error in %s", describe(interaction), exc_info=(type(original), original, original.__traceback__))
        reason = APOLOGY
    else:
        log.debug("refused %s: %s", describe(interaction), reason)
    if interaction.type is discord.InteractionType.autocomplete:
        return  # autocomplete cannot show text; an empty list of choices is the only answer
    await send_ephemeral(interaction, reason)


async def report_in_channel(message: discord.Message, error: BaseException) -> None:
    """Handle an error raised while answering a message (mention, reply, thread follow-up)."""
    reason = reason_for(error)
    if reason is None:
        log.error("unexpected error answering message %s in channel %s", message.id, message.channel.id, exc_info=error)
        reason = APOLOGY
    try:
        await message.reply(reason, mention_author=False, allowed_mentions=NO_MENTIONS, delete_after=30)
    except discord.HTTPException as exc:
        log.warning("could not reply with an error in channel %s: %s", message.channel.id, exc.status)


class NewsTree(app_commands.CommandTree):
    """The command tree with the one error handler attached."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report(interaction, error)
