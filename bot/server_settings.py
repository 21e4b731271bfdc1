"""Per-server settings, changed by a server's admins with `/newsbot settings`, stored in SQLite
beside the feedback file (`server-settings.sqlite3` in `FEEDBACK_DB`'s folder).

Each value is either set for the server or None, meaning "the operator's default" (the
environment setting). `Effective` resolves the two; the bot's checks read that, never the raw
environment. Reads go to the file each time (one small row), so a second bot process sharing the
folder sees a change at once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any

from .migrations import migrate

MIGRATIONS = (
    """
    CREATE TABLE server_settings (
        guild_id INTEGER PRIMARY KEY,
        admin_role_ids TEXT,
        answer_channel_ids TEXT,
        answer_mode TEXT,
        cooldown_seconds REAL,
        updated REAL NOT NULL,
        updated_by INTEGER NOT NULL
    )
    """,
)


class ServerAnswerMode(Enum):
    """What a server may choose: quotes only, or a model's written answer where the operator
    configured one (a server cannot switch a model on that the operator did not)."""

    EXTRACTIVE = "extractive"
    MODEL = "model"


@dataclass(frozen=True)
class ServerSettings:
    """One server's own choices; None = the operator's default."""

    admin_role_ids: tuple[int, ...] | None = None
    answer_channel_ids: tuple[int, ...] | None = None  # where mentions are answered; None = everywhere
    answer_mode: ServerAnswerMode | None = None
    cooldown_seconds: float | None = None


@dataclass(frozen=True)
class Effective:
    """A server's settings with the operator's defaults filled in."""

    admin_role_ids: tuple[int, ...]
    answer_channel_ids: tuple[int, ...] | None
    answer_mode: ServerAnswerMode
    cooldown_seconds: float


def effective(own: ServerSettings, defaults: Any, *, has_model: bool) -> Effective:
    """`own` over `defaults` (the bot's `Settings`); `has_model`: the bot has a language model."""
    model_default = ServerAnswerMode.MODEL if has_model else ServerAnswerMode.EXTRACTIVE
    mode = own.answer_mode or model_default
    if mode is ServerAnswerMode.MODEL and not has_model:
        mode = ServerAnswerMode.EXTRACTIVE
    return Effective(
        admin_role_ids=own.admin_role_ids if own.admin_role_ids is not None else tuple(defaults.discord_admin_role_ids),
        answer_channel_ids=own.answer_channel_ids,
        answer_mode=mode,
        cooldown_seconds=own.cooldown_seconds if own.cooldown_seconds is not None else float(defaults.ask_cooldown_seconds),
    )


def path_beside(feedback_db: str) -> str:
    return ":memory:" if feedback_db == ":memory:" else str(Path(feedback_db).with_name("server-settings.sqlite3"))


class ServerSettingsStore:
    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # autocommit: every write below is an explicit BEGIN IMMEDIATE … COMMIT
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        migrate(self._db, MIGRATIONS, name=self.path)

    @classmethod
    async def open(cls, path: str | Path) -> ServerSettingsStore:
        return await asyncio.to_thread(cls, path)

    async def aclose(self) -> None:
        def close() -> None:
            with self._lock:
                self._db.close()

        await asyncio.to_thread(close)

    def _get(self, guild_id: int) -> ServerSettings:
        with self._lock:
            return self._read(guild_id)

    def _read(self, guild_id: int) -> ServerSettings:
        row = self._db.execute("SELECT admin_role_ids, answer_channel_ids, answer_mode, cooldown_seconds "
                               "FROM server_settings WHERE guild_id = ?", (guild_id,)).fetchone()
        if row is None:
            return ServerSettings()
        roles, channels, mode, cooldown = row
        return ServerSettings(
            admin_role_ids=None if roles is None else tuple(json.loads(roles)),
            answer_channel_ids=None if channels is None else tuple(json.loads(channels)),
            answer_mode=None if mode is None else ServerAnswerMode(mode),
            cooldown_seconds=cooldown,
        )

    async def get(self, guild_id: int | None) -> ServerSettings:
        """A server's own settings (all None for a DM or a server that set nothing)."""
        if guild_id is None:
            return ServerSettings()
        return await asyncio.to_thread(self._get, guild_id)

    async def update(self, guild_id: int, by_user: int, **changes: Any) -> ServerSettings:
        """Set some of a server's settings (None resets one to the default); returns them all."""
        unknown = set(changes) - {f.name for f in fields(ServerSettings)}
        if unknown:
            raise TypeError(f"unknown server settings: {sorted(unknown)}")

        def work() -> ServerSettings:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")  # read and write as one, against another process too
                try:
                    new = replace(self._read(guild_id), **changes)
                    self._db.execute("INSERT OR REPLACE INTO server_settings VALUES (?, ?, ?, ?, ?, ?, ?)", (
                        guild_id,
                        None if new.admin_role_ids is None else json.dumps(list(new.admin_role_ids)),
                        None if new.answer_channel_ids is None else json.dumps(list(new.answer_channel_ids)),
                        None if new.answer_mode is None else new.answer_mode.value,
                        new.cooldown_seconds, time.time(), by_user,
                    ))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            return new

        return await asyncio.to_thread(work)
