"""Benchmark: ingest throughput, cold and warm summarize wall time, and LLM input tokens per summary.

Runs on the largest filing of ../shared/corpus (FedEx 2023, all items joined) by default, on
2 cores as CI has them. Prints figures; asserts nothing about speed.

    .venv/bin/python bench/bench_pipeline.py [--filing PATH] [--skip-llm | --llm SPEC]
    .venv/bin/python bench/bench_pipeline.py --llm local        # the default local GGUF model, 2-4 min on 2 cores
    .venv/bin/python bench/bench_pipeline.py --baseline REV --skip-llm   # cold and warm beside git revision REV

With --baseline REV, that revision is checked out into a temporary worktree and the cold and warm
summaries of both are measured in the same run, alternately (baseline cold, current cold, then
warm rounds taking turns), so a busy machine weighs on both alike.

"cold" is a fresh process on a fresh store (model load + ingest + summarize); "warm" is a fresh
process on the store that already holds the filing (index reused, query embeddings cached).

Without --llm, the LLM-backend figures come from a local stub server (calls and input tokens per
summary; --skip-llm skips them). With --llm SPEC (`local`, `local:qwen2.5-coder-0.5b`,
`MODEL@BASE_URL`; anything `rag summarize --llm` takes) the stub is replaced by a real model:
`rag summarize DOC --json --llm SPEC` runs as a fresh process on the store that already holds
the filing, and the script prints its wall time (model load included) and peak RSS, one line per
model call (tokens, seconds, tokens/s, reply, sentences offered/used), totals, and the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILING = ROOT.parent / "shared" / "corpus" / "edgar-10k" / "1048911_10K_2023_0000950170-23-033201.json"
sys.path.insert(0, str(ROOT))


def run(args: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """``rag ARGS`` as a fresh process; with ``cwd``, the code of that checkout (``python -m`` imports from it)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rag.cli", *args], check=False, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=1800, cwd=cwd)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"command failed: rag {' '.join(args)}\n{proc.stderr}")
    return took, proc


def child_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_measured(args: list[str], env: dict | None = None, timeout: float = 1800) -> tuple[float, float, subprocess.CompletedProcess]:
    """Like :func:`run`, plus the peak RSS (MB) of that one process, from its own ``wait4`` rusage.

    RUSAGE_CHILDREN's ru_maxrss is the maximum over every child so far (the cold summarize
    included), so a before/after delta cannot isolate one process; ``wait4`` can. Output goes to
    temporary files, so no pipe fills up while nobody reads it.
    """
    cmd = [sys.executable, "-m", "rag.cli", *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True, env={**os.environ, **(env or {})})
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        took = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
    if done.returncode != 0:
        sys.exit(f"command failed (exit {done.returncode}, {took:.0f} s): rag {' '.join(args)}\n{done.stderr}")
    return took, usage.ru_maxrss / 1024, done


def _rate(tokens: int, seconds: float) -> str:
    return f"{tokens / seconds:.1f}" if seconds > 0 else "-"


def report_llm(spec: str, document: str, store: Path, env: dict) -> None:
    """Run `rag summarize DOC --json --llm SPEC` once as a fresh process and print its figures."""
    took, rss, proc = run_measured(["summarize", document, "--store", str(store), "--json", "--llm", spec], env=env)
    out = json.loads(proc.stdout)
    llm = out.get("llm") or {}
    facets = llm.get("facets") or []
    usage = out.get("llm_usage") or {}
    print(f"LLM backend (--llm {spec}, {out['backend']}): wall {took:.1f} s (fresh process on the indexed store: "
          f"load embedder and model, retrieve, {len(facets)} facets, summarize)  peak RSS {rss:,.0f} MB")
    for f in facets:
        total = f["prompt_tokens"] + f["completion_tokens"]
        called = f["reply"] != "none"
        cost = (f"{f['prompt_tokens']:,} prompt + {f['completion_tokens']:,} completion tokens in {f['seconds']:.1f} s = "
                f"{_rate(total, f['seconds'])} tokens/s ({_rate(f['completion_tokens'], f['seconds'])} completion tokens/s)"
                if called else "no call (no evidence)")
        why = f", why: {f['reason']}" if f.get("reason") else ""
        withheld = f", {len(f['dropped'])} withheld" if f.get("dropped") else ""
        print(f"  {f['facet']}: {cost}; reply {f['reply']}, {f['offered']} sentence(s) offered, {f['used']} used{withheld}, "
              f"{f['evidence_lines']} evidence lines, source {f['source']}{why}")
    calls = [f for f in facets if f["reply"] != "none"]
    prompt = sum(f["prompt_tokens"] for f in facets)
    completion = sum(f["completion_tokens"] for f in facets)
    seconds = sum(f["seconds"] for f in facets)
    agree = (usage.get("prompt_tokens"), usage.get("completion_tokens")) == (prompt, completion)
    print(f"  total: {len(calls)} calls, {prompt:,} prompt + {completion:,} completion tokens, {seconds:.1f} s in model calls "
          f"= {_rate(prompt + completion, seconds)} tokens/s ({_rate(completion, seconds)} completion tokens/s); "
          f"llm_usage {usage}{'' if agree else ' (differs from the sum over facets)'}")
    print(f"  wall {took:.1f} s of which {seconds:.1f} s model calls, {took - seconds:.1f} s process start, model loads, retrieval "
          f"and choice; timings {out.get('timings')}")
    withheld = sum(len(f.get("dropped") or []) for f in facets)
    print(f"summary: {out['tokens']} tokens (ceiling {out['max_tokens']}), fallback to embedded: {llm.get('fallback') or 'none'}, "
          f"dropped by grounding: {len(out.get('dropped') or [])}, model sentences withheld: {withheld}")
    names = list(out["facets"])
    written = [n for n in names if out["facets"][n]]
    addressed = len(written) == len(names) and not out["missing"]
    print(f"facets addressed: {'all' if addressed else 'NOT all'} ({len(written)}/{len(names)} with cited sentences; "
          f"missing: {out['missing'] or 'none'}; without a cited sentence: {[n for n in names if not out['facets'][n]] or 'none'})")
    print("summary text:")
    print(out["summary"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filing", type=Path, default=DEFAULT_FILING)
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--skip-llm", action="store_true", help="skip the LLM-backend figures (the stub-server run)")
    which.add_argument("--llm", metavar="SPEC", help="instead of the stub server, summarize with this model: local, local:NAME, "
                                                     "MODEL@BASE_URL (as `rag summarize --llm`)")
    ap.add_argument("--baseline", metavar="REV", help="also measure git revision REV, side by side (cold and warm, alternately)")
    args = ap.parse_args()
    if not args.filing.is_file():
        sys.exit(f"filing not found: {args.filing} (the shared corpus must sit beside the repository)")
    # the figures above the LLM section are the embedded backend's; only an explicit --llm gets the key back
    key_env = {k: v for k, v in os.environ.items() if k in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    env = {k: v for k, v in os.environ.items() if k not in key_env}
    os.environ.clear()
    os.environ.update(env)

    from ingest.loaders import load_document
    from rag.tokens import count_tokens

    doc = load_document(args.filing)
    tokens = count_tokens(doc.text)
    print(f"filing: {args.filing.name}  {len(doc.text):,} chars  {tokens:,} cl100k tokens  cores: {os.cpu_count()}")

    if args.baseline:
        side_by_side(args.filing, args.baseline)

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
        from rag.api import default_embedder
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

        if args.llm:
            report_llm(args.llm, out["document"], store, key_env)
        elif not args.skip_llm:
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


def side_by_side(filing: Path, revision: str, rounds: int = 3) -> None:
    """Cold and warm summaries of ``filing`` with git revision ``revision`` and with this checkout, taking turns."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision], check=True, capture_output=True)
        try:
            sides = {f"baseline {revision[:10]}": tree, "this checkout": ROOT}
            stores = {name: Path(tmp) / f"store-{i}" for i, name in enumerate(sides)}
            cold, warm, tokens = {}, {name: [] for name in sides}, {}
            for name, cwd in sides.items():
                cold[name], proc = run(["summarize", str(filing), "--store", str(stores[name]), "--json"], cwd=cwd)
                out = json.loads(proc.stdout)
                tokens[name] = (out["tokens"], out["document"])
            for _ in range(rounds):
                for name, cwd in sides.items():
                    warm[name].append(run(["summarize", tokens[name][1], "--store", str(stores[name]), "--json"], cwd=cwd)[0])
            print(f"side by side, {filing.name} ({rounds} warm rounds, alternating):")
            for name in sides:
                print(f"  {name:<22} cold {cold[name]:6.1f} s   warm {', '.join(f'{w:.2f}' for w in warm[name])} s   "
                      f"summary {tokens[name][0]} tokens")
            base, this = list(sides)
            print(f"  cold: {cold[this] / cold[base]:.2f}x the baseline; warm median: "
                  f"{sorted(warm[this])[rounds // 2] / sorted(warm[base])[rounds // 2]:.2f}x")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)


if __name__ == "__main__":
    main()
