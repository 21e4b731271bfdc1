"""Settings: defaults are the offline set-up; bad values are reported by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.paths import default_chroma_path
from bot.settings import Settings, SettingsError
from knowledge import KnowledgeError


def test_defaults_are_offline_and_extractive():
    s = Settings.load(environ={}, dotenv_path=None)
    assert not s.llm_enabled and s.chroma_host == "" and s.embedding_backend == "local"
    core = s.core()
    assert core.llm is None and core.chroma_path == default_chroma_path()


def test_stores_default_to_the_per_user_data_folder_not_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    s = Settings.load(environ={}, dotenv_path=None)
    assert s.chroma_path == str(tmp_path / "xdg" / "newsbot" / "chroma")
    assert s.feedback_db == str(tmp_path / "xdg" / "newsbot" / "feedback.sqlite3")
    assert (s.feedback_retention_days, s.ask_burst, s.ask_cooldown_seconds) == (180, 3, 10.0)


def test_dotenv_is_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("TOP_K=5\nOPENAI_BASE_URL=http://127.0.0.1:11434/v1\nLLM_MODEL=llama3\n")
    s = Settings.load(environ={"TOP_K": "7"}, dotenv_path=env_file)
    assert s.top_k == 7 and s.llm_enabled and s.core().llm.base_url == "http://127.0.0.1:11434/v1"
    assert s.core().llm.model == "llama3"


def test_extractive_mode_ignores_a_key():
    s = Settings.load(environ={"OPENAI_API_KEY": "sk-x", "ANSWER_MODE": "extractive"}, dotenv_path=None)
    assert not s.llm_enabled and s.core().llm is None


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CHROMA_PORT": "99999"}, "CHROMA_PORT='99999' is not valid: expected a whole number from 1 to 65535"),
        ({"DISCORD_SHARDED": "maybe"}, "DISCORD_SHARDED='maybe' is not valid: expected true or false"),
        ({"DISCORD_ADMIN_ROLE_IDS": "admins"}, "DISCORD_ADMIN_ROLE_IDS"),
        ({"EMBEDDING_BACKEND": "gpu"}, "expected local or openai"),
        ({"ANSWER_MODE": "llm"}, "ANSWER_MODE=llm needs OPENAI_API_KEY"),
        ({"OPENAI_BASE_URL": "localhost:11434"}, "OPENAI_BASE_URL"),
    ],
)
def test_invalid_values_are_named_with_what_is_expected(env, needle):
    with pytest.raises(SettingsError) as err:
        Settings.load(environ=env, dotenv_path=None)
    assert needle in str(err.value)


def test_every_setting_is_typed_and_listed_in_env_example():
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    listed = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    names = {f.name.upper() for f in dataclasses.fields(Settings)}
    assert names == listed
    s = Settings.load(environ={"TOP_K": "4", "DISCORD_ADMIN_USER_IDS": "1, 2", "LLM_TIMEOUT": "9"}, dotenv_path=None)
    assert (s.top_k, s.discord_admin_user_ids, s.llm_timeout) == (4, (1, 2), 9.0)


def test_settings_errors_are_the_core_error_with_every_problem_in_the_reason():
    with pytest.raises(KnowledgeError) as err:
        Settings.load(environ={"TOP_K": "0", "FETCH_TIMEOUT": "soon"}, dotenv_path=None)
    assert isinstance(err.value, SettingsError)
    assert "TOP_K='0'" in err.value.reason and "FETCH_TIMEOUT='soon'" in err.value.reason
