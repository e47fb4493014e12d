"""The only module that imports chromadb: a persistent store on disk, or a Chroma server.

Three collections live in one store:

- ``filings``: one record per chunk (text, embedding, provenance metadata), ids ``<doc_id>#<n>``;
- ``filings_docs``: one record per document, written *last* when a document is added and deleted
  *first* when it is removed. A document exists only when its record does, so an interrupted
  ingest never leaves a half-indexed document that looks whole; leftover chunks without a record
  are swept before the same document is written again;
- ``filings_query_cache``: embeddings of retrieval queries, keyed by model and text, so a warm
  summary of an indexed filing needs no embedding model at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ingest.errors import StoreError
from ingest.types import Chunk

log = logging.getLogger(__name__)

CHUNKS = "filings"
DOCS = "filings_docs"
QUERY_CACHE = "filings_query_cache"
_CHUNK_FIELDS = {"doc_id", "index", "start", "end", "item"}


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # cosine similarity, 1 is identical


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    source: str
    chunks: int
    content_sha: str
    metadata: dict[str, str]

    def as_dict(self) -> dict:
        return {"id": self.id, "source": self.source, "chunks": self.chunks, **self.metadata}


class ChromaStore:
    """A vector store of filing chunks. Open with :meth:`open`."""

    def __init__(self, client, location: str, prefix: str = CHUNKS):
        self._client = client
        self.location = location
        # Collection names: "<prefix>", "<prefix>_docs", "<prefix>_query_cache" (several indexes can share a server).
        self._chunks = client.get_or_create_collection(prefix, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
        self._docs = client.get_or_create_collection(prefix + DOCS.removeprefix(CHUNKS), embedding_function=None)
        self._cache = client.get_or_create_collection(prefix + QUERY_CACHE.removeprefix(CHUNKS), embedding_function=None)

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(
        cls, path: str | os.PathLike | None = None, url: str | None = None, create: bool = True, prefix: str = CHUNKS
    ) -> "ChromaStore | None":
        """Open the store at ``path`` (or the server at ``url``).

        With ``create=False`` a store that does not exist yet is not made: None is returned,
        so read-only commands leave the disk untouched.
        """
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if url:
            parsed = urlparse(url if "://" in url else f"http://{url}")
            if not parsed.hostname:
                raise StoreError(f"Chroma URL {url!r} has no host; use a URL like http://127.0.0.1:8000.")
            try:
                client = chromadb.HttpClient(
                    host=parsed.hostname,
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=settings,
                )
                client.heartbeat()
            except Exception as exc:
                raise StoreError(f"Cannot reach the Chroma server at {url} ({type(exc).__name__}); start it with `chroma run` or fix --chroma-url.") from exc
            return cls(client, url, prefix)
        root = Path(path).expanduser()
        _check_store_dir(root, create)
        if not (root / "chroma.sqlite3").exists() and not create:
            return None
        root.mkdir(parents=True, exist_ok=True)
        try:
            client = chromadb.PersistentClient(path=str(root), settings=settings)
            return cls(client, str(root), prefix)
        except Exception as exc:
            raise StoreError(f"Cannot open the Chroma store at {root} ({exc}); pass another directory with --store.") from exc

    # -- documents -----------------------------------------------------------------------
    def get_document(self, doc_id: str) -> DocumentRecord | None:
        got = self._docs.get(ids=[doc_id], include=["metadatas"])
        return _record(got["ids"][0], got["metadatas"][0]) if got["ids"] else None

    def list_documents(self) -> list[DocumentRecord]:
        got = self._docs.get(include=["metadatas"])
        records = [_record(i, m) for i, m in zip(got["ids"], got["metadatas"])]
        return sorted(records, key=lambda r: (r.metadata.get("company", ""), r.id))

    def find_documents(self, *, source: str) -> list[DocumentRecord]:
        """The documents ingested from ``source`` (a path): the versions a changed file replaces."""
        got = self._docs.get(where={"source": source}, include=["metadatas"])
        return [_record(i, m) for i, m in zip(got["ids"], got["metadatas"])]

    def add_document(self, record: DocumentRecord, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> int:
        """Write a document's chunks, then its record. On any failure the chunks are removed."""
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk")
        self._sweep_orphans(record.id)
        try:
            batch = self._client.get_max_batch_size()
            for i in range(0, len(chunks), batch):
                part = chunks[i : i + batch]
                self._chunks.add(
                    ids=[c.id for c in part],
                    embeddings=[list(map(float, e)) for e in embeddings[i : i + batch]],
                    documents=[c.text for c in part],
                    metadatas=[_chunk_metadata(c) for c in part],
                )
            meta = {**record.metadata, "source": record.source, "chunks": len(chunks), "content_sha": record.content_sha}
            self._docs.upsert(ids=[record.id], embeddings=[[1.0]], metadatas=[meta], documents=[record.source])
        except BaseException:
            self._sweep_orphans(record.id)
            raise
        return len(chunks)

    def delete_document(self, doc_id: str) -> int:
        """Remove a document: its record first (it stops existing), then its chunks."""
        n = self.count_chunks(doc_id)
        self._docs.delete(ids=[doc_id])
        self._chunks.delete(where={"doc_id": doc_id})
        return n

    def count_chunks(self, doc_id: str) -> int:
        return len(self._chunks.get(where={"doc_id": doc_id}, include=[])["ids"])

    def _sweep_orphans(self, doc_id: str) -> None:
        if self.get_document(doc_id) is None and self.count_chunks(doc_id):
            log.info("removing %s: chunks left by an interrupted ingest", doc_id)
            self._chunks.delete(where={"doc_id": doc_id})

    # -- chunks --------------------------------------------------------------------------
    def get_chunks(self, doc_id: str, item: str | None = None) -> list[Chunk]:
        """All chunks of a document (optionally of one 10-K item), in document order."""
        where: dict = {"doc_id": doc_id} if item is None else {"$and": [{"doc_id": doc_id}, {"item": item}]}
        got = self._chunks.get(where=where, include=["documents", "metadatas"])
        chunks = [_chunk(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        return sorted(chunks, key=lambda c: c.index)

    def query(self, embeddings: Sequence[Sequence[float]], doc_id: str, k: int = 10, item: str | None = None) -> list[list[Hit]]:
        """For each query vector, the ``k`` nearest chunks of one document (optionally of one 10-K item)."""
        return self._nearest(embeddings, {"doc_id": doc_id}, k, item)

    def query_many(self, embedding: Sequence[float], doc_ids: Sequence[str], k: int, item: str | None = None) -> list[Hit]:
        """One query over several documents at once (``$in`` filter): the ``k`` nearest chunks among them.

        A filtered query costs about the same whatever the filter, so asking 70 documents in one call
        instead of 70 calls is what keeps corpus-wide questions fast as the store grows.
        """
        cond: dict = {"doc_id": {"$in": list(doc_ids)}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}
        return self._nearest([embedding], cond, k, item)[0]

    def _nearest(self, embeddings: Sequence[Sequence[float]], cond: dict, k: int, item: str | None) -> list[list[Hit]]:
        if not embeddings:
            return []
        where = cond if item is None else {"$and": [cond, {"item": item}]}
        try:
            got = self._chunks.query(
                query_embeddings=[list(map(float, e)) for e in embeddings],
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        except Exception as exc:
            if "dimension" in str(exc):
                raise StoreError(f"The store {self.location} was built with another embedding model ({exc}); use a new --store for this model.") from exc
            raise
        return [[Hit(_chunk(i, d, m), 1.0 - float(dist)) for i, d, m, dist in zip(ids, docs, metas, dists)]
                for ids, docs, metas, dists in zip(got["ids"], got["documents"], got["metadatas"], got["distances"])]

    # -- query embedding cache -----------------------------------------------------------
    def cached_embeddings(self, model: str, texts: Sequence[str]) -> dict[str, list[float]]:
        keys = {_cache_key(model, t): t for t in texts}
        if not keys:
            return {}
        got = self._cache.get(ids=list(keys), include=["embeddings"])
        return {keys[i]: list(map(float, e)) for i, e in zip(got["ids"], got["embeddings"])}

    def cache_embeddings(self, model: str, texts: Iterable[str], embeddings: Iterable[Sequence[float]]) -> None:
        texts, embeddings = list(texts), [list(map(float, e)) for e in embeddings]
        if texts:
            self._cache.upsert(ids=[_cache_key(model, t) for t in texts], embeddings=embeddings, documents=texts)


def _cache_key(model: str, text: str) -> str:
    return hashlib.sha1(f"{model}\n{text}".encode()).hexdigest()


def _chunk_metadata(chunk: Chunk) -> dict:
    meta = {k: v for k, v in chunk.metadata.items() if k not in _CHUNK_FIELDS and v not in (None, "")}
    meta.update(doc_id=chunk.doc_id, index=chunk.index, start=chunk.start, end=chunk.end)
    if chunk.item:
        meta["item"] = chunk.item
    return meta


def _chunk(cid: str, text: str, meta: dict) -> Chunk:
    extra = {k: str(v) for k, v in meta.items() if k not in _CHUNK_FIELDS}
    return Chunk(
        id=cid,
        doc_id=str(meta["doc_id"]),
        text=text,
        index=int(meta["index"]),
        start=int(meta["start"]),
        end=int(meta["end"]),
        item=meta.get("item"),
        metadata=extra,
    )


def _record(doc_id: str, meta: dict) -> DocumentRecord:
    rest = {k: str(v) for k, v in meta.items() if k not in {"source", "chunks", "content_sha"}}
    return DocumentRecord(id=doc_id, source=str(meta["source"]), chunks=int(meta["chunks"]), content_sha=str(meta["content_sha"]), metadata=rest)


def _check_store_dir(root: Path, create: bool) -> None:
    """Refuse paths that are not (and cannot become) a Chroma store, before touching them."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"Store path {root} is a file, not a directory; pass a directory with --store.")
    if root.is_dir():
        entries = [p.name for p in root.iterdir()]
        if entries and "chroma.sqlite3" not in entries:
            raise StoreError(f"{root} is not a Chroma store (no chroma.sqlite3 inside); pass an empty or new directory with --store.")
        if not os.access(root, os.W_OK | os.X_OK) or (entries and not os.access(root / "chroma.sqlite3", os.W_OK)):
            raise StoreError(f"Store {root} is not writable; fix its permissions or pass another directory with --store.")
        return
    if create:
        parent = root.parent
        while not parent.exists():
            parent = parent.parent
        if not os.access(parent, os.W_OK | os.X_OK):
            raise StoreError(f"Cannot create the store at {root}: {parent} is not writable; pass another directory with --store.")
