"""The article facts a process keeps (`ArticleStore.committed()`), saved to a local file so that
the next start reads the file and the changes since, not every article record.

Why: Chroma returns a record's metadata at about 15 µs a field, so reading the 16 fields of every
article record took 9-10 s at 25x the BBC corpus (51,800 articles) on a busy 2-core machine,
most of a `bot run` start; the file is read in well under a second.

The file holds the store's identity (the article collection's id), the change-log cursor the
facts are current to, and the facts. A start whose file names this store and is younger than
MAX_AGE_S takes the facts from it and then reads the change log from that cursor, re-reading
only the articles changed since (`_ChangeTracking._follow_changes`), as the lexical index does:
the same guarantee as every running process already has (changes are seen through the change
log; see `changes`). A start also compares the number of facts with the number of article records (one count) and
reads every record when they differ: records added or deleted behind newsbot's back (by hand, or
copied in with Chroma's own API, as `benchmarks/scale.py` builds its larger stores) have no
change record. MAX_AGE_S bounds what the file adds otherwise: a change whose change record was never
written (its writer lost the store right after its commit) stays unseen by processes starting
from a file no longer than that, since an older file is ignored and every record read again.

Several processes may share a store and its file: each writes a whole file under a name of its
own and renames it into place, so a reader sees one process's whole file, never a mix; any of
them is a correct starting point, since each is followed from its own cursor. A file that cannot
be read (damaged, another format) is ignored.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

from ..models import ArticleInfo

log = logging.getLogger(__name__)

FORMAT = 1
MAX_AGE_S = 24 * 3600  # see the module docstring
SAVE_EVERY_S = 600.0  # a process that has followed changes saves at most this often
# ArticleInfo's text fields between `id` and `outlets`, in their order: rows are built positionally
_NAMES = tuple(f.name for f in fields(ArticleInfo))
assert _NAMES == ("id", "title", "source", "published", "updated", "url", "language", "author", "editor", "scope",
                  "version", "origin", "outlets", "words"), "update `load` for ArticleInfo's fields"
_FIELDS = _NAMES[1:-2]


def save(path: Path, identity: str, cursor: int, facts: Mapping[str, ArticleInfo]) -> bool:
    """Write the facts and their cursor to `path` (whole or not at all); False if it failed."""
    rows = [[a.id, *(getattr(a, f) for f in _FIELDS), list(a.outlets), a.words] for a in facts.values()]
    doc = {"format": FORMAT, "store": identity, "cursor": int(cursor), "saved": time.time(), "fields": list(_FIELDS), "rows": rows}
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.info("could not save the article facts to %s (%s)", path, exc.strerror)
        tmp.unlink(missing_ok=True)
        return False


def load(path: Path, identity: str) -> tuple[dict[str, ArticleInfo], int] | None:
    """The facts saved in `path` for the store `identity`, and their cursor; None if there is no
    usable file (none, another store's, older than MAX_AGE_S, damaged)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if (doc.get("format") != FORMAT or doc.get("store") != identity or tuple(doc.get("fields", ())) != _FIELDS
                or not time.time() - float(doc["saved"]) < MAX_AGE_S):
            return None
        facts: dict[str, ArticleInfo] = {}
        width = len(_NAMES)
        # One string object per distinct outlet, date, language, byline and scope: they repeat
        # across articles, and each copy costs about 50 bytes more than its characters.
        same: dict[str, str] = {}
        for row in doc["rows"]:
            if len(row) != width or not all(isinstance(v, str) for v in row[:-2]) or not isinstance(row[-1], int):
                raise ValueError("a row of another shape")
            (id_, title, source, published, updated, url, language, author, editor, scope, version, origin,
             outlets, words) = row
            facts[id_] = ArticleInfo(
                id=id_, title=title, source=same.setdefault(source, source), published=same.setdefault(published, published),
                updated=same.setdefault(updated, updated), url=url, language=same.setdefault(language, language),
                author=same.setdefault(author, author), editor=same.setdefault(editor, editor), scope=same.setdefault(scope, scope),
                version=version, origin=origin, outlets=tuple(same.setdefault(o, o) for o in outlets), words=words)
        return facts, int(doc["cursor"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:  # damaged: read the store instead
        log.info("ignored the saved article facts in %s (%s)", path, exc.__class__.__name__)
        return None
