"""Start a real Chroma server (`chroma run`, installed with chromadb) on 127.0.0.1 for tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chroma_executable() -> str | None:
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma")


class ChromaProcess:
    """A `chroma run` server on a fixed port and folder that can be stopped and started again
    (an outage and its end, as an operator's restart makes them)."""

    def __init__(self, path: Path, port: int | None = None):
        self.path, self.port = path, port or free_port()
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 60.0) -> tuple[str, int]:
        exe = chroma_executable()
        if exe is None:
            raise RuntimeError("the `chroma` command (from the chromadb package) is not installed")
        self._log = open(self.path.parent / f"chroma-{self.port}.log", "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([exe, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}; see {self._log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return "127.0.0.1", self.port
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma run did not answer within {timeout:.0f}s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def run_chroma(path: Path, timeout: float = 60.0) -> Iterator[tuple[str, int]]:
    server = ChromaProcess(path)
    try:
        yield server.start(timeout)
    finally:
        server.stop()
