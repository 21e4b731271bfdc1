"""`python -m bot eval FILE`: the same path a Discord question takes, measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO


def test_eval_reports_accuracy_refusals_and_quote_checks(tmp_path):
    questions = tmp_path / "qa.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in [
        {"id": "s1", "question": "Who is the Chinese Foreign Ministry spokesperson quoted in the article?", "answerable": True,
         "article": "folder:articles/2025-01-14-xinhua-china-us-ai-restrictions.md", "answer": "Guo Jiakun"},
        {"id": "s2", "question": "What did Guo call the US AI policy?", "answerable": True, "answer": "stumbling block"},
        {"id": "s3", "question": "What is the boiling point of mercury?", "answerable": False},
    ]) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_"))} | {"CHROMA_PATH": str(tmp_path / "store")}
    out = subprocess.run([sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none"), "eval", "--json", str(questions)],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=180)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)["summary"]
    assert summary["questions"] == 3
    assert summary["answer_accuracy"] == 1.0
    assert summary["refusal_accuracy"] == 1.0 and summary["wrongful_refusals"] == 0.0
    assert summary["quote_verification"] == 1.0
    assert summary["hit@1"] == 1.0

    table = subprocess.run([sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none"), "eval", str(questions)],
                           capture_output=True, text=True, cwd=REPO, env=env, timeout=180)
    assert "unanswerable questions refused" in table.stdout and "100.0%" in table.stdout

    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    err = subprocess.run([sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none"), "eval", str(bad)],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=180)
    assert err.returncode == 1 and "line 1" in err.stderr


def test_an_eval_file_with_a_wrongly_typed_field_is_refused_naming_the_line(tmp_path):
    questions = tmp_path / "qa.jsonl"
    questions.write_text(json.dumps({"id": "a", "question": "Who is Guo Jiakun?", "answerable": True}) + "\n\n"
                         + json.dumps({"id": "b", "question": "What tariff did China set?", "answerable": "false"}) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_"))} | {"CHROMA_PATH": str(tmp_path / "store")}
    out = subprocess.run([sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none"), "eval", str(questions)],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=180)

    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == f'error: {questions}, line 3: "answerable" must be true or false, not "false".\n'
