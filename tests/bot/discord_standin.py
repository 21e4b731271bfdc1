"""A loopback stand-in for Discord's gateway and REST API, for tests.

Its job: let a test drive the *real* discord.py client through its *real* event path.
The stand-in plays Discord on 127.0.0.1 -- the gateway (HELLO, IDENTIFY, READY,
GUILD_CREATE, heartbeat ACKs, then whatever events the test injects) and the REST API
(every call the bot makes is recorded and answered with a realistic payload).  Nothing
in discord.py is mocked; ``patch()`` only redirects two URLs (``Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY``).

Typical use (or take the ``discord_standin`` fixture from ``tests/bot/conftest.py``)::

    async with DiscordStandin() as standin:            # start() + patch() ... stop()
        await standin.start_bot(bot)                     # bot.start("fake-token"), wait for on_ready
        guild, channel, alice = standin.default_ids()
        await standin.send_slash(guild, channel, alice, "ask", [{"name": "question", "type": 3, "value": "why?"}])
        req = await standin.wait_for_route("POST", FOLLOWUP)
        assert req.embeds[0]["title"] == "Answer"

Notes: gateway frames go out as uncompressed text -- discord.py asks for
``compress=zlib-stream`` (or zstd-stream) in the query string but only decompresses *binary*
frames. REST answers carry exactly ``Content-Type: application/json`` (discord.py compares it
verbatim) and generous ``X-RateLimit-*`` headers, so the client never sleeps. ``wait_for*``
return the first match among *all* recorded requests; pass ``since=len(standin.requests)``
to wait for a new one.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import discord
import discord.http
import yarl
from aiohttp import WSMsgType, web
from discord.gateway import DiscordWebSocket

log = logging.getLogger(__name__)

# Route templates (paths below /api/v10), handy in ``wait_for_route`` and ``RecordedRequest.route``.
CALLBACK = "/interactions/{interaction_id}/{token}/callback"
FOLLOWUP = "/webhooks/{application_id}/{token}"
WEBHOOK_MESSAGE = "/webhooks/{application_id}/{token}/messages/{message_id}"
CHANNEL_MESSAGES = "/channels/{channel_id}/messages"
CHANNEL_MESSAGE = "/channels/{channel_id}/messages/{message_id}"
MESSAGE_THREADS = "/channels/{channel_id}/messages/{message_id}/threads"
GLOBAL_COMMANDS = "/applications/{application_id}/commands"
GUILD_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"

DISCORD_EPOCH_MS = 1420070400000
ALL_PERMISSIONS = discord.Permissions.all().value
DEFAULT_PERMISSIONS = discord.Permissions.text().value | discord.Permissions(view_channel=True).value
MESSAGE_CONTENT_INTENT = 1 << 15
EPHEMERAL, LOADING = 1 << 6, 1 << 7
THREAD_TYPES = (10, 11, 12)
_counter = itertools.count(1)


def snowflake() -> int:
    """A fresh, time-based Discord id (always 18+ digits, so ``<@id>`` mention regexes match)."""
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0x3FFFFF)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


# --------------------------------------------------------------------------- specs


@dataclass
class RoleSpec:
    id: int
    name: str
    permissions: int = 0
    position: int = 1

    def payload(self) -> dict:
        return {"id": str(self.id), "name": self.name, "permissions": str(self.permissions),
                "position": self.position, "color": 0, "hoist": False, "managed": False,
                "mentionable": False, "flags": 0, "icon": None, "unicode_emoji": None}


@dataclass
class MemberSpec:
    id: int
    name: str
    roles: list[int] = field(default_factory=list)
    bot: bool = False
    permissions: int | None = None  # overrides the computed value sent in interactions

    def user(self) -> dict:
        return {"id": str(self.id), "username": self.name, "global_name": self.name,
                "discriminator": "0", "avatar": None, "bot": self.bot, "public_flags": 0}

    def member(self, *, with_user: bool = True) -> dict:
        data = {"roles": [str(r) for r in self.roles], "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False, "mute": False, "flags": 0, "nick": None, "pending": False, "avatar": None}
        return {**data, "user": self.user()} if with_user else data


@dataclass
class ChannelSpec:
    id: int
    name: str
    type: int = 0  # 0 text, 4 category, 5 news, 11 public thread, 15 forum
    parent_id: int | None = None
    owner_id: int | None = None  # threads only
    position: int = 0

    def payload(self, guild_id: int) -> dict:
        data = {"id": str(self.id), "name": self.name, "type": self.type, "guild_id": str(guild_id),
                "position": self.position, "permission_overwrites": [], "nsfw": False, "topic": None,
                "parent_id": str(self.parent_id) if self.parent_id else None,
                "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}
        if self.type in THREAD_TYPES:
            data.update(owner_id=str(self.owner_id or 0), message_count=0, member_count=1,
                        total_message_sent=0, thread_metadata={
                            "archived": False, "auto_archive_duration": 1440,
                            "archive_timestamp": _now(), "locked": False})
        return data


@dataclass
class GuildSpec:
    id: int
    name: str
    owner_id: int
    members: list[MemberSpec] = field(default_factory=list)
    channels: list[ChannelSpec] = field(default_factory=list)
    roles: list[RoleSpec] = field(default_factory=list)
    everyone_permissions: int = DEFAULT_PERMISSIONS

    def member(self, user_id: int) -> MemberSpec:
        for m in self.members:
            if m.id == user_id:
                return m
        raise KeyError(f"user {user_id} is not a member of guild {self.id} ({self.name})")

    def permissions_of(self, member: MemberSpec) -> int:
        if member.permissions is not None:
            return member.permissions
        if member.id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.everyone_permissions
        for role in self.roles:
            if role.id in member.roles:
                value |= role.permissions
        return ALL_PERMISSIONS if value & discord.Permissions(administrator=True).value else value

    def payload(self) -> dict:
        everyone = RoleSpec(self.id, "@everyone", self.everyone_permissions, position=0)
        return {
            "id": str(self.id), "name": self.name, "owner_id": str(self.owner_id), "icon": None,
            "unavailable": False, "large": False, "member_count": len(self.members),
            "joined_at": _now(), "features": [], "preferred_locale": "en-US", "premium_tier": 0,
            "verification_level": 0, "default_message_notifications": 0, "mfa_level": 0,
            "explicit_content_filter": 0, "nsfw_level": 0, "afk_timeout": 300,
            "roles": [everyone.payload()] + [r.payload() for r in self.roles],
            "members": [m.member() for m in self.members],
            "channels": [c.payload(self.id) for c in self.channels if c.type not in THREAD_TYPES],
            "threads": [c.payload(self.id) for c in self.channels if c.type in THREAD_TYPES],
            "emojis": [], "stickers": [], "presences": [], "voice_states": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        }


def default_guild() -> GuildSpec:
    """One guild, one text channel ``#general``, owner ``alice`` and member ``bob``."""
    return GuildSpec(
        id=200000000000000001, name="Test Guild", owner_id=400000000000000001,
        members=[MemberSpec(400000000000000001, "alice"), MemberSpec(400000000000000002, "bob")],
        channels=[ChannelSpec(300000000000000001, "general")],
    )


# --------------------------------------------------------------------------- records


@dataclass
class RecordedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One REST call the bot made. ``json`` is the JSON body or a multipart body's ``payload_json``."""

    method: str
    path: str  # below /api/v10, e.g. "/channels/123/messages"
    query: dict[str, str]
    json: Any = None
    files: list[RecordedFile] = field(default_factory=list)
    route: str | None = None  # matched template, e.g. CHANNEL_MESSAGES; None for unknown routes
    params: dict[str, str] = field(default_factory=dict)
    status: int = 200
    response: Any = None

    def is_(self, method: str, route: str) -> bool:
        return self.method == method and self.route == route

    @property
    def payload(self) -> dict:
        """The message-ish part: ``json["data"]`` for interaction callbacks, else ``json``."""
        body = self.json if isinstance(self.json, dict) else {}
        return (body.get("data") or {}) if self.route == CALLBACK else body

    @property
    def callback_type(self) -> int | None:
        return self.json.get("type") if self.route == CALLBACK else None

    content = property(lambda self: self.payload.get("content"))
    embeds = property(lambda self: self.payload.get("embeds") or [])
    components = property(lambda self: self.payload.get("components") or [])
    allowed_mentions = property(lambda self: self.payload.get("allowed_mentions"))
    flags = property(lambda self: self.payload.get("flags", 0))


@dataclass
class _Session:
    ws: web.WebSocketResponse
    query: dict[str, str]
    shard: tuple[int, int] = (0, 1)
    intents: int = 0
    seq: int = 0
    identified: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def owns(self, guild_id: int | None) -> bool:
        return guild_id is None or (guild_id >> 22) % self.shard[1] == self.shard[0]


def _compile(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(regex + "$")


def _error(status: int, code: int, message: str) -> tuple[int, dict]:
    return status, {"message": message, "code": code}


# --------------------------------------------------------------------------- the stand-in


class DiscordStandin:
    """Discord's gateway + REST API on a random loopback port. See the module docstring."""

    def __init__(self, guilds: list[GuildSpec] | None = None, *, bot_user: MemberSpec | None = None,
                 heartbeat_interval_ms: int = 41250, shard_count: int = 1) -> None:
        self.bot = bot_user or MemberSpec(100000000000000001, "newsbot", bot=True)
        self.application_id = self.bot.id
        # copies: the stand-in adds the bot and new threads to its guilds
        self.guilds: dict[int, GuildSpec] = {g.id: copy.deepcopy(g) for g in (guilds or [default_guild()])}
        for guild in self.guilds.values():
            if all(m.id != self.bot.id for m in guild.members):
                guild.members.append(self.bot)
        self.heartbeat_interval_ms = heartbeat_interval_ms  # read when a bot connects
        self.shard_count = shard_count
        self.requests: list[RecordedRequest] = []
        self.messages: dict[int, dict] = {}  # every message either side created, by id
        self.commands: dict[int | None, list[dict]] = {}  # synced commands; key None = global
        self.interactions: dict[str, dict] = {}  # token -> {"payload", "responded", "original_id"}
        self.attachments: dict[str, tuple[str, bytes]] = {}  # "id/filename" -> (content type, bytes)
        self.identifies: list[dict] = []
        self.heartbeats_acked = 0
        self.sessions: list[_Session] = []
        self.url = ""
        self._changed = asyncio.Condition()
        self._bots: list[tuple[discord.Client, asyncio.Task]] = []
        self._saved: tuple[str, yarl.URL] | None = None
        self._runner: web.AppRunner | None = None
        self._routes = [(m, t, _compile(t), h) for m, t, h in self._route_table()]

    # ---- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._gateway)
        app.router.add_get("/attachments/{key:.+}", self._serve_attachment)
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/"

    def patch(self) -> None:
        """Point discord.py's REST base and default gateway at this stand-in (undo: ``unpatch``)."""
        if self._saved is None:
            self._saved = (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = f"{self.url}/api/v10"
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    def unpatch(self) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def stop(self) -> None:
        """Close bots started with ``start_bot``, the gateway sockets and the server; unpatch."""
        for bot, task in self._bots:
            if not bot.is_closed():
                await bot.close()
            try:
                await asyncio.wait_for(task, timeout=5)
            except Exception:
                log.exception("stand-in: bot task ended with an error")
        for session in self.sessions:
            if not session.ws.closed:
                await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.unpatch()

    async def __aenter__(self) -> DiscordStandin:
        await self.start()
        self.patch()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start_bot(self, bot: discord.Client, token: str = "fake-token", *,
                        timeout: float = 10.0, fast_ready: bool = True) -> asyncio.Task:
        """Run ``bot.start(token)`` in a task and wait for on_ready. ``fast_ready`` cuts discord.py's
        2 s wait for further GUILD_CREATEs (``guild_ready_timeout``) to 0.1 s."""
        if fast_ready:
            bot._connection.guild_ready_timeout = min(bot._connection.guild_ready_timeout, 0.1)
        task = asyncio.create_task(bot.start(token), name="discord-standin-bot")
        self._bots.append((bot, task))
        await self.wait_ready(bot, timeout=timeout)
        return task

    async def wait_ready(self, bot: discord.Client, timeout: float = 10.0) -> None:
        """Wait until ``bot`` fired on_ready and knows every guild (re-raises a crashed bot task)."""
        if not bot.is_ready():
            ready = asyncio.ensure_future(self._until_ready(bot, timeout))
            tasks = {t for b, t in self._bots if b is bot}
            done, _ = await asyncio.wait({ready, *tasks}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in tasks & done:
                if not task.cancelled() and task.exception() is not None:
                    ready.cancel()
                    raise task.exception()
            if ready not in done:
                ready.cancel()
                raise AssertionError(f"bot not ready after {timeout}s; {self.describe()}")
            ready.result()
        missing = [g for g in self.guilds if bot.get_guild(g) is None]
        assert not missing, f"bot is ready but does not know guilds {missing}"

    async def _until_ready(self, bot: discord.Client, timeout: float) -> None:
        # bot.wait_until_ready() only works once login() gave the client its loop, which
        # happens before its first REST call (GET /users/@me) notifies us.
        await self.wait_until(lambda: isinstance(bot.loop, asyncio.AbstractEventLoop), timeout, "bot login")
        await bot.wait_until_ready()

    async def stop_bot(self, bot: discord.Client) -> None:
        await bot.close()
        for b, task in self._bots:
            if b is bot:
                await asyncio.wait_for(task, timeout=5)

    # ---- waiting on what the bot did

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, condition: Callable[[], Any], timeout: float = 5.0,
                         what: str = "condition") -> Any:
        """Wait until ``condition()`` is truthy (re-checked on every request / heartbeat); return it."""
        async with self._changed:
            try:
                return await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except asyncio.TimeoutError:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"{self.describe()}") from None

    async def wait_for(self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0,
                       *, since: int = 0) -> RecordedRequest:
        """The first recorded request (index >= ``since``) matching ``predicate``, waiting if needed."""
        return await self.wait_until(lambda: next(iter(self.find(predicate, since=since)), None),
                                     timeout, what="a matching request")

    async def wait_for_route(self, method: str, route: str, timeout: float = 5.0, *,
                             since: int = 0) -> RecordedRequest:
        return await self.wait_for(lambda r: r.is_(method, route), timeout, since=since)

    def find(self, predicate: Callable[[RecordedRequest], bool], *, since: int = 0) -> list[RecordedRequest]:
        return [r for r in self.requests[since:] if predicate(r)]

    def describe(self) -> str:
        lines = [f"  {r.method} {r.path} -> {r.status}" + ("" if r.route else " (unknown route)")
                 for r in self.requests]
        return "recorded requests:\n" + ("\n".join(lines) or "  (none)")

    # ---- gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = _Session(ws, dict(request.query))
        self.sessions.append(session)
        await self._send(session, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await self._on_op(session, json.loads(msg.data))
        return ws

    async def _send(self, session: _Session, frame: dict) -> None:
        async with session.lock:
            if frame.get("op") == 0:
                session.seq += 1
                frame["s"] = session.seq
            await session.ws.send_str(json.dumps({"s": None, "t": None, **frame}))

    async def _on_op(self, session: _Session, frame: dict) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:  # HEARTBEAT
            await self._send(session, {"op": 11})
            self.heartbeats_acked += 1
            await self._notify()
        elif op == 2:  # IDENTIFY
            await self._identify(session, data)
        else:  # presence/voice updates; RESUME and member requests are not needed (no reconnects,
            # and member_count == len(members) means discord.py never asks for chunks)
            log.debug("stand-in: ignoring gateway op %s", op)

    async def _identify(self, session: _Session, data: dict) -> None:
        self.identifies.append(data)
        session.intents = data.get("intents", 0)
        session.shard = tuple(data.get("shard", (0, 1)))
        session.identified = True
        guilds = [g for g in self.guilds.values() if session.owns(g.id)]
        ready = {"v": 10, "user": {**self.bot.user(), "verified": True, "mfa_enabled": False, "flags": 0},
                 "application": {"id": str(self.application_id), "flags": 0},
                 "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                 "session_id": f"standin-{snowflake()}", "resume_gateway_url": self.gateway_url,
                 "private_channels": [], "relationships": [], "presences": []}
        if "shard" in data:
            ready["shard"] = list(session.shard)
        await self._send(session, {"op": 0, "t": "READY", "d": ready})
        for guild in guilds:
            await self._send(session, {"op": 0, "t": "GUILD_CREATE", "d": guild.payload()})
        await self._notify()

    async def dispatch(self, event: str, data: dict, guild_id: int | None = None) -> None:
        """Send a gateway DISPATCH to every identified session (of the shard owning ``guild_id``)."""
        targets = [s for s in self.sessions if s.identified and not s.ws.closed and s.owns(guild_id)]
        if not targets:
            raise RuntimeError(f"no connected bot to receive {event}; start it with start_bot() first")
        for session in targets:
            await self._send(session, {"op": 0, "t": event, "d": data})

    # ---- injecting events

    def default_ids(self) -> tuple[int, int, int]:
        """(guild id, first text channel id, first non-bot member id) of the first guild."""
        guild = next(iter(self.guilds.values()))
        channel = next(c for c in guild.channels if c.type == 0)
        member = next(m for m in guild.members if not m.bot)
        return guild.id, channel.id, member.id

    def channel(self, channel_id: int) -> tuple[GuildSpec, ChannelSpec]:
        for guild in self.guilds.values():
            for channel in guild.channels:
                if channel.id == channel_id:
                    return guild, channel
        raise KeyError(f"unknown channel {channel_id}")

    def _has_channel(self, channel_id: int) -> bool:
        return any(c.id == channel_id for g in self.guilds.values() for c in g.channels)

    def add_attachment(self, filename: str, data: bytes, content_type: str = "text/plain") -> dict:
        """Serve ``data`` at ``{url}/attachments/...``; returns an attachment payload."""
        attachment_id = snowflake()
        key = f"{attachment_id}/{filename}"
        self.attachments[key] = (content_type, data)
        url = f"{self.url}/attachments/{key}"
        return {"id": str(attachment_id), "filename": filename, "size": len(data), "url": url,
                "proxy_url": url, "content_type": content_type}

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        content_type, data = self.attachments.get(request.match_info["key"], (None, None))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type=content_type)

    def _mentions(self, guild: GuildSpec, content: str, mentions: list | None) -> list[dict]:
        ids = ([int(x) for x in re.findall(r"<@!?(\d+)>", content)] if mentions is None
               else [getattr(m, "id", m) if not isinstance(m, dict) else int(m["id"]) for m in mentions])
        found = [m for m in guild.members if m.id in ids]
        return [{**m.user(), "member": m.member(with_user=False)} for m in found]

    async def send_message(self, guild_id: int, channel_id: int, author_id: int, content: str = "", *,
                           mentions: list | None = None, reply_to: int | None = None,
                           attachments: list[dict] = (), embeds: list[dict] = ()) -> dict:
        """Inject MESSAGE_CREATE. ``mentions`` (ids, MemberSpecs, user dicts) defaults to the
        ``<@id>`` mentions in ``content``. Like Discord, content/embeds/attachments are blanked
        unless the bot has the message_content intent or is mentioned."""
        guild = self.guilds[guild_id]
        author = guild.member(author_id)
        msg = {"id": str(snowflake()), "channel_id": str(channel_id), "guild_id": str(guild_id),
               "type": 0, "author": author.user(), "member": author.member(with_user=False),
               "content": content, "embeds": list(embeds), "attachments": list(attachments),
               "components": [], "mentions": self._mentions(guild, content, mentions),
               "mention_roles": [], "mention_everyone": False, "pinned": False, "tts": False,
               "flags": 0, "timestamp": _now(), "edited_timestamp": None, "nonce": None}
        if reply_to is not None:
            msg.update(type=19, message_reference={"type": 0, "message_id": str(reply_to),
                                                   "channel_id": str(channel_id), "guild_id": str(guild_id)},
                       referenced_message=self.messages.get(reply_to))
        self.messages[int(msg["id"])] = msg
        sent = dict(msg)
        if not self._can_read(guild_id, msg):
            sent.update(content="", embeds=[], attachments=[], components=[])
        await self.dispatch("MESSAGE_CREATE", sent, guild_id)
        return msg

    def _can_read(self, guild_id: int, msg: dict) -> bool:
        session = next((s for s in self.sessions if s.identified and not s.ws.closed and s.owns(guild_id)), None)
        return bool(session and (session.intents & MESSAGE_CONTENT_INTENT
                                 or any(m["id"] == str(self.bot.id) for m in msg["mentions"])
                                 or msg["author"]["id"] == str(self.bot.id)))

    async def create_thread(self, guild_id: int, parent_id: int, name: str, owner_id: int | None = None,
                            *, thread_id: int | None = None) -> dict:
        """Add a public thread to the guild and dispatch THREAD_CREATE; returns the channel payload."""
        guild = self.guilds[guild_id]
        spec = ChannelSpec(thread_id or snowflake(), name, 11, parent_id, owner_id or self.bot.id)
        guild.channels.append(spec)
        payload = {**spec.payload(guild_id), "newly_created": True}
        await self.dispatch("THREAD_CREATE", payload, guild_id)
        return spec.payload(guild_id)

    async def send_interaction(self, type_: int, guild_id: int, channel_id: int, user_id: int,
                               data: dict, *, message: dict | int | None = None,
                               locale: str = "en-US") -> dict:
        """Inject INTERACTION_CREATE of any type; returns the payload (``id``, ``token``...)."""
        guild = self.guilds[guild_id]
        member = guild.member(user_id)
        payload = {
            "id": str(snowflake()), "application_id": str(self.application_id), "type": type_,
            "data": data, "guild_id": str(guild_id), "channel_id": str(channel_id),
            "channel": self.channel(channel_id)[1].payload(guild_id),
            "member": {**member.member(), "permissions": str(guild.permissions_of(member))},
            "app_permissions": str(guild.permissions_of(self.bot)), "token": f"standin-{snowflake()}",
            "version": 1, "locale": locale, "guild_locale": "en-US", "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)}, "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = self.messages[message] if isinstance(message, int) else message
        self.interactions[payload["token"]] = {"payload": payload, "responded": False, "original_id": None}
        await self.dispatch("INTERACTION_CREATE", payload, guild_id)
        return payload

    def find_command(self, name: str, guild_id: int | None = None, type_: int = 1) -> dict | None:
        """A synced command by name: the guild's own first, then the global one."""
        for key in (guild_id, None):
            for command in self.commands.get(key, []):
                if command["name"] == name and command.get("type", 1) == type_:
                    return command
        return None

    def _command_data(self, guild_id: int, name: str, options: list[dict] | None, type_: int) -> dict:
        top, *path = name.split()
        options = list(options or [])
        for depth, part in enumerate(reversed(path)):  # "news file read" -> group "file", sub "read"
            options = [{"type": 1 if depth == 0 else 2, "name": part, "options": options}]
        resolved: dict[str, dict[str, dict]] = {}
        kinds = {11: "attachments", 8: "roles", 7: "channels"}

        def resolve(opts: list[dict]) -> list[dict]:
            out = []
            for opt in opts:
                opt = dict(opt)
                if opt.get("type") in kinds and isinstance(opt.get("value"), dict):
                    resolved.setdefault(kinds[opt["type"]], {})[opt["value"]["id"]] = opt["value"]
                    opt["value"] = opt["value"]["id"]
                if "options" in opt:
                    opt["options"] = resolve(opt["options"])
                out.append(opt)
            return out

        data = {"name": top, "type": type_, "options": resolve(options)}
        command = self.find_command(top, guild_id, type_)
        data["id"] = command["id"] if command else str(snowflake())
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    async def send_slash(self, guild_id: int, channel_id: int, user_id: int, name: str,
                         options: list[dict] | None = None, **kw: Any) -> dict:
        """Invoke slash command ``name`` ("cmd", "cmd sub" or "cmd group sub"). An attachment option
        (type 11) may carry an ``add_attachment()`` dict as its value, a role (8) or channel (7)
        option its payload dict (``RoleSpec.payload()``, ``ChannelSpec.payload()`` plus "permissions");
        it goes into ``resolved``."""
        data = self._command_data(guild_id, name, options, 1)
        return await self.send_interaction(2, guild_id, channel_id, user_id, data, **kw)

    async def send_autocomplete(self, guild_id: int, channel_id: int, user_id: int, name: str,
                                options: list[dict], **kw: Any) -> dict:
        """Autocomplete (type 4); mark the option being typed with ``"focused": True``."""
        data = self._command_data(guild_id, name, options, 1)
        return await self.send_interaction(4, guild_id, channel_id, user_id, data, **kw)

    async def send_component(self, guild_id: int, channel_id: int, user_id: int, custom_id: str, *,
                             message: dict | int, component_type: int = 2,
                             values: list[str] | None = None, **kw: Any) -> dict:
        """Click a button (or pick ``values`` in a select) on ``message`` (payload or stored id)."""
        data = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        return await self.send_interaction(3, guild_id, channel_id, user_id, data, message=message, **kw)

    async def send_modal_submit(self, guild_id: int, channel_id: int, user_id: int, custom_id: str,
                                values: dict[str, str], **kw: Any) -> dict:
        """Submit modal ``custom_id`` with text input ``values`` keyed by their custom_id."""
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
                for k, v in values.items()]
        data = {"custom_id": custom_id, "components": rows}
        return await self.send_interaction(5, guild_id, channel_id, user_id, data, **kw)

    # ---- REST

    def _route_table(self) -> list[tuple[str, str, Callable]]:
        no_content = self._no_content
        return [
            ("GET", "/users/@me", lambda r: (200, {**self.bot.user(), "verified": True, "flags": 0})),
            ("GET", "/oauth2/applications/@me", self._application),
            ("GET", "/gateway/bot", lambda r: (200, {"url": self.gateway_url, "shards": self.shard_count,
                                                   "session_start_limit": {"total": 1000, "remaining": 999,
                                                                           "reset_after": 0, "max_concurrency": 1}})),
            ("PUT", GLOBAL_COMMANDS, self._put_commands),
            ("GET", GLOBAL_COMMANDS, lambda r: (200, self.commands.get(None, []))),
            ("PUT", GUILD_COMMANDS, self._put_commands),
            ("GET", GUILD_COMMANDS, lambda r: (200, self.commands.get(int(r.params["guild_id"]), []))),
            ("POST", CALLBACK, self._callback),
            ("POST", FOLLOWUP, self._followup),
            *((m, WEBHOOK_MESSAGE, self._webhook_message) for m in ("GET", "PATCH", "DELETE")),
            ("POST", CHANNEL_MESSAGES, self._create_message),
            *((m, CHANNEL_MESSAGE, lambda r: self._message_op(r, int(r.params["message_id"])))
              for m in ("GET", "PATCH", "DELETE")),
            ("POST", "/channels/{channel_id}/typing", no_content),
            ("POST", MESSAGE_THREADS, self._create_thread),
            ("POST", "/channels/{channel_id}/threads", self._create_thread),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}", no_content),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}", no_content),
            ("GET", "/channels/{channel_id}", self._get_channel),
        ]

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        req = RecordedRequest(request.method, path, dict(request.query))
        await self._read_body(request, req)
        for method, template, regex, handler in self._routes:
            match = regex.match(path)
            if method == request.method and match:
                req.route, req.params = template, match.groupdict()
                result = handler(req)
                req.status, req.response = await result if asyncio.iscoroutine(result) else result
                break
        else:
            log.warning("stand-in: unhandled route %s %s (answering with an empty success)", req.method, path)
            req.status, req.response = (204, None) if req.method in ("PUT", "DELETE") else (200, {})
        self.requests.append(req)
        await self._notify()
        headers = {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49",
                   "X-RateLimit-Reset": f"{time.time() + 60:.3f}", "X-RateLimit-Reset-After": "60.000",
                   "X-RateLimit-Bucket": f"standin-{req.route or path}"}
        if req.status == 204:
            return web.Response(status=204, headers=headers)
        # exactly "application/json": discord.py's json_or_text() compares the header verbatim,
        # so aiohttp's json_response ("application/json; charset=utf-8") would arrive as a str
        return web.Response(body=json.dumps(req.response).encode(), status=req.status,
                            headers=headers, content_type="application/json")

    @staticmethod
    async def _read_body(request: web.Request, req: RecordedRequest) -> None:
        if request.content_type == "multipart/form-data":
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    req.files.append(RecordedFile(name, value.filename, value.content_type, value.file.read()))
                elif name == "payload_json":
                    req.json = json.loads(value)
        elif request.can_read_body:
            raw = await request.read()
            try:
                req.json = json.loads(raw) if raw else None
            except ValueError:
                req.json = raw.decode(errors="replace")

    @staticmethod
    def _no_content(req: RecordedRequest) -> tuple[int, None]:
        return 204, None

    def _application(self, req: RecordedRequest) -> tuple[int, dict]:
        owner = next(iter(self.guilds.values())).owner_id
        owner_user = next((m.user() for g in self.guilds.values() for m in g.members if m.id == owner),
                          self.bot.user())
        return 200, {"id": str(self.application_id), "name": self.bot.name, "description": "", "icon": None,
                     "bot_public": True, "bot_require_code_grant": False, "owner": owner_user, "team": None,
                     "verify_key": "0" * 64, "flags": 0, "summary": "", "bot": self.bot.user(),
                     "interactions_endpoint_url": None, "redirect_uris": []}

    def _put_commands(self, req: RecordedRequest) -> tuple[int, list]:
        guild_id = int(req.params["guild_id"]) if "guild_id" in req.params else None
        known = {(c["name"], c.get("type", 1)): c["id"] for c in self.commands.get(guild_id, [])}
        stored = []
        for command in req.json or []:
            key = (command["name"], command.get("type", 1))
            stored.append({"description": "", **command, "type": key[1], "id": known.get(key) or str(snowflake()),
                           "application_id": str(self.application_id), "version": str(snowflake()),
                           **({"guild_id": str(guild_id)} if guild_id else {})})
        self.commands[guild_id] = stored
        return 200, stored

    def _new_message(self, channel_id: int, body: dict, files: list[RecordedFile], *,
                     interaction: dict | None = None, extra_flags: int = 0) -> dict:
        """A message the bot posts: stored, with mentions resolved as allowed_mentions permits."""
        guild, _ = self.channel(channel_id)
        msg = {"id": str(snowflake()), "channel_id": str(channel_id), "guild_id": str(guild.id), "type": 0,
               "author": self.bot.user(), "content": body.get("content") or "",
               "embeds": body.get("embeds") or [], "components": body.get("components") or [],
               "attachments": [self.add_attachment(f.filename, f.data, f.content_type) for f in files],
               "flags": (body.get("flags") or 0) | extra_flags, "mention_roles": [], "mention_everyone": False,
               "pinned": False, "tts": bool(body.get("tts")), "timestamp": _now(), "edited_timestamp": None}
        allowed = body.get("allowed_mentions")
        mentions = self._mentions(guild, msg["content"], None)
        if allowed is not None:
            users = {int(u) for u in allowed.get("users", [])}
            mentions = [m for m in mentions if "users" in allowed.get("parse", []) or int(m["id"]) in users]
        msg["mentions"] = mentions
        if ref := body.get("message_reference"):
            msg.update(type=19, message_reference={"channel_id": str(channel_id), **ref},
                       referenced_message=self.messages.get(int(ref["message_id"])))
        if interaction is not None:
            msg.update(webhook_id=str(self.application_id), application_id=str(self.application_id),
                       interaction_metadata={"id": interaction["id"], "type": interaction["type"],
                                             "user": interaction["member"]["user"],
                                             "authorizing_integration_owners": {}})
        self.messages[int(msg["id"])] = msg
        return msg

    def _edit_message(self, message_id: int, body: dict, files: list[RecordedFile]) -> tuple[int, dict]:
        msg = self.messages.get(message_id)
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in body:
                msg[key] = body[key] if body[key] is not None else empty
        if body.get("flags") is not None:
            msg["flags"] = body["flags"]
        if "attachments" in body or files:
            kept = {str(a.get("id")) for a in body.get("attachments") or []}
            msg["attachments"] = [a for a in msg["attachments"] if a["id"] in kept]
            msg["attachments"] += [self.add_attachment(f.filename, f.data, f.content_type) for f in files]
        msg["flags"] &= ~LOADING  # any edit completes a "thinking..." message
        msg["edited_timestamp"] = _now()
        return 200, msg

    def _create_message(self, req: RecordedRequest) -> tuple[int, dict]:
        if not self._has_channel(int(req.params["channel_id"])):
            return _error(404, 10003, "Unknown Channel")
        return 200, self._new_message(int(req.params["channel_id"]), req.json or {}, req.files)

    def _message_op(self, req: RecordedRequest, message_id: int | None) -> tuple[int, Any]:
        """GET / PATCH / DELETE of a stored message (channel or webhook route)."""
        if message_id not in self.messages:
            return _error(404, 10008, "Unknown Message")
        if req.method == "PATCH":
            return self._edit_message(message_id, req.json or {}, req.files)
        if req.method == "DELETE":
            del self.messages[message_id]
            return 204, None
        return 200, self.messages[message_id]

    async def _create_thread(self, req: RecordedRequest) -> tuple[int, dict]:
        parent_id = int(req.params["channel_id"])
        guild, _ = self.channel(parent_id)
        body = req.json or {}
        thread_id = int(req.params["message_id"]) if "message_id" in req.params else None  # same id as message
        thread = await self.create_thread(guild.id, parent_id, body.get("name", "thread"), self.bot.id,
                                          thread_id=thread_id)
        return 201, thread

    def _get_channel(self, req: RecordedRequest) -> tuple[int, dict]:
        if not self._has_channel(int(req.params["channel_id"])):
            return _error(404, 10003, "Unknown Channel")
        guild, channel = self.channel(int(req.params["channel_id"]))
        return 200, channel.payload(guild.id)

    # ---- interaction responses

    def _callback(self, req: RecordedRequest) -> tuple[int, dict]:
        inter = self.interactions.get(req.params["token"])
        if inter is None or inter["payload"]["id"] != req.params["interaction_id"]:
            return _error(404, 10062, "Unknown interaction")
        if inter["responded"]:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        inter["responded"] = True
        payload, kind, data = inter["payload"], req.json["type"], req.json.get("data") or {}
        channel_id = int(payload["channel_id"])
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):  # CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            body = data if kind == 4 else {"flags": data.get("flags", 0)}
            msg = self._new_message(channel_id, body, req.files, interaction=payload,
                                    extra_flags=LOADING if kind == 5 else 0)
            inter["original_id"], resource["message"] = int(msg["id"]), msg
        elif kind in (6, 7) and "message" in payload:  # (DEFERRED_)UPDATE_MESSAGE on a component's message
            inter["original_id"] = int(payload["message"]["id"])
            if kind == 7:
                self._edit_message(inter["original_id"], data, req.files)
            resource["message"] = self.messages.get(inter["original_id"], payload["message"])
        flags = resource.get("message", {}).get("flags", 0)
        return 200, {"interaction": {"id": payload["id"], "type": payload["type"],
                                     "response_message_id": str(inter["original_id"]) if inter["original_id"] else None,
                                     "response_message_loading": kind == 5,
                                     "response_message_ephemeral": bool(flags & EPHEMERAL)},
                     "resource": resource}

    def _followup(self, req: RecordedRequest) -> tuple[int, Any]:
        inter = self.interactions.get(req.params["token"])
        if inter is None or not inter["responded"]:
            return _error(404, 10015, "Unknown Webhook")
        original = self.messages.get(inter["original_id"] or 0)
        if original is not None and original["flags"] & LOADING:  # 1st follow-up fills "thinking..."
            _, msg = self._edit_message(int(original["id"]), {**(req.json or {}), "flags": None}, req.files)
        else:
            msg = self._new_message(int(inter["payload"]["channel_id"]), req.json or {}, req.files,
                                    interaction=inter["payload"])
        return (200, msg) if req.query.get("wait", "").lower() in ("1", "true") else (204, None)

    def _webhook_message(self, req: RecordedRequest) -> tuple[int, Any]:
        inter = self.interactions.get(req.params["token"])
        if inter is None:
            return _error(404, 10015, "Unknown Webhook")
        message_id = req.params["message_id"]
        return self._message_op(req, inter["original_id"] if message_id == "@original" else int(message_id))
