"""`python -m bot forget-user USER_ID`: the command-line counterpart of `/newsbot forget-me`, for
an operator acting on a user's request (the bot may keep running: SQLite serialises the writes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported where used: asyncio and the feedback store cost `--help` ~100 ms
    from .cli import App
    from .feedback import Forgotten


@click.command("forget-user")
@click.argument("user_id", type=click.IntRange(min=1))
@click.pass_obj
def forget_user(app: App, user_id: int) -> None:
    """Delete what the bot stored about Discord user USER_ID: their questions with the answers to
    them, and their votes (in FEEDBACK_DB)."""
    import asyncio

    from .feedback import FeedbackStore

    async def work() -> Forgotten:
        store = await FeedbackStore.open(app.settings.feedback_db)
        try:
            return await store.forget_user(user_id)
        finally:
            await store.aclose()

    gone = asyncio.run(work())
    click.echo(f"Deleted {gone.questions} question(s) with their answers and {gone.votes} vote(s) of user {user_id}.")
