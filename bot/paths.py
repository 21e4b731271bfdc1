"""Where newsbot keeps its files when the settings do not say: a per-user data folder.

`CHROMA_PATH` and `FEEDBACK_DB` used to default to `data/…` under the current directory, so
`cd elsewhere && newsbot list` showed an empty store. The defaults are now in the platform's user
data folder (platformdirs: `~/.local/share/newsbot` on Linux, honouring `XDG_DATA_HOME`;
`~/Library/Application Support/newsbot` on macOS; `%LOCALAPPDATA%\\newsbot` on Windows), the same
wherever newsbot is started. A relative path given in the settings is still taken from the
current directory.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir


def data_dir() -> Path:
    """The per-user folder for newsbot's data (not created here)."""
    return Path(user_data_dir("newsbot", appauthor=False))


def default_chroma_path() -> str:
    return str(data_dir() / "chroma")


def default_feedback_db() -> str:
    return str(data_dir() / "feedback.sqlite3")
