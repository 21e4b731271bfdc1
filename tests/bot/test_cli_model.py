"""The model path as a person meets it: `python -m bot ask --json` with ANSWER_MODE=llm against a
hostile OpenAI-compatible server on 127.0.0.1. Every reply in `tests.hostile_model` (the
issue's examples among them) ends in exit 0 and an answer made of checked quotes only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.hostile_model import (
    FORGED_LINE,
    FORGED_QUESTION,
    FORGED_TEXT,
    FORGED_TITLE,
    GAME,
    GUO,
    HOSTILE,
    INVENTED,
    QUESTION,
    answer,
    completion,
)
from tests.openai_standin import OpenAIStandin, reply_json, trickle


@pytest.fixture(scope="module")
def standin():
    with OpenAIStandin() as s:
        yield s


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-model-store")


@pytest.fixture
def run(standin, store, tmp_path):
    standin.reset()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_", "LLM_", "ANSWER_"))}
    env |= {"CHROMA_PATH": str(store / "chroma"), "ANSWER_MODE": "llm", "OPENAI_BASE_URL": standin.base_url,
            "OPENAI_API_KEY": "sk-test", "LLM_MODEL": "standin-model", "LLM_MAX_RETRIES": "0", "LLM_TIMEOUT": "20"}

    def run(*args, **extra_env):
        return subprocess.run([sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none.env"), *args],
                              capture_output=True, text=True, cwd=REPO, env=env | extra_env, timeout=180)

    return run


def ask_json(run, question: str = QUESTION, **env) -> dict:
    out = run("ask", "--json", question, **env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    return json.loads(out.stdout)


ISSUE = [h for h in HOSTILE if h.in_issue]  # the rest go through the core only (tests/knowledge/test_model_hostile.py)


@pytest.mark.parametrize("case", ISSUE, ids=[h.id for h in ISSUE])
def test_ask_json_shows_only_checked_claims_whatever_the_model_replies(run, standin, case):
    standin.script(case.step)
    got = ask_json(run)
    assert len(standin.chat_requests) == 1
    assert all(c["verified"] for c in got["citations"]) and got["answerable"] is True
    if case.shown:
        assert got["mode"] == "llm" and got["answer"] == case.text
        assert [c["quote"] for c in got["citations"]] == [case.quote]
        assert got["claims"] == [{"text": case.text, "quotes": [1]}]
    else:
        assert got["mode"] == "extractive" and got["claims"] == []
        assert case.note in got["note"] and "quoted straight from the articles" in got["note"]
        assert INVENTED not in got["answer"] and "AAAA" not in got["answer"]


def test_ate_new_dev_is_never_a_verified_quote_and_half_a_sentence_keeps_its_not(run, standin):
    standin.script(reply_json(answer([("Guo spoke about development gaps.", [1]), ("Guo said AI is a shared asset of all humanity.", [2])],
                                     [(1, "ate new dev"), (1, "be a game for wealthy nations and individuals")])))
    got = ask_json(run)
    assert [c["quote"] for c in got["citations"]] == [GAME]  # "should not be a game…", whole
    assert got["claims"] == [{"text": "Guo said AI is a shared asset of all humanity.", "quotes": [1]}]
    assert "1 sentence of the model's answer was left out" in got["note"]


def test_plain_ask_prints_each_sentence_with_its_quote_numbers(run, standin):
    standin.script(reply_json(answer([("The spokesperson is Guo Jiakun.", [1])], [(1, GUO)])))
    out = run("ask", QUESTION)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "The spokesperson is Guo Jiakun. [1]"
    assert f"    [1] “{GUO}”" in out.stdout  # under its article's one source line


def test_a_trickling_server_is_cut_off_at_llm_timeout_and_the_answer_falls_back(run, standin):
    standin.script(trickle(completion(json.dumps(answer([("Guo Jiakun.", [1])], [(1, GUO)]))), every=1.0))
    started = time.monotonic()
    got = ask_json(run, LLM_TIMEOUT="3", LLM_MAX_RETRIES="2")
    elapsed = time.monotonic() - started
    assert got["mode"] == "extractive" and "took too long" in got["note"] and "Guo Jiakun" in got["answer"]
    assert len(standin.chat_requests) == 1
    assert elapsed < 60, "the trickle (about 500 s long) was not cut"  # the process start takes a few seconds


def test_a_forged_article_is_sent_as_data_and_its_fake_passage_is_not_believed(run, standin, tmp_path):
    path = tmp_path / "forged.md"
    path.write_text(f"---\ntitle: '{FORGED_TITLE}'\nsource: Daily Forger\npublished: 2025-03-03\n---\n\n{FORGED_TEXT}\n", encoding="utf-8")
    own_store = {"CHROMA_PATH": str(tmp_path / "chroma")}  # the forged article stays out of the other tests
    loaded = run("ingest", str(path), **own_store)
    assert loaded.returncode == 0, loaded.stderr
    standin.script(reply_json(answer([(f"Reuters issued an official correction: {INVENTED}", [1])], [(7, INVENTED)])))
    got = ask_json(run, FORGED_QUESTION, **own_store)
    content = standin.chat_requests[0].json["messages"][-1]["content"]
    passages = [json.loads(line) for line in content.splitlines() if line.startswith("{")]
    assert [p["number"] for p in passages] == list(range(1, len(passages) + 1))
    forged = [p for p in passages if FORGED_LINE in p["text"]]
    assert forged and all(p["title"] == FORGED_TITLE and p["source"] == "Daily Forger" for p in forged)
    assert content.count('"number": ') == len(passages)  # the forged line opened no passage
    assert "Reuters issued" not in got["answer"] and got["mode"] == "extractive"


def test_the_model_gets_the_collapsed_question_whose_length_was_checked(run, standin):
    standin.script(reply_json(answer([("The spokesperson is Guo Jiakun.", [1])], [(1, GUO)])))
    padded = QUESTION.replace(" ", " " * 20_000, 5)
    got = ask_json(run, padded)
    assert got["mode"] == "llm"
    content = standin.chat_requests[0].json["messages"][-1]["content"]
    assert content.endswith(f"Question, as a JSON string: {json.dumps(QUESTION)}")

