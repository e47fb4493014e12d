"""Benchmark: memory on hostile sizes. Each case runs in a fresh process and reports its peak RSS.

1. A 200 MB text file: refused before it is read (the 64 MB limit, RAG_MAX_FILE_MB).
2. A filing that is one 10 MB line (no newline, sentences only): loaded and chunked with the real
   tokenizer into chunks that fit the embedding model; peak RSS and time reported. Embedding those
   chunks is the ordinary per-chunk cost (bench_pipeline.py), so it is left out here.
3. The same 10 MB as ordinary lines, for comparison.

    .venv/bin/python bench/bench_limits.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from ingest.errors import InputError
from ingest.loaders import load_document
t0 = time.perf_counter()
out = {}
try:
    doc = load_document(sys.argv[1])
    out["loaded_chars"] = len(doc.text)
    from ingest.chunking import chunk_document
    from rag.api import default_embedder
    from ingest.sections import detect_sections
    from dataclasses import replace
    emb = default_embedder()
    doc = replace(doc, sections=doc.sections or detect_sections(doc.text))
    chunks = chunk_document(doc, "bench", emb.count_tokens_batch)
    out["chunks"] = len(chunks)
    out["max_chunk_tokens"] = max(emb.count_tokens(c.text) for c in chunks[:200])
except InputError as exc:
    out["refused"] = str(exc)
out["seconds"] = round(time.perf_counter() - t0, 1)
out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
"""


def run(path: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(ROOT)], capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    sentence = "Net sales increased 6% to $1.2 billion, driven by frozen seafood sold to grocery chains and club stores. "
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        big = Path(tmp) / "huge.txt"
        with open(big, "wb") as f:
            f.truncate(200 * 1024 * 1024)  # sparse: the size is what is refused
        one_line = Path(tmp) / "one_line.txt"
        one_line.write_text((sentence * (10 * 1024 * 1024 // len(sentence) + 1))[: 10 * 1024 * 1024])
        lines = Path(tmp) / "lines.txt"
        lines.write_text((sentence + "\n") * (10 * 1024 * 1024 // (len(sentence) + 1)))
        rows = [("200 MB file", big), ("one 10 MB line", one_line), ("10 MB in ordinary lines", lines)]
        print(f"{'case':<26} {'outcome':<60} {'seconds':>8} {'peak RSS MB':>12}")
        for name, path in rows:
            r = run(path)
            if "refused" in r:
                outcome = "refused: " + r["refused"].split(" is ", 1)[-1][:50]
            elif "chunks" in r:
                outcome = f"{r['loaded_chars']:,} chars -> {r['chunks']:,} chunks, max {r['max_chunk_tokens']} word pieces"
            else:
                outcome = f"error: {r.get('error')}"
            print(f"{name:<26} {outcome:<60} {r.get('seconds', '-'):>8} {r.get('peak_rss_mb', '-'):>12}")


if __name__ == "__main__":
    main()
