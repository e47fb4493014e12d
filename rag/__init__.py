"""rag-filings: summarize long filings with retrieval, then ask follow-up questions.

A Python API that mirrors the CLI, for notebooks::

    from rag import Index
    idx = Index(store="~/filings-store")            # or Index() for the default store
    idx.ingest("fedex_10k_2023.json", "nike.json")  # list of IngestResult
    s = idx.summarize("fedex_10k_2023.json")        # Summary: .text, .tokens, .facets, .sentences
    a = idx.ask("Who are the largest customers?", company="fedex")  # Answer: .answer, .citations
    idx.docs()                                      # list of DocumentRecord

Heavy libraries load on first use, so importing this package is instant.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["Index"]


class Index:
    """A Chroma index of filings (a directory, or a server with ``chroma_url``) and what it can do."""

    def __init__(self, store: str | Path | None = None, chroma_url: str | None = None, llm: str | None = None, *, settings=None):
        """``settings`` (a ``rag.settings.Settings``) replaces the other arguments and the environment."""
        if settings is None:
            from rag.llm import llm_from_env
            from rag.settings import Settings

            settings = Settings.from_env(store=store, chroma_url=chroma_url, llm=llm_from_env(llm))
        self.settings = settings
        self._store = None

    @property
    def store(self):
        if self._store is None:
            from rag.api import open_store

            self._store = open_store(self.settings)
        return self._store

    def _embedder(self):
        from rag.api import default_embedder

        return default_embedder(self.settings.embedding)

    def ingest(self, *paths: str | Path, progress: bool = False) -> list:
        """Index files; unchanged files add nothing. Returns one IngestResult per file."""
        from rag.api import ingest_file

        return [ingest_file(self.store, p, self._embedder(), progress=progress, limit=self.settings.files.max_bytes) for p in paths]

    def docs(self) -> list:
        return self.store.list_documents()

    def remove(self, doc_id: str) -> int:
        """Delete a document and its chunks; returns how many chunks went."""
        return self.store.delete_document(doc_id)

    def _record(self, ref: str | Path):
        from rag.api import resolve_or_ingest

        return resolve_or_ingest(self.store, [str(ref)], self._embedder, limit=self.settings.files.max_bytes)[0]

    def summarize(self, doc: str | Path, max_tokens: int | None = None, profile: str | Path | None = None):
        """Summarize a document (a path is indexed first unless already there)."""
        from queries.profile import load_profile
        from rag.api import summarize_document

        return summarize_document(self.store, self._record(doc), load_profile(profile), self.settings, self._embedder, max_tokens=max_tokens)

    def ask(self, question: str, docs: list[str] | None = None, company: str | None = None, year: str | None = None,
            item: str | None = None, k: int = 8, history: list[tuple[str, str]] | None = None):
        """Answer from the indexed filings only; ``.answer`` and ``.citations``."""
        from rag.api import answer

        return answer(self.settings, self.store, question, doc_ids=docs or (), company=company, year=year, item=item, k=k,
                      history=history or ())
