"""newsbot's Discord-free core: articles, chunking, embeddings, the Chroma store, retrieval,
answering and quote checking."""

from .base import ARTICLES_DIR, CoreConfig, IngestResult, IngestStatus, KnowledgeBase
from .errors import (
    FetchFailed,
    FilterError,
    InputError,
    KnowledgeError,
    LimitError,
    NotFoundError,
    StoreError,
)
from .models import GLOBAL_SCOPE, Answer, Article, Citation, Outcome, Passage
from .retrieval import SearchFilter
from .sources import FetchPolicy, Pasted, Source, Upload

__all__ = [
    "ARTICLES_DIR", "GLOBAL_SCOPE", "Answer", "Article", "Citation", "CoreConfig", "FetchFailed", "FetchPolicy",
    "FilterError", "IngestResult", "IngestStatus", "InputError", "KnowledgeBase", "KnowledgeError", "LimitError",
    "NotFoundError", "Outcome", "Passage", "Pasted", "SearchFilter", "Source", "StoreError", "Upload",
]
