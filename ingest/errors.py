"""Errors a user can fix. Every stage raises these; the CLI prints one line and exits non-zero."""

from __future__ import annotations


class RagError(Exception):
    """A problem the user can fix. ``str(err)`` is one sentence that says what to do."""

    exit_code = 2


class InputError(RagError):
    """The file or argument given cannot be used (missing, empty, binary, unsupported...)."""


class StoreError(RagError):
    """The vector store cannot be opened or written."""


class LLMError(RagError):
    """The language model endpoint failed or returned something unusable."""
