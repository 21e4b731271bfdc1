"""Numbered schema migrations for the bot's SQLite files.

Each file's schema version is SQLite's `PRAGMA user_version`; a store lists its migrations in
order, and `migrate` applies the ones a file has not had yet, each in its own transaction together
with the new version number. `BEGIN IMMEDIATE` takes the write lock before the version is read, so
two processes opening one new file at once (the bot and the command line) apply each step once.
A file written by a newer newsbot (a version beyond the known steps) is refused, not guessed at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence


class SchemaTooNew(Exception):
    """The file's schema is newer than this program knows."""


def migrate(db: sqlite3.Connection, steps: Sequence[str], *, name: str) -> int:
    """Apply `steps[version:]` to `db` (each a `;`-separated script of DDL); returns the version."""
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(steps):
                raise SchemaTooNew(f"{name} has schema version {version}, newer than this newsbot knows ({len(steps)}): "
                                   "upgrade newsbot or point it at another file.")
            if version == len(steps):
                db.execute("COMMIT")
                return version
            for statement in steps[version].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
