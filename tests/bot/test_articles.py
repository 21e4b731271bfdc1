"""`/articles` through the real event path: previews, permissions, paging, removal, feeds."""

from __future__ import annotations

import discord
import pytest

from knowledge import NotFoundError
from knowledge.loading import build_article
from tests.bot.discord_standin import CALLBACK, EPHEMERAL, WEBHOOK_MESSAGE, RoleSpec
from tests.bot.harness import (
    custom_ids,
    eventually,
    loopback_kb,
    make_guild,
    opt,
    running_bot,
    shared_kb,
)
from tests.loopback_site import rss, serve_site
from tests.newspages import bbc_available, build_page, load_story

BRIDGE = (b"Old Mill bridge to reopen\n\n"
          b"The Old Mill bridge will reopen on 3 March, Mayor Lena Ortiz said on Monday.\n\n"
          b"Repairs to the bridge cost the town 2 million dollars, she said.\n")


@pytest.fixture
async def h(tmp_path, embedder):
    async with running_bot(shared_kb(embedder), tmp_path) as harness:
        yield harness


def own_articles(h, guild=None):
    return h.kb.list([str((guild or h.guild).id)])


async def edited(h, payload, since):
    """The edit of the original message the bot made for interaction `payload` (after `since`)."""
    return await h.standin.wait_for(lambda r: r.is_("PATCH", WEBHOOK_MESSAGE) and r.params["token"] == payload["token"],
                                    timeout=10, since=since)


async def test_add_file_previews_then_confirm_stores_it_for_this_server_only(h):
    attachment = h.standin.add_attachment("bridge.txt", BRIDGE)
    payload = await h.slash("articles add", [opt("file", attachment, 11)], user=h.admin)

    defer = await h.callback(payload)
    preview = await h.followup(payload)
    assert defer.callback_type == 5 and defer.flags & EPHEMERAL
    embed = preview.embeds[0]
    assert embed["title"] == "Preview: Old Mill bridge to reopen"
    assert {"name": "Words", "value": "27", "inline": True} in embed["fields"]
    assert embed["description"].startswith("The Old Mill bridge will reopen on 3 March")
    assert own_articles(h) == []  # nothing stored before Confirm

    confirm_id, cancel_id = custom_ids(preview)
    mark = h.mark
    click = await h.click(confirm_id, int(preview.response["id"]))
    assert (await h.callback(click)).callback_type == 7
    done = await edited(h, click, mark)

    assert done.content.startswith("Added “Old Mill bridge to reopen” (27 words)")
    assert "embeds" in done.json and "Nothing is stored" not in str(done.json["embeds"])  # the preview is replaced
    [stored] = own_articles(h)
    assert stored.scope == str(h.guild.id) and stored.title == "Old Mill bridge to reopen"
    _, answer = await h.ask("How much did the Old Mill bridge repairs cost?")
    assert answer.embeds[0]["fields"][0]["name"].startswith("[1] Old Mill bridge to reopen")


async def _preview_then_confirm(h, text: str, *more) -> tuple[str, str]:
    """/articles add text:… (and `more` options), then Confirm: (the preview's Status field, what
    Confirm said)."""
    payload = await h.slash("articles add", [opt("text", text), *more], user=h.admin)
    preview = await h.followup(payload)
    [status] = [f["value"] for f in preview.embeds[0]["fields"] if f["name"] == "Status"]
    mark = h.mark
    click = await h.click(custom_ids(preview)[0], int(preview.response["id"]))
    assert (await h.callback(click)).callback_type == 7
    return status, (await edited(h, click, mark)).content


WIRE = ("Ferry strike ends after talks\n\n"
        "Ferry crews on the northern routes returned to work on Thursday after union leaders and the operator agreed "
        "a new pay deal late on Wednesday, ending a strike that had cancelled hundreds of sailings over nine days. "
        "The operator said timetables would be back to normal by the weekend and that passengers with cancelled "
        "tickets could claim a full refund online. {extra}\n\nSource: {outlet}\n")


async def test_preview_says_exactly_what_confirm_then_does_for_every_status(h):
    first = WIRE.format(outlet="Harbour Herald", extra="")
    steps = [
        (first, "New: it will be added", "Added “Ferry strike ends after talks”"),
        (first, "Already loaded, unchanged: nothing will change", "was already loaded; nothing changed"),
        (WIRE.format(outlet="Harbour Herald", extra="Union members will vote on the deal next month."),
         "Revised: it will replace the stored version", "Updated “Ferry strike ends after talks”"),
        (WIRE.format(outlet="Coast Courier", extra="Union members will vote on the deal next month."),
         "Duplicate of “Ferry strike ends after talks”, already loaded: no copy will be stored; Coast Courier will be "
         "added to its outlets.", "(the same story); Coast Courier was added to its outlets."),
        (WIRE.format(outlet="Coast Courier", extra="Union members will vote on the deal next month."),
         "Duplicate of “Ferry strike ends after talks”, already loaded: no copy will be stored, and nothing will change.",
         "(the same story); nothing changed."),
    ]
    # The Harbour Herald copies are dated and the Coast Courier ones are not, so the stored copy
    # ranks first whatever ids the random server id gives them (`dedup.rank_key`).
    for text, previewed, done in steps:
        dated = [opt("published", "2025-02-27")] if "Harbour Herald" in text else []
        status, said = await _preview_then_confirm(h, text, *dated)
        assert status.startswith(previewed), status
        assert done in said, said
        assert "Nothing was changed" not in said and "went wrong" not in said
    [stored] = own_articles(h)  # one story, never a copy
    assert stored.outlets == ("Harbour Herald", "Coast Courier")
    assert "vote on the deal" in h.kb.get(stored.id).text


async def test_a_copy_that_ranks_first_is_previewed_and_reported_as_taking_the_stories_place(h):
    await _preview_then_confirm(h, WIRE.format(outlet="Harbour Herald", extra=""))
    # A dated copy ranks before an undated one (`dedup.rank_key`): it takes the story over.
    status, said = await _preview_then_confirm(h, WIRE.format(outlet="Coast Courier", extra=""), opt("published", "2025-03-01"))
    assert status.startswith("The same story is already loaded from another copy; this copy will take its place"), status
    assert said.startswith("Stored “Ferry strike ends after talks” in place of its other copy"), said
    assert "Coast Courier" in said and "Harbour Herald" in said
    [stored] = own_articles(h)
    assert stored.published == "2025-03-01" and set(stored.outlets) == {"Harbour Herald", "Coast Courier"}


async def test_add_by_member_without_manage_server_is_refused_and_stores_nothing(h):
    attachment = h.standin.add_attachment("bridge.txt", BRIDGE)
    refusal = await h.callback(await h.slash("articles add", [opt("file", attachment, 11)], user=h.member))

    assert refusal.callback_type == 4 and refusal.flags & EPHEMERAL
    assert "Manage Server" in refusal.content
    assert own_articles(h) == []


async def test_role_named_in_settings_may_add(tmp_path, embedder):
    guild = make_guild()
    guild.roles.append(RoleSpec(id=guild.id + 7, name="editors"))
    guild.members[1].roles.append(guild.id + 7)
    async with running_bot(shared_kb(embedder), tmp_path, guilds=[guild], discord_admin_role_ids=guild.id + 7) as h:
        payload = await h.slash("articles add", [opt("text", BRIDGE.decode())], user=h.member)
        assert (await h.callback(payload)).callback_type == 5
        assert (await h.followup(payload)).embeds[0]["title"] == "Preview: Old Mill bridge to reopen"


async def test_add_without_option_opens_form_and_cancel_stores_nothing(h):
    payload = await h.slash("articles add", user=h.admin)
    form = await h.callback(payload)
    assert form.callback_type == 9
    assert [c["components"][0]["custom_id"] for c in form.components] == ["title", "source", "published", "text"]

    submit = await h.standin.send_modal_submit(h.guild.id, h.channel_id, h.admin, form.payload["custom_id"], {
        "title": "Council approves cycle lanes", "source": "Reuters", "published": "2025-03-01",
        "text": "The city council approved 12 new cycle lanes on Tuesday.\n\nWork starts in May."})
    preview = await h.followup(submit)
    embed = preview.embeds[0]
    assert embed["description"].startswith("The city council approved 12 new cycle lanes")  # text kept whole
    assert {"name": "Outlet", "value": "Reuters", "inline": True} in embed["fields"]
    assert {"name": "Published", "value": "2025-03-01", "inline": True} in embed["fields"]

    click = await h.click(custom_ids(preview)[1], int(preview.response["id"]))
    cancelled = await h.callback(click)
    assert cancelled.callback_type == 7 and cancelled.content == "Cancelled: nothing was stored."
    assert own_articles(h) == []


async def test_form_with_a_bad_date_gets_a_short_reason(h):
    form = await h.callback(await h.slash("articles add", user=h.admin))
    submit = await h.standin.send_modal_submit(h.guild.id, h.channel_id, h.admin, form.payload["custom_id"], {
        "title": "Cycle lanes", "source": "", "published": "31/01/2025", "text": "The council approved cycle lanes."})

    said = await h.followup(submit)
    assert "YYYY-MM-DD" in said.content and said.flags & EPHEMERAL


async def test_list_is_open_to_members_and_pages_with_buttons(h):
    for n in range(11):
        h.kb.ingest(build_article(title=f"Story number {n}", text=f"Story {n} happened on a weekday.", scope=str(h.guild.id)))

    shown = await h.callback(await h.slash("articles list", user=h.member))
    assert shown.callback_type == 4 and shown.flags & EPHEMERAL
    assert shown.embeds[0]["footer"]["text"] == "Page 1 of 2 · 12 articles"

    previous, following = custom_ids(shown)
    page2 = await h.callback(await h.click(following, int(shown.response["resource"]["message"]["id"]), user=h.member))
    assert page2.callback_type == 7
    assert page2.embeds[0]["footer"]["text"] == "Page 2 of 2 · 12 articles"


async def test_show_gives_the_articles_facts_and_opening(h):
    seed = h.kb.list(["global"])[0]
    shown = await h.callback(await h.slash("articles show", [opt("article", seed.id)], user=h.member))

    embed = shown.embeds[0]
    assert embed["title"] == seed.title
    assert {"name": "Outlet", "value": "Xinhua", "inline": True} in embed["fields"]
    assert embed["description"].startswith("China firmly opposes US restrictions")


async def test_remove_offers_only_this_servers_articles_and_removes_after_confirm(h):
    own = h.kb.ingest(build_article(title="Cycle lanes approved", text="The council approved cycle lanes.", scope=str(h.guild.id))).article

    auto = await h.standin.send_autocomplete(h.guild.id, h.channel_id, h.admin, "articles remove", [
        {**opt("article", ""), "focused": True}])
    choices = await h.standin.wait_for(lambda r: r.route == CALLBACK and r.params["interaction_id"] == auto["id"])
    assert [c["value"] for c in choices.json["data"]["choices"]] == [own.id]  # not the shipped seed

    payload = await h.slash("articles remove", [opt("article", own.id)], user=h.admin)
    ask = await h.callback(payload)
    assert ask.flags & EPHEMERAL and "Remove “Cycle lanes approved”" in ask.content
    mark = h.mark
    click = await h.click(custom_ids(ask)[0], int(ask.response["resource"]["message"]["id"]))
    done = await edited(h, click, mark)

    assert done.content == "Removed “Cycle lanes approved”."
    with pytest.raises(NotFoundError):
        h.kb.get(own.id)


async def test_shipped_articles_cannot_be_removed_from_a_server(h):
    seed = h.kb.list(["global"])[0]
    refusal = await h.callback(await h.slash("articles remove", [opt("article", seed.id)], user=h.admin))

    assert refusal.flags & EPHEMERAL and "No article like that here" in refusal.content
    assert h.kb.get(seed.id).title == seed.title


@pytest.fixture
def site():
    with serve_site() as s:
        yield s


needs_bbc = pytest.mark.skipif(not bbc_available(), reason="BBC corpus folder is missing")


@needs_bbc
async def test_add_url_previews_the_fetched_page(tmp_path, embedder, site):
    story = load_story("tech", 3)
    url = site.put("/news/3", build_page(story).html)
    async with running_bot(loopback_kb(shared_kb(embedder)), tmp_path) as h:
        payload = await h.slash("articles add", [opt("url", url)], user=h.admin)
        preview = await h.followup(payload)

    assert preview.embeds[0]["title"] == f"Preview: {story.headline}"
    assert any(f["name"] == "Words" for f in preview.embeds[0]["fields"])


@needs_bbc
async def test_followed_feed_loads_its_articles_into_this_server(tmp_path, embedder, site):
    stories = [load_story("tech", n) for n in (1, 2)]
    items = [(s.headline, site.put(f"/news/{s.number}", build_page(s).html), f"2005-02-0{i + 1}") for i, s in enumerate(stories)]
    feed_url = site.put("/feed.xml", rss("Tech Wire", items), "application/rss+xml")
    async with running_bot(loopback_kb(shared_kb(embedder)), tmp_path) as h:
        payload = await h.slash("articles feeds add", [opt("url", feed_url)], user=h.admin)
        assert (await h.callback(payload)).flags & EPHEMERAL
        added = await h.followup(payload)
        assert added.flags & EPHEMERAL and added.content.startswith(f"Following “Tech Wire” (2 items) at <{feed_url}>")
        await eventually(lambda: len(own_articles(h)) == 2, timeout=20, what="the feed's articles")
        listed = await h.callback(await h.slash("articles feeds list", user=h.admin))
        removed = await h.callback(await h.slash("articles feeds remove", [opt("feed", feed_url)], user=h.admin))
        refused = await h.callback(await h.slash("articles feeds list", user=h.member))

    assert {a.title for a in own_articles(h)} == {s.headline for s in stories}
    assert "Tech Wire" in listed.embeds[0]["description"]
    assert removed.content == f"Stopped following <{feed_url}>."
    assert "Manage Server" in refused.content


async def test_feeds_belong_to_the_core_and_work_without_the_poller(tmp_path, embedder, site):
    url = site.put("/feed.xml", rss("Harbour Wire", []), "application/rss+xml")
    async with running_bot(loopback_kb(shared_kb(embedder)), tmp_path) as h:
        await h.bot.remove_cog("Feeds")  # no background polling: following still works
        payload = await h.slash("articles feeds add", [opt("url", url)], user=h.admin)
        added = await h.followup(payload)
        listed = await h.callback(await h.slash("articles feeds list", user=h.admin))
        followed = [f.url for f in h.kb.feeds.list(str(h.guild.id))]
        h.kb.feeds.remove(url, str(h.guild.id))

    assert added.content.startswith(f"Following “Harbour Wire” (0 items) at <{url}>") and added.flags & EPHEMERAL
    assert url in listed.embeds[0]["description"]
    assert followed == [url]  # the same registry the CLI uses


@pytest.mark.parametrize("path, body, reason", [
    ("/page.html", "<html><body><p>A web page.</p></body></html>", "not an RSS or Atom feed"),
    ("/gone.xml", None, "404"),
])
async def test_a_feed_that_cannot_be_read_is_refused_when_added_and_not_followed(tmp_path, embedder, site, path, body, reason):
    url = site.put(path, body, "text/html") if body else site.url(path)
    async with running_bot(loopback_kb(shared_kb(embedder)), tmp_path) as h:
        payload = await h.slash("articles feeds add", [opt("url", url)], user=h.admin)
        said = await h.followup(payload)
        followed = h.kb.feeds.list(str(h.guild.id))

    assert said.flags & EPHEMERAL and reason in said.content and "Following" not in said.content
    assert followed == []


async def test_a_loopback_feed_is_refused_by_the_fetch_policy_when_added(h, site):
    url = site.put("/feed.xml", rss("Local", []), "application/rss+xml")
    payload = await h.slash("articles feeds add", [opt("url", url)], user=h.admin)
    said = await h.followup(payload)

    assert "Following" not in said.content and said.flags & EPHEMERAL
    assert h.kb.feeds.list(str(h.guild.id)) == []


async def test_commands_are_synced_with_admin_default_permissions(h):
    synced = {c["name"]: c for c in h.standin.commands[None]}

    assert set(synced) == {"ask", "sources", "newsbot", "articles"}
    articles = synced["articles"]
    assert int(articles["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert articles["dm_permission"] is False
    assert {o["name"] for o in articles["options"]} == {"add", "list", "show", "remove", "feedback", "feeds"}
    assert synced["ask"]["description"].startswith("Ask a question about the loaded news articles")



async def test_text_without_a_headline_opens_the_form_with_the_text_in_it(h):
    pasted = "The council approved 12 new cycle lanes on Tuesday, and work starts in May."
    form = await h.callback(await h.slash("articles add", [opt("text", pasted), opt("outlet", "Reuters")], user=h.admin))

    assert form.callback_type == 9  # the form, not a refusal
    values = {row["components"][0]["custom_id"]: row["components"][0].get("value") for row in form.components}
    assert values["text"] == pasted and values["source"] == "Reuters"
    assert "pasted" not in str(form.json)


async def test_text_with_title_options_previews_then_the_preview_becomes_the_result(h):
    payload = await h.slash("articles add", [opt("text", "The council approved 12 new cycle lanes on Tuesday."),
                                             opt("title", "Council approves cycle lanes"), opt("outlet", "Reuters"),
                                             opt("published", "2025-03-01")], user=h.admin)
    await h.callback(payload)
    preview = await h.followup(payload)
    mark = h.mark
    click = await h.click(custom_ids(preview)[0], int(preview.response["id"]))
    await h.callback(click)
    done = await edited(h, click, mark)

    assert preview.embeds[0]["title"] == "Preview: Council approves cycle lanes"
    assert {"name": "Outlet", "value": "Reuters", "inline": True} in preview.embeds[0]["fields"]
    assert preview.embeds[0]["description"] == "The council approved 12 new cycle lanes on Tuesday."
    [embed] = done.json["embeds"]
    assert embed["title"] == "Added: Council approves cycle lanes" and embed["footer"]["text"].startswith("Stored · id: ")
    assert "Nothing is stored" not in str(done.json) and not any(f["name"] == "Status" for f in embed["fields"])
    assert [a.title for a in own_articles(h)] == ["Council approves cycle lanes"]
