"""Every benchmark still runs: each script in its `--smoke` mode, in a subprocess, must exit 0 and
write its `benchmarks/results/<name>_smoke.json` with the figures the README quotes.

A benchmark is skipped only when the data it reads (`../shared/bench/bbc`, `../shared/bench/rgb`)
is absent. The smoke runs take about two minutes together on two cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
RESULTS = BENCHMARKS / "results"
BBC = REPO.parent / "shared" / "bench" / "bbc"
RGB = REPO.parent / "shared" / "bench" / "rgb" / "en_fact.json"

# name, the data it needs (None: none), key paths its smoke result must hold
CASES = [
    pytest.param("bbc_quality", BBC, [("rows", "hybrid", "hit@1"), ("rows", "dense", "mrr@10"), ("rows", "bm25", "answer_accuracy"),
                                      ("rows", "hybrid", "quote_verification"), ("rows", "hybrid", "latency_ms_p50"),
                                      ("operating_curve", "auc"), ("operating_curve", "points", "best fact of any threshold")], id="bbc_quality"),
    pytest.param("rgb_counterfactual", RGB, [("modes", "extractive", "summary", "conflict", "both_surfaced"),
                                             ("modes", "extractive", "summary", "negative", "refusal_rate"),
                                             ("modes", "extractive", "summary", "noise 0.8", "accuracy"),
                                             ("modes", "extractive", "summary", "fake only", "accuracy"), ("paper_chatgpt_en",),
                                             ("operating_curve", "oracle")],
                 id="rgb_counterfactual"),
    pytest.param("fit_answering", RGB, [("cross_validated", "all", "answer_accuracy"), ("signals", "all signals", "refusal_accuracy"),
                                        ("model", "answerable", "weights")], id="fit_answering"),
    pytest.param("ask_latency", BBC, [("versions", "this tree", "median_ms"), ("versions", "this tree", "round_medians_ms")],
                 id="ask_latency"),
    pytest.param("scale", BBC, [("rows", "1", "ms", "ask", "p50"), ("rows", "3", "ms", "numpy_dense", "p50"), ("rows", "3", "ms", "bm25", "p95"),
                                ("rows", "1", "rss_mb_answered"), ("rows", "1", "lexical_open_s"), ("rows", "3", "load_one_article_ms"), ("rows", "1", "mrr@10"),
                                ("rows", "3", "ready_s"), ("rows", "3", "hnsw_recall@30"),
                                # the largest size again through `chroma run`: the bot's and the server's memory apart
                                ("server_rows", "3", "rss_mb_answered"), ("server_rows", "3", "server_rss_mb_answered"),
                                ("server_rows", "3", "ms", "ask", "p50"), ("server_rows", "3", "propagation", "seen_both_max_s")],
                 id="scale"),
    pytest.param("ingest_bbc", BBC, [("rows", "newsbot", "articles_per_s"), ("rows", "chroma", "peak_rss_mb"),
                                     ("rows", "model alone", "chunks_per_s"), ("ratios", "newsbot / model alone (articles/s)")], id="ingest_bbc"),
    pytest.param("lexical_candidates", BBC, [("rows", "fts5", "hybrid", "hit@1"), ("rows", "fts5", "query_ms", "p50"), ("rows", "tantivy", "hybrid", "mrr@10"),
                                             ("rows", "fts5", "add_one_article_ms"), ("skipped",)], id="lexical_candidates"),
    pytest.param("startup", BBC, [("rows", "--help", "median_s"), ("rows", "ask", "rounds_s")], id="startup"),
    pytest.param("ready_memory", BBC, [("rows", "1", "this tree", "ready_s", "median"), ("rows", "1", "this tree", "rss_ready_mb", "rounds"),
                                       ("rows", "1", "this tree", "phases_median_s", "sync_folder_s")], id="ready_memory"),
    pytest.param("concurrency", BBC, [("levels", "1", "questions_per_s"), ("levels", "32", "latency_ms_p95")], id="concurrency"),
    pytest.param("embedding_models", BBC, [("rows", "ours", "chunks_per_s"), ("rows", "ours", "mrr@10")], id="embedding_models"),
    pytest.param("extraction_quality", BBC, [("averages", "char_recall"), ("pages",)], id="extraction_quality"),
    pytest.param("claim_support", RGB, [("rows", "seed", "overlap ≤0.25 new", "good"), ("rows", "rgb", "cosine ≥0.5", "wrong answer")],
                 id="claim_support"),
    pytest.param("sentence_split", BBC, [("boundaries", "one paragraph", "articles_differing"), ("timing", "50000", "windowed_median_s")],
                 id="sentence_split"),
    pytest.param("dedup_ids", BBC, [("identical",), ("articles",), ("runs",)], id="dedup_ids"),
    pytest.param("startup_check", None, [("rows", "full check", "chunk_ids_read"), ("rows", "start-up check", "median_s")],
                 id="startup_check"),
    # 4 processes on one store, SIGKILL at random: 40 operations on the embedded store and on `chroma run`.
    pytest.param("torture", None, [("rows", "embedded", "violations"), ("rows", "server", "operations"),
                                   ("rows", "server", "left_for_the_full_check")], id="torture",
                 marks=pytest.mark.server),
    # The Discord benchmark serves a loopback Discord and a loopback model server.
    pytest.param("discord_load", None, [("runs",), ("idle_loop_lag_ms", "p50")], id="discord_load", marks=pytest.mark.server),
]


def _lookup(data: dict, path: tuple[str, ...]):
    for key in path:
        assert isinstance(data, dict) and key in data, f"missing {' → '.join(path)}"
        data = data[key]
    return data


@pytest.mark.parametrize(("name", "data", "paths"), CASES)
def test_benchmark_smoke_run_exits_0_and_writes_its_figures(name: str, data: Path | None, paths: list[tuple[str, ...]]):
    if data is not None and not data.exists():
        pytest.skip(f"{data} is absent")
    out = RESULTS / f"{name}_smoke.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py"), "--smoke"], cwd=REPO,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{name} --smoke exited {proc.returncode}:\n{proc.stdout[-1500:]}\n{proc.stderr[-3000:]}"
    assert out.is_file(), f"{name} --smoke did not write {out.name}"
    result = json.loads(out.read_text())
    for path in paths:
        _lookup(result, path)
