"""Benchmark: corpus-wide questions over a store of 1,000+ filings, and what the ``$in`` path costs in recall.

Prints figures; asserts nothing about speed.

``rag.ask.ask`` answers over every selected document. Up to ``AskSettings.read_whole`` (100)
documents it runs one retrieval per document (``retrieve_chunks``: dense top-max(3k,20) of the
document, fused with BM25 within it, k kept). Beyond it, the corpus path (still called ``$in`` below):
ONE dense query over all selected documents (``ChromaStore.query_many``: no filter when the selection
is the whole store, else a ``doc_id $in [...]`` filter; a pool of min(40k, 400) chunks) fused with a
BM25 ranking of that pool ranks the documents, and the best ``AskSettings.corpus_documents`` (8) are then
searched one by one as the per-document path does (before 2026-12-03 the pool's leftovers, about 1.4
chunks per document at 1,000 documents, were all a document got).
This benchmark measures both on the same store.

The store (synthetic documents made of real chunks, written through the production write path):

1. A pool of real chunks with their real vectors. By default the ``--seed-files`` (5) SHORTEST
   filings of ``../shared/corpus/edgar-10k`` (by file size; each must load and chunk) are ingested
   with ``rag.api.ingest_file`` and ``rag.api.default_embedder()`` into a temporary store, then
   read back (``get_chunks`` + ``get_embeddings``). Or ``--from-store DIR``: the documents of an
   existing store (all of them, or the ``--seed-files`` N with the fewest chunks). Each pool document
   contributes its first ``--chunks-per-doc`` (200) chunks in document order. When the corpus is
   absent and no other source is given, the benchmark says so and exits 0.
2. ``--docs`` (1000) synthetic documents, round-robin over the pool: document i copies pool document
   i mod P with a new id (``synthetic-filer-00001``; chunk ids ``<doc_id>#<n>`` as ingest makes them),
   a distinct company ("Synthetic Filer 0001", in the document record and in every chunk's metadata),
   a fiscal year (1994 + i mod 30), and its vectors perturbed by Gaussian noise (``--noise``, per
   dimension, default 0.01: cosine to the original vector about 0.98) and re-normalized, so no two
   documents are exact duplicates and ties do not decide rankings. Texts are NOT changed: copies of one
   pool document hold the same words, so BM25 and the sentence ranking of the extractive answer tie
   between them and only the perturbed vectors order them. Each document is written with
   ``ChromaStore.add_document(DocumentRecord(...), chunks, vectors)``, the very call ``rag ingest``
   makes (a record per document, chunk metadata as ingest writes it). The shortest filings make
   small documents (about 25-50 chunks, real 10-Ks have hundreds): the store is 1,000 documents but
   not 1,000 full-size filings.

Measured (in-process, ``rag.Index(store=DIR).ask(question, k=K)``, the offline extractive backend;
one warm-up call per path not counted, so the embedding model load is not counted):

- ``$in`` path: ``Index.ask`` as shipped (more than 100 documents selected).
- per-document path: the same calls with ``AskSettings.read_whole`` set above the number of
  documents (a module attribute read at call time; restored afterwards).
- Recall of the ``$in`` path against the per-document path, per question, for the same query vector.
  The retrieved hits of each timed call are recorded by wrapping ``rag.ask.extractive_answer`` (the
  wrapper keeps a reference to its ``hits`` argument, reads the clock and calls the original); the
  store's ``query``/``query_many`` are wrapped the same way to count and time the store queries.
  These wrappers cost microseconds per call, so the latencies are those of ``Index.ask`` itself, split
  into "until the answer step" (selection, query embedding, retrieval) and the extractive answer.
  * top-N chunks: the N (``--top``, 10) (doc_id, chunk_id) pairs of the per-document path's hits with
    the highest cosine score across all documents; the share of them among the ``$in`` path's hits;
  * top-5 documents: the 5 documents the extractive answer reads (``list(hits)[:5]``, documents by
    their best chunk); the share of the per-document path's five among the ``$in`` path's five;
  * cited chunks: the (doc_id, chunk_id) pairs the per-document answer cites; the share the ``$in``
    answer cites too, and the share at least present among the ``$in`` hits;
  * cited text: the same, by the cited sentence's text whatever the document (copies share texts).
  Shares are pooled over the questions (sum of found / sum of wanted).
- Dense recall of the store itself (``--no-exact`` skips it): after the timed calls, every stored
  vector is read back (``get_embeddings``) and, for each store query an ask made, the exact k nearest
  chunks of the searched documents (brute-force cosine, same query vector) are compared with what
  Chroma returned: the ``$in`` pool against the exact top-min(40k,400) of all documents, each
  per-document query against the exact top-max(3k,20) of its document. This separates the HNSW
  approximation from the cost of the ``$in`` design itself (a 320-400 chunk pool shared by 1,000
  documents). Caveat: every pool chunk has docs/P near-copies (about 200 at 1,000 documents), a hard
  case for an HNSW graph (max_neighbors 16, ef_search 100): a query can miss a whole cluster of copies.
  Real filings repeat boilerplate across years and companies, but not 200-fold; per-document queries
  (a few dozen chunks behind the filter) are effectively exact. Measured at 1,000 documents: the $in
  pool held 88.8% of the exact top-320/400 with --noise 0.01 and 88.7% with --noise 0.03 (cosine 0.86
  to the original), so looser copies do not help; one question's pool held 38%.
- Store facts: documents, chunks, size on disk, build time, peak RSS of the process.

Examples (the machine has 2 cores: run at low priority)::

    nice -n 19 .venv/bin/python bench/bench_corpus_ask.py                                   # 1,000 docs, temp store
    nice -n 19 .venv/bin/python bench/bench_corpus_ask.py --docs 150 --seed-files 2         # quick run
    nice -n 19 .venv/bin/python bench/bench_corpus_ask.py --store /tmp/bench-ask-1000       # build and keep
    nice -n 19 .venv/bin/python bench/bench_corpus_ask.py --store /tmp/bench-ask-1000 --reuse   # ask only
    nice -n 19 .venv/bin/python bench/bench_corpus_ask.py --store /tmp/bench-ask-1000 --reuse --skip-per-document  # ~1 min
    nice -n 19 .venv/bin/python bench/bench_corpus_ask.py --from-store /tmp/corpus-store --seed-files 10

OPENAI_API_KEY, OPENAI_BASE_URL and RAG_LLM are removed from the environment and HF_HUB_OFFLINE=1 is
set: answers use the offline embedded backend. Progress goes to stderr, figures to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))

# Corpus-wide business questions: no company named (a named company would select its documents only).
QUESTIONS: list[str] = [
    "What was total revenue for the fiscal year?",
    "Who are the largest customers?",
    "What are the terms of the revolving credit facility?",
    "Which business segments are reported?",
    "How are products distributed to customers?",
    "What dividends were paid to shareholders?",
    "How many employees work for the business?",
    "Who are the main competitors?",
    "What are the principal raw materials and where are they sourced?",
    "Which banks provide the credit facilities?",  # a lender list question: k is doubled (pool 400)
    "What legal proceedings are pending?",
    "How did net income change from the prior year?",
]
WARMUP_QUESTION = "What does the company do?"
MIN_TEXT_CHARS = 2000  # a seed filing with less text than this is skipped (one edgar filing has a near-empty Item 1)


# --------------------------------------------------------------------------- helpers


from benchlib import dir_size_mb, log, pct, peak_rss_mb  # noqa: E402,F401  (bench/ is the script's folder)


def mean(results: list[dict], key: str) -> float:
    return sum(r[key] for r in results) / len(results) if results else float("nan")


def share(found: int, wanted: int) -> str:
    return f"{found / wanted:.1%} ({found:,}/{wanted:,})" if wanted else "n/a"


# --------------------------------------------------------------------------- the pool of real chunks


def read_pool(store, limit: int | None, chunks_per_doc: int) -> list[tuple]:
    """(record, chunks, unit vectors) of the store's documents, fewest chunks first."""
    import numpy as np

    records = sorted(store.list_documents(), key=lambda r: (r.chunks, r.id))
    if limit:
        records = records[:limit]
    pool = []
    for r in records:
        chunks = store.get_chunks(r.id)[:chunks_per_doc]
        if not chunks:
            continue
        vecs = np.asarray(store.get_embeddings([c.id for c in chunks]), dtype=np.float64)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        pool.append((r, chunks, vecs))
    return pool


def seed_pool(corpus: Path, n: int, chunks_per_doc: int, tmpdir: Path) -> tuple[list[tuple], float]:
    """Ingest the n shortest edgar-10k filings into a temporary store; their chunks and vectors."""
    from rag.api import default_embedder
    from ingest.loaders import load_document
    from rag.api import ingest_file
    from vectorstore.chroma import ChromaStore

    files = sorted((corpus / "edgar-10k").glob("*.json"), key=lambda p: (p.stat().st_size, p.name))
    store = ChromaStore.open(tmpdir / "seed", create=True)
    embedder = default_embedder()
    t0 = time.perf_counter()
    done = 0
    for path in files:
        if done >= n:
            break
        try:
            doc = load_document(path)
            if len(doc.text) < MIN_TEXT_CHARS:
                log(f"seed: {path.name} has {len(doc.text)} characters of text, skipped")
                continue
            t = time.perf_counter()
            result = ingest_file(store, path, embedder, doc=doc)
        except Exception as exc:  # noqa: BLE001 - a filing that does not load is skipped, the next shortest is taken
            log(f"seed: {path.name} skipped ({type(exc).__name__}: {exc})")
            continue
        done += 1
        log(f"seed [{done}/{n}] {path.name}: {doc.metadata.get('company', '?')} {doc.metadata.get('fiscal_year', '')}, "
            f"{len(doc.text):,} chars, {result.chunks} chunks, {time.perf_counter() - t:.1f} s")
    took = time.perf_counter() - t0
    return read_pool(store, None, chunks_per_doc), took


# --------------------------------------------------------------------------- the synthetic store


def synthetic_id(i: int) -> str:
    return f"synthetic-filer-{i + 1:05d}"


def build_store(store, pool: list[tuple], docs: int, noise: float, seed: int) -> dict:
    """Write the synthetic documents the store does not hold yet; returns build figures."""
    import hashlib
    from dataclasses import replace

    import numpy as np
    from tqdm import tqdm

    from vectorstore.chroma import DocumentRecord

    have = {r.id for r in store.list_documents()}
    todo = [i for i in range(docs) if synthetic_id(i) not in have]
    width = max(4, len(str(docs)))
    written = chunks_written = 0
    cosines: list[float] = []
    t0 = time.perf_counter()
    for i in tqdm(todo, desc="writing synthetic filings", unit="doc", file=sys.stderr, dynamic_ncols=True, mininterval=2.0):
        base, chunks, vecs = pool[i % len(pool)]
        doc_id = synthetic_id(i)
        company = f"Synthetic Filer {i + 1:0{width}d}"
        year = str(1994 + i % 30)
        rng = np.random.default_rng([seed, i])
        noisy = vecs + rng.normal(0.0, noise, vecs.shape)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        if i < len(pool) * 3:
            cosines.extend(np.sum(noisy * vecs, axis=1).tolist())
        meta_extra = {"company": company, "fiscal_year": year}
        new_chunks = [
            replace(c, id=f"{doc_id}#{n:05d}", doc_id=doc_id, index=n, metadata={**c.metadata, **meta_extra})
            for n, c in enumerate(chunks)
        ]
        record = DocumentRecord(
            id=doc_id,
            source=f"synthetic://{Path(base.source).name}/{i + 1}",
            chunks=len(new_chunks),
            content_sha=hashlib.sha256(f"{doc_id}:{base.content_sha}:{noise}:{seed}".encode()).hexdigest(),
            metadata={**base.metadata, **meta_extra, "synthetic_of": base.id},
        )
        chunks_written += store.add_document(record, new_chunks, noisy.tolist())
        written += 1
    return {
        "written": written,
        "skipped": docs - len(todo),
        "chunks_written": chunks_written,
        "seconds": time.perf_counter() - t0,
        "mean_cos": float(np.mean(cosines)) if cosines else float("nan"),
    }


# --------------------------------------------------------------------------- asking


class Recorder:
    """Light instrumentation of the timed ``Index.ask`` calls (references and clock reads only):

    - ``rag.ask.extractive_answer`` is wrapped to keep the ``hits`` it is handed and the moment it
      is entered (everything before it: selection, query embedding, retrieval; after it: the
      extractive answer, which embeds the candidate sentences);
    - the store's ``query`` and ``query_many`` are wrapped (on the instance) to count calls, time
      them and count the chunks they return.
    """

    def __init__(self, store):
        import rag.ask

        self.module = rag.ask
        self.store = store
        self.original = rag.ask.extractive_answer
        self.reset()

    def reset(self) -> None:
        self.hits: dict | None = None
        self.qvec = None
        self.entered: float | None = None
        self.calls = 0
        self.query_s = 0.0
        self.returned = 0
        self.dense: list[tuple[list[str], int, list[str]]] = []  # (documents searched, k asked, chunk ids returned)

    def _query(self, *args, **kwargs):
        t = time.perf_counter()
        out = type(self.store).query(self.store, *args, **kwargs)
        self.query_s += time.perf_counter() - t
        self.calls += 1
        self.returned += sum(len(x) for x in out)
        doc_id = args[1] if len(args) > 1 else kwargs["doc_id"]
        k = args[2] if len(args) > 2 else kwargs.get("k", 10)
        self.dense.append(([doc_id], k, [h.chunk.id for h in out[0]] if out else []))
        return out

    def _query_many(self, *args, **kwargs):
        t = time.perf_counter()
        out = type(self.store).query_many(self.store, *args, **kwargs)
        self.query_s += time.perf_counter() - t
        self.calls += 1
        self.returned += len(out)
        doc_ids = args[1] if len(args) > 1 else kwargs["doc_ids"]
        k = args[2] if len(args) > 2 else kwargs["k"]
        self.dense.append((None if doc_ids is None else list(doc_ids), k, [h.chunk.id for h in out]))  # None: every document
        return out

    def __enter__(self):
        original = self.original

        def recording(question, qvec, hits, *args, **kwargs):
            self.entered = time.perf_counter()
            self.hits, self.qvec = hits, qvec
            return original(question, qvec, hits, *args, **kwargs)

        self.module.extractive_answer = recording
        self.store.query = self._query
        self.store.query_many = self._query_many
        return self

    def __exit__(self, *exc):
        self.module.extractive_answer = self.original
        del self.store.query, self.store.query_many  # back to the class's methods


def run_path(index, questions: list[str], k: int, per_document: bool, n_docs: int) -> list[dict]:
    """A warm-up call (logged, not counted), then each question once through ``Index.ask``: per-question results."""
    saved = index.settings
    if per_document:  # every document read whole
        index.settings = saved.model_copy(update={"ask": saved.ask.model_copy(update={"read_whole": n_docs + 1})})
    name = "per-document" if per_document else "$in"
    out = []
    try:
        with Recorder(index.store) as rec:
            t = time.perf_counter()
            index.ask(WARMUP_QUESTION, k=k)
            warm = time.perf_counter() - t
            log(f"{name} path: warm-up ask {warm:.1f} s (not counted)")
            for i, q in enumerate(questions, 1):
                rec.reset()
                t = time.perf_counter()
                answer = index.ask(q, k=k)
                end = time.perf_counter()
                hits = rec.hits or {}
                before = (rec.entered - t) if rec.entered is not None else end - t
                top5 = [len(h[:5]) for h in list(hits.values())[:5]]  # the chunks the extractive answer reads
                out.append({"question": q, "seconds": end - t, "answer": answer, "hits": hits, "before_answer": before,
                            "qvec": rec.qvec, "dense": rec.dense,
                            "queries": rec.calls, "query_s": rec.query_s, "returned": rec.returned,
                            "top5_chunks": sum(top5) / len(top5) if top5 else 0.0})
                log(f"  {name} [{i:2}/{len(questions)}] {(end - t) * 1e3:8,.0f} ms (retrieval {before * 1e3:6,.0f} ms, "
                    f"{rec.calls} store queries {rec.query_s * 1e3:6,.0f} ms, {rec.returned} chunks), {len(hits):4} documents with hits, "
                    f"{len(answer.citations):2} citations: {q}")
    finally:
        index.settings = saved
    return out


def load_vectors(store, records, batch: int = 2000):
    """All stored vectors of these documents as one unit-length float32 matrix, with their chunk ids and
    each document's row span. Chunk ids follow the store's convention ``<doc_id>#<index:05d>``."""
    import numpy as np

    ids = [f"{r.id}#{n:05d}" for r in records for n in range(r.chunks)]
    parts = []
    for i in range(0, len(ids), batch):
        parts.append(np.asarray(store.get_embeddings(ids[i : i + batch]), dtype=np.float32))
    vectors = np.vstack(parts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    spans, at = {}, 0
    for r in records:
        spans[r.id] = (at, at + r.chunks)
        at += r.chunks
    return ids, vectors, spans


def exact_recall(result: dict, ids: list[str], vectors, spans: dict) -> tuple[int, int]:
    """Of the exact k nearest chunks (brute-force cosine over the searched documents' stored vectors) of
    every store query an ask made, how many the store returned: (found, wanted)."""
    import numpy as np

    if result.get("qvec") is None:
        return 0, 0
    q = np.asarray(result["qvec"], dtype=np.float32)
    q /= np.linalg.norm(q)
    found = wanted = 0
    for doc_ids, k, got in result["dense"]:
        if doc_ids is None:  # an unfiltered query: the whole store
            doc_ids = list(spans)
        rows = np.concatenate([np.arange(*spans[d]) for d in doc_ids if d in spans]) if doc_ids else np.arange(0)
        n = min(k, len(rows))
        if not n:
            continue
        sims = vectors[rows] @ q
        top = rows[np.argpartition(-sims, n - 1)[:n]]
        found += len({ids[i] for i in top} & set(got))
        wanted += n
    return found, wanted


def compare(ref: dict, got: dict, top: int) -> dict:
    """What the $in result (``got``) keeps of the per-document result (``ref``) for one question."""
    ref_hits, got_hits = ref["hits"], got["hits"]
    got_pairs = {(d, c.id) for d, hs in got_hits.items() for c, _ in hs}
    flat = sorted(((s, d, c.id) for d, hs in ref_hits.items() for c, s in hs), key=lambda x: -x[0])[:top]
    top_pairs = [(d, cid) for _, d, cid in flat]
    ref_docs, got_docs = list(ref_hits)[:5], list(got_hits)[:5]
    ref_cites = {(c["doc"], c["chunk"]) for c in ref["answer"].citations}
    got_cites = {(c["doc"], c["chunk"]) for c in got["answer"].citations}
    ref_texts = {s.text for p in ref["answer"].parts for s in p.sentences}
    got_texts = {s.text for p in got["answer"].parts for s in p.sentences}
    return {
        "top_found": sum(1 for p in top_pairs if p in got_pairs), "top_wanted": len(top_pairs),
        "doc_found": len(set(ref_docs) & set(got_docs)), "doc_wanted": len(ref_docs),
        "cite_found": len(ref_cites & got_cites), "cite_in_hits": len(ref_cites & got_pairs), "cite_wanted": len(ref_cites),
        "text_found": len(ref_texts & got_texts), "text_wanted": len(ref_texts),
        "both_answered": ref["answer"].answered and got["answer"].answered,
        "ref_answered": ref["answer"].answered, "got_answered": got["answer"].answered,
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1000, help="synthetic documents in the store (default: %(default)s)")
    ap.add_argument("--seed-files", type=int, default=None, metavar="N",
                    help="pool documents: the N shortest corpus filings (default 5), or with --from-store the N with fewest chunks (default all)")
    ap.add_argument("--from-store", type=Path, default=None, metavar="DIR", help="take the pool of real chunks and vectors from this store")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the shared corpus folder (default: %(default)s)")
    ap.add_argument("--store", type=Path, default=None, metavar="DIR", help="build (and keep) the store here; default: a temporary directory")
    ap.add_argument("--reuse", action="store_true", help="skip building when --store already holds >= --docs documents (else add the missing ones)")
    ap.add_argument("--chunks-per-doc", type=int, default=200, metavar="N", help="chunks copied per synthetic document, at most (default: %(default)s)")
    ap.add_argument("--noise", type=float, default=0.01, help="per-dimension std of the Gaussian noise on copied vectors (default: %(default)s)")
    ap.add_argument("--questions", type=int, default=10, metavar="N", help=f"ask the first N of the {len(QUESTIONS)} questions (default: %(default)s)")
    ap.add_argument("-k", "--k", type=int, default=8, help="k of Index.ask (default: %(default)s)")
    ap.add_argument("--top", type=int, default=10, metavar="N", help="N of the top-N chunk recall (default: %(default)s)")
    ap.add_argument("--skip-per-document", action="store_true", help="measure the $in path only (no recall)")
    ap.add_argument("--no-exact", action="store_true", help="skip the check of the store's dense results against exact (brute-force) search")
    ap.add_argument("--seed", type=int, default=0, help="noise seed (default: %(default)s)")
    args = ap.parse_args()
    if args.docs < 1 or args.questions < 1 or args.chunks_per_doc < 1:
        ap.error("--docs, --questions and --chunks-per-doc must be positive")

    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_LLM"):
        os.environ.pop(var, None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    import chromadb

    from vectorstore.chroma import ChromaStore

    tmp = tempfile.TemporaryDirectory(prefix="bench-corpus-ask-")
    tmpdir = Path(tmp.name)
    store_dir = (args.store.expanduser().resolve() if args.store else tmpdir / "store")
    try:
        existing = ChromaStore.open(store_dir, create=False) if store_dir.exists() else None
        have = len(existing.list_documents()) if existing is not None else 0
        if have and not args.reuse:
            ap.error(f"{store_dir} already holds {have} documents; pass --reuse to use them (and add missing ones), or an empty --store")
        need_build = not (args.reuse and have >= args.docs)

        print(f"bench_corpus_ask: cores {os.cpu_count()}, nice {os.nice(0)}, load average {os.getloadavg()[0]:.1f}, "
              f"python {sys.version.split()[0]}, chromadb {chromadb.__version__}")
        build: dict | None = None
        seed_s = None
        pool_desc = ""
        if need_build:
            if args.from_store is not None:
                src = ChromaStore.open(args.from_store.expanduser(), create=False)
                if src is None:
                    sys.exit(f"no store at {args.from_store}")
                pool = read_pool(src, args.seed_files, args.chunks_per_doc)
                pool_desc = f"{len(pool)} documents of {args.from_store}"
            else:
                if not (args.corpus / "edgar-10k").is_dir():
                    print(f"SKIPPED: the shared corpus is absent ({args.corpus / 'edgar-10k'} not found); "
                          f"pass --from-store DIR, or --store DIR --reuse with a built store")
                    return
                pool, seed_s = seed_pool(args.corpus, args.seed_files or 5, args.chunks_per_doc, tmpdir)
                pool_desc = f"the {len(pool)} shortest edgar-10k filings"
            if not pool:
                sys.exit("the pool of real chunks is empty: nothing to build from")
            for r, chunks, _ in pool:
                log(f"pool: {r.id} ({r.metadata.get('company', '?')}), {len(chunks)} chunks")
            store = ChromaStore.open(store_dir, create=True)
            log(f"building {args.docs} documents in {store_dir} from {pool_desc}")
            build = build_store(store, pool, args.docs, args.noise, args.seed)
            already = f", {build['skipped']} already there" if build["skipped"] else ""
            log(f"built: {build['written']} documents written ({build['chunks_written']:,} chunks) in {build['seconds']:.1f} s{already}")
        rss_build = peak_rss_mb()

        from rag import Index

        index = Index(store=str(store_dir))
        records = index.docs()
        n_docs = len(records)
        n_chunks = sum(r.chunks for r in records)
        size = dir_size_mb(store_dir)
        questions = QUESTIONS[: args.questions]
        limit = index.settings.ask.read_whole
        log(f"store: {n_docs} documents, {n_chunks:,} chunks, {size:,.1f} MB; asking {len(questions)} questions, k={args.k}")
        if n_docs <= limit:
            log(f"note: {n_docs} documents <= AskSettings.read_whole ({limit}): Index.ask takes the per-document path anyway")

        t = time.perf_counter()
        index.ask(WARMUP_QUESTION, k=args.k)  # model load + store open, not counted
        model_load = time.perf_counter() - t
        log(f"first ask (embedding model load unless the seed ingest loaded it, store open): {model_load:.1f} s, not counted")

        res_in = run_path(index, questions, args.k, per_document=False, n_docs=n_docs)
        res_pd: list[dict] = []
        if not args.skip_per_document:
            res_pd = run_path(index, questions, args.k, per_document=True, n_docs=n_docs)
        rss_end = peak_rss_mb()
        if not args.no_exact:
            t = time.perf_counter()
            ids, vectors, spans = load_vectors(index.store, records)
            for r in res_in + res_pd:
                r["exact_found"], r["exact_wanted"] = exact_recall(r, ids, vectors, spans)
            del vectors
            log(f"exact search check: {len(ids):,} stored vectors read and searched in {time.perf_counter() - t:.1f} s")

        # -- figures
        lat_in = [r["seconds"] for r in res_in]
        lat_pd = [r["seconds"] for r in res_pd]
        cmp = [compare(p, i, args.top) for p, i in zip(res_pd, res_in)]

        print("\n## Store\n")
        print("| documents | chunks | chunks/doc | size on disk | build | pool | noise (cos to original) | peak RSS |")
        print("|---:|---:|---:|---:|---:|---|---|---:|")
        if build is not None:
            seeded = f" (+ seed ingest {seed_s:.0f} s)" if seed_s is not None else ""
            build_txt = f"{build['seconds']:,.1f} s for {build['written']} docs{seeded}"
            noise_txt = f"{args.noise} ({build['mean_cos']:.3f})"
        else:
            build_txt, noise_txt, pool_desc = "reused", "n/a (reused)", "reused store"
        print(f"| {n_docs:,} | {n_chunks:,} | {n_chunks / max(n_docs, 1):.1f} | {size:,.1f} MB | {build_txt} | {pool_desc} | "
              f"{noise_txt} | {rss_build:,.0f} MB before asking, {rss_end:,.0f} MB after |")

        embedder = type(index._embedder()).__name__  # the one Index.ask used (cached by default_embedder)
        print(f"\n## Index.ask latency over all {n_docs:,} documents (k={args.k}, {len(questions)} questions, warm-up not counted, "
              f"embedder {embedder})\n")
        print("| path | p50 | p95 | min | max | until the answer step p50 / p95 | store queries per ask | their time p50 | "
              "chunks returned per ask | documents with hits | chunks per top-5 document |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, lat, res in (("$in (as shipped)", lat_in, res_in), ("per-document", lat_pd, res_pd)):
            if lat:
                before = [r["before_answer"] for r in res]
                print(f"| {name} | {pct(lat, 50) * 1e3:,.0f} ms | {pct(lat, 95) * 1e3:,.0f} ms | {min(lat) * 1e3:,.0f} ms | "
                      f"{max(lat) * 1e3:,.0f} ms | {pct(before, 50) * 1e3:,.0f} / {pct(before, 95) * 1e3:,.0f} ms | {mean(res, 'queries'):,.0f} | "
                      f"{pct([r['query_s'] for r in res], 50) * 1e3:,.0f} ms | {mean(res, 'returned'):,.0f} | "
                      f"{sum(len(r['hits']) for r in res) / len(res):,.0f} | {mean(res, 'top5_chunks'):.1f} |")
        if not args.no_exact:
            for name, res in (("$in path, the one query_many pool", res_in), ("per-document path, the top-max(3k,20) of each document", res_pd)):
                if res:
                    f, w = sum(r["exact_found"] for r in res), sum(r["exact_wanted"] for r in res)
                    print(f"Dense recall of the store against exact search, {name}: {share(f, w)} "
                          f"(brute-force cosine over the stored vectors of the searched documents, same query vector).")
        print("\n'until the answer step': selection, query embedding and retrieval (up to extractive_answer); the rest of "
              "an ask is the extractive answer, which embeds the sentences of the top 5 documents' best 5 chunks.")
        short = [(r["question"], d, len(h)) for r in res_pd for d, h in r["hits"].items() if len(h) < args.k]
        if res_pd:
            print(f"Per-document path: {len(short)} (document, question) pairs returned fewer than k={args.k} chunks.")
        if cmp:
            print("\n## Recall of the $in path against the per-document path (same questions, same store)\n")
            print(f"| # | question | $in ms | per-doc ms | top-{args.top} chunks | top-5 docs | cited chunks (cited / in hits) | cited text | "
                  f"answered (per-doc / $in) | $in pool vs exact |")
            print("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|")
            for n, (c, p, i) in enumerate(zip(cmp, res_pd, res_in), 1):
                print(f"| {n} | {p['question']} | {i['seconds'] * 1e3:,.0f} | {p['seconds'] * 1e3:,.0f} | "
                      f"{c['top_found']}/{c['top_wanted']} | {c['doc_found']}/{c['doc_wanted']} | "
                      f"{c['cite_found']} / {c['cite_in_hits']} of {c['cite_wanted']} | {c['text_found']}/{c['text_wanted']} | "
                      f"{'yes' if c['ref_answered'] else 'no'} / {'yes' if c['got_answered'] else 'no'} | "
                      f"{share(i['exact_found'], i['exact_wanted']) if 'exact_found' in i else 'n/a'} |")
            tot = {key: sum(c[key] for c in cmp) for key in cmp[0] if key.endswith(("found", "wanted", "in_hits"))}
            print(f"| | **pooled** | | | **{share(tot['top_found'], tot['top_wanted'])}** | **{share(tot['doc_found'], tot['doc_wanted'])}** | "
                  f"**{share(tot['cite_found'], tot['cite_wanted'])} / {share(tot['cite_in_hits'], tot['cite_wanted'])}** | "
                  f"**{share(tot['text_found'], tot['text_wanted'])}** | | |")
            print(f"\nDefinitions: top-{args.top} chunks = the {args.top} (doc_id, chunk_id) pairs with the highest cosine among the "
                  f"per-document path's hits (all documents), found among the $in path's hits; top-5 docs = the documents the "
                  f"extractive answer reads; cited = (doc_id, chunk_id) pairs the per-document answer cites, also cited by the $in "
                  f"answer / present in its hits; cited text = cited sentences by text, any document.")

        summary = (f"SUMMARY: {n_docs:,} docs / {n_chunks:,} chunks / {size:,.0f} MB: Index.ask $in path p50 {pct(lat_in, 50) * 1e3:,.0f} ms "
                   f"p95 {pct(lat_in, 95) * 1e3:,.0f} ms")
        if lat_pd:
            summary += (f"; per-document path p50 {pct(lat_pd, 50) * 1e3:,.0f} ms p95 {pct(lat_pd, 95) * 1e3:,.0f} ms "
                        f"({pct(lat_pd, 50) / pct(lat_in, 50):.0f}x); $in recall top-{args.top} chunks "
                        f"{share(tot['top_found'], tot['top_wanted'])}, top-5 docs {share(tot['doc_found'], tot['doc_wanted'])}, "
                        f"cited chunks {share(tot['cite_found'], tot['cite_wanted'])}")
        if not args.no_exact:
            f, w = sum(r["exact_found"] for r in res_in), sum(r["exact_wanted"] for r in res_in)
            summary += f"; $in pool vs exact search {share(f, w)}"
        if build is not None:
            summary += f"; build {build['seconds']:,.0f} s"
        summary += f"; embedder {embedder}; peak RSS {rss_end:,.0f} MB; load average {os.getloadavg()[0]:.1f} at the end"
        print("\n" + summary)
        if args.store:
            print(f"kept the store at {store_dir} (re-run with --store {store_dir} --reuse)")
    finally:
        tmp.cleanup()


if __name__ == "__main__":
    main()
