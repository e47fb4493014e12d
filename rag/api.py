"""The orchestration layer: open the store, the embedder and the model from the settings, ingest files,
resolve what a user named (a file or a document id), and summarize one document or many.

Data flows one way: ``ingest`` (load, clean, chunk, embed) → ``vectorstore`` (keep) → ``rag``
(score every sentence per facet, choose, write, ground). The CLI (``rag/cli.py``), the Python API
(``rag.Index``), the reading view and the Ray runner (``rag/distributed.py``) parse, call these
functions and print; none of them builds a store, an embedder or a model client of its own.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from ingest.embed import Embedder
from ingest.errors import InputError
from ingest.types import Document
from queries.profile import Profile
from rag.settings import EmbeddingSettings, Settings, StoreSettings, default_store_dir  # noqa: F401  (the CLI's help shows it)
from rag.stored import make_sentences, sentences_of  # noqa: F401  (part of this API; questions and doctor read them from rag.stored)
from rag.types import Summary
from vectorstore.chroma import ChromaStore, DocumentRecord, StoreOptions

log = logging.getLogger("rag")


# -- what the settings name: the store, the embedder, the model ----------------------------------
def store_options(settings: StoreSettings) -> StoreOptions:
    """How the store behaves: retries, write batches, the read-only copy's limit, and a test's failpoint."""
    on_write = None
    if settings.failpoint:
        from vectorstore.faults import Failpoint

        on_write = Failpoint(settings.failpoint, settings.failpoint_once)
    return StoreOptions(retries=settings.retries, batch=settings.batch, read_only_copy_mb=settings.read_only_copy_mb, on_write=on_write)


def open_store(settings: Settings, create: bool = True) -> ChromaStore | None:
    return ChromaStore.open(settings.store.path, url=settings.store.url, create=create, options=store_options(settings.store))


def default_embedder(settings: EmbeddingSettings | None = None) -> Embedder:
    """The embedder the settings name (the environment's when None), made once per process for each choice."""
    return _embedder(settings or EmbeddingSettings.from_env())


@functools.lru_cache(maxsize=4)
def _embedder(settings: EmbeddingSettings) -> Embedder:
    from ingest.embedders import make_embedder

    return make_embedder(settings.backend, settings.threads, settings.onnx_cache)


def llm_client(settings: Settings):
    """The client of the model the settings name, or None for the embedded backend: the one place one is built."""
    if settings.llm is None:
        return None
    from rag.llm import OpenAIChat

    return OpenAIChat(settings.llm)


def configure(store: str | os.PathLike | None = None, chroma_url: str | None = None, llm: str | None = None, k: int | None = None,
              timeout: float | None = None, context: int | None = None) -> Settings:
    """The settings of one command: its options, then the environment (``Settings.from_env``), then the defaults."""
    from rag.llm import llm_from_env

    return Settings.from_env(store=store, chroma_url=chroma_url, llm=llm_from_env(llm, timeout, context), k=k)


def load_profile(path: str | os.PathLike | None = None) -> Profile:
    """A profile file (the business-model profile when ``path`` is None)."""
    from queries.profile import load_profile as load

    return load(path)


def ceiling(profile: Profile, max_tokens: int | None) -> int:
    """The token ceiling of a summary: ``max_tokens`` or the profile's, at least room for every facet's "not disclosed"."""
    from rag.tokens import count_tokens

    limit = max_tokens if max_tokens is not None else profile.max_tokens
    floor = sum(count_tokens(f.missing) + 1 for f in profile.facets)
    if limit <= 0:
        raise InputError(f"--max-tokens must be a positive number of tokens, got {limit}; the default is {profile.max_tokens}.")
    if limit < floor:
        raise InputError(f"--max-tokens {limit} is too small for {len(profile.facets)} facets; use at least {floor}.")
    return limit


# -- ingest --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestResult:
    id: str
    source: str
    chunks_added: int
    status: str  # "added", "unchanged", "replaced", or "error" (then ``error`` says why and nothing was indexed)
    chunks: int
    error: str | None = None
    fatal: bool = False  # the store failed, not the file: a batch stops

    @classmethod
    def failed(cls, source: str, error: str, fatal: bool = False) -> IngestResult:
        return cls("", source, 0, "error", 0, error, fatal)

    def as_dict(self) -> dict:
        if self.status == "error":
            return {"source": self.source, "status": "error", "error": self.error}
        return {"id": self.id, "source": self.source, "chunks_added": self.chunks_added, "status": self.status, "chunks": self.chunks}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "doc"


def document_id(path: Path, data: bytes) -> str:
    """Readable and content-derived: the same bytes always get the same id, wherever they live."""
    return f"{_slug(path.stem)}-{hashlib.sha256(data).hexdigest()[:10]}"


def ingest_file(store: ChromaStore, path: str | Path, embedder: Embedder, progress: bool = False, doc: Document | None = None,
                data: bytes | None = None, limit: int | None = None) -> IngestResult:
    """Index one file. Unchanged files add nothing; a changed file replaces its old version.

    ``doc`` is the file already loaded (the CLI loads every input first, to fail before touching the store);
    ``data`` its bytes, when the file is not on this machine (a Ray worker gets them from the driver);
    ``limit`` the largest file read, in bytes (``FileSettings.max_bytes``).
    """
    from ingest.loaders import load_document

    doc = doc or load_document(path, limit)  # validates the input before the store is touched
    resolved = Path(doc.source)
    if data is None:
        from ingest.files import read_regular_file

        data = read_regular_file(resolved, limit)  # bounded, and only a regular file (a FIFO swapped in must not hang)
    doc_id = document_id(resolved, data)
    existing = store.get_document(doc_id)
    if existing is not None:
        return IngestResult(doc_id, existing.source, 0, "unchanged", existing.chunks)
    record, chunks, vectors, sentences, sentence_vectors, extra = _indexed(doc, doc_id, hashlib.sha256(data).hexdigest(), embedder, progress, path)
    older = [r for r in store.find_documents(source=doc.source) if r.id != doc_id]
    added = store.add_document(record, chunks, vectors, sentences, sentence_vectors, extra)
    for old in older:  # the new version is complete; only now remove the old one
        store.delete_document(old.id)
    return IngestResult(doc_id, doc.source, added, "replaced" if older else "added", added)


def _indexed(doc: Document, doc_id: str, content_sha: str, embedder: Embedder, progress: bool, path):
    """A loaded document as the store keeps it: its record, chunks and candidate sentences, embedded, and each
    sentence's row of the sentence table (``rag.features``)."""
    from ingest.chunking import chunk_document
    from ingest.sections import detect_sections
    from rag.candidates import CANDIDATES_VERSION
    from rag.features import features_version

    if not doc.sections:
        doc = replace(doc, sections=detect_sections(doc.text))
    counter = getattr(embedder, "count_tokens_batch", None) or (lambda texts: [embedder.count_tokens(t) for t in texts])
    chunks = chunk_document(doc, doc_id, counter)
    if not chunks:
        raise InputError(f"{path} has no text to index; check that it is a filing in a supported format.")
    name = Path(doc.source).name
    t0 = time.perf_counter()
    vectors = embedder.embed([c.text for c in chunks], progress=progress, desc=f"Embedding {name}")
    sentences, sentence_vectors, table = make_sentences(doc_id, chunks, doc.metadata, embedder, progress, f"Sentences of {name}")
    log.info("embedded %d chunks and %d sentences of %s in %.1fs", len(chunks), len(sentences), name, time.perf_counter() - t0)
    items = list(dict.fromkeys(c.item for c in chunks if c.item))
    meta = {**doc.metadata, **({"items": ",".join(items)} if items else {}), "features": features_version(),
            "candidates": CANDIDATES_VERSION}
    record = DocumentRecord(doc_id, doc.source, len(chunks), content_sha, meta)
    return record, chunks, vectors, sentences, sentence_vectors, [table.metadata(i) for i in range(len(sentences))]


def read_inputs(files: Sequence[Path], limit: int | None = None,
                on_error: Callable[[IngestResult], None] | None = None) -> tuple[list[tuple[Path, Document]], list[IngestResult]]:
    """Every file loaded before the store is opened, so bad input never touches it. One file's error is
    raised; in a batch, a file that cannot be read is a failed result (``on_error`` hears it) and the rest go on."""
    from ingest.errors import RagError
    from ingest.loaders import load_document

    loaded, failed = [], []
    for p in files:
        try:
            loaded.append((p, load_document(p, limit)))
        except RagError as exc:
            if len(files) == 1:
                raise
            failed.append(IngestResult.failed(str(p), str(exc)))
            if on_error:
                on_error(failed[-1])
    if not loaded:
        raise InputError(f"None of the {len(files)} files could be read; see the messages above.")
    return loaded, failed


def ingest_loaded(store: ChromaStore, loaded: Sequence[tuple[Path, Document]], embedder: Embedder, *, limit: int | None = None,
                  single: bool = False, progress: bool = False, on_result: Callable[[IngestResult], None] | None = None) -> list[IngestResult]:
    """Index files already loaded, one by one. The document id comes from the bytes: they are read again,
    bounded; a file replaced or grown since it was loaded is a failed result (raised when ``single``)."""
    from ingest.files import read_regular_file

    results = []
    for p, doc in loaded:
        try:
            data = read_regular_file(doc.source, limit)
        except InputError as exc:
            if single:
                raise
            result = IngestResult.failed(str(p), str(exc))
        else:
            result = ingest_file(store, p, embedder, progress=progress, doc=doc, data=data, limit=limit)
        results.append(result)
        if on_result:
            on_result(result)
    return results


# -- what a user named: a file or a document id ----------------------------------------------------
def load_targets(targets: Sequence[str], limit: int | None = None) -> dict[str, tuple[Path, Document]]:
    """The targets that name files (they exist, hold a path separator or a filing's suffix), each loaded now:
    a bad file fails here, before the store is touched."""
    from ingest.loaders import load_document

    loaded = {}
    for target in targets:
        path = Path(target).expanduser()
        if path.exists() or os.sep in target or path.suffix.lower() in {".txt", ".md", ".json", ".html", ".htm"}:
            loaded[target] = (path, load_document(path, limit))
    return loaded



def resolve_document(store: ChromaStore | None, ref: str, limit: int | None = None) -> DocumentRecord | None:
    """A document by id, or by the path it was ingested from (None when it is not indexed)."""
    if store is None:
        return None
    record = store.get_document(ref)
    if record is not None:
        return record
    path = Path(ref).expanduser()
    if path.is_file():
        from ingest.files import read_regular_file

        try:
            data = read_regular_file(path, limit)
        except InputError:
            return None
        return store.get_document(document_id(path.resolve(), data))
    return None


def resolve_or_ingest(store: ChromaStore | None, refs: Sequence[str], embedder_factory: Callable[[], Embedder], *,
                      loaded: dict[str, tuple[Path, Document]] | None = None, limit: int | None = None, progress: bool = False,
                      where: str = "", hint: str = "see Index.docs().") -> list[DocumentRecord]:
    """The documents ``refs`` name, each an indexed document's id or a file (indexed first unless it already is).

    Every ref is resolved before anything is indexed, so an unknown id fails before the store changes;
    ``loaded`` holds the files already read (the CLI reads them before it opens the store). An unknown
    ref is a one-line error naming the store (``where``) and what to do (``hint``). Duplicates are given once."""
    loaded = loaded or {}
    found: list[DocumentRecord | str] = []
    for ref in refs:
        record = resolve_document(store, ref, limit)
        if record is None and ref not in loaded and not Path(ref).expanduser().is_file():
            raise InputError(f"No document with id {ref!r} in the store{where}; {hint}")
        found.append(record if record is not None else ref)
    records = []
    for item in found:
        if isinstance(item, str):
            path, doc = loaded.get(item, (Path(item).expanduser(), None))
            result = ingest_file(store, path, embedder_factory(), progress=progress, doc=doc, limit=limit)
            if progress:
                log.warning("indexed %s as %s (%d chunks)", path, result.id, result.chunks)
            item = store.get_document(result.id)
        records.append(item)
    return list({r.id: r for r in records}.values())


# -- one summary -----------------------------------------------------------------------------------
def query_vectors(store: ChromaStore, embedder_factory, queries: list[str], model_name: str | None = None) -> list[list[float]]:
    """Query embeddings from the store's cache, keyed by the embedder's name; only missing ones need the model."""
    model_name = model_name or getattr(embedder_factory(), "name", None) or type(embedder_factory()).__name__
    cached = store.cached_embeddings(model_name, queries)
    missing = [q for q in dict.fromkeys(queries) if q not in cached]
    if missing:
        vectors = embedder_factory().embed(missing)
        store.cache_embeddings(model_name, missing, vectors)
        cached.update(zip(missing, vectors))
    return [cached[q] for q in queries]


def document_inputs(store: ChromaStore, record: DocumentRecord, profile: Profile, embedder_factory, chunks=None):
    """Everything the scorer reads of an indexed document, as features (``rag.features.featurize``)."""
    import numpy as np

    from rag import feature_cache
    from rag.features import featurize, packed

    chunks = chunks if chunks is not None else store.get_chunks(record.id)
    units, vectors, table = sentences_of(store, record, embedder_factory, chunks)
    chunk_vectors = np.asarray(store.get_embeddings([c.id for c in chunks]), dtype=np.float32) if chunks else np.zeros((0, 1), np.float32)
    queries = [q for f in profile.facets for q in f.queries]
    flat = np.asarray(query_vectors(store, embedder_factory, queries), dtype=np.float32)
    by_facet, at = {}, 0
    for f in profile.facets:
        by_facet[f.name] = flat[at : at + len(f.queries)]
        at += len(f.queries)
    folder = store.derived_dir()
    key = feature_cache.feature_key(table.printed, table.rows, table.headings, vectors, chunk_vectors,
                                    [(c.id, c.start, c.end, c.item, c.text) for c in chunks],
                                    [(u.id, u.item, u.chunk_id, u.kind, u.follows) for u in units], record.metadata, profile, by_facet)
    known = feature_cache.load(folder, record.id, key)
    fs = featurize(units, vectors, chunks, chunk_vectors, record.metadata, profile, by_facet, table, known)
    if known is None and fs.texts:
        feature_cache.save(folder, record.id, key, packed(fs))
    return fs


@dataclass
class _Written:
    """A summary as written, before grounding: its sentences, and what the model did."""

    sentences: list
    backend: str = "extractive"
    encoding: str = "cl100k_base"
    report: dict | None = None
    usage: dict | None = None


def summarize_document(
    store: ChromaStore,
    record: DocumentRecord,
    profile: Profile,
    settings: Settings,
    embedder_factory,
    max_tokens: int | None = None,
    llm=None,
    progress=None,
) -> Summary:
    """Score every sentence of the filing per facet, choose under the ceiling, write (with a model, if any), then ground.

    ``progress`` (a callable taking one line) hears about each model call: a CPU model takes minutes."""
    from rag.grounding import Rules, ground
    from rag.rewrite import _as_written, short_company_name
    from rag.scorer import load_scorer
    from rag.select import SelectionParams, pools, select_summary

    max_tokens = max_tokens or profile.max_tokens
    t0 = time.perf_counter()
    chunks = store.get_chunks(record.id)
    fs = document_inputs(store, record, profile, embedder_factory, chunks)
    scorer = load_scorer(str(settings.selection.scorer) if settings.selection.scorer else None)
    probabilities = scorer.probabilities(fs, [f.name for f in profile.facets])
    timings = {"score_s": time.perf_counter() - t0}
    t1 = time.perf_counter()
    company = record.metadata.get("company")
    name = _as_written(short_company_name(company), [u.text for u in fs.units])
    allowed_names = [n for n in (company, short_company_name(company), name) if n]
    params = SelectionParams.of(scorer.selection)
    chosen = select_summary(profile, fs, probabilities, max_tokens, name, params)
    evidence = pools(fs, probabilities, profile, size=settings.retrieval.per_facet, floor=params.floor)
    every = {c.id: c for c in chunks}
    written = _write(profile, settings, chosen, evidence, name, max_tokens, every, allowed_names, _fiscal_year(record), llm, progress)
    kept, dropped = ground(written.sentences, every, Rules(tuple(allowed_names)), {f.missing: f.name for f in profile.facets},
                           max_tokens=max_tokens)
    timings["summarize_s"] = time.perf_counter() - t1
    return _summary(profile, record, kept, dropped, written, evidence, max_tokens, timings)


def _fiscal_year(record: DocumentRecord) -> int | None:
    fiscal_year = record.metadata.get("fiscal_year")
    return int(fiscal_year) if fiscal_year and str(fiscal_year).isdigit() else None


def _write(profile, settings, chosen, evidence, name, max_tokens, every, allowed_names, year, llm, progress) -> _Written:
    """The embedded backend's choice as sentences, or, with a model, the choice upgraded by its sentences."""
    from rag.select import assemble_sentences

    if settings.llm is None:
        return _Written(assemble_sentences(profile, chosen, name))
    from rag.mapreduce import llm_summarize
    from rag.tokens import encoding_for_model

    llm = llm or llm_client(settings)
    before = llm.usage.as_dict()
    sentences, reports = llm_summarize(
        profile, evidence, chosen, name, llm, max_tokens, settings.llm.evidence_tokens,
        chunk_text=lambda cid: every[cid].text if cid in every else None,
        allowed_names=allowed_names, fiscal_year=year, progress=progress, deadline=settings.llm.deadline,
    )
    report = {"facets": [r.as_dict() for r in reports], "fallback": [r.facet for r in reports if r.fell_back]}
    usage = {k: v - before.get(k, 0) for k, v in llm.usage.as_dict().items()}
    return _Written(sentences, f"llm:{getattr(llm, 'model', settings.llm.model)}", encoding_for_model(settings.llm.model), report, usage)


def _summary(profile, record, kept, dropped, written: _Written, evidence, max_tokens: int, timings: dict) -> Summary:
    """The grounded sentences as one text under the ceiling, with where each facet's sentences came from."""
    from rag.tokens import count_tokens, truncate_to_tokens

    text = " ".join(s.text for s in kept)
    # The ceiling is a hard guarantee, in the model's own encoding and in cl100k_base.
    text = truncate_to_tokens(truncate_to_tokens(text, max_tokens, written.encoding), max_tokens)
    kept = tuple(s for s in kept if s.text in text)
    return Summary(
        text=text,
        tokens=count_tokens(text),
        document=record.id,
        backend=written.backend,
        max_tokens=max_tokens,
        facets={f.name: sorted({c for s in kept if s.facet == f.name for c in s.chunk_ids}) for f in profile.facets},
        sentences=kept,
        missing=tuple(f.name for f in profile.facets if f.missing in text),
        dropped=tuple(dropped),
        retrieved={f: list(dict.fromkeys(c.chunk_id for c in pool)) for f, pool in evidence.items()},
        timings=timings,
        llm_usage=written.usage or {},
        llm_report=written.report or {},
    )


# -- questions ------------------------------------------------------------------------------------
def answer(settings: Settings, store: ChromaStore | None, question: str, *, doc_ids: Sequence[str] = (), company: str | None = None,
           year: str | None = None, item: str | None = None, k: int = 8, llm=None, history: Sequence[tuple[str, str]] = ()):
    """An answer from the indexed filings only (``rag.ask``), by the model ``llm`` (default: the settings') or extractively."""
    from rag.ask import ask

    llm = llm if llm is not None else llm_client(settings)
    return ask(store, question, default_embedder(settings.embedding), doc_ids=doc_ids, company=company, year=year, item=item, k=k,
               llm=llm, history=history, options=settings.ask)


def select_documents(store: ChromaStore | None, doc_ids: Sequence[str] = (), company: str | None = None, year: str | None = None):
    """The documents a question is about: given ids, else filtered by company and fiscal year, else all."""
    from rag.ask import select_documents as select

    return select(store, doc_ids, company, year)


def normalize_item(item: str | None) -> str | None:
    """'7', '1a', 'Item 7.' -> 'Item 7' / 'Item 1A'; 'Exhibit 13' as the chunks carry it."""
    from rag.ask import normalize_item as normalize

    return normalize(item)


def label(record: DocumentRecord) -> str:
    """How a document is named to a reader: "FedEx Corp (10-K 2023)"."""
    from rag.ask import label as ask_label

    return ask_label(record)


# -- many summaries ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SummaryResult:
    """One document's summary as ``--json`` prints it (``data``), or why it was not made (``error``)."""

    document: str
    label: str
    data: dict | None = None
    error: str | None = None
    fatal: bool = False  # the store failed, not the document: the run stops

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict:
        if not self.ok:
            return {"document": self.document, "label": self.label, "error": self.error}
        return {"label": self.label, **{k: v for k, v in self.data.items() if k != "fingerprint"}}


class Executor(Protocol):
    """Where summaries are made: this process (``LocalExecutor``) or Ray workers (``rag.distributed.RayExecutor``)."""

    def summarize(self, records: Sequence[DocumentRecord], settings: Settings, profile: Profile, profile_path: Path | None,
                  max_tokens: int, progress: Callable[[str], None] | None) -> Iterator[SummaryResult]: ...


@dataclass
class LocalExecutor:
    """Summaries in this process, in order. A remote model waits on the network, so several run at once;
    the embedded backend and a local model are CPU-bound and run one at a time."""

    store: ChromaStore
    embedder_factory: Callable[[], Embedder] = default_embedder

    def summarize(self, records, settings, profile, profile_path, max_tokens, progress) -> Iterator[SummaryResult]:
        from concurrent.futures import ThreadPoolExecutor

        def one(record: DocumentRecord) -> SummaryResult:
            # a client per summary: its usage and deadline are the summary's (a local model still loads once per process)
            if progress is not None and settings.llm is not None:
                progress(f"Writing {label(record)} with {settings.llm.model}, one call per facet:")
            summary = summarize_document(self.store, record, profile, settings, self.embedder_factory, max_tokens, progress=progress)
            return SummaryResult(record.id, label(record), summary.as_dict())

        workers = 4 if settings.llm is not None and not settings.llm.is_local else 1
        if workers == 1 or len(records) < 2:
            yield from map(one, records)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(one, records)


def summarize_many(records: Iterable[DocumentRecord], settings: Settings, profile: Profile, max_tokens: int, executor: Executor, *,
                   profile_path: Path | None = None, out: Path | None = None, progress: Callable[[str], None] | None = None,
                   on_result: Callable[[SummaryResult], None] | None = None) -> list[SummaryResult]:
    """Summaries of ``records`` made by ``executor``, each handed to ``on_result`` as it is made. With ``out``, each
    is also written to ``out/<doc id>.json``, and a document whose file is there, made with the same settings,
    is not summarized again."""
    records = list(records)
    stamp = fingerprint(profile.name, max_tokens, settings)
    results, todo = split_finished(records, out, stamp) if out is not None else ([], records)
    for done in results:
        if on_result:
            on_result(done)
    for result in executor.summarize(todo, settings, profile, profile_path, max_tokens, progress):
        if out is not None and result.ok:
            write_summary(out, result.document, {**result.as_dict(), "fingerprint": stamp})
        results.append(result)
        if on_result:
            on_result(result)
    return results


# -- summaries kept in a folder, one file per document ----------------------------------------------
def fingerprint(profile_name: str, max_tokens: int, settings: Settings) -> str:
    """What a stored summary was made with: a change of any of these makes it stale."""
    llm = settings.llm
    key = json.dumps({"profile": profile_name, "max_tokens": max_tokens, "k": settings.retrieval.per_facet,
                      "llm": None if llm is None else [llm.model, llm.base_url]}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def summary_path(out: Path, doc_id: str) -> Path:
    return out / f"{doc_id}.json"


def read_finished(out: Path, doc_id: str, stamp: str) -> dict | None:
    try:
        data = json.loads(summary_path(out, doc_id).read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("fingerprint") == stamp else None


def split_finished(records: Sequence[DocumentRecord], out: Path, stamp: str) -> tuple[list[SummaryResult], list[DocumentRecord]]:
    """The summaries already in ``out`` made with ``stamp``, and the records still to summarize."""
    done, todo = [], []
    for record in records:
        found = read_finished(out, record.id, stamp)
        if found is None:
            todo.append(record)
        else:
            done.append(SummaryResult(record.id, found.get("label", label(record)), {k: v for k, v in found.items() if k != "label"}))
    return done, todo


def write_summary(out: Path, doc_id: str, data: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{doc_id}-", suffix=".json", dir=out)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide the results from the user's group
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, summary_path(out, doc_id))  # whole or absent: a killed run leaves no half file
