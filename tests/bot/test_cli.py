"""The command line as a person runs it: `python -m bot ...` in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

Q = "Who is the Chinese Foreign Ministry spokesperson quoted in the article?"


@pytest.fixture
def run(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_"))}
    env["CHROMA_PATH"] = str(tmp_path / "store")

    def run(*args, **extra_env):
        return subprocess.run([sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none.env"), *args],
                              capture_output=True, text=True, cwd=REPO, env=env | extra_env, timeout=180)

    return run


def test_ask_json_show_json_and_offsets_agree(run):
    out = run("ask", "--json", Q)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["answerable"] is True and answer["mode"] == "extractive"
    assert "Guo Jiakun" in answer["answer"]
    cite = answer["citations"][0]
    assert set(cite) >= {"article_id", "title", "source", "published", "quote", "start", "end", "verified"}
    shown = run("show", "--json", cite["article_id"])
    assert shown.returncode == 0, shown.stderr
    article = json.loads(shown.stdout)
    assert set(article) == {"id", "title", "source", "published", "url", "text"}
    assert article["text"][cite["start"] : cite["end"]] == cite["quote"] and cite["verified"] is True

    off = json.loads(run("ask", "--json", "What is the boiling point of mercury?").stdout)
    assert off["answerable"] is False and off["citations"] == []


def test_plain_ask_prints_numbered_sources(run):
    out = run("ask", Q)
    assert out.returncode == 0
    assert "Sources:" in out.stdout and "[1] China to take actions" in out.stdout and "Xinhua, 2025-01-14" in out.stdout


def test_list_ingest_remove_and_errors(run, tmp_path):
    listed = json.loads(run("list", "--json").stdout)
    assert [a["source"] for a in listed] == ["Xinhua"]

    good = tmp_path / "harbour.md"
    good.write_text("---\ntitle: Harbour reopens\nsource: Port News\npublished: 2024-02-03\n---\nThe harbour reopened on Friday.\n", encoding="utf-8")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    out = run("ingest", str(good), str(binary))
    assert out.returncode == 1
    assert "loaded 1" in out.stdout and "failed 1" in out.stdout and "not a text file" in out.stderr
    again = run("ingest", str(good))
    assert again.returncode == 0 and "already loaded 1" in again.stdout

    ids = {a["title"]: a["id"] for a in json.loads(run("list", "--json").stdout)}
    removed = run("remove", ids["Harbour reopens"])
    assert removed.returncode == 0 and "Removed" in removed.stdout
    missing = run("show", "no-such-id")
    assert missing.returncode == 1 and missing.stderr.strip().startswith("error: No article")
    assert len(missing.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ask", ""], 1, "empty"),
        (["ask", "x" * 1200], 1, "characters long"),
        (["run"], 2, "DISCORD_TOKEN is not set"),
        (["ask", "--since", "yesterday", Q], 2, "--since: “yesterday” is not a date"),
        (["ask", "--since", "2025-13-45", Q], 2, "--since: “2025-13-45” is not a date"),
        (["ask", "--outlet", "No Such Outlet", Q], 2, "--outlet: No loaded article is from"),
    ],
)
def test_errors_are_one_line_with_a_non_zero_exit(run, args, code, message):
    out = run(*args)
    assert out.returncode == code
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error: ")


def test_outlet_filter_matches_whatever_the_case(run):
    out = run("ask", "--json", "--outlet", "XINHUA", "--since", "2025-01-01", Q)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["citations"][0]["source"] == "Xinhua"


def test_bad_settings_name_the_variable(run):
    out = run("list", TOP_K="lots", LLM_TIMEOUT="-3")
    assert out.returncode == 2
    assert "TOP_K='lots'" in out.stderr and "LLM_TIMEOUT" in out.stderr and "Traceback" not in out.stderr


def test_unwritable_store_is_named(run, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = run("list", CHROMA_PATH=str(blocker / "store"))
    assert out.returncode == 1 and str(blocker) in out.stderr
