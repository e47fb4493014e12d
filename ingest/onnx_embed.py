"""The embedding model on ONNX Runtime: the same all-MiniLM-L6-v2, about twice as fast on a CPU.

The model is exported once from the packaged weights (no hub, no network) and cached:

1. ``torch.onnx.export`` of the BERT encoder with eager attention, so that
2. ONNX Runtime's transformer optimizer fuses it (embeddings + LayerNorm, attention, bias + GELU,
   skip + LayerNorm), then
3. the dense layers' weights become 8-bit blocks of 128 (``MatMulNBits``, accuracy level 4: int8
   products with per-block activation scales).

Per-tensor dynamic int8 quantization was measured and rejected: cosine to the PyTorch vectors fell
to 0.94 (per channel 0.993), where these 8-bit blocks keep it above 0.999 (``bench/bench_embed.py``).
Mean pooling and L2 normalization are done here, as sentence-transformers does them.

Texts are embedded in batches sorted by length, so little of each batch is padding. Texts of up to
64 word pieces (questions, facet queries) run in fp32, where 8-bit error would weigh most.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from ingest.embed import PackagedModelEmbedder, default_model_path

log = logging.getLogger("rag")

# Bump when the export recipe changes: a new folder is built beside the old one.
RECIPE = "minilm-eager-fused-nbits8-b128-acc4-v2"
BLOCK_SIZE = 128  # 32 was 8% slower for cosine 0.99971 instead of 0.99939 (min over 300 chunks)


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """Where exports are kept: ``root`` (RAG_ONNX_CACHE, through the settings), else a per-user cache directory."""
    if root:
        return Path(root).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("rag-filings")) / "onnx"


def _model_key(model_path: Path) -> str:
    """The weights and config decide the export; the file sizes and the config's bytes are enough to tell."""
    h = hashlib.sha256(RECIPE.encode())
    for name in ("config.json", "tokenizer.json", "modules.json"):
        p = model_path / name
        if p.exists():
            h.update(p.read_bytes())
    for p in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("*.bin")):
        h.update(f"{p.name}:{p.stat().st_size}".encode())
    return h.hexdigest()[:16]


def exported_model(model_path: Path | None = None, quantized: bool = True, root: str | os.PathLike | None = None) -> Path:
    """The ONNX file for ``model_path`` (the packaged model by default), exported on first use under ``root``."""
    model_path = Path(model_path) if model_path else default_model_path()
    folder = cache_root(root) / f"{model_path.name}-{_model_key(model_path)}"
    target = folder / ("model_nbits8.onnx" if quantized else "model_fused.onnx")
    if target.exists():
        return target
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _lock(folder.parent / f"{folder.name}.lock"):
        if target.exists():  # another process exported it while this one waited
            return target
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
        try:
            _export(model_path, work)
            folder.mkdir(exist_ok=True)
            for name in ("model_fused.onnx", "model_nbits8.onnx"):
                os.replace(work / name, folder / name)  # each file appears whole or not at all
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log.info("exported %s to ONNX in %.1f s: %s", model_path.name, time.monotonic() - started, folder)
    return target


@contextlib.contextmanager
def _lock(path: Path):
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _export(model_path: Path, work: Path) -> None:
    # ONNX Runtime's optimizer configures the root logger at INFO and logs every fusion: keep stderr
    # as it was (the export is one line at -v), and its handlers out of the rest of the process.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        _export_quietly(model_path, work)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _export_quietly(model_path: Path, work: Path) -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import warnings

    import onnx
    import torch
    from onnxruntime.quantization import matmul_nbits_quantizer as nbits
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    config = json.loads((model_path / "config.json").read_text())
    # eager attention exports the pattern the optimizer knows how to fuse (SDPA's does not fuse)
    base = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    sample = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder(base).eval(), (sample, sample, torch.zeros_like(sample)), str(work / "model.onnx"),
                          input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
                          opset_version=17, dynamo=False)
    for name in ("fusion_base", "onnx_model", "onnx_model_bert", "fusion_utils", "onnxruntime"):
        logging.getLogger(name).setLevel(logging.WARNING)
    fused = optimize_model(str(work / "model.onnx"), model_type="bert", num_heads=int(config["num_attention_heads"]),
                           hidden_size=int(config["hidden_size"]))
    fused.save_model_to_file(str(work / "model_fused.onnx"))
    quiet = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        cfg = nbits.DefaultWeightOnlyQuantConfig(block_size=BLOCK_SIZE, is_symmetric=True, accuracy_level=4, bits=8)
        q = nbits.MatMulNBitsQuantizer(onnx.load(str(work / "model_fused.onnx")), algo_config=cfg)
        q.process()
        q.model.save_model_to_file(str(work / "model_nbits8.onnx"), False)
    finally:
        quiet.setLevel(level)


# Texts up to this many word pieces run in fp32: 8-bit error weighs most on a short text (a one-word
# text fell to cosine 0.9986), and short texts cost little. Questions and facet queries are short;
# chunks are about 200 word pieces.
SHORT = 64


class OnnxEmbedder(PackagedModelEmbedder):
    """all-MiniLM-L6-v2 on ONNX Runtime; vectors within cosine 0.999 of sentence-transformers'."""

    def __init__(self, model_path: str | os.PathLike | None = None, quantized: bool = True, threads: int | None = None,
                 cache: str | os.PathLike | None = None):
        super().__init__(model_path)
        self.quantized = quantized
        self.threads = threads or (os.cpu_count() or 1)
        self.cache = cache
        self.max_tokens = int(json.loads((self.path / "sentence_bert_config.json").read_text()).get("max_seq_length", 256)) \
            if (self.path / "sentence_bert_config.json").exists() else 256
        self._sessions: dict[bool, tuple] = {}
        self._tokenizer = None

    def _session(self, quantized: bool):
        """(session, input names) for the 8-bit or the fp32 model, loaded on first use."""
        if quantized not in self._sessions:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.log_severity_level = 3
            session = ort.InferenceSession(str(exported_model(self.path, quantized, self.cache)), opts, providers=["CPUExecutionProvider"])
            self._sessions[quantized] = (session, [i.name for i in session.get_inputs()])
        return self._sessions[quantized]

    @property
    def tokenizer(self):
        """Word pieces with [CLS]/[SEP], cut at the model's window, as sentence-transformers feeds the model."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            tok.enable_truncation(self.max_tokens)
            tok.no_padding()
            self._tokenizer = tok
        return self._tokenizer

    def embed_batch(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts, batch_size=max(len(texts), 1))

    def embed_sentences(self, texts: list[str], progress: bool = False, desc: str = "Sentences") -> list[list[float]]:
        """A filing's candidate sentences, all on the 8-bit model: they rank against each other and against
        queries, where cosine 0.999 to fp32 changes nothing, and they are most of an ingest's texts (2.2x faster)."""
        return self.collect(texts, self.batches(texts, 32, short=0), progress, desc)

    def _run(self, pieces: list[list[int]], quantized: bool):
        import numpy as np

        session, inputs = self._session(quantized)
        width = max((len(p) for p in pieces), default=1)
        ids = np.zeros((len(pieces), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, p in enumerate(pieces):
            ids[row, : len(p)] = p
            mask[row, : len(p)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {name: feed[name] for name in inputs})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def batches(self, texts: list[str], batch_size: int, short: int = SHORT):
        """All texts tokenized at once, then run in batches of similar length.

        Texts of up to ``short`` (SHORT) word pieces go to the fp32 model, longer ones to the 8-bit one (a
        text's model depends on its own length only, never on its batch)."""
        pieces = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(texts)), key=lambda i: len(pieces[i]))
        groups = [[i for i in order if len(pieces[i]) <= short], [i for i in order if len(pieces[i]) > short]]
        for quantized, group in zip((False, self.quantized), groups):
            for start in range(0, len(group), batch_size):
                idx = group[start : start + batch_size]
                yield idx, self._run([pieces[i] for i in idx], quantized).tolist()
