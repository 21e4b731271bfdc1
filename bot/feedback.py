"""The answers the bot gave and the 👍/👎 people left on them, in one SQLite file.

What is stored per answer: its id, time, server, channel and asker's user id, the question, the
answer text, mode and citations; per vote: the voter's user id, the vote and its time. Nothing
else about a user. `FEEDBACK_RETENTION_DAYS` bounds how long it is kept, and `forget_user` (the
`/newsbot forget-me` command and `python -m bot forget-user`) deletes one user's rows.

Each answer gets a short random id that its buttons carry in their custom_ids, so "Show quotes"
and the votes keep working after a restart. Every public method is a coroutine that runs the
SQLite work in a worker thread (one connection, guarded by a lock), so the gateway never waits on
the disk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from knowledge import Answer, Citation

from .migrations import migrate

log = logging.getLogger(__name__)

# Numbered migrations (see migrations.py). The first is the schema from before they were
# numbered, hence IF NOT EXISTS there only: files made then already hold it.
MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS answers (
        id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        guild_id INTEGER,
        channel_id INTEGER,
        user_id INTEGER,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        mode TEXT NOT NULL,
        answerable INTEGER NOT NULL,
        citations TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS votes (
        answer_id TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,
        vote INTEGER NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (answer_id, user_id)
    );
    CREATE INDEX IF NOT EXISTS answers_guild ON answers(guild_id, created)
    """,
    # retention purges by age, forgetting a user by user id
    """
    CREATE INDEX answers_created ON answers(created);
    CREATE INDEX answers_user ON answers(user_id);
    CREATE INDEX votes_user ON votes(user_id)
    """,
)
PURGE_EVERY = 3600.0  # seconds between retention purges while running


@dataclass(frozen=True)
class Forgotten:
    """What `forget_user` deleted."""

    questions: int  # the user's questions, with the answers to them (and any votes on those)
    votes: int  # the user's votes on other people's answers


class VoteResult(Enum):
    RECORDED = "recorded"  # the user's first vote on this answer
    CHANGED = "changed"  # 👎 after 👍, or the other way round
    UNCHANGED = "unchanged"  # the same vote again
    UNKNOWN_ANSWER = "unknown answer"


@dataclass(frozen=True)
class StoredAnswer:
    id: str
    created: float
    guild_id: int | None
    question: str
    answer: str
    mode: str
    answerable: bool
    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class Vote:
    answer_id: str
    user_id: int
    vote: int  # +1 or -1
    created: float
    question: str


class FeedbackStore:
    """Answers and votes. `retention_days` > 0 deletes answers (and their votes) older than that,
    on opening and then at most hourly as answers are recorded; 0 keeps them."""

    def __init__(self, path: str | Path, *, retention_days: int = 0):
        self.path = str(path)
        self.retention_days = retention_days
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        migrate(self._db, MIGRATIONS, name=self.path)
        self._last_purge = 0.0
        self._purge_expired()

    @classmethod
    async def open(cls, path: str | Path, *, retention_days: int = 0) -> FeedbackStore:
        return await asyncio.to_thread(cls, path, retention_days=retention_days)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock, self._db:
            return self._db.execute(sql, params).fetchall()

    # -- users' data ---------------------------------------------------------------------------

    def _purge_expired(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        self._last_purge = now
        if self.retention_days <= 0:
            return 0
        with self._lock, self._db:
            gone = self._db.execute("DELETE FROM answers WHERE created < ?", (now - self.retention_days * 86400,)).rowcount
        if gone:
            log.info("deleted %d answers older than %d days (FEEDBACK_RETENTION_DAYS)", gone, self.retention_days)
        return gone

    async def purge_expired(self, now: float | None = None) -> int:
        """Delete answers (and their votes) older than the retention period; returns how many."""
        return await asyncio.to_thread(self._purge_expired, now)

    def _forget_user(self, user_id: int) -> Forgotten:
        with self._lock, self._db:
            votes = self._db.execute(
                "DELETE FROM votes WHERE user_id = ? AND answer_id NOT IN (SELECT id FROM answers WHERE user_id = ?)",
                (user_id, user_id)).rowcount
            questions = self._db.execute("DELETE FROM answers WHERE user_id = ?", (user_id,)).rowcount
        log.info("forgot user %s: %d questions, %d votes", user_id, questions, votes)
        return Forgotten(questions, votes)

    async def forget_user(self, user_id: int) -> Forgotten:
        """Delete everything stored about a user: their questions with the answers to them, and
        their votes."""
        return await asyncio.to_thread(self._forget_user, user_id)

    # -- answers -----------------------------------------------------------------------------

    async def record_answer(self, answer: Answer, *, question: str, guild_id: int | None, channel_id: int | None, user_id: int) -> str:
        """Store an answer; returns its new short id (8 URL-safe characters)."""
        answer_id = secrets.token_urlsafe(6)
        if self.retention_days > 0 and time.time() - self._last_purge > PURGE_EVERY:
            await self.purge_expired()
        cites = json.dumps([c.to_dict() for c in answer.citations], ensure_ascii=False)
        await asyncio.to_thread(
            self._run,
            "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (answer_id, time.time(), guild_id, channel_id, user_id, question, answer.text, answer.mode, int(answer.answerable), cites),
        )
        return answer_id

    async def get_answers(self, ids: Sequence[str]) -> dict[str, StoredAnswer]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await asyncio.to_thread(
            self._run,
            f"SELECT id, created, guild_id, question, answer, mode, answerable, citations FROM answers WHERE id IN ({marks})",
            tuple(ids),
        )
        return {r[0]: _answer_from(r) for r in rows}

    async def get_answer(self, answer_id: str) -> StoredAnswer | None:
        return (await self.get_answers([answer_id])).get(answer_id)

    # -- votes -------------------------------------------------------------------------------

    async def vote(self, answer_id: str, user_id: int, vote: int) -> VoteResult:
        """Record (or change) a user's vote on an answer, and say which it was."""
        if vote not in (1, -1):
            raise ValueError("vote must be +1 or -1")

        def work() -> VoteResult:
            with self._lock, self._db:
                if not self._db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone():
                    return VoteResult.UNKNOWN_ANSWER
                before = self._db.execute("SELECT vote FROM votes WHERE answer_id = ? AND user_id = ?",
                                          (answer_id, user_id)).fetchone()
                self._db.execute(
                    "INSERT INTO votes VALUES (?, ?, ?, ?) ON CONFLICT(answer_id, user_id) DO UPDATE SET vote = excluded.vote, created = excluded.created",
                    (answer_id, user_id, vote, time.time()),
                )
                if before is None:
                    return VoteResult.RECORDED
                return VoteResult.UNCHANGED if before[0] == vote else VoteResult.CHANGED

        return await asyncio.to_thread(work)

    async def recent_votes(self, guild_id: int | None, limit: int = 20) -> list[Vote]:
        """The newest votes on answers given in this server (None: in direct messages)."""
        rows = await asyncio.to_thread(
            self._run,
            "SELECT v.answer_id, v.user_id, v.vote, v.created, a.question FROM votes v JOIN answers a ON a.id = v.answer_id "
            "WHERE a.guild_id IS ? ORDER BY v.created DESC LIMIT ?",
            (guild_id, limit),
        )
        return [Vote(*r) for r in rows]

    async def totals(self, guild_id: int | None) -> tuple[int, int]:
        """(👍 count, 👎 count) over every answer given in this server."""
        rows = await asyncio.to_thread(
            self._run,
            "SELECT COALESCE(SUM(v.vote > 0), 0), COALESCE(SUM(v.vote < 0), 0) FROM votes v JOIN answers a ON a.id = v.answer_id WHERE a.guild_id IS ?",
            (guild_id,),
        )
        return rows[0][0], rows[0][1]


def _answer_from(row: tuple) -> StoredAnswer:
    cites = tuple(Citation(**c) for c in json.loads(row[7]))
    return StoredAnswer(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), cites)
