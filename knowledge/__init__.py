"""newsbot's Discord-free core: articles, chunking, embeddings, the Chroma store, retrieval,
answering and quote checking."""

from .base import ARTICLES_DIR, CoreConfig, IngestResult, KnowledgeBase
from .errors import FetchFailed, InputError, KnowledgeError, LimitError, NotFoundError, StoreError
from .models import GLOBAL_SCOPE, Answer, Article, Citation, Outcome, Passage
from .retrieval import SearchFilter

__all__ = [
    "ARTICLES_DIR", "GLOBAL_SCOPE", "Answer", "Article", "Citation", "CoreConfig", "FetchFailed", "IngestResult",
    "InputError", "KnowledgeBase", "KnowledgeError", "LimitError", "NotFoundError", "Outcome", "Passage",
    "SearchFilter", "StoreError",
]
