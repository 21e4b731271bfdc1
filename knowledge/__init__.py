"""newsbot's Discord-free core: articles, chunking, embeddings, the Chroma store, retrieval,
answering and quote checking.

The names below are imported on first use (PEP 562), so `python -m bot --help` and other
commands that never open the store do not pay for numpy, chromadb or onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    FetchFailed,
    FilterError,
    InputError,
    KnowledgeError,
    LimitError,
    NotFoundError,
    StoreError,
    StoreUnavailable,
)
from .models import GLOBAL_SCOPE, Answer, Article, ArticleInfo, Citation, Outcome, Passage

if TYPE_CHECKING:
    from .base import ARTICLES_DIR, CoreConfig, KnowledgeBase
    from .ingesting import IngestResult, IngestStatus
    from .retrieval import SearchFilter
    from .sources import FetchPolicy, Pasted, Source, Upload

_LAZY = {"ARTICLES_DIR": "base", "CoreConfig": "base", "IngestResult": "ingesting", "IngestStatus": "ingesting", "KnowledgeBase": "base",
         "SearchFilter": "retrieval", "FetchPolicy": "sources", "Pasted": "sources", "Source": "sources", "Upload": "sources"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ARTICLES_DIR", "GLOBAL_SCOPE", "Answer", "Article", "ArticleInfo", "Citation", "CoreConfig", "FetchFailed", "FetchPolicy",
    "FilterError", "IngestResult", "IngestStatus", "InputError", "KnowledgeBase", "KnowledgeError", "LimitError",
    "NotFoundError", "Outcome", "Passage", "Pasted", "SearchFilter", "Source", "StoreError", "StoreUnavailable", "Upload",
]
