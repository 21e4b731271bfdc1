"""The Chroma store: one collection of whole articles, one of embedded chunks per embedding model.

Writes are all-or-nothing. An article's chunks carry its content version; the article record is
written last and is the commit point. Readers only see chunks whose version matches a committed
article record, so a load killed at any moment leaves nothing half-visible. A revised article
(same id, new text) becomes visible in the single write of its record.

Several processes share one store (the bot, the CLI, the feed poller, a second bot, on one folder
or one Chroma server), so clean-up must never take another process's work for debris:

- **Intent records with an owner and a lease.** Before its chunks, a load writes an intent record
  `article#version#owner` (collection `newsbot-pending`) naming its owner (host, pid and a random
  tag, one per open store) and `lease_until`, renewed before every batch of chunk writes and
  before the commit. The record is deleted when the load has settled. Recovery (`repair()`, run
  on every start) treats a load as abandoned only when, for the embedded store, its owner's lock
  is free (below), or, on a Chroma server, its lease has run out (LEASE_SECONDS); a live load
  is left alone.
- **Owner locks for the embedded store.** A process that writes holds `fcntl.flock` on its own
  file `<store>/newsbot-owners/<owner>.lock` until it exits, so a load killed with -9 is known
  abandoned at once (the kernel drops the lock) instead of a lease later. A Chroma server has no
  shared file, so there the lease alone decides (a killed load's invisible chunks are removed
  by the first start after LEASE_SECONDS).
- **Clean-up deletes by id, never by "everything but mine".** After its commit, a writer lists
  the article's chunk ids, then the live intent records, then reads the committed record, in
  that order, and deletes only chunks of versions that are neither committed nor being loaded.
  A writer whose commit was overwritten by another process's revision thus deletes its own
  chunks, not the winner's; a load that starts after the listing is never touched, since its
  chunks are not in the list. Right after its commit a writer marks its intent `committed`:
  from then on only the commit record protects its chunks, so whichever of two racing writers
  settles last sees the other's version as superseded and removes it (the torture benchmark
  found such orphans when an intent protected its version until the very end). Two revisions racing end with exactly one committed version and
  its chunks, whichever commit came last. The winner then checks that its chunks are all there
  and writes them again if not (a lease that ran out while it stalled).
- **Healing.** `KnowledgeBase.reindex_missing()` compares each committed article's `n_chunks`
  with the chunks of its committed version (`chunk_census()`) and re-embeds what is short.
- **Checks at start-up are cheap.** `repair()` and `reindex_missing()` count the chunks of the
  articles named in the change log since the last check (a checkpoint kept in the store), not
  every chunk id; every load is named there before its first chunk write. A full check runs on
  demand (`python -m bot check`) and on a store's first check (`checks` explains why that is
  enough).
- **One decision at a time.** A load decides (new, revision, duplicate) and writes under a
  store-wide lock (`decision_lock`: `fcntl` embedded, a lease record on a server).

**Batches.** `put_many` stores several articles with the same steps, each one call for the
whole batch: the intent records, the chunks (CHUNK_WRITE per call), the article records, the
change records, the intents marked committed, the clean-up (`_settle_all`: the same three reads
in the same order, for every article at once) and the intents deleted. Each article still
becomes visible with its own record only after all its chunks are written, so a crash at any
moment leaves whole articles or nothing of one, and recovery treats each intent as above. A
Chroma write cost 10-80 ms on a busy 2-core machine whatever its size; one article's 8 calls
were most of a load's time.

A Chroma server that goes away, and a fresh store created by two processes at once: `guard`.

Within a process, `committed()` is an immutable snapshot that writers replace in one assignment,
so a reader never sees it change under it. It holds every article's facts (`ArticleInfo`), not
its text: texts are read by id when needed (`get`, `articles`) through a small cache (`texts`),
and a start takes the facts an earlier process saved and the change log since (`snapshot`).

The package, one module per job: `records` (article and chunk records, ids, record tables),
`articles` (`ArticleStore`: opening, reading articles), `writes` (storing, revising and removing
articles, all-or-nothing), `chunks` (the nearest-neighbour
query and reading chunks back), `changes` (the change log other
processes follow), `leases` (intent records, owner locks, clean-up), `decisions` (the
store-wide decision lock), `checks` (recovery and healing, at start-up and on demand),
`guard` (an unreachable server, a fresh store created twice), `texts` (the cache of article texts)
and `snapshot` (the facts saved between starts).
"""

from .articles import ArticleStore
from .changes import CHANGE_GRACE_US, CHANGE_POLL_S, Change, ChangeKind, ChangeLog
from .guard import OPEN_ATTEMPTS, RETRY_DELAYS
from .leases import LEASE_SECONDS
from .records import (
    _PAGE,
    ARTICLES,
    CHANGES,
    OWNERS_DIR,
    PENDING,
    TAKEOVERS,
    Record,
    RecordTable,
    RecordValue,
    StoredChunk,
    _chunk_from,
    chunk_collection_name,
    chunk_id,
    date_number,
    with_outlet,
)
from .writes import Load

__all__ = [
    "_PAGE", "ARTICLES", "CHANGES", "CHANGE_GRACE_US", "CHANGE_POLL_S", "LEASE_SECONDS", "OPEN_ATTEMPTS",
    "OWNERS_DIR", "PENDING", "RETRY_DELAYS", "ArticleStore", "Load", "Change", "ChangeKind", "ChangeLog", "Record",
    "RecordTable", "RecordValue", "StoredChunk", "TAKEOVERS", "_chunk_from", "chunk_collection_name", "chunk_id",
    "date_number", "with_outlet",
]
