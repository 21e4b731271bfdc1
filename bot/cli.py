"""The command line: `python -m bot ask|list|show|remove|ingest|run` (also installed as `newsbot`).

A thin layer: it reads the settings once, opens the knowledge base, and renders what the core
returns. Errors are handled in one place, `NewsGroup.invoke`, and printed as one line
(`error: …`). Exit codes: 0 answered or honestly refused (a refusal is not an error), 1 an error
(a `KnowledgeError`: a missing article, a file that cannot be read, a store that cannot be
opened), 2 a usage error or invalid settings (a bad `--since` date, an unknown `--outlet`, an
invalid setting, no DISCORD_TOKEN for `run`).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from knowledge.errors import FilterError, KnowledgeError
from knowledge.models import GLOBAL_SCOPE, Answer, ArticleInfo

if TYPE_CHECKING:  # imported where used: the core brings numpy, chromadb and onnxruntime (~1 s)
    from knowledge import KnowledgeBase

from .feeds_command import feeds
from .logs import quiet_libraries
from .privacy_command import forget_user
from .settings import Settings, SettingsError
from .sources import quoted_in_text, sources_of

if TYPE_CHECKING:
    from knowledge.evaluation import Report

log = logging.getLogger(__name__)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_libraries()


class App:
    """What every command needs: the settings and, opened on first use, the knowledge base."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._kb: KnowledgeBase | None = None

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            from knowledge import KnowledgeBase  # the store, the model and numpy: only when needed

            self._kb = KnowledgeBase(self.settings.core())
            self._kb.sync_folder()
        return self._kb


class Failure(click.ClickException):
    """An error: `error: <reason>` on one line of stderr, exit code 1."""

    exit_code = 1

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class UsageFailure(click.UsageError):
    """A usage or settings error: `error: <reason>` on stderr (no usage text), exit code 2."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class NewsGroup(click.Group):
    """The command group with the one error handler for every command (sub-groups included):
    a `FilterError` is a usage error (exit 2), any other `KnowledgeError` an error (exit 1), and
    invalid settings exit 2. Anything else is a bug and keeps its traceback."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """`--help` ends with where the data is, so nobody wonders why a store looks empty."""
        try:
            settings = Settings.load(dotenv_path=ctx.params.get("env_file") or ".env")
        except SettingsError:
            return
        # written as is: a path wrapped over two lines cannot be copied
        formatter.write(f"\nData:\n  articles: {where_store_is(settings)}\n  feedback: {settings.feedback_db}\n")

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FilterError as exc:
            raise UsageFailure(f"--{exc.option}: {exc.reason}") from exc
        except SettingsError as exc:  # before KnowledgeError, its base: settings exit 2
            raise UsageFailure(exc.reason) from exc
        except KnowledgeError as exc:
            raise Failure(exc.reason) from exc


def where_store_is(settings: Settings) -> str:
    """The article store: a Chroma server's address, or the embedded store's folder."""
    if settings.chroma_host:
        return f"Chroma server {settings.chroma_host}:{settings.chroma_port} (CHROMA_HOST)"
    return f"{Path(settings.chroma_path).resolve()} (CHROMA_PATH)"


def check_since(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """`--since`, checked before anything is opened (a bad date is a usage error)."""
    from knowledge.retrieval import parse_since

    try:
        return parse_since(value)
    except FilterError as exc:
        raise UsageFailure(f"--since: {exc.reason}") from exc


@click.group(cls=NewsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env-file", default=".env", show_default=True, help="Read settings from this file too.")
@click.pass_context
def cli(ctx: click.Context, env_file: str) -> None:
    """newsbot: answers questions about news articles, quoting its sources word for word."""
    settings = Settings.load(dotenv_path=env_file)
    setup_logging("warning" if ctx.invoked_subcommand != "run" else settings.log_level)
    ctx.obj = App(settings)


def render_answer(answer: Answer) -> str:
    """The answer as text: the answer, any note, then one line per cited article (numbers, title,
    outlet, date) with its link and the quotes the answer text does not already hold."""
    lines = [answer.cited_text()]
    if answer.note:
        lines += ["", f"({answer.note})"]
    if answer.citations:
        lines += ["", "Sources:"]
        for s in sources_of(answer):
            numbers = " ".join(f"[{n}]" for n, _ in s.quotes)
            unchecked = "" if all(c.verified for _, c in s.quotes) else " (unverified)"
            lines.append(f"{numbers} {s.title}" + (f" — {s.meta}" if s.meta else "") + unchecked)
            if s.url:
                lines.append(f"    {s.url}")
            for n, c in s.quotes:
                if c.metadata:  # a fact from the article's byline or dateline, not a body quote
                    lines.append(f"    [{n}] from the article's {c.metadata_label}: {c.quote}")
                elif not quoted_in_text(answer, c):
                    lines.append(f"    [{n}] “{c.quote}”")
    return "\n".join(lines)


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--since", default="", callback=check_since, help="Only articles published on or after this date (YYYY-MM-DD).")
@click.option("--outlet", default="", help="Only articles from this outlet (any case).")
@click.pass_obj
def ask(app: App, question: str, as_json: bool, since: str, outlet: str) -> None:
    """Answer QUESTION from the loaded articles, with quoted sources."""
    import asyncio

    answer = asyncio.run(_ask(app, question, since=since, outlet=outlet))
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        click.echo(render_answer(answer))


async def _ask(app: App, question: str, *, since: str, outlet: str) -> Answer:
    kb = app.kb
    try:
        return await kb.ask(question, kb.search_filter((GLOBAL_SCOPE,), since=since, outlet=outlet))
    finally:
        await kb.aclose()


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_(app: App, as_json: bool) -> None:
    """List the loaded articles, newest first."""
    arts = app.kb.list()
    if as_json:
        click.echo(json.dumps([_meta(a) | {"words": a.word_count} for a in arts], ensure_ascii=False))
        return
    if not arts:
        click.echo("No articles loaded.")
    for a in arts:
        click.echo(f"{a.id}  {a.published or '----------'}  {a.source or '?'}  {a.title}")


def _meta(a: ArticleInfo) -> dict:
    return {"id": a.id, "title": a.title, "source": a.source, "published": a.published, "url": a.url}


@cli.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the stored text.")
@click.pass_obj
def show(app: App, article_id: str, as_json: bool) -> None:
    """Show an article's metadata and stored text."""
    a = app.kb.get(article_id)
    if as_json:
        click.echo(json.dumps(_meta(a) | {"text": a.text}, ensure_ascii=False))
        return
    for label, value in (("Title", a.title), ("Outlet", a.source), ("Published", a.published), ("Updated", a.updated),
                         ("URL", a.url), ("Editor", a.editor), ("Author", a.author), ("Language", a.language), ("Id", a.id)):
        if value:
            click.echo(f"{label}: {value}")
    click.echo("")
    click.echo(a.text)


@cli.command()
@click.argument("article_id")
@click.pass_obj
def remove(app: App, article_id: str) -> None:
    """Remove an article and everything indexed from it."""
    a = app.kb.remove(article_id)
    click.echo(f"Removed “{a.title}” ({a.id}).")


@cli.command()
@click.pass_obj
def check(app: App) -> None:
    """Check every stored article's chunks: remove what abandoned loads left and re-embed what
    is missing. Each start checks only the articles changed since the last check; this also
    finds chunks removed or added behind newsbot's back."""
    done = app.kb.check_store(full=True)
    click.echo(f"checked {len(app.kb.list()):,} articles: removed {done.chunks_removed:,} chunks of unfinished loads, "
               f"re-embedded {done.reindexed:,} articles short of chunks")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--source", default="", help="Outlet name for files that do not name one.")
@click.option("--scope", default=GLOBAL_SCOPE, show_default=True, help="Load into one Discord server's articles (its id).")
@click.pass_obj
def ingest(app: App, paths: tuple[str, ...], source: str, scope: str) -> None:
    """Load articles from files, folders, web addresses and `.urls` files (one address a line).

    Files: .md with front matter, .txt, .html, .pdf. Walked folders skip README, LICENSE,
    SOURCE.md and .jsonl files. Exits with 1 if anything failed.
    """
    from .ingest_command import run_ingest

    sys.exit(run_ingest(app.kb, list(paths), scope=scope, source=source))


@cli.command("eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (summary and every question).")
@click.option("--show-misses", is_flag=True, help="List the questions answered wrongly.")
@click.pass_obj
def eval_(app: App, questions: str, as_json: bool, show_misses: bool) -> None:
    """Measure answers on a JSON Lines file of questions (see the README for the format)."""
    import asyncio

    from knowledge.evaluation import load_questions

    report = asyncio.run(_evaluate(app, load_questions(questions)))
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        return
    labels = {
        "questions": "questions", "hit@1": "retrieval hit@1", "hit@5": "retrieval hit@5", "mrr@10": "retrieval MRR@10",
        "answer_accuracy": "answer contains the expected text", "quote_verification": "quotes verbatim in the stored text",
        "context_recall": "expected text in the passages retrieved", "refusal_accuracy": "unanswerable questions refused", "wrongful_refusals": "answerable questions refused",
        "latency_ms_p50": "latency p50 (ms)", "latency_ms_p95": "latency p95 (ms)",
    }
    summary = report.summary()
    for key, label in labels.items():
        value = summary.get(key)
        shown = "n/a" if value is None else (f"{value:.1%}" if isinstance(value, float) and key not in ("mrr@10",) and "ms" not in key else str(value))
        click.echo(f"{label:<38} {shown}")
    if show_misses:
        for r in report.results:
            if (r.answerable and not (r.answered and r.correct is not False)) or (not r.answerable and r.answered):
                click.echo(f"- {r.id}: {r.question}\n    → {r.answer.splitlines()[0][:160]}")


async def _evaluate(app: App, qs: list[dict]) -> Report:
    from knowledge.evaluation import evaluate

    kb = app.kb
    try:
        return await evaluate(kb, qs)
    finally:
        await kb.aclose()


@cli.command()
@click.pass_obj
def run(app: App) -> None:
    """Start the Discord bot (needs DISCORD_TOKEN)."""
    if not app.settings.discord_token:
        raise UsageFailure(
            "DISCORD_TOKEN is not set. Create a bot at https://discord.com/developers/applications "
            "(Bot → Reset Token) and put DISCORD_TOKEN=... in .env or the environment.",
        )
    from .discord_app import run_bot

    log.info("article store: %s; feedback: %s", where_store_is(app.settings), app.settings.feedback_db)
    run_bot(app.settings)


cli.add_command(feeds)
cli.add_command(forget_user)


def main() -> None:
    cli(prog_name="newsbot")


if __name__ == "__main__":
    main()
