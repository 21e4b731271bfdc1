"""Self-tests of the Discord stand-in, driving a tiny throwaway bot through real discord.py."""

from __future__ import annotations

import asyncio
import io

import discord
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from tests.bot.discord_standin import (
    CALLBACK,
    CHANNEL_MESSAGES,
    FOLLOWUP,
    GLOBAL_COMMANDS,
    GUILD_COMMANDS,
    MESSAGE_THREADS,
    ChannelSpec,
    DiscordStandin,
    GuildSpec,
    MemberSpec,
    default_guild,
)


class VoteView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Yes", custom_id="vote:yes")
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="Thanks for voting", view=None)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    comment = discord.ui.TextInput(label="Comment", custom_id="comment")

    def __init__(self) -> None:
        super().__init__(custom_id="feedback", timeout=None)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Got: {self.comment.value}", ephemeral=True)


def make_bot(cls: type[commands.Bot] = commands.Bot, *, message_content: bool = True) -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = message_content
    bot = cls(command_prefix="!", intents=intents)

    @bot.tree.command(name="ask", description="Ask a question about the news")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        embed = discord.Embed(title="Answer", description=f"You asked: {question}")
        await interaction.followup.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())

    @ask.autocomplete("question")
    async def ask_autocomplete(interaction: discord.Interaction, current: str):
        return [app_commands.Choice(name=f"{current} today?", value=f"{current} today?")]

    news = app_commands.Group(name="news", description="News tools")
    files = app_commands.Group(name="file", description="Article files", parent=news)

    @files.command(name="read", description="Read an attached article")
    async def read(interaction: discord.Interaction, article: discord.Attachment) -> None:
        text = (await article.read()).decode()
        await interaction.response.send_message(f"{article.filename}: {text}")

    bot.tree.add_command(news)

    @bot.tree.command(name="vote", description="Was this useful?")
    async def vote(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Useful?", view=VoteView())

    @bot.tree.command(name="report", description="Upload a report and pin it")
    async def report(interaction: discord.Interaction) -> None:
        report_file = discord.File(io.BytesIO(b"rain: 80%"), filename="report.txt")
        await interaction.response.send_message("Report attached", file=report_file)
        message = await interaction.original_response()
        await message.pin()

    @bot.tree.command(name="feedback", description="Send feedback")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.author.bot or bot.user not in message.mentions:
            return
        if "thread" in message.content:
            thread = await message.create_thread(name="discussion")
            await thread.send("Let's talk here.")
        else:
            await message.reply(f"Hello {message.author.display_name}", mention_author=False)

    return bot


@pytest.fixture
async def bot(discord_standin: DiscordStandin):
    bot = make_bot()
    await discord_standin.start_bot(bot)
    yield bot
    await discord_standin.stop_bot(bot)
    assert bot.is_closed()


async def test_connects_and_syncs_commands(discord_standin: DiscordStandin, bot: commands.Bot):
    guild_id, channel_id, alice = discord_standin.default_ids()
    assert bot.user.id == discord_standin.bot.id
    assert bot.get_guild(guild_id).get_channel(channel_id).name == "general"
    assert bot.get_guild(guild_id).me.guild_permissions.send_messages
    assert discord_standin.identifies[0]["intents"] & discord.Intents(message_content=True).value

    synced = await bot.tree.sync()
    put = await discord_standin.wait_for_route("PUT", GLOBAL_COMMANDS)
    assert {c["name"] for c in put.json} == {"ask", "news", "vote", "report", "feedback"}
    assert {c.name for c in synced} == {"ask", "news", "vote", "report", "feedback"}
    assert discord_standin.find_command("ask")["id"] == str(next(c.id for c in synced if c.name == "ask"))

    guild = discord.Object(guild_id)
    bot.tree.copy_global_to(guild=guild)
    await bot.tree.sync(guild=guild)
    await discord_standin.wait_for_route("PUT", GUILD_COMMANDS)
    fetched = await bot.tree.fetch_commands(guild=guild)
    assert {c.guild_id for c in fetched} == {guild_id}
    inter = await discord_standin.send_slash(guild_id, channel_id, alice, "ask", [
        {"name": "question", "type": 3, "value": "x"}])
    assert inter["data"]["guild_id"] == str(guild_id)  # resolved to the guild copy of the command
    assert inter["data"]["id"] in {str(c.id) for c in fetched}
    await discord_standin.wait_for_route("POST", FOLLOWUP)  # let the command finish before teardown


async def test_slash_defers_then_follows_up(discord_standin: DiscordStandin, bot: commands.Bot):
    guild_id, channel_id, alice = discord_standin.default_ids()
    await bot.tree.sync()
    inter = await discord_standin.send_slash(guild_id, channel_id, alice, "ask", [
        {"name": "question", "type": 3, "value": "Who won the election?"}])

    defer = await discord_standin.wait_for_route("POST", CALLBACK)
    assert defer.params["interaction_id"] == inter["id"]
    assert defer.callback_type == 5
    follow = await discord_standin.wait_for_route("POST", FOLLOWUP)
    assert discord_standin.requests.index(defer) < discord_standin.requests.index(follow)
    assert follow.query.get("wait") in ("1", "true")
    assert follow.embeds[0]["title"] == "Answer"
    assert follow.embeds[0]["description"] == "You asked: Who won the election?"
    assert follow.allowed_mentions == {"parse": []}
    assert follow.response["embeds"] == follow.embeds  # the "thinking..." message was filled in


async def test_mention_gets_a_reply(discord_standin: DiscordStandin, bot: commands.Bot):
    guild_id, channel_id, alice = discord_standin.default_ids()
    bob = discord_standin.guilds[guild_id].members[1].id
    await discord_standin.send_message(guild_id, channel_id, bob, "no mention here")
    msg = await discord_standin.send_message(guild_id, channel_id, alice,
                                             f"<@{bot.user.id}> who wrote this?")

    reply = await discord_standin.wait_for_route("POST", CHANNEL_MESSAGES)
    assert reply.params["channel_id"] == str(channel_id)
    assert reply.json["content"] == "Hello alice"
    assert reply.json["message_reference"]["message_id"] == int(msg["id"])
    assert reply.allowed_mentions["replied_user"] is False
    assert reply.response["type"] == 19
    assert len(discord_standin.find(lambda r: r.is_("POST", CHANNEL_MESSAGES))) == 1


async def test_bot_opens_a_thread(discord_standin: DiscordStandin, bot: commands.Bot):
    guild_id, channel_id, alice = discord_standin.default_ids()
    msg = await discord_standin.send_message(guild_id, channel_id, alice, f"<@{bot.user.id}> thread please")

    created = await discord_standin.wait_for_route("POST", MESSAGE_THREADS)
    assert created.params["message_id"] == msg["id"]
    posted = await discord_standin.wait_for_route("POST", CHANNEL_MESSAGES)
    assert posted.params["channel_id"] == msg["id"]  # a message's thread has the message's id
    assert posted.content == "Let's talk here."

    # a user writing in that thread reaches the bot too
    since = len(discord_standin.requests)
    await discord_standin.send_message(guild_id, int(msg["id"]), alice, f"<@{bot.user.id}> hi")
    reply = await discord_standin.wait_for_route("POST", CHANNEL_MESSAGES, since=since)
    assert reply.params["channel_id"] == msg["id"]


async def test_button_click_gets_component_callback(discord_standin: DiscordStandin, bot: commands.Bot):
    guild_id, channel_id, alice = discord_standin.default_ids()
    await discord_standin.send_slash(guild_id, channel_id, alice, "vote")
    sent = await discord_standin.wait_for_route("POST", CALLBACK)
    assert sent.callback_type == 4
    assert sent.components[0]["components"][0]["custom_id"] == "vote:yes"
    message_id = int(sent.response["resource"]["message"]["id"])

    since = len(discord_standin.requests)
    click = await discord_standin.send_component(guild_id, channel_id, alice, "vote:yes", message=message_id)
    update = await discord_standin.wait_for_route("POST", CALLBACK, since=since)
    assert update.params["interaction_id"] == click["id"]
    assert update.callback_type == 7
    assert update.content == "Thanks for voting"
    assert update.components == []
    assert discord_standin.messages[message_id]["content"] == "Thanks for voting"


async def test_attachment_option_is_readable(discord_standin: DiscordStandin, bot: commands.Bot):
    guild_id, channel_id, alice = discord_standin.default_ids()
    article = discord_standin.add_attachment("article.txt", b"Rain expected on Tuesday.")
    inter = await discord_standin.send_slash(guild_id, channel_id, alice, "news file read", [
        {"name": "article", "type": 11, "value": article}])
    assert inter["data"]["options"][0]["options"][0]["options"][0]["value"] == article["id"]

    answer = await discord_standin.wait_for_route("POST", CALLBACK)
    assert answer.callback_type == 4
    assert answer.content == "article.txt: Rain expected on Tuesday."


async def test_autocomplete_and_modal(discord_standin: DiscordStandin, bot: commands.Bot):
    guild_id, channel_id, alice = discord_standin.default_ids()
    await discord_standin.send_autocomplete(guild_id, channel_id, alice, "ask", [
        {"name": "question", "type": 3, "value": "rain", "focused": True}])
    choices = await discord_standin.wait_for_route("POST", CALLBACK)
    assert choices.callback_type == 8
    assert choices.json["data"]["choices"] == [{"name": "rain today?", "value": "rain today?"}]

    since = len(discord_standin.requests)
    await discord_standin.send_slash(guild_id, channel_id, alice, "feedback")
    modal = await discord_standin.wait_for_route("POST", CALLBACK, since=since)
    assert modal.callback_type == 9
    assert modal.payload["custom_id"] == "feedback"

    since = len(discord_standin.requests)
    await discord_standin.send_modal_submit(guild_id, channel_id, alice, "feedback", {"comment": "great"})
    done = await discord_standin.wait_for_route("POST", CALLBACK, since=since)
    assert done.callback_type == 4
    assert done.content == "Got: great"
    assert done.flags & 64  # ephemeral


async def test_file_upload_and_unknown_route(discord_standin: DiscordStandin, bot: commands.Bot):
    guild_id, channel_id, alice = discord_standin.default_ids()
    await discord_standin.send_slash(guild_id, channel_id, alice, "report")
    sent = await discord_standin.wait_for_route("POST", CALLBACK)
    assert sent.callback_type == 4 and sent.content == "Report attached"  # multipart payload_json
    assert [(f.filename, f.data) for f in sent.files] == [("report.txt", b"rain: 80%")]
    attachment = sent.response["resource"]["message"]["attachments"][0]
    assert attachment["filename"] == "report.txt"

    await discord_standin.wait_for(lambda r: r.method == "GET" and r.path.endswith("/messages/@original"))
    pin = await discord_standin.wait_for(lambda r: r.method == "PUT" and "/pins" in r.path)
    assert pin.route is None  # not modelled: recorded and answered 204, so the bot carries on
    assert pin.status == 204


@pytest.mark.parametrize("discord_standin", [{"heartbeat_interval_ms": 200}], indirect=True)
async def test_heartbeats_are_acked(discord_standin: DiscordStandin, bot: commands.Bot):
    await discord_standin.wait_until(lambda: discord_standin.heartbeats_acked >= 3, timeout=5,
                                     what="3 heartbeat ACKs")
    assert 0 <= bot.latency < 1.0


TWO_GUILDS = [
    default_guild(),
    GuildSpec(id=200000000000000002, name="Second Guild", owner_id=400000000000000003,
              members=[MemberSpec(400000000000000003, "carol")],
              channels=[ChannelSpec(300000000000000002, "news")]),
]


@pytest.mark.parametrize("discord_standin", [{"guilds": TWO_GUILDS}], indirect=True)
async def test_auto_sharded_bot_sees_several_guilds(discord_standin: DiscordStandin):
    bot = make_bot(commands.AutoShardedBot, message_content=False)
    await discord_standin.start_bot(bot)
    try:
        assert discord_standin.find(lambda r: r.is_("GET", "/gateway/bot"))
        assert discord_standin.identifies[0]["shard"] == [0, 1]
        assert {g.name for g in bot.guilds} == {"Test Guild", "Second Guild"}

        # without the message_content intent, the stand-in blanks content the bot may not read
        received = asyncio.ensure_future(bot.wait_for("message"))
        await discord_standin.send_message(200000000000000002, 300000000000000002, 400000000000000003, "secret")
        assert (await asyncio.wait_for(received, 5)).content == ""

        await discord_standin.send_message(200000000000000002, 300000000000000002, 400000000000000003,
                                           f"<@{bot.user.id}> hello")
        reply = await discord_standin.wait_for_route("POST", CHANNEL_MESSAGES)
        assert reply.params["channel_id"] == "300000000000000002"
        assert reply.content == "Hello carol"
    finally:
        await discord_standin.stop_bot(bot)


async def test_context_manager_patches_and_restores():
    before = (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    async with DiscordStandin() as standin:
        assert f"{standin.url}/api/v10" == discord.http.Route.BASE
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == standin.gateway_url
    assert before == (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
