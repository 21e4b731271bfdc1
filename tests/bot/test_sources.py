"""`/sources` through the real event path: open to every member, this server's view only, paged."""

from __future__ import annotations

from knowledge.loading import build_article
from tests.bot.discord_standin import EPHEMERAL
from tests.bot.harness import custom_ids, make_guild, running_bot, shared_kb


async def test_sources_is_open_to_every_member_lists_only_what_this_server_sees_and_pages(tmp_path, embedder):
    a, b = make_guild("A"), make_guild("B")
    async with running_bot(shared_kb(embedder), tmp_path, guilds=[a, b]) as h:
        for n in range(10):
            h.kb.ingest(build_article(title=f"Ferry story **{n}**", text=f"Ferry story {n} happened on a weekday.", scope=str(a.id)))
        h.kb.ingest(build_article(title="Only in B", text="Something happened only in server B.", scope=str(b.id)))

        shown = await h.callback(await h.slash("sources", user=h.member))
        page2 = await h.callback(await h.click(custom_ids(shown)[1], int(shown.response["resource"]["message"]["id"]), user=h.member))
        synced = {c["name"]: c for c in h.standin.commands[None]}

    assert synced["sources"].get("default_member_permissions") is None  # no permission needed to see it
    assert shown.callback_type == 4 and shown.flags & EPHEMERAL
    assert shown.embeds[0]["footer"]["text"] == "Page 1 of 2 · 11 articles"
    listed = shown.embeds[0]["description"] + page2.embeds[0]["description"]
    assert "**Ferry story \\*\\*9\\*\\***\n" in listed  # titles are shown as written, not as markdown
    assert "China to take actions" in listed  # the shipped article
    assert "Only in B" not in listed
