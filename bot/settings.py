"""The one settings object: read once from the environment and `.env`, checked, then passed in.

Each setting is one typed field of `Settings`, declared with `setting(parser, default)`: the
parser turns the text into the field's type and says what it expects. A bad value stops the
program at start with a one-line message naming the variable and what it expects. Every setting
is listed in `.env.example` with a comment.

To add a setting: add a field here (name = the variable in lower case), a line in `.env.example`,
and use `settings.the_name` where it is needed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from dotenv import dotenv_values

from knowledge.errors import KnowledgeError

if TYPE_CHECKING:  # imported where used: loading the core costs a command like --help ~1 s
    from knowledge.base import CoreConfig

T = TypeVar("T")
N = TypeVar("N", int, float)



class SettingsError(KnowledgeError):
    """One or more settings are invalid; `reason` lists each with what is expected. One of the
    core's errors with a reason, so every handler words it the same way; the CLI exits 2."""


@dataclass(frozen=True)
class Parser(Generic[T]):
    """Text of an environment variable → a typed value; `expects` is said when that fails.
    `parse` raises ValueError on a bad value."""

    parse: Callable[[str], T]
    expects: str


def _ranged(convert: Callable[[str], N], lo: N, hi: N, expects: str) -> Parser[N]:
    def parse(v: str) -> N:
        n = convert(v)
        if not lo <= n <= hi:
            raise ValueError
        return n

    return Parser(parse, expects)


def _int(lo: int, hi: int) -> Parser[int]:
    return _ranged(int, lo, hi, f"a whole number from {lo} to {hi}")


def _float(lo: float, hi: float) -> Parser[float]:
    return _ranged(float, lo, hi, f"a number from {lo:g} to {hi:g}")


def _to_bool(v: str) -> bool:
    low = v.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _choice(*options: str) -> Parser[str]:
    def parse(v: str) -> str:
        if v.strip().lower() not in options:
            raise ValueError
        return v.strip().lower()

    return Parser(parse, " or ".join(options))


_BOOL = Parser(_to_bool, "true or false")
_TEXT = Parser(str.strip, "text")
_IDS = Parser(
    lambda v: tuple(int(x) for x in v.replace(" ", "").split(",") if x),
    "comma-separated Discord ids (numbers), e.g. 123456789012345678,234567890123456789",
)
_NAMES = Parser(
    lambda v: tuple(x.strip().lower() for x in v.split(",") if x.strip()),
    "comma-separated host names",
)


def setting(parser: Parser[T], default: T) -> T:
    """A field of `Settings`: its type is the parser's, its variable the field's name in capitals."""
    return dataclasses.field(default=default, metadata={"parser": parser})


@dataclass(frozen=True)
class Settings:
    """Every setting, typed. Defaults are the embedded, offline set-up."""

    discord_token: str = setting(_TEXT, "")
    discord_test_guild_id: int = setting(_int(0, 2**63 - 1), 0)
    discord_admin_role_ids: tuple[int, ...] = setting(_IDS, ())
    discord_admin_user_ids: tuple[int, ...] = setting(_IDS, ())
    discord_sharded: bool = setting(_BOOL, False)
    discord_message_content: bool = setting(_BOOL, True)
    feedback_db: str = setting(_TEXT, "")  # "": the per-user data folder (bot/paths.py)
    feedback_retention_days: int = setting(_int(0, 36_500), 180)
    chroma_path: str = setting(_TEXT, "")  # "": the per-user data folder (bot/paths.py)
    chroma_host: str = setting(_TEXT, "")
    chroma_port: int = setting(_int(1, 65535), 8000)
    chroma_ssl: bool = setting(_BOOL, False)
    lexical_path: str = setting(_TEXT, "")
    embedding_backend: str = setting(_choice("local", "openai"), "local")
    openai_embedding_model: str = setting(_TEXT, "text-embedding-3-small")
    embedding_threads: int = setting(_int(0, 64), 0)
    openai_api_key: str = setting(_TEXT, "")
    openai_base_url: str = setting(_TEXT, "")
    answer_mode: str = setting(_choice("auto", "extractive", "llm"), "auto")
    llm_model: str = setting(_TEXT, "gpt-4o-mini")
    llm_timeout: float = setting(_float(1, 600), 30.0)
    llm_max_retries: int = setting(_int(0, 10), 2)
    llm_json_mode: bool = setting(_BOOL, True)
    top_k: int = setting(_int(1, 50), 8)
    max_quotes: int = setting(_int(1, 10), 3)
    max_quote_chars: int = setting(_int(40, 1000), 300)
    max_question_chars: int = setting(_int(20, 4000), 1000)
    max_article_chars: int = setting(_int(1000, 5_000_000), 200_000)
    max_articles_per_server: int = setting(_int(1, 1_000_000), 1000)
    fetch_allow_hosts: tuple[str, ...] = setting(_NAMES, ())
    fetch_timeout: float = setting(_float(1, 120), 15.0)
    fetch_max_bytes: int = setting(_int(10_000, 100_000_000), 5_000_000)
    feed_poll_minutes: int = setting(_int(5, 1440), 30)
    max_feeds_per_server: int = setting(_int(1, 1000), 20)
    ask_cooldown_seconds: float = setting(_float(0, 3600), 10.0)
    ask_burst: int = setting(_int(1, 50), 3)
    max_questions_in_flight: int = setting(_int(1, 256), 8)
    log_level: str = setting(_choice("debug", "info", "warning", "error"), "info")

    def __post_init__(self) -> None:
        # Paths left unset live in the per-user data folder, worked out when the settings are made.
        from .paths import default_chroma_path, default_feedback_db

        if not self.chroma_path:
            object.__setattr__(self, "chroma_path", default_chroma_path())
        if not self.feedback_db:
            object.__setattr__(self, "feedback_db", default_feedback_db())

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env") -> Settings:
        """Settings from `.env` (if present) overridden by the environment; raises SettingsError."""
        raw: dict[str, str] = {}
        if dotenv_path and Path(dotenv_path).is_file():
            raw.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        raw.update(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in dataclasses.fields(cls):
            parser: Parser[object] = f.metadata["parser"]
            name = f.name.upper()
            text = raw.get(name, "")
            if text.strip() == "":
                continue  # unset or empty: the default
            try:
                values[f.name] = parser.parse(text)
            except ValueError:
                problems.append(f"{name}={text!r} is not valid: expected {parser.expects}.")
        settings = cls(**values)
        if settings.answer_mode == "llm" and not (settings.openai_api_key or settings.openai_base_url):
            problems.append("ANSWER_MODE=llm needs OPENAI_API_KEY (for OpenAI) or OPENAI_BASE_URL (for a local server).")
        base = settings.openai_base_url
        if base and not base.startswith(("http://", "https://")):
            problems.append(f"OPENAI_BASE_URL={base!r} is not valid: expected a URL starting with http:// or https://.")
        if problems:
            raise SettingsError("Invalid settings:\n  " + "\n  ".join(problems))
        return settings

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
