"""The facade: ingest files into the store, and summarize a document from it.

Data flows one way: ``ingest`` (load, clean, chunk, embed) → ``vectorstore`` (keep) → ``rag``
(retrieve per facet, map, reduce). The CLI and notebooks both call these functions.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.embed import Embedder
from ingest.errors import InputError
from ingest.types import Document
from queries.profile import Profile
from rag.settings import Settings
from rag.types import Summary
from vectorstore.chroma import ChromaStore, DocumentRecord

log = logging.getLogger("rag")


@dataclass(frozen=True)
class IngestResult:
    id: str
    source: str
    chunks_added: int
    status: str  # "added", "unchanged" or "replaced"
    chunks: int

    def as_dict(self) -> dict:
        return {"id": self.id, "source": self.source, "chunks_added": self.chunks_added, "status": self.status, "chunks": self.chunks}


def open_store(settings: Settings, create: bool = True) -> ChromaStore | None:
    return ChromaStore.open(settings.store, url=settings.chroma_url, create=create)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "doc"


def document_id(path: Path, data: bytes) -> str:
    """Readable and content-derived: the same bytes always get the same id, wherever they live."""
    return f"{_slug(path.stem)}-{hashlib.sha256(data).hexdigest()[:10]}"


def ingest_file(store: ChromaStore, path: str | Path, embedder: Embedder, progress: bool = False, doc: Document | None = None,
                data: bytes | None = None) -> IngestResult:
    """Index one file. Unchanged files add nothing; a changed file replaces its old version.

    ``doc`` is the file already loaded (the CLI loads every input first, to fail before touching the store);
    ``data`` its bytes, when the file is not on this machine (a Ray worker gets them from the driver).
    """
    from ingest.chunking import chunk_document
    from ingest.loaders import load_document
    from ingest.sections import detect_sections

    doc = doc or load_document(path)  # validates the input before the store is touched
    resolved = Path(doc.source)
    if data is None:
        from ingest.files import read_regular_file

        data = read_regular_file(resolved)  # bounded, and only a regular file (a FIFO swapped in must not hang)
    doc_id = document_id(resolved, data)
    content_sha = hashlib.sha256(data).hexdigest()
    existing = store.get_document(doc_id)
    if existing is not None:
        return IngestResult(doc_id, existing.source, 0, "unchanged", existing.chunks)
    if not doc.sections:
        from dataclasses import replace

        doc = replace(doc, sections=detect_sections(doc.text))
    counter = getattr(embedder, "count_tokens_batch", None) or (lambda texts: [embedder.count_tokens(t) for t in texts])
    chunks = chunk_document(doc, doc_id, counter)
    if not chunks:
        raise InputError(f"{path} has no text to index; check that it is a filing in a supported format.")
    from rag.candidates import document_sentences

    sentences = document_sentences(doc_id, chunks)
    t0 = time.perf_counter()
    vectors = embedder.embed([c.text for c in chunks], progress=progress, desc=f"Embedding {resolved.name}")
    sentence_vectors = embedder.embed([u.text for u in sentences], progress=progress, desc=f"Sentences of {resolved.name}")
    log.info("embedded %d chunks and %d sentences of %s in %.1fs", len(chunks), len(sentences), resolved.name, time.perf_counter() - t0)
    items = list(dict.fromkeys(c.item for c in chunks if c.item))
    meta = {**doc.metadata, **({"items": ",".join(items)} if items else {})}
    record = DocumentRecord(doc_id, doc.source, len(chunks), content_sha, meta)
    older = [r for r in store.find_documents(source=doc.source) if r.id != doc_id]
    added = store.add_document(record, chunks, vectors, sentences, sentence_vectors)
    for old in older:  # the new version is complete; only now remove the old one
        store.delete_document(old.id)
    return IngestResult(doc_id, doc.source, added, "replaced" if older else "added", added)


def resolve_document(store: ChromaStore | None, ref: str) -> DocumentRecord | None:
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
            data = read_regular_file(path)
        except InputError:
            return None
        return store.get_document(document_id(path.resolve(), data))
    return None


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


def sentences_of(store: ChromaStore, record: DocumentRecord, embedder_factory, chunks=None):
    """A document's candidate sentences and their vectors. A document indexed by an older version has
    none: they are made from its stored chunks and embedded once, and kept unless the store is read-only."""
    import numpy as np

    from ingest.errors import StoreError

    units, vectors = store.get_sentences(record.id)
    if record.sentences is not None and len(units) == record.sentences:
        return units, vectors
    from rag.candidates import document_sentences

    units = document_sentences(record.id, chunks if chunks is not None else store.get_chunks(record.id))
    log.warning("%s was indexed without its sentences: embedding %d sentences once", record.id, len(units))
    vectors = np.asarray(embedder_factory().embed([u.text for u in units], progress=True, desc="Sentences"), dtype=np.float32)
    try:
        store.add_sentences(record, units, vectors)
    except StoreError as exc:
        log.warning("the sentences could not be kept (%s); they serve this command only", str(exc).split(";")[0])
    return units, vectors.reshape(len(units), -1) if len(units) else vectors


def document_inputs(store: ChromaStore, record: DocumentRecord, profile: Profile, embedder_factory, chunks=None):
    """Everything the scorer reads of an indexed document, as features (``rag.features.featurize``)."""
    import numpy as np

    from rag.features import featurize

    chunks = chunks if chunks is not None else store.get_chunks(record.id)
    units, vectors = sentences_of(store, record, embedder_factory, chunks)
    chunk_vectors = np.asarray(store.get_embeddings([c.id for c in chunks]), dtype=np.float32) if chunks else np.zeros((0, 1), np.float32)
    queries = [q for f in profile.facets for q in f.queries]
    flat = np.asarray(query_vectors(store, embedder_factory, queries), dtype=np.float32)
    by_facet, at = {}, 0
    for f in profile.facets:
        by_facet[f.name] = flat[at : at + len(f.queries)]
        at += len(f.queries)
    return featurize(units, vectors, chunks, chunk_vectors, record.metadata, profile, by_facet)


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
    """Score every sentence of the filing per facet, choose under the ceiling, and write (with a model, if any).

    ``progress`` (a callable taking one line) hears about each model call: a CPU model takes minutes."""
    from rag.grounding import Rules, ground
    from rag.rewrite import _as_written, short_company_name
    from rag.scorer import load_scorer
    from rag.select import SelectionParams, assemble_sentences, pools, select_summary
    from rag.tokens import count_tokens, encoding_for_model, truncate_to_tokens

    max_tokens = max_tokens or profile.max_tokens
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    chunks = store.get_chunks(record.id)
    fs = document_inputs(store, record, profile, embedder_factory, chunks)
    scorer = load_scorer()
    probabilities = scorer.probabilities(fs, [f.name for f in profile.facets])
    timings["score_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    company = record.metadata.get("company")
    name = _as_written(short_company_name(company), [u.text for u in fs.units])
    allowed_names = [n for n in (company, short_company_name(company), name) if n]
    fiscal_year = record.metadata.get("fiscal_year")
    year = int(fiscal_year) if fiscal_year and str(fiscal_year).isdigit() else None
    params = SelectionParams.of(scorer.selection)
    chosen = select_summary(profile, fs, probabilities, max_tokens, name, params)
    evidence = pools(fs, probabilities, profile, floor=params.floor)
    every = {c.id: c for c in chunks}
    exempt = {f.missing: f.name for f in profile.facets}
    report: dict = {}
    usage: dict[str, int] = {}
    if settings.llm is None:
        sentences = assemble_sentences(profile, chosen, name)
        backend, encoding = "extractive", "cl100k_base"
    else:
        from rag.llm import OpenAIChat
        from rag.mapreduce import llm_summarize

        llm = llm or OpenAIChat(settings.llm)
        before = llm.usage.as_dict()
        sentences, reports = llm_summarize(
            profile, evidence, chosen, name, llm, max_tokens, settings.llm.evidence_tokens,
            chunk_text=lambda cid: every[cid].text if cid in every else None,
            allowed_names=allowed_names, fiscal_year=year, progress=progress, deadline=settings.llm.deadline,
        )
        backend = f"llm:{getattr(llm, 'model', settings.llm.model)}"
        encoding = encoding_for_model(settings.llm.model)
        report = {"facets": [r.as_dict() for r in reports], "fallback": [r.facet for r in reports if r.fell_back]}
        usage = {k: v - before.get(k, 0) for k, v in llm.usage.as_dict().items()}
    kept, dropped = ground(sentences, every, Rules(tuple(allowed_names)), exempt, max_tokens=max_tokens)
    text = " ".join(s.text for s in kept)
    # The ceiling is a hard guarantee, in the model's own encoding and in cl100k_base.
    text = truncate_to_tokens(truncate_to_tokens(text, max_tokens, encoding), max_tokens)
    kept = tuple(s for s in kept if s.text in text)
    timings["summarize_s"] = time.perf_counter() - t1
    facets = {f.name: sorted({c for s in kept if s.facet == f.name for c in s.chunk_ids}) for f in profile.facets}
    missing = tuple(f.name for f in profile.facets if f.missing in text)
    return Summary(
        text=text,
        tokens=count_tokens(text),
        document=record.id,
        backend=backend,
        max_tokens=max_tokens,
        facets=facets,
        sentences=kept,
        missing=missing,
        dropped=tuple(dropped),
        retrieved={f: list(dict.fromkeys(c.chunk_id for c in pool)) for f, pool in evidence.items()},
        timings=timings,
        llm_usage=usage,
        llm_report=report,
    )
