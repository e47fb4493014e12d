"""Embedding and ingest throughput: the plain sentence-transformers loop against ONNX Runtime, side by side.

Prints figures; asserts nothing about speed. All variants embed the SAME chunks (the real chunker over
a few filings of ../shared/corpus, or --file), in one process, in rounds that alternate their order
(the median round is reported, so a burst of load elsewhere does not favour one variant):

- ``torch loop``: ``SentenceTransformerEmbedder.embed`` as ingest ran it before, batches of 32 in
  document order, each batch through ``SentenceTransformer.encode`` (the baseline, 1.00x);
- ``torch sorted``: one ``encode`` call over all chunks (sentence-transformers sorts by length);
- ``onnx fp32``: the fused ONNX export in fp32, length-sorted batches;
- ``onnx int8 per-tensor``: ONNX Runtime's dynamic int8 quantization (rejected: see the cosine);
- ``onnx nbits8`` (the default embedder): 8-bit weight blocks of 128, int8 products with per-block scales.

For each: seconds, chunks/s, speedup over the baseline, and cosine similarity to the baseline's vectors
(min, 1st percentile, mean). Then the whole ingest (load, clean, chunk, embed, store into a fresh Chroma
directory) of the same files with the baseline embedder and with the default one: chunks/s and speedup.

    .venv/bin/python bench/bench_embed.py                   # 3 filings, up to 1,200 chunks, 3 rounds
    .venv/bin/python bench/bench_embed.py --files 1 --chunks 300 --rounds 1   # quick
    .venv/bin/python bench/bench_embed.py --file path/to/10k.json --no-ingest

Threads: ONNX Runtime and torch both use every core (``RAG_EMBED_THREADS`` / torch's default).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


from benchlib import log, peak_rss_mb  # noqa: E402  (bench/ is the script's folder)


def pick_files(args) -> list[Path]:
    if args.file:
        return [Path(f) for f in args.file]
    folder = DEFAULT_CORPUS / "edgar-10k"
    if not folder.is_dir():
        log(f"skipped: {folder} is absent; pass --file FILING")
        sys.exit(0)
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_size)
    # mid-sized filings, spread over the list: not the tiny ones, not the longest
    mid = files[len(files) // 4 : 3 * len(files) // 4]
    step = max(1, len(mid) // max(args.files, 1))
    return mid[::step][: args.files]


def load_chunks(files: list[Path], counter, limit: int) -> list[str]:
    from dataclasses import replace

    from ingest.chunking import chunk_document
    from ingest.loaders import load_document
    from ingest.sections import detect_sections

    texts: list[str] = []
    for f in files:
        doc = load_document(f)
        doc = replace(doc, sections=doc.sections or detect_sections(doc.text))
        texts.extend(c.text for c in chunk_document(doc, "bench", counter))
    return texts[:limit] if limit else texts


def dynamic_int8(fused: Path) -> Path:
    """ONNX Runtime's per-tensor dynamic int8 quantization of the fused model (measured, not used)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = fused.with_name("model_dynamic_int8.onnx")
    if not target.exists():
        import logging

        logging.getLogger().setLevel(logging.ERROR)
        quantize_dynamic(str(fused), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT})
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", action="append", help="a filing to chunk (repeatable) instead of corpus filings")
    ap.add_argument("--files", type=int, default=3, help="corpus filings to chunk [3]")
    ap.add_argument("--chunks", type=int, default=1200, help="at most this many chunks [1200]; 0 = all")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of all variants, order alternating [3]")
    ap.add_argument("--no-ingest", action="store_true", help="skip the end-to-end ingest comparison")
    ap.add_argument("--only-ingest", action="store_true", help="skip the embedding table")
    args = ap.parse_args()

    import numpy as np

    from ingest.embed import SentenceTransformerEmbedder
    from ingest.onnx_embed import OnnxEmbedder, exported_model

    files = pick_files(args)
    torch_emb = SentenceTransformerEmbedder()
    texts = load_chunks(files, torch_emb.count_tokens_batch, args.chunks)
    pieces = torch_emb.count_tokens_batch(texts)
    print(f"{len(texts)} chunks from {len(files)} filings ({', '.join(f.name for f in files)}); "
          f"word pieces per chunk: mean {statistics.mean(pieces):.0f}, max {max(pieces)}; cores {os.cpu_count()}")

    t = time.perf_counter()
    fused = exported_model(quantized=False)
    exported_model(quantized=True)
    log(f"ONNX export ready in {time.perf_counter() - t:.1f} s: {fused.parent}")
    per_tensor = OnnxEmbedder(quantized=True)
    import onnxruntime as ort

    def session(path: Path):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    dynamic = session(dynamic_int8(fused))
    per_tensor._sessions[True] = (dynamic, [i.name for i in dynamic.get_inputs()])  # texts past 64 word pieces run on it

    nbits = OnnxEmbedder(quantized=True)
    variants = {
        "torch loop (baseline)": lambda: torch_emb.embed(texts),
        "torch sorted": lambda: torch_emb.model.encode(texts, batch_size=32, normalize_embeddings=True).tolist(),
        "onnx fp32 fused": OnnxEmbedder(quantized=False).embed,
        "onnx int8 per-tensor": per_tensor.embed,
        "onnx nbits8 (default)": nbits.embed,
    }
    if args.only_ingest:
        variants = {}
    for name, fn in variants.items():  # load models and warm up, not counted
        (fn([texts[0]]) if name.startswith("onnx") else torch_emb.embed(texts[:2]))
    times: dict[str, list[float]] = {n: [] for n in variants}
    vectors: dict[str, np.ndarray] = {}
    names = list(variants)
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            fn = variants[name]
            t = time.perf_counter()
            out = fn() if not name.startswith("onnx") else fn(texts)
            times[name].append(time.perf_counter() - t)
            vectors[name] = np.asarray(out, dtype=np.float32)
            log(f"round {r + 1}: {name}: {times[name][-1]:.1f} s")
    if names:
        base = statistics.median(times[names[0]])
        ref = vectors[names[0]]
        print(f"\nEmbedding {len(texts)} chunks, median of {args.rounds} round(s):\n")
        print("| variant | seconds | chunks/s | speedup | cosine min | cosine p1 | cosine mean |")
        print("|---|---|---|---|---|---|---|")
        for name in names:
            s = statistics.median(times[name])
            cos = (vectors[name] * ref).sum(axis=1)
            print(f"| {name} | {s:.1f} | {len(texts) / s:.1f} | {base / s:.2f}x | {cos.min():.5f} | "
                  f"{np.percentile(cos, 1):.5f} | {cos.mean():.6f} |")

    if not args.no_ingest:
        from ingest.loaders import load_document
        from rag.api import ingest_file
        from vectorstore.chroma import ChromaStore

        print(f"\nIngest (load, clean, chunk, embed, store) of the {len(files)} whole filings into a fresh store, median of {args.rounds} round(s):\n")
        print("| embedder | chunks | seconds | chunks/s | speedup |")
        print("|---|---|---|---|---|")
        pair = (("torch loop (baseline)", torch_emb), ("onnx nbits8 (default)", nbits))
        took: dict[str, list[float]] = {label: [] for label, _ in pair}
        counts: dict[str, int] = {}
        for r in range(args.rounds):
            for label, emb in (pair if r % 2 == 0 else pair[::-1]):
                with tempfile.TemporaryDirectory() as tmp:
                    store = ChromaStore.open(Path(tmp) / "store")
                    t = time.perf_counter()
                    counts[label] = sum(ingest_file(store, f, emb, doc=load_document(f)).chunks for f in files)
                    took[label].append(time.perf_counter() - t)
                    del store
                log(f"round {r + 1}: ingest with {label}: {counts[label]} chunks in {took[label][-1]:.1f} s")
        base_s = statistics.median(took[pair[0][0]])
        for label, _ in pair:
            s = statistics.median(took[label])
            print(f"| {label} | {counts[label]} | {s:.1f} | {counts[label] / s:.1f} | {base_s / s:.2f}x |")
    print(f"\npeak RSS: {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
