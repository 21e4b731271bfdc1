"""One newsbot bot in a process of its own, driven over stdin/stdout: for tests of several bot
processes sharing one store.

`python -m tests.bot.bot_process` starts the real `NewsBot` the way `bot run` does (settings from
the environment, the knowledge base opened by `setup_hook`: store, model, lexical index folder,
the shipped articles) against a loopback Discord stand-in of its own, holding the server (guild)
whose ids the first stdin line gives, so every process sees the same server. It then reads one
JSON command a line and answers each with one line `@@ {json}` on stdout (logs go to stderr):

- `{"op": "ask", "question": Q}`: `/ask` as the member; the answer's text, quote headings, flags;
- `{"op": "add", "title": T, "text": X}`: `/articles add` as the admin, then Confirm; what it said;
- `{"op": "remove", "article": ID}`: `/articles remove` as the admin, then Confirm;
- `{"op": "sides", "question": Q}`: the retriever's dense and BM25 sides asked directly, in this
  process (the article ids each returns, best first, over the server's and shipped articles);
- `{"op": "lexical"}`: this process's lexical index: its folder and what it has done;
- `{"op": "stop"}`: close the bot and exit.

`BotProcess` (below) is the test's end of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

PREFIX = "@@ "


# -- the bot's end ---------------------------------------------------------------------------

async def _serve() -> None:
    from bot.discord_app import configure_logging, make_bot
    from bot.settings import Settings
    from knowledge import SearchFilter
    from tests.bot.discord_standin import WEBHOOK_MESSAGE, ChannelSpec, GuildSpec, MemberSpec
    from tests.bot.harness import Harness, NewsStandin, custom_ids, opt

    started = time.monotonic()
    loop = asyncio.get_running_loop()
    spec = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    guild = GuildSpec(id=spec["guild"], name="Shared", owner_id=spec["admin"],
                      members=[MemberSpec(spec["admin"], "alice"), MemberSpec(spec["member"], "bob")],
                      channels=[ChannelSpec(spec["channel"], "general")])
    settings = Settings.load(dotenv_path=None)  # the environment, as `bot run` reads it
    configure_logging(settings.log_level)  # to stderr: stdout carries the replies
    standin = NewsStandin([guild])
    await standin.start()
    standin.patch()
    bot = make_bot(settings)  # no kb given: setup_hook opens it from the settings, as `bot run` does
    await standin.start_bot(bot, timeout=180)
    h = Harness(standin, bot, bot.kb, standin.guilds[guild.id])
    scopes = (str(guild.id), "global")

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(PREFIX + json.dumps(obj) + "\n")
        sys.stdout.flush()

    async def confirm(request: Any, message_id: int) -> str:
        mark = h.mark
        click = await h.click(custom_ids(request)[0], message_id)
        done = await h.standin.wait_for(lambda r: r.is_("PATCH", WEBHOOK_MESSAGE) and r.params["token"] == click["token"],
                                        timeout=60, since=mark)
        return str(done.content)

    async def run(cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd["op"]
        if op == "ask":
            payload = await h.slash("ask", [opt("question", cmd["question"])], user=h.member)
            said = await h.followup(payload, timeout=60)
            embed = (said.embeds or [{}])[0]
            return {"content": said.content or "", "description": embed.get("description", ""),
                    "quotes": [f["name"] for f in embed.get("fields", [])], "flags": said.flags or 0}
        if op == "add":
            payload = await h.slash("articles add", [opt("text", cmd["text"]), opt("title", cmd["title"])], user=h.admin)
            preview = await h.followup(payload, timeout=60)
            return {"said": await confirm(preview, int(preview.response["id"]))}
        if op == "remove":
            payload = await h.slash("articles remove", [opt("article", cmd["article"])], user=h.admin)
            ask = await h.callback(payload, timeout=60)
            return {"said": await confirm(ask, int(ask.response["resource"]["message"]["id"]))}
        if op == "sides":
            flt = SearchFilter(scopes=scopes)
            dense = bot.kb.retriever.dense(cmd["question"], 30, flt)
            bm25 = bot.kb.retriever.bm25(cmd["question"], 30, flt)
            return {"dense": [sc.chunk.article_id for sc, _ in dense], "bm25": [sc.chunk.article_id for sc, _ in bm25]}
        if op == "lexical":
            stats = bot.kb.lexical.stats
            return {"path": str(bot.kb.lexical.path.resolve()), "articles_indexed": stats.articles_indexed,
                    "articles_removed": stats.articles_removed, "rebuilds": stats.rebuilds,
                    "articles": sorted(a.id for a in bot.kb.list(list(scopes)))}
        raise ValueError(f"unknown op {op!r}")

    say({"ready": True, "seconds": round(time.monotonic() - started, 2), "pid": os.getpid()})
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or json.loads(line)["op"] == "stop":
                break
            try:
                say({"ok": True, **await run(json.loads(line))})
            except Exception as exc:  # the test reads the failure, the process carries on
                say({"ok": False, "error": f"{exc.__class__.__name__}: {exc}"})
    finally:
        await standin.stop()


# -- the test's end --------------------------------------------------------------------------

class BotProcess:
    """A bot process started with `env` on top of this one's environment (`CHROMA_HOST`,
    `LEXICAL_PATH`, ...), serving the server `guild`; `await call(op, **args)` returns its reply."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}

    async def start(self, guild: Any, *, timeout: float = 180.0) -> dict[str, Any]:
        root = Path(__file__).resolve().parents[2]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bot.bot_process", cwd=root, env={**os.environ, **self.env},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._log)
        spec = {"guild": guild.id, "admin": guild.members[0].id, "member": guild.members[1].id, "channel": guild.channels[0].id}
        self._send(spec)
        self.ready = await self._reply(timeout)
        return self.ready

    def _send(self, obj: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())

    async def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=max(0.1, left))
            except asyncio.TimeoutError:
                raise AssertionError(f"bot process gave no reply within {timeout:.0f}s; see {self.log_path}") from None
            if not line:
                raise AssertionError(f"bot process exited ({await self.proc.wait()}); see {self.log_path}")
            text = line.decode(errors="replace")
            if text.startswith(PREFIX):
                return json.loads(text[len(PREFIX):])

    async def call(self, op: str, *, timeout: float = 90.0, **args: Any) -> dict[str, Any]:
        self._send({"op": op, **args})
        out = await self._reply(timeout)
        assert out.get("ok"), f"{op} failed in the bot process: {out.get('error')}; see {self.log_path}"
        return out

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            try:
                self._send({"op": "stop"})
                await asyncio.wait_for(self.proc.wait(), timeout=20)
            except (asyncio.TimeoutError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()
        self._log.close()
        self.proc = None


if __name__ == "__main__":
    asyncio.run(_serve())
