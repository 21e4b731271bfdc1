"""The shipped article's hard questions through `python -m bot ask --json`, as a new user asks them.

Each one was answered wrongly once: names the article never mentions (Japan, South Korea) were
answered with quotes about China and the US; a date the article does not give was "answered"
with the day of the press conference; the second half of a two-part question got unrelated
quotes; the article's editor, named in its metadata, was refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def ask(tmp_path_factory):
    store = tmp_path_factory.mktemp("cli-answers")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_"))}
    env["CHROMA_PATH"] = str(store / "store")

    def ask(question: str) -> dict:
        out = subprocess.run([sys.executable, "-m", "bot", "--env-file", str(store / "none.env"), "ask", "--json", question],
                             capture_output=True, text=True, cwd=REPO, env=env, timeout=180)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    return ask


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("What is Japan's policy on exporting AI chips?", "Japan"),
        ("What did South Korea's trade ministry say about the restrictions?", "South Korea"),
    ],
)
def test_a_question_about_a_country_the_article_never_names_is_not_covered(ask, question, name):
    answer = ask(question)
    assert answer["outcome"] == "not_covered" and answer["answerable"] is False
    assert answer["citations"] == []
    assert name in answer["missing"] and name in answer["answer"]


def test_a_date_the_article_does_not_give_is_refused_not_answered_with_the_press_conference_day(ask):
    answer = ask("On what date do the US AI export restrictions take effect?")
    assert answer["outcome"] in ("not_stated", "not_covered") and answer["answerable"] is False
    assert answer["citations"] == []
    if answer["outcome"] == "not_stated":
        assert answer["missing"] == ["the date"] and answer["answer"].startswith("Not stated")
        assert "not the answer" in answer["answer"]  # related passages are marked as such


def test_each_part_of_a_two_part_question_is_answered_from_its_own_sentence(ask):
    answer = ask("What do the restrictions tighten controls on, and what UN resolution did China promote?")
    assert answer["outcome"] == "answered"
    quotes = [c["quote"] for c in answer["citations"]]
    assert any("AI chips and model parameters" in q for q in quotes)
    assert any("resolution on AI capacity building" in q for q in quotes)
    assert "missing" not in answer


def test_the_part_the_article_does_not_state_is_named(ask):
    answer = ask("Who is the Chinese Foreign Ministry spokesperson, and what tariff did China set on US soybeans?")
    assert answer["outcome"] == "answered"
    assert any("Guo Jiakun" in c["quote"] for c in answer["citations"])
    assert answer["missing"] == ["what tariff did China set on US soybeans?"]
    assert "Not stated" in answer["answer"]


def test_the_editor_is_answered_from_the_byline_not_a_body_quote(ask):
    answer = ask("Who edited the article?")
    assert answer["outcome"] == "answered"
    assert "Zhu Qing" in answer["answer"]
    (cite,) = answer["citations"]
    assert cite["metadata"] == "editor" and cite["quote"] == "Editor: Zhu Qing"
    assert (cite["start"], cite["end"]) == (0, 0)


def test_the_publication_date_comes_from_the_dateline(ask):
    answer = ask("When was the article published?")
    assert answer["outcome"] == "answered" and "2025-01-14" in answer["answer"]
    assert answer["citations"][0]["metadata"] == "published"


def test_the_spokesperson_is_still_answered(ask):
    answer = ask("Who is the Chinese Foreign Ministry spokesperson quoted in the article?")
    assert answer["outcome"] == "answered" and "Guo Jiakun" in answer["answer"]
