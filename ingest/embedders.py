"""Which embedder to use: the factory, apart from the embedders so that they need not import each other.

``make_embedder("onnx")`` is the packaged all-MiniLM-L6-v2 on ONNX Runtime (``ingest.onnx_embed``), about 2x
PyTorch's speed; ``make_embedder("torch")`` the same model through sentence-transformers (the vectors agree to
cosine 0.999, so a store built by either answers queries from the other). If the ONNX export cannot be made,
PyTorch is used and a warning says why. The choice comes from the caller (``rag.settings.EmbeddingSettings``).
"""

from __future__ import annotations

import functools
import logging
import os

from ingest.embed import Embedder, SentenceTransformerEmbedder
from ingest.errors import InputError

BACKENDS = ("onnx", "torch")


@functools.lru_cache(maxsize=4)
def make_embedder(backend: str = "onnx", threads: int | None = None, onnx_cache: str | os.PathLike | None = None) -> Embedder:
    """The packaged model on ``backend``, made once per process for each choice; ``threads`` and
    ``onnx_cache`` (where the ONNX export is kept) for ONNX Runtime."""
    choice = backend.strip().lower()
    if choice not in BACKENDS:
        raise InputError(f"RAG_EMBEDDER={choice!r} is not a backend; use onnx (the default) or torch.")
    if choice == "onnx":
        try:
            from ingest.onnx_embed import OnnxEmbedder, exported_model

            exported_model(root=onnx_cache)
            return OnnxEmbedder(threads=threads, cache=onnx_cache)
        except Exception as exc:  # a missing optional package or a failed export: the slower path still works
            logging.getLogger("rag").warning("ONNX embedding unavailable (%s: %s); using sentence-transformers. "
                                             "Set RAG_EMBEDDER=torch to silence this.", type(exc).__name__, str(exc)[:200])
    return SentenceTransformerEmbedder()
