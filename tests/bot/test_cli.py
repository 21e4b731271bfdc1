"""The command line as a person runs it: `python -m bot ...` in a fresh process."""

from __future__ import annotations

import json
import os
import re
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


def test_plain_ask_prints_one_source_line_per_article_with_its_numbered_quotes(run, tmp_path):
    page = tmp_path / "toll.md"
    page.write_text("---\ntitle: Harbour toll rises\nsource: Port News\npublished: 2025-02-01\nurl: https://port.example/toll\n---\n"
                    "The Harbour tunnel toll rises to 6 dollars in May.\n\nThe Harbour tunnel toll rise was approved unanimously.\n",
                    encoding="utf-8")
    assert run("ingest", str(page)).returncode == 0

    out = run("ask", "How much will the Harbour tunnel toll be, and how was the rise approved?")  # two quotes, one article

    sources = out.stdout.split("Sources:\n", 1)[1].splitlines()
    assert sources[0].endswith("Harbour toll rises — Port News, 2025-02-01") and sources[0].startswith("[1] [2] ")
    assert sources[1] == "    https://port.example/toll"
    assert out.stdout.count("Harbour toll rises") == 1


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


def test_forget_user_deletes_that_users_questions_from_the_feedback_file(run, tmp_path):
    import asyncio

    from bot.feedback import FeedbackStore
    from knowledge import Answer

    db = tmp_path / "feedback.sqlite3"

    async def record() -> str:
        store = await FeedbackStore.open(db)
        aid = await store.record_answer(Answer(text="Yes.", answerable=True, mode="extractive"), question="Mine?",
                                        guild_id=1, channel_id=1, user_id=42)
        await store.aclose()
        return aid

    asyncio.run(record())
    out = run("forget-user", "42", FEEDBACK_DB=str(db))
    again = run("forget-user", "42", FEEDBACK_DB=str(db))
    bad = run("forget-user", "someone", FEEDBACK_DB=str(db))

    assert out.returncode == 0 and out.stdout == "Deleted 1 question(s) with their answers and 0 vote(s) of user 42.\n"
    assert again.stdout.startswith("Deleted 0 question(s)")
    assert bad.returncode == 2 and "USER_ID" in bad.stderr


def test_an_unreadable_pdf_is_one_failure_line_with_no_library_warnings(run, tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf at all")

    out = run("ingest", str(bad))

    assert out.returncode == 1 and "That PDF could not be read." in out.stderr
    assert "pypdf" not in out.stderr and "EOF marker" not in out.stderr and "invalid pdf header" not in out.stderr


def test_every_ask_json_field_is_documented_in_the_readme(run):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    answer = json.loads(run("ask", "--json", Q).stdout)
    documented = set(re.findall(r"^\| `(?:citations\[\]\.)?([a-z_]+)`", readme, re.MULTILINE))
    documented |= {f for line in re.findall(r"^\| `citations\[\]\.[^|]*", readme, re.MULTILINE)
                   for f in re.findall(r"\.([a-z_]+)`", line)}

    assert set(answer) - {"note"} <= documented and "note" in documented
    assert set(answer["citations"][0]) <= documented


def test_usage_errors_and_invalid_settings_exit_with_2_as_documented(run):
    assert run("ask").returncode == 2  # missing argument
    assert run("ask", "--no-such-option", Q).returncode == 2
    bad = run("list", TOP_K="lots")
    assert bad.returncode == 2 and "TOP_K" in bad.stderr
    assert "| 2 | a usage or settings error: an unknown command or option" in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_store_is_the_same_wherever_newsbot_runs_and_help_says_where(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_", "DISCORD_", "FEEDBACK_"))}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    page = tmp_path / "toll.md"
    page.write_text("---\ntitle: Harbour toll rises\nsource: Port News\n---\nThe Harbour toll rises to 6 dollars.\n", encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    def newsbot(cwd, *args):
        return subprocess.run([sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none.env"), *args],
                              capture_output=True, text=True, cwd=cwd, env=env | {"PYTHONPATH": str(REPO)}, timeout=180)

    assert newsbot(tmp_path / "a", "ingest", str(page)).returncode == 0
    listed = newsbot(tmp_path / "b", "list")
    helped = newsbot(tmp_path / "b", "--help")

    assert "Harbour toll rises" in listed.stdout  # not an empty store because the directory changed
    assert f"  articles: {tmp_path / 'xdg' / 'newsbot' / 'chroma'} (CHROMA_PATH)\n" in helped.stdout
    assert not (tmp_path / "a" / "data").exists()


def test_ingest_failures_name_each_input_once_on_one_line_and_unsupported_schemes_are_said(run, tmp_path):
    faked = tmp_path / "evil\nloaded 5, updated 0, already loaded 0, duplicate 0, failed 0.txt"
    faked.write_text("x", encoding="utf-8")
    missing = tmp_path / "x.txt"

    out = run("ingest", str(missing), "ftp://example.com/a.txt", str(faked), str(tmp_path / "y.txt"))

    assert out.returncode == 1
    assert out.stdout == "loaded 0, updated 0, already loaded 0, duplicate 0, failed 4\n"  # the only summary line
    lines = out.stderr.splitlines()
    assert f"failed: {missing}: no such file." in lines
    assert "failed: ftp://example.com/a.txt: unsupported scheme “ftp”: only http:// and https:// addresses are loaded." in lines
    assert any(line.startswith(f"failed: {tmp_path}/evil\\nloaded 5") for line in lines)
    assert len(lines) == 4 and "%|" not in out.stderr  # no progress bar when stderr is not a terminal
