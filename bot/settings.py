"""The one settings object: read once from the environment and `.env`, checked, then passed in.

Every setting is listed in `.env.example` with a comment. A bad value stops the program at start
with a message naming the variable and what it expects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dotenv import dotenv_values

if TYPE_CHECKING:  # imported where used: loading the core costs a command like --help ~1 s
    from knowledge.base import CoreConfig


class SettingsError(Exception):
    """One or more settings are invalid; the message lists each with what is expected."""


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(v: str) -> int:
        n = int(v)
        if not lo <= n <= hi:
            raise ValueError
        return n

    parse.expects = f"a whole number from {lo} to {hi}"  # type: ignore[attr-defined]
    return parse


def _float(lo: float, hi: float) -> Callable[[str], float]:
    def parse(v: str) -> float:
        x = float(v)
        if not lo <= x <= hi:
            raise ValueError
        return x

    parse.expects = f"a number from {lo:g} to {hi:g}"  # type: ignore[attr-defined]
    return parse


def _bool(v: str) -> bool:
    low = v.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError


_bool.expects = "true or false"  # type: ignore[attr-defined]


def _ids(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.replace(" ", "").split(",") if x)


_ids.expects = "comma-separated Discord ids (numbers), e.g. 123456789012345678,234567890123456789"  # type: ignore[attr-defined]


def _names(v: str) -> tuple[str, ...]:
    return tuple(x.strip().lower() for x in v.split(",") if x.strip())


_names.expects = "comma-separated host names"  # type: ignore[attr-defined]


def _choice(*options: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        if v.strip().lower() not in options:
            raise ValueError
        return v.strip().lower()

    parse.expects = " or ".join(options)  # type: ignore[attr-defined]
    return parse


def _text(v: str) -> str:
    return v.strip()


_text.expects = "text"  # type: ignore[attr-defined]

# name: (parser, default). Defaults are the embedded, offline set-up.
_SPEC: dict[str, tuple[Callable[[str], Any], Any]] = {
    "DISCORD_TOKEN": (_text, ""),
    "DISCORD_TEST_GUILD_ID": (_int(0, 2**63 - 1), 0),
    "DISCORD_ADMIN_ROLE_IDS": (_ids, ()),
    "DISCORD_ADMIN_USER_IDS": (_ids, ()),
    "DISCORD_SHARDED": (_bool, False),
    "DISCORD_MESSAGE_CONTENT": (_bool, True),
    "FEEDBACK_DB": (_text, "data/feedback.sqlite3"),
    "CHROMA_PATH": (_text, "data/chroma"),
    "CHROMA_HOST": (_text, ""),
    "CHROMA_PORT": (_int(1, 65535), 8000),
    "CHROMA_SSL": (_bool, False),
    "LEXICAL_PATH": (_text, ""),
    "EMBEDDING_BACKEND": (_choice("local", "openai"), "local"),
    "OPENAI_EMBEDDING_MODEL": (_text, "text-embedding-3-small"),
    "EMBEDDING_THREADS": (_int(0, 64), 0),
    "OPENAI_API_KEY": (_text, ""),
    "OPENAI_BASE_URL": (_text, ""),
    "ANSWER_MODE": (_choice("auto", "extractive", "llm"), "auto"),
    "LLM_MODEL": (_text, "gpt-4o-mini"),
    "LLM_TIMEOUT": (_float(1, 600), 30.0),
    "LLM_MAX_RETRIES": (_int(0, 10), 2),
    "LLM_JSON_MODE": (_bool, True),
    "TOP_K": (_int(1, 50), 8),
    "MAX_QUOTES": (_int(1, 10), 3),
    "MAX_QUOTE_CHARS": (_int(40, 1000), 300),
    "MAX_QUESTION_CHARS": (_int(20, 4000), 1000),
    "MAX_ARTICLE_CHARS": (_int(1000, 5_000_000), 200_000),
    "MAX_ARTICLES_PER_SERVER": (_int(1, 1_000_000), 1000),
    "FETCH_ALLOW_HOSTS": (_names, ()),
    "FETCH_TIMEOUT": (_float(1, 120), 15.0),
    "FETCH_MAX_BYTES": (_int(10_000, 100_000_000), 5_000_000),
    "FEED_POLL_MINUTES": (_int(5, 1440), 30),
    "MAX_FEEDS_PER_SERVER": (_int(1, 1000), 20),
    "ASK_COOLDOWN_SECONDS": (_float(0, 3600), 5.0),
    "MAX_QUESTIONS_IN_FLIGHT": (_int(1, 256), 8),
    "LOG_LEVEL": (_choice("debug", "info", "warning", "error"), "info"),
}


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        key = name.upper()
        if key in _SPEC:
            return self.values.get(key, _SPEC[key][1])
        raise AttributeError(name)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env") -> Settings:
        """Settings from `.env` (if present) overridden by the environment; raises SettingsError."""
        raw: dict[str, str] = {}
        if dotenv_path and Path(dotenv_path).is_file():
            raw.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        raw.update(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, (parse, _default) in _SPEC.items():
            text = raw.get(name, "")
            if text.strip() == "":
                continue
            try:
                values[name] = parse(text)
            except ValueError:
                problems.append(f"{name}={text!r} is not valid: expected {parse.expects}.")  # type: ignore[attr-defined]
        mode = values.get("ANSWER_MODE", "auto")
        if mode == "llm" and not (raw.get("OPENAI_API_KEY") or raw.get("OPENAI_BASE_URL")):
            problems.append("ANSWER_MODE=llm needs OPENAI_API_KEY (for OpenAI) or OPENAI_BASE_URL (for a local server).")
        base = values.get("OPENAI_BASE_URL", "")
        if base and not base.startswith(("http://", "https://")):
            problems.append(f"OPENAI_BASE_URL={base!r} is not valid: expected a URL starting with http:// or https://.")
        if problems:
            raise SettingsError("Invalid settings:\n  " + "\n  ".join(problems))
        return cls(values)

    @property
    def llm_enabled(self) -> bool:
        if self.answer_mode == "extractive":
            return False
        return bool(self.openai_api_key or self.openai_base_url)

    def core(self) -> CoreConfig:
        from knowledge.base import CoreConfig
        from knowledge.llm import LLMConfig
        from knowledge.sources import FetchPolicy

        llm = None
        if self.llm_enabled or self.embedding_backend == "openai":
            llm = LLMConfig(
                model=self.llm_model, api_key=self.openai_api_key or None, base_url=self.openai_base_url or None,
                timeout=self.llm_timeout, max_retries=self.llm_max_retries, json_mode=self.llm_json_mode,
            )
        return CoreConfig(
            chroma_path=self.chroma_path, chroma_host=self.chroma_host, chroma_port=self.chroma_port,
            chroma_ssl=self.chroma_ssl, embedding_backend=self.embedding_backend,
            openai_embedding_model=self.openai_embedding_model, embedding_threads=self.embedding_threads,
            llm=llm if self.llm_enabled else None, embedding_llm=llm,
            top_k=self.top_k, max_quotes=self.max_quotes, max_quote_chars=self.max_quote_chars,
            max_question_chars=self.max_question_chars, max_article_chars=self.max_article_chars,
            max_articles_per_scope=self.max_articles_per_server,
            max_feeds_per_scope=self.max_feeds_per_server,
            fetch=FetchPolicy(allow_hosts=frozenset(self.fetch_allow_hosts), timeout=self.fetch_timeout,
                              max_bytes=self.fetch_max_bytes),
            lexical_path=self.lexical_path,
        )
