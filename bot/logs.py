"""Logging set-up shared by the command line and the bot: one format, chatty libraries quieter."""

from __future__ import annotations

import logging

NOISY_LOGGERS = ("chromadb", "httpx", "httpcore", "openai", "urllib3", "trafilatura", "bm25s", "discord.http", "discord.gateway")


# pypdf logs a warning for every flaw it reads past ("invalid pdf header", "EOF marker not
# found"); a PDF that cannot be read is already reported once, as one line, by the loader
SILENT_LOGGERS = ("pypdf",)


def quiet_libraries() -> None:
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in SILENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
