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


def query_vectors(store: ChromaStore, embedder_factory, queries: list[str], model_name: str) -> list[list[float]]:
    """Query embeddings from the store's cache; only missing ones need the embedding model."""
    cached = store.cached_embeddings(model_name, queries)
    missing = [q for q in dict.fromkeys(queries) if q not in cached]
    if missing:
        vectors = embedder_factory().embed(missing)
        store.cache_embeddings(model_name, missing, vectors)
        cached.update(zip(missing, vectors))
    return [cached[q] for q in queries]


def summarize_document(
    store: ChromaStore,
    record: DocumentRecord,
    profile: Profile,
    settings: Settings,
    embedder_factory,
    max_tokens: int | None = None,
    model_name: str = "all-MiniLM-L6-v2",
    llm=None,
    progress=None,
) -> Summary:
    """Retrieve evidence per facet, then map and reduce with the configured backend.

    ``progress`` (a callable taking one line) hears about each model call: a CPU model takes minutes."""
    from rag.retrieve import retrieve
    from rag.tokens import count_tokens, encoding_for_model, truncate_to_tokens

    max_tokens = max_tokens or profile.max_tokens
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    chunks = store.get_chunks(record.id)

    def dense(queries: list[str], k: int):
        vectors = query_vectors(store, embedder_factory, queries, model_name)
        hits = store.query(vectors, record.id, k=k)
        return [[(h.chunk.id, h.score) for h in ranking] for ranking in hits]

    evidence = retrieve(profile, chunks, dense, k=settings.evidence_k())
    timings["retrieve_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    company = record.metadata.get("company")
    usage: dict[str, int] = {}
    chunks_by_id = {sc.chunk.id: sc.chunk for ev in evidence for sc in ev.chunks}
    exempt = {f.missing: f.name for f in profile.facets}
    from rag.extractive import short_company_name
    from rag.grounding import ground_sentences

    allowed_names = [n for n in (company, short_company_name(company)) if n]
    from ingest.sections import chunk_lines, prior_period_spans
    from rag.extractive import facet_pools, select
    from rag.tables import locate, table_sentences

    fiscal_year = record.metadata.get("fiscal_year")
    year = int(fiscal_year) if fiscal_year and str(fiscal_year).isdigit() else None
    lines = chunk_lines(chunks)
    prior, tables = prior_period_spans(lines, year), locate(table_sentences(lines), chunks)
    name, pools = facet_pools(profile, evidence, company, fiscal_year=year, prior=prior, tables=tables)
    every = {c.id: c for c in chunks}  # a table's header can lie in a chunk no facet retrieved
    report: dict = {}
    if settings.llm is None:
        sentences = select(profile, pools, max_tokens, company=name)
        backend = "extractive"
        encoding = "cl100k_base"
    else:
        from rag.llm import OpenAIChat
        from rag.mapreduce import llm_summarize

        llm = llm or OpenAIChat(settings.llm)
        before = llm.usage.as_dict()
        sentences, reports = llm_summarize(
            profile, pools, name, llm, max_tokens, settings.llm.evidence_tokens,
            chunk_text=lambda cid: every[cid].text if cid in every else None,
            allowed_names=[n for n in (*allowed_names, name) if n], fiscal_year=year, progress=progress,
            deadline=settings.llm.deadline,
        )
        backend = f"llm:{getattr(llm, 'model', settings.llm.model)}"
        encoding = encoding_for_model(settings.llm.model)
        report = {"facets": [r.as_dict() for r in reports], "fallback": [r.facet for r in reports if r.fell_back]}
    chunks_by_id.update({cid: every[cid] for s in sentences for cid in s.chunk_ids if cid in every})
    kept, dropped = ground_sentences(sentences, chunks_by_id, allowed_names, exempt, None, max_tokens=max_tokens)
    if settings.llm is not None:
        usage = {k: v - before.get(k, 0) for k, v in llm.usage.as_dict().items()}
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
        retrieved={ev.facet.name: [sc.chunk.id for sc in ev.chunks] for ev in evidence},
        timings=timings,
        llm_usage=usage,
        llm_report=report,
    )
