"""The errors of the rag package's stages: the model that writes, local model files, EDGAR."""

from __future__ import annotations

from ingest.errors import RagError


class LLMError(RagError):
    """The language model endpoint failed or returned something unusable."""


class ModelError(RagError):
    """A local model cannot be fetched, found, read or started; the message says what to do."""


class FetchError(RagError):
    """EDGAR could not be reached or did not give what was asked."""
