"""The two ways in give the same answer: `python -m bot ask --json` in a fresh process and /ask
through discord.py's real event path, over one store, with the same options."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bot.asking import scopes_for
from knowledge import CoreConfig, KnowledgeBase
from knowledge.loading import build_article
from tests.bot.harness import QUESTION, custom_ids, running_bot
from tests.conftest import REPO

# (question, options): answerable, unanswerable, "the latest" (recency order), and filtered ones
CASES = [
    (QUESTION, {}),
    ("What tariff did China set on US soybeans?", {}),
    ("What is the latest on the harbour?", {}),
    ("What happened at the harbour?", {"outlet": "port news"}),
    ("What happened at the harbour?", {"since": "2024-06-01"}),
]


def _cli_answer(store: str, env_file: str, question: str, options: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_"))}
    args = [f"--{k}={v}" for k, v in options.items()]
    out = subprocess.run([sys.executable, "-m", "bot", "--env-file", env_file, "ask", "--json", *args, question],
                         capture_output=True, text=True, cwd=REPO, env=env | {"CHROMA_PATH": store}, timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


async def test_cli_and_discord_give_the_same_answers_and_citations(tmp_path, embedder):
    store = str(tmp_path / "store")
    kb = KnowledgeBase(CoreConfig(chroma_path=store), embedder=embedder)
    kb.sync_folder()
    for title, published, text in [
        ("Harbour reopens after storm", "2024-02-03", "The harbour reopened on Friday after the storm damaged two piers."),
        ("Harbour gets a new ferry", "2024-09-10", "The harbour welcomed a new electric ferry on Tuesday, the port said."),
    ]:
        kb.ingest(build_article(title=title, text=text, source="Port News", published=published))

    async with running_bot(kb, tmp_path) as h:
        in_discord = []
        for question, options in CASES:
            _, follow = await h.ask(question, **options)
            stored = await h.bot.feedback.get_answer(custom_ids(follow)[-1].rsplit(":", 1)[1])
            direct = await kb.ask(question, kb.search_filter(scopes_for(h.guild.id), **options))
            assert (stored.answer, stored.answerable, stored.mode) == (direct.text, direct.answerable, direct.mode)
            assert [c.to_dict() for c in stored.citations] == [c.to_dict() for c in direct.citations]
            in_discord.append(direct.to_dict())
    await kb.aclose()

    for (question, options), discord_answer in zip(CASES, in_discord, strict=True):
        cli_answer = _cli_answer(store, str(tmp_path / "none.env"), question, options)
        assert cli_answer == discord_answer, question
    assert in_discord[0]["answerable"] and not in_discord[1]["answerable"]
    latest = in_discord[2]  # newest first for "the latest", as quotes or, when not stated, as related passages
    assert (latest["citations"] or latest.get("related", []))[0]["published"] == "2024-09-10"
    assert {c["published"] for c in in_discord[4]["citations"]} == {"2024-09-10"}
