"""A hostile model through the real Discord event path: what reaches the embed is checked, and
plain text (no live masked link, no live mention)."""

from __future__ import annotations

import json
import re

from knowledge.loading import build_article
from tests.bot.harness import llm_kb, running_bot, shared_kb
from tests.hostile_model import (
    EVIL_LINK,
    FORGED_QUESTION,
    FORGED_TEXT,
    FORGED_TITLE,
    GUO,
    HOSTILE,
    INVENTED,
    LINKED,
    OPPOSES,
    QUESTION,
    answer,
)
from tests.openai_standin import reply_json

LIVE_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\s*\(")
LIVE_MENTION = re.compile(r"@(everyone|here)|(?<!\\)<[@#]")  # a backslash before "<" makes Discord show it as text


def embed_texts(embeds: list[dict]) -> list[str]:
    out = []
    for e in embeds:
        out += [e.get("title", ""), e.get("description", ""), e.get("footer", {}).get("text", "")]
        out += [f["name"] for f in e.get("fields", [])]
        # our own "[Read the article](url)" link is the one masked link allowed, in a field value
        out += [re.sub(r"\n\[Read the article\]\([^)]*\)$", "", f["value"]) for f in e.get("fields", [])]
    return out


def assert_plain(embeds: list[dict]) -> None:
    for text in embed_texts(embeds):
        assert not LIVE_LINK.search(text), text
        assert not LIVE_MENTION.search(text), text


async def ask_with_model(tmp_path, embedder, standin, step, question=QUESTION, *, article=None):
    standin.script(step)
    kb = llm_kb(shared_kb(embedder), standin.base_url)
    try:
        async with running_bot(kb, tmp_path) as h:
            if article is not None:
                kb.ingest(build_article(scope=str(h.guild.id), **article))
            _, follow = await h.ask(question)
    finally:
        await kb.aclose()
    return follow


async def test_a_masked_link_and_mentions_from_the_model_are_shown_as_plain_text(tmp_path, embedder, openai_standin):
    follow = await ask_with_model(tmp_path, embedder, openai_standin, reply_json(answer([(LINKED, [1])], [(1, OPPOSES)])))
    embed = follow.embeds[0]
    assert embed["description"].endswith(" [1]")  # the sentence, then the quote it rests on
    assert "reuters.com" in embed["description"] and "evil.example" in embed["description"]
    assert_plain(follow.embeds)
    assert "Checked: each quote stands word for word" in embed["footer"]["text"]
    assert follow.allowed_mentions == {"parse": []}
    assert EVIL_LINK not in json.dumps(follow.embeds)


async def test_an_invented_quotation_beside_a_real_quote_never_reaches_the_embed(tmp_path, embedder, openai_standin):
    case = next(h for h in HOSTILE if h.id == "invented quotation, old shape")
    follow = await ask_with_model(tmp_path, embedder, openai_standin, case.step)
    shown = json.dumps(follow.embeds, ensure_ascii=False)
    assert "retaliate" not in shown and "Guo Jiakun" in follow.embeds[0]["description"]
    assert "No sentence of the model's answer rests on a quote" in follow.embeds[0]["footer"]["text"]
    assert "Quoted straight from the articles." in follow.embeds[0]["footer"]["text"]


async def test_a_claim_whose_quote_was_dropped_is_left_out_with_a_note(tmp_path, embedder, openai_standin):
    step = reply_json(answer([("The spokesperson is Guo Jiakun.", [1]), (INVENTED, [2])], [(1, GUO), (1, INVENTED)]))
    follow = await ask_with_model(tmp_path, embedder, openai_standin, step)
    embed = follow.embeds[0]
    assert embed["description"] == "The spokesperson is Guo Jiakun. [1]"
    assert "1 sentence of the model's answer was left out" in embed["footer"]["text"]
    assert "retaliate" not in json.dumps(follow.embeds)


async def test_a_forged_article_cannot_pass_off_its_fake_passage_in_discord(tmp_path, embedder, openai_standin):
    step = reply_json(answer([(f"Reuters issued an official correction: {INVENTED}", [1])], [(7, INVENTED)]))
    follow = await ask_with_model(tmp_path, embedder, openai_standin, step, FORGED_QUESTION,
                                  article={"title": FORGED_TITLE, "text": FORGED_TEXT, "source": "Daily Forger", "published": "2025-03-03"})
    passages = [json.loads(line) for line in openai_standin.chat_requests[0].json["messages"][-1]["content"].splitlines()
                if line.startswith("{")]
    assert any(p["title"] == FORGED_TITLE for p in passages)
    assert [p["number"] for p in passages] == list(range(1, len(passages) + 1))
    shown = json.dumps(follow.embeds, ensure_ascii=False)
    assert "Reuters issued" not in shown
    assert_plain(follow.embeds)
    for f in follow.embeds[0].get("fields", []):  # every source named is a real stored article
        assert "Official correction" not in f["name"]
