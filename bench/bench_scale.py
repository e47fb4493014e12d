"""Benchmark at scale: the whole shared corpus, question answering over it, and the store at 100k-1M vectors.

Prints figures; asserts nothing about speed. Three parts, each can be skipped:

1. Corpus ingest. Every filing of ../shared/corpus (62 edgar-10k + 8 long-10k JSON files) is
   loaded and ingested in-process into a fresh store (a temporary directory, or --store DIR to
   keep it) with one embedding model loaded once (model load is not counted). Reports chunks,
   cl100k tokens of the loaded text, wall time, chunks/s, tokens/s, store size on disk and peak
   RSS; a file that fails to load or ingest is reported and skipped. Then the whole corpus is
   ingested again: nothing may be added.

2. Ask latency. A fixed list of questions across the corpus, asked through the CLI in a fresh
   process each (`rag ask QUESTION --store DIR --json`, model load included), then in-process
   through `rag.Index(store=DIR).ask(question)` when that API exists (one warm-up call not
   counted). Reports p50/p95 of both. Needs the corpus store: run part 1, or pass
   --skip-ingest --store DIR with a store that holds the corpus.

3. Store query latency at scale. Random unit vectors (384 dims, like all-MiniLM-L6-v2) with a
   ``doc_id`` metadata spread round-robin over --docs documents are inserted, in batches of the
   client's max batch size, into a store opened with ``ChromaStore.open`` (so the collection has
   the production configuration: cosine space). Bulk insert and the unfiltered query go
   through chromadb directly (ChromaStore writes one document at a time and always filters by
   document); the filtered query is ``ChromaStore.query`` itself. Reports insert time, store size
   on disk, p50/p95 over --queries random query vectors for top-10 unfiltered and top-10 of one
   document, recall@10 of both against exact search, and a cold open + first query in a fresh
   process. A size of 1M or more is skipped when the disk has less than --min-free-gb free.

    nice -n 10 .venv/bin/python bench/bench_scale.py                       # everything (long)
    .venv/bin/python bench/bench_scale.py --limit 5 --vectors 100000       # quick run
    .venv/bin/python bench/bench_scale.py --store /tmp/corpus-store --vectors 0   # keep the store
    .venv/bin/python bench/bench_scale.py --skip-ingest --store /tmp/corpus-store --vectors 0  # ask only

OPENAI_API_KEY / OPENAI_BASE_URL are removed from the environment: answers use the offline
backend. Progress goes to stderr, figures to stdout.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))

DIMS = 384
VECTOR_PREFIX = "bench_vectors"

# (question, filters). Filters map to `rag ask` flags: --company, --year, --item, --doc (repeatable);
# a "doc" filter names a company whose document id is looked up in the store at run time.
QUESTIONS: list[tuple[str, dict]] = [
    ("Which companies rely on commercial paper?", {}),
    ("What was FedEx's revenue in 2023?", {}),
    ("Who are Worthington's largest customers?", {}),
    ("How does Nike distribute its products?", {}),
    ("What are NVIDIA's main sources of revenue?", {}),
    ("How many restaurants does Darden operate?", {}),
    ("Which segments does Walt Disney report?", {}),
    ("What are DoorDash's main risks?", {}),
    ("How does Tyson Foods source its cattle and chickens?", {"company": "Tyson Foods", "year": 2022}),
    ("How is the Coca-Cola bottling system organized?", {"item": "1"}),
    ("What products does SanDisk sell?", {"company": "SanDisk"}),
    ("What were net sales and operating income?", {"doc": "WORTHINGTON"}),
]
WARMUP_QUESTION = "What does the company do?"


# --------------------------------------------------------------------------- helpers


from benchlib import dir_size_mb, log, pct, peak_rss_mb  # noqa: E402,F401  (bench/ is the script's folder)


def p50_p95(values: list[float], unit: str = "s", scale: float = 1.0, digits: int = 2) -> str:
    if not values:
        return "no samples"
    return (f"p50 {pct(values, 50) * scale:.{digits}f} {unit}, p95 {pct(values, 95) * scale:.{digits}f} {unit} "
            f"(n={len(values)}, min {min(values) * scale:.{digits}f}, max {max(values) * scale:.{digits}f})")


def corpus_files(corpus: Path) -> list[Path]:
    return sorted((corpus / "edgar-10k").glob("*.json")) + sorted((corpus / "long-10k").glob("*.json"))


# --------------------------------------------------------------------------- part 1: ingest


def bench_ingest(files: list[Path], store_dir: Path) -> dict:
    from rag.api import default_embedder
    from ingest.loaders import load_document
    from rag.api import ingest_file
    from rag.tokens import count_tokens
    from vectorstore.chroma import ChromaStore

    n_edgar = sum(1 for f in files if f.parent.name == "edgar-10k")
    print(f"\n== 1. corpus ingest: {len(files)} files ({n_edgar} edgar-10k, {len(files) - n_edgar} long-10k), "
          f"cores {os.cpu_count()}, store {store_dir}")
    t = time.perf_counter()
    embedder = default_embedder()
    embedder.embed(["warm up"])  # model load is not ingest throughput
    model_load = time.perf_counter() - t
    store = ChromaStore.open(store_dir)

    chunks = added = tokens = chars = 0
    skipped: list[tuple[Path, str]] = []
    ingest_s = tokens_s = 0.0
    wall0 = time.perf_counter()
    for i, path in enumerate(files, 1):
        t = time.perf_counter()
        try:
            doc = load_document(path)
            result = ingest_file(store, path, embedder, doc=doc)
        except Exception as exc:  # a bad file is reported and skipped, the rest goes on
            ingest_s += time.perf_counter() - t
            skipped.append((path, f"{type(exc).__name__}: {exc}"))
            log(f"[{i}/{len(files)}] {path.name}: SKIPPED ({type(exc).__name__}: {exc})")
            continue
        took = time.perf_counter() - t
        ingest_s += took
        t = time.perf_counter()
        doc_tokens = count_tokens(doc.text)
        tokens_s += time.perf_counter() - t
        chunks += result.chunks
        added += result.chunks_added
        tokens += doc_tokens
        chars += len(doc.text)
        log(f"[{i}/{len(files)}] {path.parent.name}/{path.name}: {result.status}, {result.chunks} chunks, "
            f"{doc_tokens:,} tokens, {took:.1f} s (total {chunks:,} chunks, {time.perf_counter() - wall0:.0f} s)")
    wall = time.perf_counter() - wall0
    documents = len(store.list_documents())
    size = dir_size_mb(store_dir) if store_dir.exists() else 0.0
    ok = len(files) - len(skipped)

    print(f"embedding model load (not counted): {model_load:.1f} s")
    print(f"ingested {ok} files, skipped {len(skipped)}; documents in store: {documents}")
    for path, why in skipped:
        print(f"  skipped {path.parent.name}/{path.name}: {why}")
    print(f"chunks: {chunks:,} ({added:,} added); text: {chars:,} chars, {tokens:,} cl100k tokens")
    if ingest_s > 0:
        print(f"ingest wall time (load + clean + chunk + embed + store): {ingest_s:.1f} s = "
              f"{chunks / ingest_s:.1f} chunks/s, {tokens / ingest_s:,.0f} tokens/s "
              f"(cl100k counting, {tokens_s:.1f} s, excluded; loop wall {wall:.1f} s)")
    print(f"store size on disk: {size:.1f} MB ({size * 1e6 / max(chunks, 1) / 1e3:.1f} kB per chunk)")
    print(f"peak RSS (this process, so far): {peak_rss_mb():,.0f} MB")

    # Re-ingest: every file is loaded again (the id is content-derived), nothing may be added.
    t = time.perf_counter()
    again = 0
    statuses: dict[str, int] = {}
    for path in files:
        if any(path == s for s, _ in skipped):
            continue
        try:
            result = ingest_file(store, path, embedder, doc=load_document(path))
        except Exception as exc:
            statuses["error"] = statuses.get("error", 0) + 1
            log(f"re-ingest {path.name}: {type(exc).__name__}: {exc}")
            continue
        again += result.chunks_added
        statuses[result.status] = statuses.get(result.status, 0) + 1
    reingest = time.perf_counter() - t
    print(f"re-ingest of the whole corpus: {again} chunks added in {reingest:.1f} s "
          f"({', '.join(f'{v} {k}' for k, v in sorted(statuses.items()))})")
    return {"chunks": chunks, "wall": ingest_s, "reingest": reingest}


# --------------------------------------------------------------------------- part 2: ask


def _ask_args(question: str, filters: dict, store_dir: Path, k: int | None) -> list[str]:
    args = ["ask", question, "--store", str(store_dir), "--json"]
    for key in ("company", "year", "item"):
        if key in filters:
            args += [f"--{key}", str(filters[key])]
    for doc_id in filters.get("doc", []):
        args += ["--doc", doc_id]
    if k:
        args += ["--k", str(k)]
    return args


def _resolve_doc_filters(store_dir: Path) -> list[tuple[str, dict]]:
    """Turn a ``doc`` filter naming a company into that company's document id(s) in the store."""
    from vectorstore.chroma import ChromaStore

    records = ChromaStore.open(store_dir, create=False)
    records = records.list_documents() if records is not None else []
    out = []
    for question, filters in QUESTIONS:
        if "doc" in filters:
            name = filters["doc"].lower()
            ids = [r.id for r in records if name in r.metadata.get("company", "").lower() or name in r.id.lower()]
            filters = {**filters, "doc": ids[:1]} if ids else {k: v for k, v in filters.items() if k != "doc"}
            if not ids:
                log(f"no document of {name!r} in the store; asking {question!r} without --doc")
        out.append((question, filters))
    return out


def _ask_kwargs(filters: dict, k: int | None) -> dict:
    """The CLI flags as keyword arguments of ``Index.ask``: --doc (repeatable) is ``docs``."""
    kwargs = {("docs" if key == "doc" else key): (str(v) if key == "year" else v) for key, v in filters.items()}
    return {**kwargs, "k": k} if k else kwargs


def _describe(filters: dict) -> str:
    return " ".join(f"--{k} {' '.join(v) if isinstance(v, list) else v}" for k, v in filters.items())


def bench_ask(store_dir: Path, timeout: float, k: int | None) -> None:
    print(f"\n== 2. ask latency: {len(QUESTIONS)} questions, store {store_dir}")
    if not (store_dir / "chroma.sqlite3").exists():
        print(f"no store at {store_dir}; run the ingest part or pass --store DIR holding the corpus")
        return
    questions = _resolve_doc_filters(store_dir)

    # -- through the CLI, a fresh process per question (model load and store open included)
    probe = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "--help"], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        first = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
        print(f"`rag ask` not available (`rag ask --help` exited {probe.returncode}: {first})")
    else:
        sub: list[float] = []
        failures = 0
        for i, (question, filters) in enumerate(questions, 1):
            args = _ask_args(question, filters, store_dir, k)
            t = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                failures += 1
                print(f"  [{i:2}] TIMEOUT after {timeout:.0f} s: {question}")
                continue
            took = time.perf_counter() - t
            if proc.returncode != 0:
                failures += 1
                last = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
                print(f"  [{i:2}] exit {proc.returncode} in {took:.1f} s: {question} {_describe(filters)}\n       {last}")
                continue
            sub.append(took)
            try:
                out = json.loads(proc.stdout)
                answer, cites = str(out.get("answer", "")), out.get("citations", [])
                missing = [key for key in ("answer", "citations") if key not in out]
                note = f" MISSING {missing}" if missing else ""
            except (json.JSONDecodeError, AttributeError):
                answer, cites, note = proc.stdout, [], " (stdout is not a JSON object)"
            answer = " ".join(answer.split())
            print(f"  [{i:2}] {took:5.1f} s  {len(cites):2} citations{note}  {question} {_describe(filters)}\n"
                  f"       -> {answer[:150]}{'...' if len(answer) > 150 else ''}")
        print(f"subprocess `rag ask --json` wall time: {p50_p95(sub)}; failures: {failures}")

    # -- in-process, model loaded once
    try:
        from rag import Index
    except ImportError as exc:
        print(f"in-process ask API not available ({exc})")
        return
    t = time.perf_counter()
    try:
        index = Index(store=str(store_dir))
        index.ask(WARMUP_QUESTION)
    except Exception as exc:
        print(f"in-process ask API not available ({type(exc).__name__}: {exc})")
        return
    print(f"in-process: Index() + warm-up ask (model load, not counted): {time.perf_counter() - t:.1f} s")
    inproc: list[float] = []
    for i, (question, filters) in enumerate(questions, 1):
        note, kwargs = "", _ask_kwargs(filters, k)
        try:
            inspect.signature(index.ask).bind(question, **kwargs)
        except TypeError:  # the filters are not keyword arguments of ask(): ask unfiltered
            note, kwargs = " (filters not accepted in-process; asked unfiltered)", {}
        t = time.perf_counter()
        try:
            answer = index.ask(question, **kwargs)
        except Exception as exc:
            print(f"  [{i:2}] {type(exc).__name__}: {exc}")
            continue
        took = time.perf_counter() - t
        inproc.append(took)
        text = " ".join(str(getattr(answer, "answer", answer)).split())
        cites = len(getattr(answer, "citations", None) or ())
        print(f"  [{i:2}] {took * 1e3:7.0f} ms {cites:2} citations{note}  {question} {_describe(filters)}\n"
              f"       -> {text[:100]}{'...' if len(text) > 100 else ''}")
    print(f"in-process Index.ask wall time (warm-up excluded): {p50_p95(inproc, 'ms', 1e3, 0)}")
    close = getattr(index, "close", None)
    if callable(close):
        close()


# --------------------------------------------------------------------------- part 3: vectors

_COLD_QUERY = r"""
import sys, time, json
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import numpy as np
from vectorstore.chroma import ChromaStore
store = ChromaStore.open(sys.argv[2], create=False, prefix=sys.argv[3])
import chromadb
from chromadb.config import Settings
col = chromadb.PersistentClient(path=sys.argv[2], settings=Settings(anonymized_telemetry=False, allow_reset=False)).get_collection(sys.argv[3])
t1 = time.perf_counter()
q = np.random.default_rng(7).standard_normal(384).astype("float32"); q /= np.linalg.norm(q)
store.query([q.tolist()], sys.argv[4], k=10)
t2 = time.perf_counter()
col.query(query_embeddings=[q.tolist()], n_results=10, include=["documents", "metadatas", "distances"])
t3 = time.perf_counter()
print(json.dumps({"open": t1 - t0, "filtered": t2 - t1, "unfiltered": t3 - t2}))
"""


def _unit(rng, n: int):
    import numpy as np

    v = rng.standard_normal((n, DIMS), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def bench_vectors(n: int, docs: int, queries: int, workdir: Path, seed: int, keep: bool) -> None:
    import chromadb
    import numpy as np
    from chromadb.config import Settings

    from vectorstore.chroma import ChromaStore

    path = Path(tempfile.mkdtemp(prefix=f"bench-vectors-{n}-", dir=workdir))
    print(f"\n== 3. store at {n:,} vectors ({DIMS} dims, random unit vectors, {docs:,} documents "
          f"of {n // docs:,} vectors each), store {path}")
    try:
        store = ChromaStore.open(path, prefix=VECTOR_PREFIX)  # production configuration (cosine space)
        client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False))
        col = client.get_collection(VECTOR_PREFIX)
        batch = client.get_max_batch_size()
        rng = np.random.default_rng(seed)
        data = np.empty((n, DIMS), dtype=np.float32)  # kept for exact search (recall)
        doc_of = np.arange(n) % docs

        t0 = time.perf_counter()
        next_report = 0.0
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            data[start:stop] = _unit(rng, stop - start)
            ids, metas, texts = [], [], []
            for i in range(start, stop):
                d, index = int(doc_of[i]), i // docs
                ids.append(f"synthetic-{d:05d}#{index:05d}")
                metas.append({"doc_id": f"synthetic-{d:05d}", "index": index, "start": 0, "end": 0, "item": "1"})
                texts.append(f"synthetic chunk {index} of document {d}")
            col.add(ids=ids, embeddings=data[start:stop], metadatas=metas, documents=texts)
            took = time.perf_counter() - t0
            if stop / n >= next_report or stop == n:
                log(f"  insert {n:,}: {stop:,} ({100 * stop / n:.0f}%) in {took:.0f} s, {stop / took:,.0f} vectors/s")
                next_report += 0.05
        insert = time.perf_counter() - t0
        count = col.count()
        size = dir_size_mb(path)
        print(f"insert: {count:,} vectors in {insert:.1f} s = {n / insert:,.0f} vectors/s (batches of {batch:,})")
        print(f"store size on disk: {size:,.1f} MB ({size * 1e6 / n:,.0f} bytes per vector); disk free "
              f"{shutil.disk_usage(path).free / 1e9:.1f} GB")

        qs = _unit(np.random.default_rng(seed + 1), queries)
        targets = np.random.default_rng(seed + 2).integers(0, docs, size=queries)
        include = ["documents", "metadatas", "distances"]

        t = time.perf_counter()
        col.query(query_embeddings=[qs[0].tolist()], n_results=10, include=include)
        first = time.perf_counter() - t
        for q in qs[:5]:  # warm-up, not counted
            col.query(query_embeddings=[q.tolist()], n_results=10, include=include)
            store.query([q.tolist()], f"synthetic-{int(targets[0]):05d}", k=10)

        unfiltered, filtered = [], []
        got_unf, got_f = [], []
        for q, d in zip(qs, targets):
            t = time.perf_counter()
            res = col.query(query_embeddings=[q.tolist()], n_results=10, include=include)
            unfiltered.append(time.perf_counter() - t)
            got_unf.append(res["ids"][0])
            t = time.perf_counter()
            hits = store.query([q.tolist()], f"synthetic-{int(d):05d}", k=10)
            filtered.append(time.perf_counter() - t)
            got_f.append([h.chunk.id for h in hits[0]])

        # recall@10 against exact cosine search (vectors are unit length: dot product)
        def vid(i: int) -> str:
            return f"synthetic-{int(doc_of[i]):05d}#{i // docs:05d}"

        rec_unf, rec_f = [], []
        for j in range(0, queries, 50):
            sims = qs[j : j + 50] @ data.T
            top = np.argpartition(-sims, 10, axis=1)[:, :10]
            for r, row in enumerate(top):
                rec_unf.append(len({vid(i) for i in row} & set(got_unf[j + r])) / 10)
        for q, d, got in zip(qs, targets, got_f):
            members = np.arange(int(d), n, docs)
            top = members[np.argsort(-(data[members] @ q))[:10]]
            rec_f.append(len({vid(i) for i in top} & set(got)) / 10)

        # Random queries are HNSW's worst case (in 384 dims all random points are nearly equidistant);
        # real query embeddings sit near their documents' chunks: a stored vector plus noise.
        picks = np.random.default_rng(seed + 3).choice(n, size=50, replace=False)
        near = data[picks] + _unit(np.random.default_rng(seed + 4), 50)
        near /= np.linalg.norm(near, axis=1, keepdims=True)
        found = [vid(int(i)) in col.query(query_embeddings=[v.tolist()], n_results=10, include=[])["ids"][0] for i, v in zip(picks, near)]

        print(f"first query after insert: {first * 1e3:.0f} ms")
        print(f"(a) unfiltered top-10 ({queries} queries): {p50_p95(unfiltered, 'ms', 1e3, 1)}; recall@10 {np.mean(rec_unf):.3f} "
              f"(random queries); near-data queries (a stored vector + equal-norm noise, cosine ~0.7): "
              f"that vector in the top-10 for {np.mean(found):.0%} of 50")
        print(f"(b) one document top-10, ChromaStore.query ({queries} queries): {p50_p95(filtered, 'ms', 1e3, 1)}; "
              f"recall@10 {np.mean(rec_f):.3f}")
        print(f"peak RSS (this process, so far): {peak_rss_mb():,.0f} MB")
        del data
        store = col = client = None

        proc = subprocess.run([sys.executable, "-c", _COLD_QUERY, str(ROOT), str(path), VECTOR_PREFIX, "synthetic-00000"],
                              capture_output=True, text=True, timeout=3600)
        if proc.returncode == 0:
            cold = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"cold, fresh process: open {cold['open']:.2f} s (imports included), first filtered query "
                  f"{cold['filtered'] * 1e3:.0f} ms, then first unfiltered query {cold['unfiltered'] * 1e3:.0f} ms")
        else:
            print(f"cold query in a fresh process failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the shared corpus folder (default: %(default)s)")
    ap.add_argument("--store", type=Path, default=None, metavar="DIR",
                    help="corpus store to create and keep (part 1) or to ask over (part 2); default: a temporary directory")
    ap.add_argument("--limit", type=int, default=None, metavar="N", help="ingest only the first N files (quick run)")
    ap.add_argument("--skip-ingest", action="store_true", help="skip part 1 (part 2 then needs --store DIR holding the corpus)")
    ap.add_argument("--skip-ask", action="store_true", help="skip part 2")
    ap.add_argument("--ask-timeout", type=float, default=600, metavar="S", help="timeout of one `rag ask` process (default: %(default)s)")
    ap.add_argument("--k", type=int, default=None, help="pass --k N to `rag ask` (default: the CLI's own)")
    ap.add_argument("--vectors", default="100000,1000000", metavar="N[,N...]",
                    help="synthetic store sizes for part 3, comma-separated; 0 or '' skips part 3 (default: %(default)s)")
    ap.add_argument("--docs", type=int, default=1000, help="documents the synthetic vectors are spread over (default: %(default)s)")
    ap.add_argument("--queries", type=int, default=200, help="query vectors per measurement (default: %(default)s)")
    ap.add_argument("--vector-dir", type=Path, default=Path(tempfile.gettempdir()), metavar="DIR",
                    help="where the synthetic stores are made, then deleted (default: %(default)s)")
    ap.add_argument("--keep-vectors", action="store_true", help="keep the synthetic stores")
    ap.add_argument("--min-free-gb", type=float, default=20, help="skip sizes of 1M vectors or more below this much free disk (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    os.environ.clear()
    os.environ.update(env)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        sizes = [int(s.replace("_", "")) for s in args.vectors.split(",") if s.strip() and int(s.replace("_", "")) > 0]
    except ValueError:
        ap.error(f"--vectors takes comma-separated integers, got {args.vectors!r}")
    if args.skip_ingest and not args.skip_ask and args.store is None:
        ap.error("--skip-ingest needs --store DIR (a store holding the corpus) for the ask part, or --skip-ask")

    print(f"bench_scale: cores {os.cpu_count()}, nice {os.nice(0)}, python {sys.version.split()[0]}")
    timings: dict[str, float] = {}
    tmp = None
    store_dir = args.store
    if store_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-scale-")
        store_dir = Path(tmp.name) / "store"
    store_dir = store_dir.expanduser().resolve()
    try:
        if not args.skip_ingest:
            files = corpus_files(args.corpus)
            if not files:
                sys.exit(f"no filings under {args.corpus} (the shared corpus must sit beside the repository)")
            if args.limit:
                files = files[: args.limit]
            t = time.perf_counter()
            bench_ingest(files, store_dir)
            timings["1. corpus ingest + re-ingest"] = time.perf_counter() - t
        if not args.skip_ask:
            t = time.perf_counter()
            bench_ask(store_dir, args.ask_timeout, args.k)
            timings["2. ask latency"] = time.perf_counter() - t
    finally:
        if tmp is not None:
            tmp.cleanup()

    for n in sizes:
        args.vector_dir.mkdir(parents=True, exist_ok=True)
        free_gb = shutil.disk_usage(args.vector_dir).free / 1e9
        if n >= 1_000_000 and free_gb < args.min_free_gb:
            print(f"\n== 3. store at {n:,} vectors: SKIPPED, {free_gb:.1f} GB free in {args.vector_dir} "
                  f"(needs {args.min_free_gb:.0f} GB; --min-free-gb)")
            continue
        t = time.perf_counter()
        bench_vectors(n, args.docs, args.queries, args.vector_dir, args.seed, args.keep_vectors)
        timings[f"3. store at {n:,} vectors"] = time.perf_counter() - t

    print("\n== elapsed")
    for name, took in timings.items():
        print(f"{name}: {took:,.1f} s")
    print(f"peak RSS of this process: {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
