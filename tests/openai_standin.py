"""A scripted OpenAI-compatible HTTP server for tests.

Job: let tests drive the real ``openai`` client (and the bot code built on it)
over real HTTP on 127.0.0.1, while deciding exactly what the "LLM" answers:
a reply, a JSON reply, an HTTP error, a slow answer, or a broken body.

The server runs in a background thread (``ThreadingHTTPServer``, one thread per
connection), so it serves sync and async tests alike and a slow (``delay``)
answer never blocks other requests.

Endpoints:

* ``POST /v1/chat/completions`` -- answers with the next scripted step, plain
  JSON or, when the request has ``"stream": true``, server-sent events in
  OpenAI's ``chat.completion.chunk`` format ending with ``data: [DONE]``.
* ``GET /v1/models`` -- lists ``standin.model``.
* ``POST /v1/embeddings`` -- deterministic unit vectors seeded by a SHA-256 of
  each input (see :func:`fake_embedding`); honours ``dimensions`` and
  ``encoding_format`` (the openai client asks for ``base64`` by default).
  Embeddings are not scripted: they never consume a step.

Usage::

    with OpenAIStandin() as llm:
        llm.script(status(429), reply_json({"answer": "yes"}))
        client = AsyncOpenAI(base_url=llm.base_url, api_key="test", max_retries=2)
        ...
        assert len(llm.requests) == 2

Steps (the script is a FIFO queue; when it is empty ``standin.default`` is used):

* :func:`reply` / :func:`reply_json` -- a normal completion;
* :func:`status` -- an HTTP error (429, 500, ...) with an OpenAI-style body;
* :func:`delay` -- sleep, then answer with another step (for client timeouts);
* :func:`malformed` -- a 200 whose body is not valid JSON (or any raw body);
* :func:`trickle` -- a 200 whose body arrives one byte at a time, slowly;
* any callable ``fn(request_json) -> step`` -- decide from the request itself.

If a callable step raises (e.g. a failed ``assert`` on the prompt) the client
gets a 500 and the exception is kept in ``standin.errors``; leaving the
``with`` block (or the pytest fixture) re-raises it, so it is not lost in
the client's retries.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import random
import re
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

__all__ = [
    "OpenAIStandin",
    "RecordedRequest",
    "Reply",
    "Status",
    "Delay",
    "Malformed",
    "Trickle",
    "Step",
    "StandinError",
    "reply",
    "reply_json",
    "status",
    "delay",
    "malformed",
    "trickle",
    "fake_embedding",
]


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Reply:
    """A successful chat completion whose message content is ``content``."""

    content: str
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Status:
    """An HTTP error response. ``body`` may be a dict/list (sent as JSON), a str
    (sent as is) or None (an OpenAI-style ``{"error": {...}}`` body)."""

    code: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` (without blocking other requests), then answer with
    ``then``; ``then=None`` means the standin's default step."""

    seconds: float
    then: Step | None = None


@dataclass(frozen=True)
class Malformed:
    """A 200 whose body is ``raw_text`` (meant to be invalid JSON). In a
    streamed request the text is sent as one SSE ``data:`` event instead."""

    raw_text: str
    content_type: str = "application/json"


@dataclass(frozen=True)
class Trickle:
    """A 200 with ``body`` (Content-Length announced up front) sent one byte every
    ``every`` seconds: each byte resets a client's read timeout, so only a bound
    on the whole call ends it."""

    body: bytes
    every: float = 1.0
    content_type: str = "application/json"


# A step is one of the dataclasses above, or fn(request_json) -> Step.
Step = Reply | Status | Delay | Malformed | Trickle | Callable[[Any], "Step"]


def reply(content: str, *, finish_reason: str = "stop") -> Reply:
    """A normal completion with message ``content`` (usage fields filled)."""
    return Reply(content, finish_reason)


def reply_json(obj: Any, *, finish_reason: str = "stop") -> Reply:
    """A normal completion whose content is ``json.dumps(obj)``."""
    return Reply(json.dumps(obj), finish_reason)


def status(code: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Status:
    """An HTTP error. A 429 without headers gets ``retry-after: 0`` and
    ``retry-after-ms: 1`` so the client retries at once instead of backing off."""
    if headers is None:
        headers = {"retry-after": "0", "retry-after-ms": "1"} if code == 429 else {}
    return Status(code, body, dict(headers))


def delay(seconds: float, then: Step | None = None) -> Delay:
    """Sleep ``seconds`` before answering with ``then`` (default step if None)."""
    return Delay(seconds, then)


def malformed(
    raw_text: str = '{"id": "chatcmpl-broken", "choices": [',
    *,
    content_type: str = "application/json",
) -> Malformed:
    """A 200 with a body that is not valid JSON. With the default JSON
    content type openai 3.x raises ``json.JSONDecodeError`` (not retried); with a
    non-JSON ``content_type`` it does not fail at all but returns the body as str."""
    return Malformed(raw_text, content_type)


def trickle(body: str | bytes, *, every: float = 1.0, content_type: str = "application/json") -> Trickle:
    """A body sent one byte every ``every`` seconds."""
    return Trickle(body.encode() if isinstance(body, str) else body, every, content_type)


class StandinError(AssertionError):
    """A scripted callable step raised while serving a request."""


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the standin saw it. ``headers`` keys are lower-case;
    ``json`` is None when the body was empty or not JSON."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes
    received_at: float

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


def fake_embedding(text: str | list[int], dim: int) -> list[float]:
    """The deterministic unit vector the standin returns for ``text``
    (a string or a token list), the same in every process."""
    key = text if isinstance(text, str) else json.dumps(text)
    seed = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    vec = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = sum(v * v for v in vec) ** 0.5 or 1.0
    return [v / norm for v in vec]


def _rough_tokens(text: str) -> int:
    """A crude token count (words and punctuation) for the usage fields."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def _prompt_text(request_json: Any) -> str:
    if not isinstance(request_json, dict):
        return ""
    parts: list[str] = []
    for message in request_json.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def _stream_pieces(content: str) -> list[str]:
    """Split content into word-sized pieces that join back to it exactly."""
    return re.findall(r"\S+\s*|\s+", content)


def _error_body(code: int) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Error"
    kind = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_exceeded",
    }.get(code, "server_error" if code >= 500 else "invalid_request_error")
    return {
        "error": {
            "message": f"standin: scripted {code} {phrase}",
            "type": kind,
            "param": None,
            "code": kind,
        }
    }


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, standin: OpenAIStandin) -> None:
        self.standin = standin
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) closes its socket while we sleep or
        # write; that is expected, not worth a traceback on stderr.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # includes ConnectionError, TimeoutError
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    server: _Server

    # -- plumbing

    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.conn_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output clean; everything is in standin.requests

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        rec = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            json=parsed,
            body=body,
            received_at=time.monotonic(),
        )
        self.server.standin._record(rec)
        return rec

    def _send_bytes(
        self, code: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, code: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send_bytes(code, json.dumps(obj).encode(), "application/json", headers)

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _sse(self, data: str) -> None:
        """Send one SSE event as one HTTP chunk, flushed at once."""
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def _end_sse(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- routes

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            model = self.server.standin.model
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": model, "object": "model", "created": 0, "owned_by": "standin"}],
                },
            )
        elif path in ("/health", "/v1/health"):
            self._send_json(200, {"status": "ok"})
        else:
            self._send_json(404, _error_body(404))

    def do_POST(self) -> None:  # noqa: N802
        rec = self._record()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/v1/chat/completions", "/chat/completions"):
            self._chat(rec)
        elif path in ("/v1/embeddings", "/embeddings"):
            self._embeddings(rec)
        else:
            self._send_json(404, _error_body(404))

    def _chat(self, rec: RecordedRequest) -> None:
        standin = self.server.standin
        step: Step | None = standin._next_step()
        request_json = rec.json if isinstance(rec.json, dict) else {}
        streamed = bool(request_json.get("stream"))
        for _ in range(100):  # resolve callables and delays into a final step
            if isinstance(step, Delay):
                if standin._stopping.wait(step.seconds):
                    return  # shutting down; the client is gone or about to be
                step = step.then if step.then is not None else standin.default
            elif callable(step):
                try:
                    step = step(rec.json)
                except BaseException as exc:  # noqa: BLE001 - surfaced via standin.errors
                    standin._fail(exc)
                    self._send_json(
                        500,
                        {
                            "error": {
                                "message": f"standin: callable step raised {exc!r}",
                                "type": "server_error",
                                "param": None,
                                "code": "standin_step_error",
                            }
                        },
                        {"x-should-retry": "false"},
                    )
                    return
            else:
                break
        if isinstance(step, Status):
            body = _error_body(step.code) if step.body is None else step.body
            if isinstance(body, (bytes, str)):
                raw = body.encode() if isinstance(body, str) else body
                self._send_bytes(step.code, raw, "text/plain; charset=utf-8", step.headers)
            else:
                self._send_json(step.code, body, step.headers)
        elif isinstance(step, Malformed):
            if streamed:
                self._start_sse()
                self._sse(step.raw_text)
                self._sse("[DONE]")
                self._end_sse()
            else:
                self._send_bytes(200, step.raw_text.encode(), step.content_type)
        elif isinstance(step, Trickle):
            self.send_response(200)
            self.send_header("Content-Type", step.content_type)
            self.send_header("Content-Length", str(len(step.body)))
            self.end_headers()
            for i in range(len(step.body)):
                self.wfile.write(step.body[i : i + 1])
                self.wfile.flush()
                if standin._stopping.wait(step.every):
                    return
        elif isinstance(step, Reply):
            if streamed:
                self._chat_stream(request_json, step)
            else:
                self._send_json(200, standin._completion(request_json, step))
        else:
            standin._fail(TypeError(f"not a standin step: {step!r}"))
            self._send_json(500, _error_body(500), {"x-should-retry": "false"})

    def _chat_stream(self, request_json: dict[str, Any], step: Reply) -> None:
        standin = self.server.standin
        full = standin._completion(request_json, step)
        include_usage = bool((request_json.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            obj: dict[str, Any] = {
                "id": full["id"],
                "object": "chat.completion.chunk",
                "created": full["created"],
                "model": full["model"],
                "system_fingerprint": full["system_fingerprint"],
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }
            if include_usage:
                obj["usage"] = None
            return json.dumps(obj)

        self._start_sse()
        self._sse(chunk({"role": "assistant", "content": ""}))
        for piece in _stream_pieces(step.content):
            self._sse(chunk({"content": piece}))
        self._sse(chunk({}, step.finish_reason))
        if include_usage:
            self._sse(
                json.dumps(
                    {
                        "id": full["id"],
                        "object": "chat.completion.chunk",
                        "created": full["created"],
                        "model": full["model"],
                        "system_fingerprint": full["system_fingerprint"],
                        "choices": [],
                        "usage": full["usage"],
                    }
                )
            )
        self._sse("[DONE]")
        self._end_sse()

    def _embeddings(self, rec: RecordedRequest) -> None:
        standin = self.server.standin
        req = rec.json if isinstance(rec.json, dict) else {}
        raw = req.get("input")
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            inputs: list[Any] = [raw]
        elif isinstance(raw, list) and raw:
            inputs = raw
        else:
            self._send_json(
                400,
                {
                    "error": {
                        "message": "'input' must be a non-empty string or array",
                        "type": "invalid_request_error",
                        "param": "input",
                        "code": None,
                    }
                },
            )
            return
        dim = int(req.get("dimensions") or standin.embedding_dim)
        as_base64 = req.get("encoding_format") == "base64"
        data = []
        for i, item in enumerate(inputs):
            vec = fake_embedding(item, dim)
            emb: Any = (
                base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode() if as_base64 else vec
            )
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(_rough_tokens(x) if isinstance(x, str) else len(x) for x in inputs)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": req.get("model") or standin.embedding_model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


# --------------------------------------------------------------------------- public


class OpenAIStandin:
    """A scripted OpenAI-compatible server on 127.0.0.1 (random free port).

    ``start()``/``stop()`` or use it as a context manager. Thread-safe:
    ``script`` may be called while requests are in flight.
    """

    def __init__(
        self,
        *,
        default: Step | None = None,
        model: str = "standin-model",
        embedding_model: str = "standin-embedding",
        embedding_dim: int = 16,
    ) -> None:
        self.default: Step = default if default is not None else reply("standin default reply")
        self.model = model
        self.embedding_model = embedding_model
        self.embedding_dim = embedding_dim
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()
        self._ids = count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> OpenAIStandin:
        if self._server is not None:
            raise RuntimeError("OpenAIStandin already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"openai-standin:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed answers and close open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with server.conn_lock:
            conns = list(server.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIStandin:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.stop()
        if exc_type is None:
            self.raise_errors()

    def raise_errors(self) -> None:
        """Re-raise (as :class:`StandinError`) the first exception a callable step raised."""
        if self.errors:
            first = self.errors[0]
            raise StandinError(f"a scripted step failed while serving: {first!r}") from first

    # -- addresses

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("OpenAIStandin is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:PORT/v1`` -- pass it to ``AsyncOpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting

    def script(self, *steps: Step) -> OpenAIStandin:
        """Append steps to the queue; each chat completion request consumes one."""
        with self._lock:
            self._steps.extend(steps)
        return self

    @property
    def pending(self) -> int:
        """Scripted steps not consumed yet."""
        with self._lock:
            return len(self._steps)

    def reset(self) -> None:
        """Forget scripted steps, recorded requests and errors."""
        with self._lock:
            self._steps.clear()
            self.requests.clear()
            self.errors.clear()

    # -- inspection

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path (without query) ends with ``path``."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0].endswith(path)]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/chat/completions")

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests were recorded (for sync callers)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {n} requests, got {len(self.requests)}")
            time.sleep(0.01)

    # -- internals used by the handler

    def _record(self, rec: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(rec)

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(exc)

    def _next_step(self) -> Step:
        with self._lock:
            return self._steps.popleft() if self._steps else self.default

    def _completion(self, request_json: dict[str, Any], step: Reply) -> dict[str, Any]:
        prompt_tokens = _rough_tokens(_prompt_text(request_json))
        completion_tokens = _rough_tokens(step.content)
        return {
            "id": f"chatcmpl-standin-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request_json.get("model") or self.model,
            "system_fingerprint": "fp_standin",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": step.content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": step.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
