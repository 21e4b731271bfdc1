"""The store-wide decision lock.

The decision lock (`decision_lock`) is held while a load decides what to do (new, revision,
duplicate of a stored story) and does it, so that two processes loading copies of one story at
the same moment cannot both store them. Within a process a re-entrant thread lock serialises
threads. Across processes:

- **Embedded store:** `fcntl.flock` on `<store>/newsbot-decide.lock`. The kernel drops it when
  its holder exits, kill -9 included, so a crash never leaves the store locked.
- **Chroma server:** no shared file, so a lease record `decide` in the `newsbot-locks`
  collection, taken by Fischer's timed mutual exclusion: wait until the record is absent or
  its lease (DECIDE_LEASE_S) has run out, write it with a fresh token, wait DECIDE_SETTLE_S,
  read it back, and hold the lock only if the token is still ours. Chroma has no
  compare-and-swap; this is safe as long as a process writes the record within DECIDE_SETTLE_S
  of reading it free (two local calls: milliseconds), and the holder finishes within the lease
  (one article's writes, embedding done before the lock). A holder killed with -9 delays other
  loads by at most the lease, and not at all on its own machine, where its exit is seen
  (`_gone`: its process id no longer exists).

After taking the lock a process reads the change log at once (not up to CHANGE_POLL_S later),
so its decision sees every commit made under the lock before.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from .leases import _Leases
from .records import Record, RecordTable

log = logging.getLogger(__name__)

# The decision lock on a server: a holder writes one article's chunks and record under it (well
# under a second to a local server; embedding happens before), so 15 s is a stall, not a load.
DECIDE_LEASE_S = 15.0
DECIDE_SETTLE_S = 0.2  # Fischer's delay: far above one read and one write (~3 ms each)
DECIDE_POLL_S = 0.05
LOCKS = "newsbot-locks"
DECIDE_LOCK_FILE = "newsbot-decide.lock"
_decision_guard = threading.Lock()


def _gone(owner: str) -> bool:
    """Whether `owner` (host-pid-tag) was a process on this machine that has exited: its lock
    lease need not be waited out (a holder killed with -9 on the same machine as most of a
    server's clients)."""
    host, _, rest = owner.rpartition("-")[0].rpartition("-")
    pid = rest if host else ""
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


class _DecisionLock:
    """One open store's share of the decision lock: a re-entrant thread lock, the depth of
    nesting, and what is held across processes (a file descriptor or a server token)."""

    def __init__(self) -> None:
        self.threads = threading.RLock()
        self.depth = 0
        self.fd: int | None = None
        self.token = ""


class _Decisions(_Leases):
    """The decision lock, mixed into `ArticleStore`."""

    @contextmanager
    def decision_lock(self) -> Iterator[None]:
        """Hold the store-wide decision lock (see the module docstring); re-entrant. On entry the
        cached articles are brought up to date with every change logged so far."""
        with _decision_guard:
            state: _DecisionLock | None = getattr(self, "_decision", None)
            if state is None:
                state = self._decision = _DecisionLock()
        with state.threads:
            if state.depth == 0:
                self._take_decision_lock(state)
            state.depth += 1
            try:
                if state.depth == 1:
                    self.catch_up()
                yield
            finally:
                state.depth -= 1
                if state.depth == 0:
                    self._drop_decision_lock(state)

    def _take_decision_lock(self, state: _DecisionLock) -> None:
        if self._owners is not None:
            fd = os.open(self._owners.parent / DECIDE_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            state.fd = fd
            return
        table = self._locks()
        token = f"{self.owner}/{uuid.uuid4().hex[:8]}"
        while True:
            rec = table.get("decide")
            if rec is None or float(rec.fields.get("lease_until", 0) or 0) < time.time() or _gone(str(rec.fields.get("owner", ""))):
                table.put(Record("decide", "", {"token": token, "owner": self.owner, "lease_until": time.time() + DECIDE_LEASE_S}))
                time.sleep(DECIDE_SETTLE_S)
                rec = table.get("decide")
                if rec is not None and rec.fields.get("token") == token:
                    state.token = token
                    return
            time.sleep(DECIDE_POLL_S * (1 + (uuid.uuid4().int % 100) / 100))  # jittered: no lock-step retries

    def _drop_decision_lock(self, state: _DecisionLock) -> None:
        if state.fd is not None:
            fd, state.fd = state.fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if state.token:
            token, state.token = state.token, ""
            try:
                table = self._locks()
                rec = table.get("decide")
                if rec is not None and rec.fields.get("token") == token:
                    table.delete("decide")
            except Exception as exc:  # the lease runs out by itself
                log.info("could not release the decision lock (%s)", exc.__class__.__name__)

    def _locks(self) -> RecordTable:
        table: RecordTable | None = getattr(self, "_locks_table", None)
        if table is None:
            table = self._locks_table = self.records(LOCKS)
        return table
