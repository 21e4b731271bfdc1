"""The article store on a Chroma server that goes away, seen from Discord: `/ask` through the real
gateway path gets the one-line "unreachable" reply, privately, and normal answers again once the
server is back, with no restart of the bot (a real `chroma run`, stopped and started again)."""

from __future__ import annotations

import json

import pytest

from knowledge import CoreConfig, KnowledgeBase
from tests.bot.discord_standin import EPHEMERAL, WEBHOOK_MESSAGE
from tests.bot.harness import QUESTION, opt, running_bot

pytestmark = pytest.mark.server


@pytest.fixture
def server(stoppable_chroma):
    return stoppable_chroma


async def test_ask_while_the_store_server_is_down_says_unreachable_in_one_line_then_answers_when_it_is_back(server, embedder, tmp_path):
    kb = KnowledgeBase(CoreConfig(chroma_host="127.0.0.1", chroma_port=server.port), embedder=embedder)
    kb.sync_folder()  # the shipped seed article, on the server
    async with running_bot(kb, tmp_path) as h:
        _, before = await h.ask(QUESTION)
        assert "Guo Jiakun" in before.embeds[0]["description"]

        server.stop()
        payload = await h.slash("ask", [opt("question", QUESTION)])
        defer = await h.callback(payload)
        said = await h.followup(payload, timeout=30)
        assert defer.callback_type == 5
        assert said.content.startswith("The article store is unreachable right now") and "\n" not in said.content
        # no address, port or exception class for members to see (those go to the log)
        assert "127.0.0.1" not in said.content and "Error" not in said.content
        assert said.flags & EPHEMERAL and not said.embeds
        assert h.standin.find(lambda r: r.method == "DELETE" and r.route == WEBHOOK_MESSAGE), "the public 'thinking…' is removed"
        assert not h.standin.find(lambda r: "Traceback" in json.dumps(r.json))

        server.start()
        _, after = await h.ask(QUESTION)  # the same bot, no restart
        assert "Guo Jiakun" in after.embeds[0]["description"] and not after.flags & EPHEMERAL
