"""LangChain adapters: the project's embedder as ``Embeddings``, the Chroma store as a retriever.

The only module that imports langchain; nothing imports it at start-up, so the CLI never pays for it.

    from rag.lc import FilingEmbeddings, FilingRetriever
    retriever = FilingRetriever(store=ChromaStore.open(path), embedder=default_embedder(), k=4)
    retriever.invoke("liquidity and capital resources", k=2)  # k at invoke time overrides the field

``ChromaStore.query`` searches one document at a time, so for several documents the retriever asks
each for its own top ``k`` and keeps the best ``k`` of the union: the global top ``k`` is always
among them, since no document can place more than ``k`` chunks in it.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

from ingest.embed import Embedder
from ingest.errors import InputError
from rag.api import default_embedder
from vectorstore.chroma import DocumentRecord, Hit

__all__ = ["FilingEmbeddings", "FilingRetriever", "hit_to_document"]


class FilingEmbeddings(Embeddings):
    """Any project :class:`~ingest.embed.Embedder` as LangChain ``Embeddings`` (default: the packaged model)."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        """The wrapped embedder; the default model is only loaded when first used."""
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text])[0]


class FilingRetriever(BaseRetriever):
    """The chunks of indexed filings nearest a query, as LangChain ``Document`` objects, best first."""

    store: Any = Field(description="A vectorstore.chroma.ChromaStore holding the ingested filings.")
    embedder: Any = Field(
        default=None,
        description="The project Embedder the documents were ingested with; None means rag.api.default_embedder().",
    )
    doc_ids: list[str] | None = Field(default=None, description="Documents to search; None searches every document in the store.")
    k: int = Field(default=4, ge=1, description="How many chunks to return; `invoke(query, k=...)` overrides it per call.")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        k = self.k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InputError(f"k={k!r} is not a number of results; pass a whole number of at least 1.")
        records = self._records()
        if not records:
            return []
        embedder = self.embedder if self.embedder is not None else default_embedder()
        vector = embedder.embed([query])[0]
        hits: list[Hit] = []
        for doc_id in records:
            hits.extend(self.store.query([vector], doc_id, k=k)[0])
        hits.sort(key=lambda h: h.score, reverse=True)  # stable: equal scores keep document, then rank, order
        return [hit_to_document(h, records[h.chunk.doc_id].source) for h in hits[:k]]

    def _records(self) -> dict[str, DocumentRecord]:
        """The documents to search, by id, in the order asked for."""
        indexed = {r.id: r for r in self.store.list_documents()}
        if self.doc_ids is None:
            return indexed
        missing = [d for d in self.doc_ids if d not in indexed]
        if missing:
            raise InputError(f"Not in the store: {', '.join(missing)}; list the indexed ids with `rag docs` or ingest the file first.")
        return {d: indexed[d] for d in self.doc_ids}


def hit_to_document(hit: Hit, source: str | None = None) -> Document:
    """A store hit as a LangChain ``Document``: the chunk's text, its provenance and filing metadata, and its score."""
    c = hit.chunk
    metadata = {
        **({"source": source} if source else {}),  # the file the document was ingested from
        **c.metadata,  # company, form, fiscal_year, filing_date... as the filing's loader found them
        "doc_id": c.doc_id,
        "chunk_id": c.id,
        "item": c.item,
        "start": c.start,
        "end": c.end,
        "score": hit.score,
    }
    return Document(page_content=c.text, metadata=metadata, id=c.id)
