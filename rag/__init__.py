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

    def __init__(self, store: str | Path | None = None, chroma_url: str | None = None, llm: str | None = None):
        from rag.settings import Settings, default_store_dir, llm_from_env

        self.settings = Settings(store=Path(store).expanduser() if store else default_store_dir(), chroma_url=chroma_url, llm=llm_from_env(llm))
        self._store = None

    @property
    def store(self):
        if self._store is None:
            from rag.api import open_store

            self._store = open_store(self.settings)
        return self._store

    @staticmethod
    def _embedder():
        from ingest.embed import default_embedder

        return default_embedder()

    def ingest(self, *paths: str | Path, progress: bool = False) -> list:
        """Index files; unchanged files add nothing. Returns one IngestResult per file."""
        from rag.api import ingest_file

        return [ingest_file(self.store, p, self._embedder(), progress=progress) for p in paths]

    def docs(self) -> list:
        return self.store.list_documents()

    def remove(self, doc_id: str) -> int:
        """Delete a document and its chunks; returns how many chunks went."""
        return self.store.delete_document(doc_id)

    def _record(self, ref: str | Path):
        from ingest.errors import InputError
        from rag.api import ingest_file, resolve_document

        record = resolve_document(self.store, str(ref))
        if record is None and Path(ref).expanduser().is_file():
            record = self.store.get_document(ingest_file(self.store, ref, self._embedder()).id)
        if record is None:
            raise InputError(f"No document with id {ref!r} in the store; see Index.docs().")
        return record

    def summarize(self, doc: str | Path, max_tokens: int | None = None, profile: str | Path | None = None):
        """Summarize a document (a path is indexed first unless already there)."""
        from queries.profile import load_profile
        from rag.api import summarize_document

        return summarize_document(self.store, self._record(doc), load_profile(profile), self.settings, self._embedder, max_tokens=max_tokens)

    def ask(self, question: str, docs: list[str] | None = None, company: str | None = None, year: str | None = None,
            item: str | None = None, k: int = 8, history: list[tuple[str, str]] | None = None):
        """Answer from the indexed filings only; ``.answer`` and ``.citations``."""
        from rag.ask import ask

        llm = None
        if self.settings.llm is not None:
            from rag.llm import OpenAIChat

            llm = OpenAIChat(self.settings.llm)
        return ask(self.store, question, self._embedder(), doc_ids=docs or (), company=company, year=year, item=item, k=k, llm=llm,
                   history=history or ())
