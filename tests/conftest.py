"""Shared fixtures: a deterministic fake embedder for unit tests, the real one for integration."""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import pytest

from ingest.embed import Embedder

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLE = ROOT / "samples" / "harborview_10k.txt"


class FakeEmbedder(Embedder):
    """Bag-of-words hashed into 64 dimensions: similar texts get similar vectors, no model needed."""

    name = "fake-bow-64"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_batch(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        out = []
        for text in texts:
            v = [0.0] * 64
            for w in re.findall(r"[a-z]+", text.lower()):
                v[int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1.0
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / norm for x in v])
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    from rag.api import default_embedder

    return default_embedder()


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def sample() -> Path:
    assert SAMPLE.is_file(), "the bundled sample filing is part of the repository"
    return SAMPLE


@pytest.fixture
def server(tmp_path: Path):
    """Chroma's own server (`chroma run`) on a free port of 127.0.0.1, killed at the end."""
    from tests.chroma_server import Server

    s = Server(tmp_path / "chroma")
    s.start()
    yield s
    s.kill()
