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
  of reading it free (two local calls: milliseconds). A holder killed with -9 delays other
  loads by at most the lease, and not at all on its own machine, where its exit is seen
  (`_gone`: its process id no longer exists).

  The lease is renewed while it is held: a thread of the holder's rewrites the record every
  quarter of the lease (the same write, settle and read back), so a batch that holds the lock
  longer than the lease (32 articles to a slow server) keeps it, and other processes go on
  waiting. A holder whose lease was lost (its renewals failed past the lease, or the record
  holds another token: another process took it while this one stalled) finds out before it
  writes: the store's writes made under the lock (`put_many`'s first write and its commit,
  `update_metadata`, `remove`) call `confirm_decision_lock` first, which reads the record back
  and raises `DecisionLost` (a `StoreError`) instead of writing.

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

from ..errors import StoreError
from .leases import _Leases
from .records import Record, RecordTable

log = logging.getLogger(__name__)

# The decision lock on a server: a holder writes one article's chunks and record under it (well
# under a second to a local server; embedding happens before), so 15 s is a stall, not a load.
DECIDE_LEASE_S = 15.0
DECIDE_SETTLE_S = 0.2  # Fischer's delay: far above one read and one write (~3 ms each)
DECIDE_POLL_S = 0.05
# A holder stops writing this long before its last confirmed lease runs out (a renewal being
# late): the commit that follows a confirmation lands well inside the lease.
DECIDE_MARGIN_FRACTION = 0.2
# Renewals per lease. A renewal takes DECIDE_SETTLE_S and three calls (0.21-0.24 s measured to a
# local server), and its lease counts from before it: a holder stays confirmed while
# lease/DECIDE_RENEWALS + renewal < lease·(1 - margin) - renewal, i.e. for any lease above about
# 1 s here (15 s in use). At a third of the lease a 1 s lease failed that by 10 ms each turn.
DECIDE_RENEWALS = 4
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


class DecisionLost(StoreError):
    """The decision lock's lease on a Chroma server was lost while held (renewals failed past the
    lease, or another process took it): nothing more is written under it."""


class _DecisionLock:
    """One open store's share of the decision lock: a re-entrant thread lock, the depth of
    nesting, the thread holding it, and what is held across processes (a file descriptor, or a
    server token with its confirmed lease and the thread renewing it)."""

    def __init__(self) -> None:
        self.threads = threading.RLock()
        self.depth = 0
        self.holder = 0  # thread ident while held
        self.fd: int | None = None
        self.token = ""
        self.until = 0.0  # the lease as last confirmed (Unix seconds)
        self.lost = False
        self.stop = threading.Event()
        self.renewer: threading.Thread | None = None


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
                state.holder = threading.get_ident()
            state.depth += 1
            try:
                if state.depth == 1:
                    self.catch_up()
                yield
            finally:
                state.depth -= 1
                if state.depth == 0:
                    state.holder = 0
                    self._drop_decision_lock(state)

    def confirm_decision_lock(self) -> None:
        """Called before a write: if this thread holds the decision lock as a server lease, check
        that the lease is still ours (see the module docstring); raises `DecisionLost` if not.
        Nothing to do on an embedded store (the flock cannot be lost) or outside the lock."""
        state: _DecisionLock | None = getattr(self, "_decision", None)
        if state is None or not state.token or state.holder != threading.get_ident():
            return
        margin = DECIDE_MARGIN_FRACTION * DECIDE_LEASE_S
        if not state.lost and time.time() < state.until - margin:
            rec = self._locks().get("decide")
            if rec is not None and rec.fields.get("token") == state.token:
                return
        state.lost = True
        raise DecisionLost("Another process took the store's decision lock while this load stalled; nothing more was written. Load it again.")

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
                until = self._write_lease(table, token)
                if until:
                    state.token, state.until, state.lost = token, until, False
                    state.stop = threading.Event()
                    state.renewer = threading.Thread(target=self._keep_lease, args=(state, token, state.stop),
                                                     name="newsbot-decision-lease", daemon=True)
                    state.renewer.start()
                    return
            time.sleep(DECIDE_POLL_S * (1 + (uuid.uuid4().int % 100) / 100))  # jittered: no lock-step retries

    def _write_lease(self, table: RecordTable, token: str) -> float:
        """Write the lease record with `token`, wait DECIDE_SETTLE_S and read it back: the new
        lease's end if the token is still ours, else 0 (another process wrote after us)."""
        until = time.time() + DECIDE_LEASE_S
        table.put(Record("decide", "", {"token": token, "owner": self.owner, "lease_until": until}))
        time.sleep(DECIDE_SETTLE_S)
        rec = table.get("decide")
        return until if rec is not None and rec.fields.get("token") == token else 0.0

    def _keep_lease(self, state: _DecisionLock, token: str, stop: threading.Event) -> None:
        """The renewing thread: every quarter of the lease, while the record still holds our token,
        write it again with a fresh lease. A failed call is tried at the next turn (the holder
        stops writing once the confirmed lease nears its end); another token ends it."""
        table = self._locks()
        while not stop.wait(DECIDE_LEASE_S / DECIDE_RENEWALS):
            try:
                rec = table.get("decide")
                until = self._write_lease(table, token) if rec is not None and rec.fields.get("token") == token else 0.0
            except Exception as exc:  # the server unreachable for now: try again at the next turn
                log.info("could not renew the decision lock (%s)", exc.__class__.__name__)
                continue
            if stop.is_set():
                return
            if not until:
                state.lost = True
                log.warning("the decision lock's lease was taken by another process while held")
                return
            state.until = until

    def _drop_decision_lock(self, state: _DecisionLock) -> None:
        if state.fd is not None:
            fd, state.fd = state.fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if state.renewer is not None:
            state.stop.set()
            state.renewer.join()
            state.renewer = None
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
