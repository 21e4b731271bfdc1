"""Logging set-up shared by the command line and the bot: one format, chatty libraries quieter."""

from __future__ import annotations

import logging

NOISY_LOGGERS = ("chromadb", "httpx", "httpcore", "openai", "urllib3", "trafilatura", "bm25s", "discord.http", "discord.gateway")


def quiet_libraries() -> None:
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
