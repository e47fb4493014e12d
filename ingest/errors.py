"""Errors a user can fix, and the ingest stage's own. Every stage raises a ``RagError``; the CLI prints one line and
exits non-zero. Each package keeps its errors in its own module: ``vectorstore.errors`` (the store), ``rag.errors``
(models, EDGAR).
"""

from __future__ import annotations


class RagError(Exception):
    """A problem the user can fix. ``str(err)`` is one sentence that says what to do."""

    exit_code = 2


class InputError(RagError):
    """The file or argument given cannot be used (missing, empty, binary, unsupported...)."""
