"""The pieces `/articles` shows: article embeds, list pages, the paste form, Confirm/Cancel and
page buttons. Views answer only the member who opened them and give up after ten minutes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import discord

from knowledge import GLOBAL_SCOPE, Article, ArticleInfo

from ..errors import NO_MENTIONS, report
from ..rendering import DESCRIPTION, FIELD_VALUE, TITLE, plain, plain_short, shorten
from ..sources import safe_url

log = logging.getLogger(__name__)

VIEW_TIMEOUT = 600
PAGE_SIZE = 10


def where(article: ArticleInfo) -> str:
    return "shipped with the bot (every server)" if article.scope == GLOBAL_SCOPE else "this server"


def article_embed(article: Article, *, opening_chars: int = 1500) -> discord.Embed:
    """An article's facts and its opening (for `/articles show` and previews), as plain text."""
    embed = discord.Embed(title=plain_short(article.title, TITLE), url=safe_url(article.url) or None,
                          description=plain_short(article.text.strip(), min(opening_chars, DESCRIPTION)),
                          colour=discord.Colour.blurple())
    for name, value in (("Outlet", article.source), ("Published", article.published), ("Updated", article.updated),
                        ("Author", article.author), ("Words", f"{article.word_count:,}")):
        if value:
            embed.add_field(name=name, value=plain_short(value, FIELD_VALUE))
    embed.add_field(name="Visible in", value=where(article))
    embed.set_footer(text=f"id: {article.id}")
    return embed


def preview_embed(article: Article, status: str) -> discord.Embed:
    """The article as it will be stored, with `status`: what Confirm will do (one sentence)."""
    embed = article_embed(article, opening_chars=600)
    embed.title = "Preview: " + plain_short(article.title, TITLE - 9)
    embed.add_field(name="Status", value=shorten(status, FIELD_VALUE), inline=False)
    embed.set_footer(text="Nothing is stored until you press Add it.")
    return embed


def added_embed(article: Article) -> discord.Embed:
    """The preview turned into the result once the article is stored."""
    embed = article_embed(article, opening_chars=600)
    embed.title = "Added: " + plain_short(article.title, TITLE - 7)
    embed.colour = discord.Colour.green()
    embed.set_footer(text=f"Stored · id: {article.id}")
    return embed


def list_pages(articles: Sequence[ArticleInfo], *, heading: str) -> list[discord.Embed]:
    if not articles:
        return [discord.Embed(title=heading, description="No articles are loaded yet. An admin can add some with `/articles add`.")]
    pages = []
    count = len(articles)
    for first in range(0, count, PAGE_SIZE):
        lines = []
        for a in articles[first : first + PAGE_SIZE]:
            meta = plain(", ".join(x for x in (a.source, a.published) if x)) or "no outlet or date"
            mark = "" if a.scope == GLOBAL_SCOPE else " · this server"
            lines.append(f"**{plain_short(a.title, 160)}**\n{meta[:200]}{mark} · `{a.id}`")
        embed = discord.Embed(title=heading, description="\n".join(lines), colour=discord.Colour.blurple())
        embed.set_footer(text=f"Page {first // PAGE_SIZE + 1} of {(count - 1) // PAGE_SIZE + 1} · {count} articles")
        pages.append(embed)
    return pages


class OwnerView(discord.ui.View):
    """A view only its owner may use; on timeout its buttons go away."""

    def __init__(self, owner_id: int):
        super().__init__(timeout=VIEW_TIMEOUT)
        self.owner_id = owner_id
        self.message: discord.Message | discord.WebhookMessage | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message("Only the person who opened this can use these buttons.", ephemeral=True)
        return False

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item) -> None:
        await report(interaction, error)

    async def on_timeout(self) -> None:
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):  # gone, or too old to edit
                await self.message.edit(view=None)


class ConfirmView(OwnerView):
    """Confirm / Cancel. Confirm runs `action`; what it returns (a text, or a text and an embed)
    replaces the whole message, so no preview saying "nothing is stored yet" is left under the
    result. Cancel replaces it with `cancelled`."""

    def __init__(self, owner_id: int, action: Callable[[], Awaitable[str | tuple[str, discord.Embed]]], *,
                 confirm_label: str, cancelled: str):
        super().__init__(owner_id)
        self.action = action
        self.cancelled = cancelled
        self.confirm.label = confirm_label

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content="Working on it…", view=None)
        try:
            done = await self.action()
        except Exception as exc:
            await interaction.edit_original_response(content="Nothing was changed.", embeds=[])
            await report(interaction, exc)
            return
        text, embeds = (done, []) if isinstance(done, str) else (done[0], [done[1]])
        await interaction.edit_original_response(content=text, embeds=embeds, allowed_mentions=NO_MENTIONS)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content=self.cancelled, embeds=[], view=None)


class Paginator(OwnerView):
    def __init__(self, owner_id: int, pages: Sequence[discord.Embed]):
        super().__init__(owner_id)
        self.pages = list(pages)
        self.index = 0
        self._sync()

    def _sync(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1

    async def _show(self, interaction: discord.Interaction, index: int) -> None:
        self.index = max(0, min(index, len(self.pages) - 1))
        self._sync()
        await interaction.response.edit_message(embed=self.pages[self.index], view=self)

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, self.index + 1)


class PasteModal(discord.ui.Modal, title="Add an article"):
    """A form for pasting an article's text with its headline, outlet and date."""

    headline: discord.ui.TextInput[PasteModal] = discord.ui.TextInput(label="Headline", custom_id="title", max_length=256)
    outlet: discord.ui.TextInput[PasteModal] = discord.ui.TextInput(label="Outlet", custom_id="source", required=False, max_length=100, placeholder="e.g. Reuters")
    published: discord.ui.TextInput[PasteModal] = discord.ui.TextInput(label="Published (YYYY-MM-DD)", custom_id="published", required=False, min_length=10, max_length=10, placeholder="2025-01-31")
    body: discord.ui.TextInput[PasteModal] = discord.ui.TextInput(label="Article text", custom_id="text", style=discord.TextStyle.paragraph, max_length=4000)

    def __init__(self, on_submit: Callable[[discord.Interaction, dict[str, str]], Awaitable[None]], *,
                 defaults: dict[str, str] | None = None):
        super().__init__(timeout=VIEW_TIMEOUT)
        self._on_submit = on_submit
        for key, field in (("title", self.headline), ("source", self.outlet), ("published", self.published), ("text", self.body)):
            value = (defaults or {}).get(key, "").strip()
            if value:
                field.default = value[: field.max_length]

    async def on_submit(self, interaction: discord.Interaction) -> None:
        values = {"title": self.headline.value, "source": self.outlet.value, "published": self.published.value, "text": self.body.value}
        await self._on_submit(interaction, values)

    # discord.py's Modal.on_error drops BaseView's `item` argument, so mypy sees a mismatch;
    # this matches Modal's signature, which is the one discord.py calls.
    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error)
