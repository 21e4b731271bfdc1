"""The local embedding model loads from installed packages with the network cut off."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np


def test_model_loads_and_embeds_with_no_network_at_all():
    # A fresh interpreter where any socket use fails and hub libraries are told to stay offline.
    code = """
import socket, sys
def refuse(*a, **k):
    raise OSError("network use is forbidden in this test")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from knowledge.embeddings import MiniLMOnnx
v = MiniLMOnnx().embed_documents(["China opposes US AI export restrictions."])
assert v.shape == (1, 384), v.shape
print("ok")
"""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
    assert socket.socket.connect is not None  # this process untouched


def test_vectors_are_unit_length_and_meaningful(embedder):
    v = embedder.embed_documents([
        "The spokesperson criticised US export controls on AI chips.",
        "Washington tightened restrictions on exporting artificial intelligence chips.",
        "The striker scored twice in the second half.",
    ])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_batching_does_not_change_vectors(embedder):
    texts = ["short one", "a somewhat longer sentence about trade policy and chips", "x " * 50]
    together = embedder.embed_documents(texts)
    alone = np.stack([embedder.embed_query(t) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_long_text_is_embedded_past_128_tokens(embedder):
    # The model's shipped tokenizer config truncates at 128; we use the model's 256.
    head = "The central bank raised interest rates again this quarter. " * 12  # ~130 tokens
    a = embedder.embed_query(head + "Football results were announced for the weekend league games.")
    b = embedder.embed_query(head + "Researchers discovered a new species of frog in the rainforest.")
    assert not np.allclose(a, b, atol=1e-3)
