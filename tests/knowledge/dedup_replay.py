"""Replay `KnowledgeBase.ingest`'s duplicate decisions over a folder without embedding anything
(`python -m tests.knowledge.dedup_replay FOLDER [--stop-after N] [--resume STATE.json]
[--reverse | --shuffle SEED]`).

Prints the ids kept, sorted, as JSON, so runs in separate processes (each with its own
PYTHONHASHSEED) and orders can be compared; `--stop-after` stops as a killed load would,
`--resume` goes on from the articles another run had committed. A copy that ranks before the
stored one takes the story over, as in `KnowledgeBase.ingest`."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from knowledge.dedup import DuplicateIndex, rank_key
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
        twins = sorted((a for a, _ in index.find_all(art, committed)), key=rank_key)
        if not twins:
            committed[art.id] = art
        elif rank_key(art) < rank_key(twins[0]):
            committed[art.id] = art
            for t in twins:
                del committed[t.id]
    return committed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--stop-after", type=int, default=None)
    ap.add_argument("--resume", default="")
    ap.add_argument("--reverse", action="store_true")
    ap.add_argument("--shuffle", type=int, default=None)
    args = ap.parse_args()
    files = sorted(Path(args.folder).glob("*.txt"), reverse=args.reverse)
    if args.shuffle is not None:
        random.Random(args.shuffle).shuffle(files)
    committed: dict = {}
    if args.resume:
        by_id = {a.id: a for a in (load_file(f, source="BBC News") for f in files)}
        committed = {id_: by_id[id_] for id_ in json.loads(Path(args.resume).read_text())}
    kept = replay(files, committed, args.stop_after)
    print(json.dumps(sorted(kept)))


if __name__ == "__main__":
    main()
