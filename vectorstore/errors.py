"""The store's errors."""

from __future__ import annotations

from ingest.errors import RagError


class StoreError(RagError):
    """The vector store cannot be opened or written."""
