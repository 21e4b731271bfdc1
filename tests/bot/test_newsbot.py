"""`/newsbot settings` and `/newsbot forget-me` through the real event path."""

from __future__ import annotations

import pytest

from tests.bot.discord_standin import CHANNEL_MESSAGES, EPHEMERAL, ChannelSpec, RoleSpec, snowflake
from tests.bot.harness import QUESTION, custom_ids, make_guild, opt, running_bot, shared_kb

BRIDGE = "Old Mill bridge to reopen\n\nThe Old Mill bridge will reopen on 3 March, Mayor Lena Ortiz said on Monday."


def role_option(name: str, role: RoleSpec) -> dict:
    return {"name": name, "type": 8, "value": role.payload()}


def channel_option(name: str, channel: ChannelSpec, guild_id: int) -> dict:
    return {"name": name, "type": 7, "value": {**channel.payload(guild_id), "permissions": "0"}}


@pytest.fixture
async def h(tmp_path, embedder):
    guild = make_guild()
    guild.roles.append(RoleSpec(id=guild.id + 7, name="editors"))
    guild.members[1].roles.append(guild.id + 7)
    guild.channels.append(ChannelSpec(snowflake(), "news-questions"))
    async with running_bot(shared_kb(embedder), tmp_path, guilds=[guild]) as harness:
        yield harness


async def test_settings_are_refused_to_members_without_manage_server(h):
    refusal = await h.callback(await h.slash("newsbot settings", user=h.member))
    assert refusal.callback_type == 4 and refusal.flags & EPHEMERAL
    assert "Manage Server" in refusal.content


async def test_an_admin_role_set_for_the_server_may_then_manage_articles(h):
    editors = h.guild.roles[-1]
    before = await h.callback(await h.slash("articles add", [opt("text", BRIDGE)], user=h.member))

    shown = await h.callback(await h.slash("newsbot settings", [role_option("add_admin_role", editors)], user=h.admin))
    after = await h.callback(await h.slash("articles add", [opt("text", BRIDGE)], user=h.member))

    assert before.callback_type == 4 and "Manage Server" in before.content
    fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
    assert fields["Article admin roles"] == f"<@&{editors.id}>"
    assert fields["Pause between a member's questions"] == "0 s (default)"
    assert after.callback_type == 5  # let in: "thinking…", then the preview
    assert (await h.bot.server_settings.get(h.guild.id)).admin_role_ids == (editors.id,)


async def test_mentions_are_answered_only_in_the_channels_the_server_chose(h):
    general, chosen = h.guild.channels[0], h.guild.channels[1]
    await h.callback(await h.slash("newsbot settings", [channel_option("answer_in", chosen, h.guild.id)], user=h.admin))

    mark = h.mark
    await h.standin.send_message(h.guild.id, general.id, h.member, f"<@{h.bot.user.id}> {QUESTION}")
    await h.standin.send_message(h.guild.id, chosen.id, h.member, f"<@{h.bot.user.id}> {QUESTION}")
    reply = await h.standin.wait_for_route("POST", CHANNEL_MESSAGES, timeout=10, since=mark)
    await h.ask(QUESTION)  # /ask still works anywhere; by now the first mention was handled too

    assert reply.params["channel_id"] == str(chosen.id)
    assert len(h.standin.find(lambda r: r.is_("POST", CHANNEL_MESSAGES))) == 1


async def test_model_answers_cannot_be_chosen_where_the_bot_has_no_model(h):
    refusal = await h.callback(await h.slash("newsbot settings", [opt("answer_mode", "model")], user=h.admin))
    assert refusal.flags & EPHEMERAL and "no language model" in refusal.content
    assert (await h.bot.server_settings.get(h.guild.id)).answer_mode is None


async def test_reset_returns_every_setting_to_the_default(h):
    await h.callback(await h.slash("newsbot settings", [opt("cooldown", 12.5, 10), opt("answer_mode", "extractive")], user=h.admin))
    shown = await h.callback(await h.slash("newsbot settings", [opt("reset", True, 5)], user=h.admin))

    assert all(f["value"].endswith("(default)") for f in shown.embeds[0]["fields"])


async def test_forget_me_deletes_the_members_questions_and_votes_and_says_so(h):
    _, mine = await h.ask(QUESTION, user=h.member)
    _, theirs = await h.ask(QUESTION, user=h.admin)
    my_answer, their_answer = (custom_ids(x)[-1].rsplit(":", 1)[1] for x in (mine, theirs))
    await h.callback(await h.click(f"nb:v:u:{their_answer}", int(theirs.response["id"]), user=h.member))
    await h.callback(await h.click(f"nb:v:d:{my_answer}", int(mine.response["id"]), user=h.admin))

    said = await h.callback(await h.slash("newsbot forget-me", user=h.member))

    assert said.flags & EPHEMERAL
    assert said.content.startswith("Done: I deleted 1 question you asked (with my answers to it) and 1 vote.")
    assert await h.bot.feedback.get_answer(my_answer) is None
    assert await h.bot.feedback.get_answer(their_answer) is not None
    assert await h.bot.feedback.totals(h.guild.id) == (0, 0)  # the member's 👍 went; the admin's 👎 went with the answer


async def test_a_server_that_chose_quotes_only_gets_no_model_answers(tmp_path, embedder, openai_standin):
    from tests.bot.harness import llm_kb
    from tests.openai_standin import reply_json

    openai_standin.script(reply_json({"answerable": True, "answer": "Guo Jiakun.", "quotes": []}))
    kb = llm_kb(shared_kb(embedder), openai_standin.base_url)
    async with running_bot(kb, tmp_path) as h:
        shown = await h.callback(await h.slash("newsbot settings", [opt("answer_mode", "extractive")], user=h.admin))
        _, follow = await h.ask(QUESTION)
    await kb.aclose()

    assert {"name": "Answers", "value": "quotes straight from the articles", "inline": False} in shown.embeds[0]["fields"]
    assert openai_standin.requests == []  # the model was never asked
    assert follow.embeds[0]["footer"]["text"] == "Quoted straight from the articles."
