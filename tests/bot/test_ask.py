"""Asking through the real event path: /ask, mentions, thread follow-ups, limits and failures."""

from __future__ import annotations

import json
import logging
import re

import pytest

from bot.errors import APOLOGY
from bot.rendering import COLOUR_ANSWER, COLOUR_NOT_FOUND, COLOUR_NOT_STATED, NOT_STATED_FOOTER
from knowledge.loading import build_article
from tests.bot.discord_standin import (
    CALLBACK,
    CHANNEL_MESSAGES,
    EPHEMERAL,
    FOLLOWUP,
    WEBHOOK_MESSAGE,
)
from tests.bot.harness import QUESTION, custom_ids, llm_kb, make_guild, opt, running_bot, shared_kb
from tests.openai_standin import delay, reply, reply_json

GUO_QUOTE = "Chinese Foreign Ministry spokesperson Guo Jiakun said at a regular press conference on Tuesday"


@pytest.fixture
async def h(tmp_path, embedder):
    async with running_bot(shared_kb(embedder), tmp_path) as harness:
        yield harness


def add_article(kb, guild_id: int, title: str, text: str, *, published: str = "2025-02-01", source: str = "Test Times"):
    return kb.ingest(build_article(title=title, text=text, scope=str(guild_id), source=source, published=published)).article


def answer_id(request) -> str:
    return custom_ids(request)[-1].rsplit(":", 1)[1]


async def test_slash_ask_defers_then_sends_answer_with_verbatim_quote(h):
    defer, follow = await h.ask(QUESTION)

    assert defer.callback_type == 5  # "thinking…" first
    assert h.standin.requests.index(defer) < h.standin.requests.index(follow)
    embed = follow.embeds[0]
    assert "Guo Jiakun" in embed["description"]
    answer = await h.kb.ask(QUESTION)
    seed = h.kb.get(answer.citations[0].article_id)
    c = answer.citations[0]
    field = embed["fields"][0]
    assert field["name"] == f"[1] {seed.title} — Xinhua, 2025-01-14"
    assert f"“{seed.text[c.start:c.end]}" in embed["description"]  # the verbatim quote, shown once
    assert field["value"] == "Quoted in the answer above."  # the seed article has no URL to link
    assert follow.allowed_mentions == {"parse": []}
    assert custom_ids(follow) == [f"nb:q:{answer_id(follow)}", f"nb:v:u:{answer_id(follow)}", f"nb:v:d:{answer_id(follow)}"]


async def test_mention_is_answered_with_a_reply(h):
    msg = await h.standin.send_message(h.guild.id, h.channel_id, h.member, f"<@{h.bot.user.id}> {QUESTION}")

    reply = await h.standin.wait_for_route("POST", CHANNEL_MESSAGES, timeout=10)
    assert reply.json["message_reference"]["message_id"] == int(msg["id"])
    assert "Guo Jiakun" in reply.embeds[0]["description"]
    assert reply.allowed_mentions == {"parse": [], "replied_user": False}


async def test_reply_to_an_answer_without_mention_is_answered(h):
    await h.standin.send_message(h.guild.id, h.channel_id, h.member, f"<@{h.bot.user.id}> {QUESTION}")
    answer = await h.standin.wait_for_route("POST", CHANNEL_MESSAGES, timeout=10)

    mark = h.mark
    msg = await h.standin.send_message(h.guild.id, h.channel_id, h.admin, "Who criticised the United States?",
                                       reply_to=int(answer.response["id"]))
    reply = await h.standin.wait_for_route("POST", CHANNEL_MESSAGES, timeout=10, since=mark)
    assert reply.json["message_reference"]["message_id"] == int(msg["id"])
    assert reply.embeds[0]["title"] == "Who criticised the United States?"


async def test_message_without_mention_is_ignored(h):
    await h.standin.send_message(h.guild.id, h.channel_id, h.member, QUESTION)
    await h.ask("Who criticised the United States?")  # something the bot does answer, afterwards
    assert not h.standin.find(lambda r: r.is_("POST", CHANNEL_MESSAGES))


async def test_unanswerable_question_says_not_in_articles_and_points_to_sources(h):
    _, follow = await h.ask("What will the weather be in Paris tomorrow?")

    embed = follow.embeds[0]
    assert "not in the loaded articles" in embed["description"]
    assert embed["description"].endswith("Use `/sources` to see which articles are loaded.")
    assert "/articles list" not in embed["description"]
    assert "fields" not in embed
    assert not any(i.startswith("nb:q:") for i in custom_ids(follow))  # nothing to show quotes of


async def test_everyone_in_an_article_goes_out_with_no_mentions_allowed(h):
    add_article(h.kb, h.guild.id, "Old Mill bridge to reopen",
                "Mayor Lena Ortiz told @everyone at the town meeting that the Old Mill bridge will reopen on 3 March 2025.\n\n"
                "Repairs to the bridge cost the town 2 million dollars.")

    _, follow = await h.ask("When will the Old Mill bridge reopen?")

    shown = json.dumps(follow.embeds, ensure_ascii=False)
    assert "@\u200beveryone" in shown and "@everyone" not in shown  # shown as text, and it could not ping
    assert follow.allowed_mentions == {"parse": []}
    assert h.standin.messages[int(follow.response["id"])]["mention_everyone"] is False


async def test_question_in_one_server_never_cites_another_servers_article(tmp_path, embedder):
    a, b = make_guild("A"), make_guild("B")
    async with running_bot(shared_kb(embedder), tmp_path, guilds=[a, b]) as h:
        secret = add_article(h.kb, b.id, "Kelmar salt mine to close",
                             "The Zorvath regional council voted on Monday to close the Kelmar salt mine by 2027.\n\n"
                             "About 300 miners work at Kelmar.")
        question = "When will the Kelmar salt mine close?"

        _, in_a = await h.ask(question, guild=a)
        _, in_b = await h.ask(question, guild=b)

        cited_in_a = (await h.bot.feedback.get_answer(answer_id(in_a))).citations
        cited_in_b = (await h.bot.feedback.get_answer(answer_id(in_b))).citations
        assert secret.id not in {c.article_id for c in cited_in_a}
        # the refusal may name the asker's own word ("none of them mentions Kelmar"), nothing of B's article
        assert "Kelmar" not in json.dumps(in_a.embeds).replace(question, "").replace("mentions Kelmar", "")
        assert "Zorvath" not in json.dumps(in_a.embeds)
        assert secret.id in {c.article_id for c in cited_in_b}  # B does see its own article


async def test_model_timeout_still_sends_a_quoted_answer_with_a_note(tmp_path, embedder, openai_standin):
    # LLM_TIMEOUT bounds the whole call, sending included: 0.3 s could end it before the request
    # left a loaded machine, so the bound sits well below the model's delay instead.
    openai_standin.script(delay(8, reply_json({"answerable": True, "answer": "late", "quotes": []})))
    kb = llm_kb(shared_kb(embedder), openai_standin.base_url, timeout=2.0)
    async with running_bot(kb, tmp_path) as h:
        _, follow = await h.ask(QUESTION)
    await kb.aclose()

    embed = follow.embeds[0]
    assert "Guo Jiakun" in embed["description"]
    assert "took too long" in embed["footer"]["text"]
    assert embed["fields"]  # the fallback still quotes its source
    assert len(openai_standin.requests) == 1


async def test_follow_up_in_thread_of_an_answer_sends_earlier_turns_as_history(tmp_path, embedder, openai_standin):
    first = {"answerable": True, "answer": [{"sentence": "Guo Jiakun.", "quotes": [1]}], "quotes": [{"passage": 1, "quote": GUO_QUOTE}]}
    second = {"answerable": True, "answer": [{"sentence": "He called AI a shared asset of all humanity.", "quotes": [1]}],
              "quotes": [{"passage": 1, "quote": "AI is a shared asset of all humanity"}]}
    rewritten = "What did Guo Jiakun say about AI?"
    openai_standin.script(reply_json(first), reply(rewritten), reply_json(second))
    kb = llm_kb(shared_kb(embedder), openai_standin.base_url)
    async with running_bot(kb, tmp_path) as h:
        await h.standin.send_message(h.guild.id, h.channel_id, h.member, f"<@{h.bot.user.id}> {QUESTION}")
        answer = await h.standin.wait_for_route("POST", CHANNEL_MESSAGES, timeout=10)
        thread = await h.standin.create_thread(h.guild.id, h.channel_id, "follow-up", h.member,
                                               thread_id=int(answer.response["id"]))
        mark = h.mark
        await h.standin.send_message(h.guild.id, int(thread["id"]), h.member, "What did he say about AI?")
        follow = await h.standin.wait_for(lambda r: r.is_("POST", CHANNEL_MESSAGES) and r.params["channel_id"] == thread["id"],
                                          timeout=10, since=mark)
    await kb.aclose()

    assert "shared asset" in follow.embeds[0]["description"]
    rewrite = openai_standin.requests[1].json["messages"][-1]["content"]  # first, the follow-up made to stand alone
    assert "Follow-up question: What did he say about AI?" in rewrite and f"<question>{QUESTION}</question>" in rewrite
    messages = openai_standin.requests[2].json["messages"]
    assert {"role": "user", "content": QUESTION} in messages
    assert {"role": "assistant", "content": "Guo Jiakun."} in messages
    assert messages[-1]["content"].endswith('Question, as a JSON string: "What did he say about AI?"')


async def test_follow_up_in_a_thread_is_answered_from_the_article_the_thread_is_about(h):
    add_article(h.kb, h.guild.id, "Dockers strike at Felixstowe",
                "Dock workers at Felixstowe walked out on Monday in a dispute over pay.\n\n"
                "A union spokesperson said the workers are against the new shift rota, which cuts overtime.\n\n"
                "The port handles a third of Britain's container trade.")
    await h.standin.send_message(h.guild.id, h.channel_id, h.member, f"<@{h.bot.user.id}> Why did the Felixstowe dock workers walk out?")
    answer = await h.standin.wait_for_route("POST", CHANNEL_MESSAGES, timeout=10)
    thread = await h.standin.create_thread(h.guild.id, h.channel_id, "follow-up", h.member, thread_id=int(answer.response["id"]))
    mark = h.mark
    await h.standin.send_message(h.guild.id, int(thread["id"]), h.member, "What is the spokesperson against?")
    follow = await h.standin.wait_for(lambda r: r.is_("POST", CHANNEL_MESSAGES) and r.params["channel_id"] == thread["id"],
                                      timeout=10, since=mark)

    text = follow.embeds[0]["description"]
    assert "new shift rota" in text  # the strike's spokesperson, not the Xinhua one
    assert "Guo Jiakun" not in text


async def test_a_quick_second_question_passes_and_past_the_burst_the_refusal_says_when(tmp_path, embedder):
    async with running_bot(shared_kb(embedder), tmp_path, ask_cooldown_seconds=60, ask_burst=2) as h:
        first = await h.ask(QUESTION, user=h.member)
        second = await h.ask("Who is Guo Jiakun?", user=h.member)  # a typo fixed, a quick follow-up
        refusal = await h.callback(await h.slash("ask", [opt("question", "Who criticised the US?")], user=h.member))
        other_user = await h.ask(QUESTION, user=h.admin)  # the bucket is per user

    assert first[0].callback_type == second[0].callback_type == 5
    assert refusal.callback_type == 4 and refusal.flags & EPHEMERAL
    m = re.fullmatch(r"You have asked 2 questions in a short time: your next question is allowed in (\d+) s\.", refusal.content)
    assert m and 1 <= int(m[1]) <= 60
    assert other_user[0].callback_type == 5


async def test_a_servers_own_cooldown_replaces_the_default(tmp_path, embedder):
    async with running_bot(shared_kb(embedder), tmp_path, ask_cooldown_seconds=0, ask_burst=1) as h:
        await h.callback(await h.slash("newsbot settings", [opt("cooldown", 600, 10)], user=h.admin))
        await h.ask(QUESTION, user=h.member)
        refusal = await h.callback(await h.slash("ask", [opt("question", QUESTION)], user=h.member))

    assert refusal.callback_type == 4 and "You asked a moment ago: your next question is allowed in" in refusal.content


async def test_question_beyond_the_in_flight_cap_is_told_to_retry(tmp_path, embedder, openai_standin):
    openai_standin.script(delay(0.6, reply_json({"answerable": True, "answer": [{"sentence": "Guo Jiakun.", "quotes": [1]}],
                                                 "quotes": [{"passage": 1, "quote": GUO_QUOTE}]})))
    kb = llm_kb(shared_kb(embedder), openai_standin.base_url)
    async with running_bot(kb, tmp_path, max_questions_in_flight=1) as h:
        slow = await h.slash("ask", [opt("question", QUESTION)], user=h.admin)
        assert (await h.callback(slow)).callback_type == 5
        busy = await h.callback(await h.slash("ask", [opt("question", QUESTION)], user=h.member))
        done = await h.followup(slow)
    await kb.aclose()

    assert busy.callback_type == 4 and busy.flags & EPHEMERAL
    assert "busy" in busy.content and "try again in" in busy.content
    assert "Guo Jiakun" in done.embeds[0]["description"]


async def test_unexpected_error_gets_an_apology_and_a_logged_traceback(h, caplog, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(h.bot.kb, "ask", broken)
    payload = await h.slash("ask", [opt("question", QUESTION)])
    await h.callback(payload)
    said = await h.followup(payload)

    assert said.content == APOLOGY and said.flags & EPHEMERAL
    deleted = h.standin.find(lambda r: r.method == "DELETE" and r.route == WEBHOOK_MESSAGE)
    assert deleted, "the public 'thinking…' message is removed"
    assert not h.standin.find(lambda r: "secret internals" in json.dumps(r.json))
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert logged and "secret internals" in str(logged[0].exc_info[1])


async def test_show_quotes_button_shows_the_quote_in_context_privately(h):
    _, follow = await h.ask(QUESTION)
    aid = answer_id(follow)

    mark = h.mark
    click = await h.click(f"nb:q:{aid}", int(follow.response["id"]), user=h.member)
    ack = await h.callback(click)
    shown = await h.followup(click, since=mark)

    assert ack.callback_type == 5 and ack.flags & EPHEMERAL
    description = shown.embeds[0]["description"]
    assert "**China firmly opposes US restrictions" in description
    assert "Guo Jiakun said at a regular press conference on Tuesday.**" in description
    assert "The restrictions further tighten" in description  # context after the quote
    assert "quote checked" in shown.embeds[0]["footer"]["text"]


async def test_votes_are_recorded_and_listed_to_admins(h):
    _, follow = await h.ask(QUESTION)
    aid = answer_id(follow)

    thanks = await h.callback(await h.click(f"nb:v:d:{aid}", int(follow.response["id"]), user=h.member))
    listing = await h.callback(await h.slash("articles feedback", user=h.admin))

    assert thanks.flags & EPHEMERAL and thanks.content == "Thanks, noted 👎."
    embed = listing.embeds[0]
    assert embed["title"] == "Feedback: 0 👍, 1 👎"
    assert QUESTION in embed["description"]


async def test_latest_question_cites_the_newest_article_first(h):
    add_article(h.kb, h.guild.id, "Harbor tunnel toll set", "The latest Harbor tunnel toll is 4 dollars per car.", published="2023-05-01")
    add_article(h.kb, h.guild.id, "Harbor tunnel toll raised", "The Harbor tunnel toll is now 6 dollars per car.", published="2025-02-01")

    _, follow = await h.ask("What is the latest Harbor tunnel toll?")

    stored = await h.bot.feedback.get_answer(answer_id(follow))
    if stored.citations:
        assert stored.citations[0].published == "2025-02-01"
    else:  # "not stated": the related passages come newest first too
        text = follow.embeds[0]["description"]
        assert text.startswith("Not stated") and text.index("6 dollars") < text.index("4 dollars")


@pytest.mark.parametrize("question", ["", "   ", "?!"])
async def test_empty_question_is_refused_ephemerally(h, question):
    refusal = await h.callback(await h.slash("ask", [opt("question", question)]))
    assert refusal.callback_type == 4 and refusal.flags & EPHEMERAL
    assert not h.standin.find(lambda r: r.route == FOLLOWUP)


async def test_bad_since_date_is_refused_and_outlet_autocompletes(h):
    refusal = await h.callback(await h.slash("ask", [opt("question", QUESTION), opt("since", "last week")]))
    assert "YYYY-MM-DD" in refusal.content and refusal.flags & EPHEMERAL

    auto = await h.standin.send_autocomplete(h.guild.id, h.channel_id, h.member, "ask", [
        opt("question", QUESTION), {**opt("outlet", "xin"), "focused": True}])
    choices = await h.standin.wait_for(lambda r: r.route == CALLBACK and r.params["interaction_id"] == auto["id"])
    assert choices.json["data"]["choices"] == [{"name": "Xinhua", "value": "Xinhua"}]


HOSTILE_LINE = "The harbour board said the toll rises to 6 dollars [click](http://evil.example) for <@&123> **members** from May."
HOSTILE_TEXT = f"{HOSTILE_LINE}\n\nThe board chair said the decision was unanimous.\n\nFerry tickets stay at 2 dollars."
ESCAPED_LINE = ("The harbour board said the toll rises to 6 dollars \\[click\\](http\\://evil.example) for "
                "\\<@&123\\> \\*\\*members\\*\\* from May.")


async def test_masked_link_mention_and_markdown_in_an_article_show_as_plain_text_grouped_under_one_source(
        tmp_path, embedder, openai_standin):
    model_says = {"answerable": True, "answer": "The toll rises to 6 dollars [1], a unanimous decision [2].",
                  "quotes": [{"passage": 1, "quote": HOSTILE_LINE},
                             {"passage": 1, "quote": "The board chair said the decision was unanimous."}]}
    openai_standin.script(reply_json(model_says))
    kb = llm_kb(shared_kb(embedder), openai_standin.base_url)
    async with running_bot(kb, tmp_path) as h:
        kb.ingest(build_article(title="Harbour _toll_ rises", text=HOSTILE_TEXT, scope=str(h.guild.id),
                                source="Port <@&123> News", published="2025-02-01", url="https://port.example/toll"))
        _, follow = await h.ask("How much will the harbour toll rise?")
        mark = h.mark
        click = await h.click(f"nb:q:{answer_id(follow)}", int(follow.response["id"]), user=h.member)
        await h.callback(click)
        shown = await h.followup(click, since=mark)
    await kb.aclose()

    embed = follow.embeds[0]
    # the sentence with the numbers of the quotes it rests on, the model's inline markers moved to its end
    assert embed["description"] == "The toll rises to 6 dollars, a unanimous decision. [1][2]"
    assert embed["fields"] == [{  # one source line for the article, its two quotes numbered under it
        "name": "[1] [2] Harbour \\_toll\\_ rises — Port \\<@&123\\> News, 2025-02-01",
        "value": f"[1] “{ESCAPED_LINE}”\n[2] “The board chair said the decision was unanimous.”\n"
                 "[Read the article](<https://port.example/toll>)",
        "inline": False,
    }]
    first, second = shown.embeds
    assert first["title"] == "[1] Harbour \\_toll\\_ rises" and first["url"] == "https://port.example/toll"
    assert first["description"] == (f"**{ESCAPED_LINE}**\n\nThe board chair said the decision was unanimous.\n\n"
                                    "Ferry tickets stay at 2 dollars.")
    assert second["description"] == (f"{ESCAPED_LINE}\n\n**The board chair said the decision was unanimous.**\n\n"
                                     "Ferry tickets stay at 2 dollars.")


async def test_pressing_thumbs_down_after_thumbs_up_says_the_vote_was_changed(h):
    _, follow = await h.ask(QUESTION)
    aid, message = answer_id(follow), int(follow.response["id"])

    first = await h.callback(await h.click(f"nb:v:u:{aid}", message, user=h.member))
    changed = await h.callback(await h.click(f"nb:v:d:{aid}", message, user=h.member))
    again = await h.callback(await h.click(f"nb:v:d:{aid}", message, user=h.member))

    assert first.content == "Thanks, noted 👍."
    assert changed.content == "Vote changed: 👍 → 👎. Only your latest vote counts." and changed.flags & EPHEMERAL
    assert again.content == "You had already voted 👎; nothing changed."
    assert await h.bot.feedback.totals(h.guild.id) == (0, 1)


# The shipped article's hard questions (issue 11's examples), asked through /ask as a member would:
# the same outcomes as `ask --json` (tests/bot/test_cli_answers.py), and each shown as its own kind.
@pytest.mark.parametrize("question, name", [
    ("What is Japan's policy on exporting AI chips?", "Japan"),
    ("What did South Korea's trade ministry say about the restrictions?", "South Korea"),
])
async def test_a_country_the_article_never_names_is_refused_by_name_with_no_quotes(h, question, name):
    _, follow = await h.ask(question)

    embed = follow.embeds[0]
    assert f"None of them mentions {name}." in embed["description"]
    assert "fields" not in embed and embed["color"] == COLOUR_NOT_FOUND.value
    assert "Guo" not in embed["description"] and "China" not in embed["description"]


async def test_a_date_the_article_does_not_give_is_shown_as_not_stated_with_related_passages_marked(h):
    _, follow = await h.ask("On what date do the US AI export restrictions take effect?")

    embed = follow.embeds[0]
    assert embed["description"].startswith("Not stated") and "does not give the date" in embed["description"]
    assert "Related passages (not the answer)" in embed["description"]
    assert embed["color"] == COLOUR_NOT_STATED.value
    assert NOT_STATED_FOOTER in embed["footer"]["text"] and "Quoted straight from the articles" not in embed["footer"]["text"]


async def test_each_part_of_a_two_part_question_is_quoted_from_its_own_sentence(h):
    _, follow = await h.ask("What do the restrictions tighten controls on, and what UN resolution did China promote?")

    text = follow.embeds[0]["description"]
    assert "AI chips and model parameters" in text and "resolution on AI capacity building" in text
    assert "Not stated" not in text


async def test_the_editor_is_answered_from_the_byline(h):
    _, follow = await h.ask("Who edited the article?")

    embed = follow.embeds[0]
    assert "Zhu Qing" in embed["description"] and "byline" in embed["description"]
    assert embed["color"] == COLOUR_ANSWER.value
