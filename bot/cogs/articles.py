"""`/articles`: see, add and remove the articles a server's questions are answered from.

Articles added in a server belong to it (`scope` = the server's id) and are never seen from
another server; the shipped articles are visible everywhere and can only be removed by the bot's
operator (command line). Changing articles needs Manage Server or a role/user named in settings:
the group is hidden from others by `default_permissions`, and each change is checked again here.
Adding always shows a preview with Confirm/Cancel before anything is stored. `/articles feeds`
follows RSS/Atom feeds for the server through the core's `KnowledgeBase.feeds` (the Feeds cog
polls them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from knowledge import Article, InputError, NotFoundError

from ..asking import scopes_for
from ..checks import article_admin
from ..errors import NO_MENTIONS
from ..rendering import DESCRIPTION, plain, shorten
from . import _loading
from ._article_ui import (
    ConfirmView,
    Paginator,
    PasteModal,
    added_embed,
    article_embed,
    list_pages,
    preview_embed,
)

if TYPE_CHECKING:
    from ..discord_app import NewsBot

log = logging.getLogger(__name__)



class Articles(commands.Cog):
    """The articles questions are answered from, per server."""

    articles = app_commands.Group(
        name="articles", description="See and manage the news articles this server's questions are answered from.",
        default_permissions=discord.Permissions(manage_guild=True), guild_only=True,
    )
    feeds = app_commands.Group(name="feeds", description="News feeds that load new articles by themselves.", parent=articles)

    def __init__(self, bot: NewsBot):
        self.bot = bot
        self.kb = bot.kb

    # -- adding ------------------------------------------------------------------------------

    @articles.command(name="add")
    @app_commands.describe(url="A link to the article's page.", file="The article as a file (.txt, .md, .html or .pdf).",
                           text="The article's text (Discord keeps it on one line: give its title too, or a form opens).",
                           title="The headline, for `text`.", outlet="The outlet, for `text`, e.g. Reuters.",
                           published="The publication date, for `text` (YYYY-MM-DD).")
    @article_admin()
    async def add(self, interaction: discord.Interaction, url: str | None = None, file: discord.Attachment | None = None,
                  text: str | None = None, title: str | None = None, outlet: str | None = None,
                  published: str | None = None) -> None:
        """Add an article to this server from a link, a file or pasted text; shows a preview first."""
        given = [x for x in (url, file, text) if x]
        if len(given) > 1:
            raise InputError("Give only one of `url`, `file` or `text`.")
        if (title or outlet or published) and not text:
            raise InputError("`title`, `outlet` and `published` go with `text`; a link or a file carries its own.")
        scope = str(interaction.guild_id)
        meta = {"title": title or "", "source": outlet or "", "published": published or ""}
        if not given:
            await interaction.response.send_modal(PasteModal(self._submit_form))
            return
        if text:
            try:
                article = await _loading.from_text(self.kb, text, scope=scope, **meta)
            except InputError:
                if title:
                    raise
                # Discord's option box has no line breaks, so a paste rarely shows its headline:
                # open the form with the text in it rather than refuse it
                await interaction.response.send_modal(PasteModal(self._submit_form, defaults={**meta, "text": text}))
                return
            await interaction.response.defer(ephemeral=True, thinking=True)
        else:
            await interaction.response.defer(ephemeral=True, thinking=True)
            if url:
                article = await _loading.from_url(self.kb, url, scope=scope)
            else:
                assert file is not None
                article = await _loading.from_attachment(self.kb, file, scope=scope)
        await self._preview(interaction, article)

    async def _submit_form(self, interaction: discord.Interaction, values: dict[str, str]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        article = await _loading.from_text(self.kb, values.pop("text"), scope=str(interaction.guild_id), **values)
        await self._preview(interaction, article)

    async def _preview(self, interaction: discord.Interaction, article: Article) -> None:
        plan = await asyncio.to_thread(self.kb.plan, article)  # ingest's own decision, nothing written

        async def store() -> tuple[str, discord.Embed]:
            result = await asyncio.to_thread(self.kb.ingest, article)
            log.info("%s article %s in guild %s by user %s", result.status, result.article.id, interaction.guild_id, interaction.user.id)
            return _loading.done_text(result, article), added_embed(result.article)  # the preview becomes the result

        view = ConfirmView(interaction.user.id, store, confirm_label="Add it", cancelled="Cancelled: nothing was stored.")
        view.message = await interaction.followup.send(embed=preview_embed(article, _loading.preview_text(plan)), view=view, ephemeral=True,
                                                       allowed_mentions=NO_MENTIONS, wait=True)

    # -- reading -----------------------------------------------------------------------------

    @articles.command(name="list")
    async def list_(self, interaction: discord.Interaction) -> None:
        """List the articles this server's questions are answered from, newest first."""
        arts = await asyncio.to_thread(self.kb.list, scopes_for(interaction.guild_id))
        pages = list_pages(arts, heading="Loaded articles")
        if len(pages) == 1:
            await interaction.response.send_message(embed=pages[0], ephemeral=True)
            return
        view = Paginator(interaction.user.id, pages)
        await interaction.response.send_message(embed=pages[0], view=view, ephemeral=True)
        view.message = await interaction.original_response()

    @articles.command(name="show")
    @app_commands.describe(article="Start typing a title.")
    async def show(self, interaction: discord.Interaction, article: str) -> None:
        """Show an article's details and how it begins."""
        found = await self._find(article, scopes_for(interaction.guild_id))
        await interaction.response.send_message(embed=article_embed(found), ephemeral=True)

    # -- removing ----------------------------------------------------------------------------

    @articles.command(name="remove")
    @app_commands.describe(article="Start typing a title; only this server's own articles can be removed.")
    @article_admin()
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        """Remove one of this server's articles (asks you to confirm)."""
        found = await self._find(article, (str(interaction.guild_id),))

        async def delete() -> str:
            gone = await asyncio.to_thread(self.kb.remove, found.id)
            log.info("removed article %s from guild %s by user %s", gone.id, interaction.guild_id, interaction.user.id)
            return f"Removed “{plain(shorten(gone.title, 200))}”."

        view = ConfirmView(interaction.user.id, delete, confirm_label="Remove it", cancelled="Cancelled: nothing was removed.")
        await interaction.response.send_message(f"Remove “{plain(shorten(found.title, 200))}” from this server?", embed=article_embed(found, opening_chars=300),
                                                view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)
        view.message = await interaction.original_response()

    @show.autocomplete("article")
    async def visible_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self._choices(scopes_for(interaction.guild_id), current)

    @remove.autocomplete("article")
    async def own_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self._choices((str(interaction.guild_id),), current)

    async def _choices(self, scopes: tuple[str, ...], current: str) -> list[app_commands.Choice[str]]:
        arts = await asyncio.to_thread(self.kb.list, scopes)
        needle = current.strip().lower()
        hits = [a for a in arts if needle in a.title.lower() or needle == a.id]
        return [app_commands.Choice(name=shorten(f"{a.title} ({a.source or '?'}, {a.published or 'no date'})", 100), value=a.id) for a in hits[:25]]

    async def _find(self, value: str, scopes: tuple[str, ...]) -> Article:
        """The article with this id (what autocomplete sends) or this exact title, among `scopes`."""

        def work() -> Article:
            try:
                art = self.kb.get(value.strip())
                if art.scope in scopes:
                    return art
            except NotFoundError:
                pass
            same = [a for a in self.kb.list(scopes) if a.title.lower() == value.strip().lower()]
            if len(same) == 1:
                return self.kb.get(same[0].id)  # with its text, for `show`
            raise NotFoundError("No article like that here: pick one from the list that appears as you type.")

        return await asyncio.to_thread(work)

    # -- feedback and feeds ------------------------------------------------------------------

    @articles.command(name="feedback")
    @article_admin()
    async def feedback(self, interaction: discord.Interaction) -> None:
        """Show the latest 👍/👎 people gave the bot's answers in this server."""
        up, down = await self.bot.feedback.totals(interaction.guild_id)
        votes = await self.bot.feedback.recent_votes(interaction.guild_id, limit=15)
        lines = [f"{'👍' if v.vote > 0 else '👎'} <t:{int(v.created)}:R> <@{v.user_id}>: {plain(shorten(v.question, 150))}" for v in votes]
        embed = discord.Embed(title=f"Feedback: {up} 👍, {down} 👎", colour=discord.Colour.blurple(),
                              description=shorten("\n".join(lines), DESCRIPTION) if lines else "No feedback yet.")
        embed.set_footer(text=f"as of {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @feeds.command(name="add")
    @app_commands.describe(url="The feed's address (RSS or Atom).")
    @article_admin()
    async def feeds_add(self, interaction: discord.Interaction, url: str) -> None:
        """Follow a news feed: its new articles are added to this server."""
        await interaction.response.defer(ephemeral=True, thinking=True)  # the feed is fetched once first
        feed, found = await asyncio.to_thread(self.kb.feeds.follow, url, str(interaction.guild_id), policy=self.kb.config.fetch)
        self.bot.dispatch("feed_followed", feed)  # the poller reads it now
        minutes = self.bot.settings.feed_poll_minutes
        await interaction.followup.send(
            f"Following “{plain(shorten(found.title or 'untitled feed', 200))}” ({found.items} item{'s' if found.items != 1 else ''}) "
            f"at <{feed.url}> (id `{feed.id}`). Its articles are being loaded now, then every {minutes} minutes.",
            ephemeral=True, allowed_mentions=NO_MENTIONS)

    @feeds.command(name="list")
    @article_admin()
    async def feeds_list(self, interaction: discord.Interaction) -> None:
        """List the feeds this server follows, with when each was last read."""
        followed = await asyncio.to_thread(self.kb.feeds.list, str(interaction.guild_id))
        lines = [f"**{plain(shorten(f.title or f.url, 120))}** · `{f.id}`\n<{f.url}> · "
                 + (f"read <t:{int(f.last_polled)}:R>" if f.last_polled else "not read yet")
                 + (f" · failing: {shorten(f.last_error, 120)}" if f.failures else "") for f in followed]
        embed = discord.Embed(title="Followed feeds", colour=discord.Colour.blurple(),
                              description=shorten("\n".join(lines), DESCRIPTION) if lines else "No feeds yet: add one with `/articles feeds add`.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @feeds.command(name="remove")
    @app_commands.describe(feed="The feed to stop following; its articles stay.")
    @article_admin()
    async def feeds_remove(self, interaction: discord.Interaction, feed: str) -> None:
        """Stop following a feed (the articles it brought stay)."""
        gone = await asyncio.to_thread(self.kb.feeds.remove, feed, str(interaction.guild_id))
        await interaction.response.send_message(f"Stopped following <{gone.url}>.", ephemeral=True, allowed_mentions=NO_MENTIONS)

    @feeds_remove.autocomplete("feed")
    async def feed_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        followed = await asyncio.to_thread(self.kb.feeds.list, str(interaction.guild_id))
        needle = current.strip().lower()
        return [app_commands.Choice(name=shorten(f.title or f.url, 100), value=f.id)
                for f in followed if needle in (f.title or "").lower() or needle in f.url.lower()][:25]


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Articles(bot))
