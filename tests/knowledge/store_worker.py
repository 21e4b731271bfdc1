"""A second process on a shared store, for the multi-process tests (`python -m tests.knowledge.store_worker`).

It writes through the real `ArticleStore` with random unit vectors (no model needed), and can
stop at two gates around its commit so a test orders two processes' steps exactly:

- before its commit it creates `<gate>/<name>.ready` and waits for `<gate>/<name>.commit`;
- after its commit (before its clean-up) it creates `<gate>/<name>.committed` and waits for
  `<gate>/<name>.settle`;
- with `--hold-intent`, after its clean-up (before deleting its intent record) it creates
  `<gate>/<name>.settled` and waits for `<gate>/<name>.finish`.

`ingest` loads an article through `KnowledgeBase.ingest` (duplicate check, decision lock) with
random unit vectors; with `--gate` it creates `<gate>/<name>.planned` once its first look is
done and its vectors are made, and waits for `<gate>/<name>.decide` before taking the decision
lock; `--commit-gate` adds the commit gates above.

Prints one JSON line: {"status": ...} or {"error": reason}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

MODEL = "test-model"
DIM = 16


def _wait(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.01)


class _Gated:
    def __init__(self, collection: Any, gate: Path, name: str):
        self._c, self._gate, self._name = collection, gate, name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._c, attr)

    def upsert(self, **kw: Any) -> Any:
        (self._gate / f"{self._name}.ready").touch()
        _wait(self._gate / f"{self._name}.commit")
        out = self._c.upsert(**kw)
        (self._gate / f"{self._name}.committed").touch()
        _wait(self._gate / f"{self._name}.settle")
        return out


class _HeldIntent:
    """Holds a load after its clean-up, before its intent record is deleted."""

    def __init__(self, collection: Any, gate: Path, name: str):
        self._c, self._gate, self._name = collection, gate, name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._c, attr)

    def delete(self, **kw: Any) -> Any:
        (self._gate / f"{self._name}.settled").touch()
        _wait(self._gate / f"{self._name}.finish")
        return self._c.delete(**kw)


def open_store(where: str, attempts: int | None = None):
    from knowledge import store as store_mod

    if attempts is not None:
        store_mod.guard.OPEN_ATTEMPTS = attempts
    if ":" in where and not where.startswith("/"):
        host, port = where.rsplit(":", 1)
        return store_mod.ArticleStore.open_server(host, int(port), MODEL)
    return store_mod.ArticleStore.open_local(where, MODEL)


def put(store, title: str, text: str, seed: int) -> str:
    from knowledge.chunking import chunk_article
    from knowledge.loading import build_article

    article = build_article(title=title, text=text, url=f"https://example.org/{title.replace(' ', '-').lower()}")
    chunks, sentences = chunk_article(article.id, article.text, max_words=40)
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(len(chunks), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return store.put(article, chunks, sentences, vectors)


def put_many(store, title: str, text: str, seed: int, count: int) -> list[str]:
    """`count` articles ("<title> 0", "<title> 1", …) stored in one `put_many`."""
    from knowledge.chunking import chunk_article
    from knowledge.loading import build_article
    from knowledge.store import Load

    rng = np.random.default_rng(seed)
    loads = []
    for n in range(count):
        name = f"{title} {n}"
        article = build_article(title=name, text=text, url=f"https://example.org/{name.replace(' ', '-').lower()}")
        chunks, sentences = chunk_article(article.id, article.text, max_words=40)
        vectors = rng.normal(size=(len(chunks), DIM)).astype(np.float32)
        loads.append(Load(article, chunks, sentences, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)))
    return store.put_many(loads)


class RandomEmbedder:
    """Unit vectors from each text's stable hash: no model needed, the same in every process."""

    name = MODEL
    dim = DIM

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        import hashlib

        rows = [np.random.default_rng(int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")).normal(size=DIM)
                for t in texts]
        out = np.array(rows, dtype=np.float32).reshape(len(texts), DIM)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def ingest(where: str, title: str, text: str, source: str, gate: Path | None, name: str, commit_gate: bool) -> str:
    from knowledge import CoreConfig, KnowledgeBase
    from knowledge.loading import build_article

    if ":" in where and not where.startswith("/"):
        host, port = where.rsplit(":", 1)
        config = CoreConfig(chroma_host=host, chroma_port=int(port), lexical_path=str(Path(gate or ".") / f"{name}-lexical"))
    else:
        config = CoreConfig(chroma_path=where)
    kb = KnowledgeBase(config, embedder=RandomEmbedder())
    if gate is not None:
        locked = kb.store.decision_lock

        def gated() -> Any:
            (gate / f"{name}.planned").touch()
            _wait(gate / f"{name}.decide")
            return locked()

        kb.store.decision_lock = gated  # type: ignore[method-assign]
        if commit_gate:
            kb.store._articles = _Gated(kb.store._articles, gate, name)
    article = build_article(title=title, text=text, source=source, url=f"https://{source.replace(' ', '').lower()}.example/{title.replace(' ', '-').lower()}")
    return str(kb.ingest(article).status)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("op", choices=("put", "open", "ingest"))
    ap.add_argument("--store", required=True)
    ap.add_argument("--title", default="Harbour works")
    ap.add_argument("--text", default="")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gate", default="")
    ap.add_argument("--name", default="w")
    ap.add_argument("--lease", type=float, default=0.0)
    ap.add_argument("--open-attempts", type=int, default=None)
    ap.add_argument("--hold-intent", action="store_true")
    ap.add_argument("--count", type=int, default=0, help="store this many articles in one put_many")
    ap.add_argument("--source", default="Port News")
    ap.add_argument("--commit-gate", action="store_true")
    args = ap.parse_args()
    from knowledge import KnowledgeError
    from knowledge import store as store_mod

    if args.lease:
        store_mod.leases.LEASE_SECONDS = args.lease
    try:
        if args.op == "open":
            import chromadb  # noqa: F401 - imported before the gate, so the opens start together

            if args.gate:
                _wait(Path(args.gate) / "go")
            store = open_store(args.store, args.open_attempts)
            print(json.dumps({"status": "opened", "articles": len(store.committed())}), flush=True)
            return
        if args.op == "ingest":
            status = ingest(args.store, args.title, args.text, args.source, Path(args.gate) if args.gate else None, args.name, args.commit_gate)
            print(json.dumps({"status": status}), flush=True)
            return
        store = open_store(args.store, args.open_attempts)
        if args.gate:
            store._articles = _Gated(store._articles, Path(args.gate), args.name)
            if args.hold_intent:
                store._pending = _HeldIntent(store._pending, Path(args.gate), args.name)
        if args.count:
            print(json.dumps({"status": put_many(store, args.title, args.text, args.seed, args.count)}), flush=True)
            return
        print(json.dumps({"status": put(store, args.title, args.text, args.seed)}), flush=True)
    except KnowledgeError as exc:
        print(json.dumps({"error": exc.reason}), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
