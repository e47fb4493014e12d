"""Benchmark: ingest throughput, cold and warm summarize wall time, and LLM input tokens per summary.

Runs on the largest filing of ../shared/corpus (FedEx 2023, all items joined) by default, on
2 cores as CI has them. Prints figures; asserts nothing about speed.

    .venv/bin/python bench/bench_pipeline.py [--filing PATH] [--skip-llm]

"cold" is a fresh process on a fresh store (model load + ingest + summarize); "warm" is a fresh
process on the store that already holds the filing (index reused, query embeddings cached).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILING = ROOT.parent / "shared" / "corpus" / "edgar-10k" / "1048911_10K_2023_0000950170-23-033201.json"
sys.path.insert(0, str(ROOT))


def run(args: list[str], env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=1800)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"command failed: rag {' '.join(args)}\n{proc.stderr}")
    return took, proc


def child_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filing", type=Path, default=DEFAULT_FILING)
    ap.add_argument("--skip-llm", action="store_true", help="skip the LLM-backend figures")
    args = ap.parse_args()
    if not args.filing.is_file():
        sys.exit(f"filing not found: {args.filing} (the shared corpus must sit beside the repository)")
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    os.environ.clear()
    os.environ.update(env)

    from ingest.loaders import load_document
    from rag.tokens import count_tokens

    doc = load_document(args.filing)
    tokens = count_tokens(doc.text)
    print(f"filing: {args.filing.name}  {len(doc.text):,} chars  {tokens:,} cl100k tokens  cores: {os.cpu_count()}")

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        cold, proc = run(["summarize", str(args.filing), "--store", str(store), "--json"])
        out = json.loads(proc.stdout)
        docs = json.loads(run(["docs", "--store", str(store), "--json"])[1].stdout)
        chunks = docs[0]["chunks"]
        print(f"cold summarize (fresh store: load model, ingest, summarize): {cold:.1f} s  peak RSS {child_peak_rss_mb():.0f} MB")
        warm_runs = [run(["summarize", out["document"], "--store", str(store), "--json"])[0] for _ in range(3)]
        print(f"warm summarize (index reused), 3 runs: {', '.join(f'{w:.2f}' for w in warm_runs)} s")
        print(f"summary: {out['tokens']} tokens (ceiling {out['max_tokens']}), missing facets: {out['missing'] or 'none'}")

        # ingest alone, in-process, on a second store: throughput without process start-up
        from ingest.embed import default_embedder
        from rag.api import ingest_file
        from vectorstore.chroma import ChromaStore

        embedder = default_embedder()
        embedder.embed(["warm up"])  # model load is not ingest throughput
        db = ChromaStore.open(Path(tmp) / "store2")
        t = time.perf_counter()
        result = ingest_file(db, args.filing, embedder)
        took = time.perf_counter() - t
        print(f"ingest: {result.chunks} chunks in {took:.1f} s = {result.chunks / took:.1f} chunks/s, {tokens / took:,.0f} tokens/s")
        t = time.perf_counter()
        again = ingest_file(db, args.filing, embedder)
        print(f"re-ingest unchanged file: {again.chunks_added} chunks added in {time.perf_counter() - t:.2f} s")
        size = sum(p.stat().st_size for p in (Path(tmp) / "store2").rglob("*") if p.is_file())
        print(f"store size on disk: {size / 1e6:.1f} MB for {chunks} chunks")

        if not args.skip_llm:
            sys.path.insert(0, str(ROOT / "tests"))
            from openai_stub import OpenAIStub

            with OpenAIStub(lambda req: "- Revenue was stated. [x]") as stub:
                t = time.perf_counter()
                _, proc = run(["summarize", out["document"], "--store", str(store), "--json", "--llm", f"stub-model@{stub.base_url}"])
                llm_out = json.loads(proc.stdout)
                sent = [count_tokens("\n".join(m["content"] for m in r["messages"])) for r in stub.requests]
            print(f"LLM backend (local stub server): {len(sent)} calls, {sum(sent):,} input tokens per summary "
                  f"(max {max(sent):,} per call) vs {tokens:,} tokens in the filing; wall {time.perf_counter() - t:.1f} s; "
                  f"usage reported {llm_out.get('llm_usage')}")


if __name__ == "__main__":
    main()
