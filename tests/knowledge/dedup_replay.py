"""Replay `KnowledgeBase.ingest`'s duplicate decisions over a folder without embedding anything
(`python -m tests.knowledge.dedup_replay FOLDER [--stop-after N] [--resume STATE.json]`).

Prints the ids kept, in order, as JSON, so runs in separate processes (each with its own
PYTHONHASHSEED) can be compared; `--stop-after` stops as a killed load would, `--resume` goes
on from the articles another run had committed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from knowledge.dedup import DuplicateIndex
from knowledge.loading import load_file


def replay(files: list[Path], committed: dict, stop_after: int | None = None) -> dict:
    index = DuplicateIndex()
    for n, f in enumerate(files):
        if stop_after is not None and n >= stop_after:
            break
        art = load_file(f, source="BBC News")
        if art.id in committed:
            continue
        index.sync(committed)
        if index.find(art, committed) is None:
            committed[art.id] = art
    return committed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--stop-after", type=int, default=None)
    ap.add_argument("--resume", default="")
    ap.add_argument("--reverse", action="store_true")
    args = ap.parse_args()
    files = sorted(Path(args.folder).glob("*.txt"), reverse=args.reverse)
    committed: dict = {}
    if args.resume:
        by_id = {a.id: a for a in (load_file(f, source="BBC News") for f in files)}
        committed = {id_: by_id[id_] for id_ in json.loads(Path(args.resume).read_text())}
    kept = replay(files, committed, args.stop_after)
    print(json.dumps(list(kept)))


if __name__ == "__main__":
    main()
