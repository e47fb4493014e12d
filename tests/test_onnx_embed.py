"""The embedding model on ONNX Runtime: the same vectors as sentence-transformers (cosine > 0.999), made offline.

Speed is measured in bench/bench_embed.py, not here.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.embed import SentenceTransformerEmbedder
from ingest.embedders import make_embedder
from rag import api
from rag.api import default_embedder
from ingest.errors import InputError
from ingest.onnx_embed import OnnxEmbedder, exported_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chunk_texts() -> list[str]:
    from ingest.chunking import chunk_document
    from ingest.loaders import load_document
    from ingest.sections import detect_sections

    doc = load_document(ROOT / "samples" / "harborview_10k.txt")
    from dataclasses import replace

    doc = replace(doc, sections=detect_sections(doc.text))
    texts = [c.text for c in chunk_document(doc, "h", SentenceTransformerEmbedder().count_tokens_batch)]
    # short and long texts mixed, so length-sorted batches reorder them
    return texts + ["Net sales rose 4%.", "x", "Revenue by segment (in thousands): Retail 412,306; Wholesale 98,114."]


def test_onnx_vectors_agree_with_sentence_transformers(chunk_texts) -> None:
    torch_vectors = np.asarray(SentenceTransformerEmbedder().embed(chunk_texts))
    for quantized in (False, True):
        onnx_vectors = np.asarray(OnnxEmbedder(quantized=quantized).embed(chunk_texts, batch_size=4))
        assert onnx_vectors.shape == torch_vectors.shape == (len(chunk_texts), 384)
        assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-4)
        cosines = (onnx_vectors * torch_vectors).sum(axis=1)
        assert cosines.min() > (0.9999 if not quantized else 0.999), (quantized, cosines.min())


def test_candidate_sentences_take_the_8_bit_model_and_keep_their_vectors(chunk_texts) -> None:
    # a filing's sentences are most of an ingest's texts; short ones too go to the 8-bit model for speed
    sentences = [s.strip() + "." for t in chunk_texts for s in t.split(". ") if len(s.split()) > 3][:120]
    emb = OnnxEmbedder()
    fast = np.asarray(emb.embed_sentences(sentences))
    exact = np.asarray(SentenceTransformerEmbedder().embed(sentences))
    assert fast.shape == exact.shape
    assert (fast * exact).sum(axis=1).min() > 0.995
    # it is the 8-bit path (the fp32 default gives the short ones other vectors, if only just)
    assert not np.allclose(fast, np.asarray(emb.embed(sentences)), atol=1e-6)


def test_length_sorted_batches_keep_the_input_order(chunk_texts) -> None:
    emb = OnnxEmbedder()
    together = np.asarray(emb.embed(chunk_texts, batch_size=3))
    one_by_one = np.asarray([emb.embed_batch([t])[0] for t in chunk_texts])
    # the same vectors, whatever the batch (8-bit activation scales see the padding: cosine, not equality)
    assert (together * one_by_one).sum(axis=1).min() > 0.9998
    # a text longer than the model's window is cut at 256 word pieces, as sentence-transformers cuts it
    long = " ".join(["revenue"] * 600)
    assert emb.count_tokens(long) == 600
    cos = float(np.dot(emb.embed([long])[0], SentenceTransformerEmbedder().embed([long])[0]))
    assert cos > 0.999


def test_token_counts_match_the_model_tokenizer(chunk_texts) -> None:
    assert OnnxEmbedder().count_tokens_batch(chunk_texts) == SentenceTransformerEmbedder().count_tokens_batch(chunk_texts)


def _fresh() -> None:
    """The next embedder is made again (each choice is made once per process)."""
    api._embedder.cache_clear()
    make_embedder.cache_clear()


def test_the_default_is_onnx_and_the_backend_can_be_chosen(monkeypatch) -> None:
    _fresh()
    try:
        monkeypatch.delenv("RAG_EMBEDDER", raising=False)
        assert isinstance(default_embedder(), OnnxEmbedder)
        _fresh()
        monkeypatch.setenv("RAG_EMBEDDER", "torch")
        assert isinstance(default_embedder(), SentenceTransformerEmbedder)
        _fresh()
        monkeypatch.setenv("RAG_EMBEDDER", "tensorflow")
        with pytest.raises(InputError, match="RAG_EMBEDDER"):
            default_embedder()
        with pytest.raises(InputError, match="RAG_EMBEDDER"):
            make_embedder("tensorflow")
    finally:
        _fresh()


def test_a_failed_export_falls_back_to_pytorch_with_a_warning(monkeypatch, caplog) -> None:
    from ingest import onnx_embed

    def broken(*_a, **_k):
        raise ModuleNotFoundError("No module named 'onnx'")

    _fresh()
    monkeypatch.delenv("RAG_EMBEDDER", raising=False)
    monkeypatch.setattr(onnx_embed, "exported_model", broken)
    try:
        with caplog.at_level(logging.WARNING, logger="rag"):
            emb = default_embedder()
        assert isinstance(emb, SentenceTransformerEmbedder)
        assert "ONNX embedding unavailable" in caplog.text and "RAG_EMBEDDER=torch" in caplog.text
    finally:
        _fresh()


def test_two_processes_exporting_at_once_make_one_whole_model(tmp_path: Path) -> None:
    env = {**os.environ, "RAG_ONNX_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    code = ("from ingest.onnx_embed import exported_model; from rag.settings import EmbeddingSettings; "
            "print(exported_model(root=EmbeddingSettings.from_env().onnx_cache))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1000:] for o in outs]
    for _, err in outs:  # the optimizer's fusion logs and the weights bar stay out of the user's stderr
        assert "fusion" not in err and "[INFO]" not in err and "Loading weights" not in err, err[-1000:]
    paths = {o[0].strip() for o in outs}
    assert len(paths) == 1
    model = Path(paths.pop())
    assert model.exists() and model.parent.parent == tmp_path / "cache"
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".export-")]  # no half-made export left
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])  # the file is a working model
    assert {i.name for i in session.get_inputs()} >= {"input_ids", "attention_mask"}


def test_the_export_is_cached(monkeypatch) -> None:
    first = exported_model()
    from ingest import onnx_embed

    monkeypatch.setattr(onnx_embed, "_export", lambda *a: pytest.fail("exported again"))
    assert exported_model() == first
