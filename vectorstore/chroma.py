"""The only module that imports chromadb: a persistent store on disk, or a Chroma server.

Three collections live in one store:

- ``filings``: one record per chunk (text, embedding, provenance metadata), ids ``<doc_id>#<n>``;
- ``filings_docs``: one record per document, written *last* when a document is added and deleted
  *first* when it is removed. A document exists only when its record does, so an interrupted
  ingest never leaves a half-indexed document that looks whole; leftover chunks without a record
  are swept before the same document is written again;
- ``filings_query_cache``: embeddings of retrieval queries, keyed by model and text, so a warm
  summary of an indexed filing needs no embedding model at all;
- ``filings_sentences``: the candidate sentences of each document (``SentenceUnit``: text, chunk,
  item, span, kind) with their embeddings, ids ``<doc_id>#s<n>``. They are written with the chunks,
  before the record, and the record counts them (``sentences``), so a document whose record has
  no count (indexed by an older version) is known to lack them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ingest.types import Chunk, SentenceUnit
from vectorstore.errors import StoreError

log = logging.getLogger(__name__)

CHUNKS = "filings"
DOCS = "filings_docs"
QUERY_CACHE = "filings_query_cache"
SENTENCES = "filings_sentences"
DERIVED = "rag-derived"  # beside Chroma's files: see ChromaStore.derived_dir
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

    @property
    def sentences(self) -> int | None:
        """How many candidate sentences were stored with the document; None when it was indexed without them."""
        value = self.metadata.get("sentences")
        return int(value) if value not in (None, "") else None


def store_error(exc: BaseException, location: str, remote: bool = False) -> StoreError | None:
    """The one-line error for a failure inside Chroma, or None when it is not the store's fault
    (a bug of ours stays a traceback). Damage says how to check and repair; a busy store, to retry."""
    import sqlite3

    import chromadb.errors

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    if "dimension" in first.lower():
        return None  # another embedding model: the caller says so
    if "readonly" in first.lower() or "read-only" in first.lower():
        return StoreError(f"The store at {location} is read-only ({first}); writing commands need write access: fix its permissions "
                          f"or pass another directory with --store.")
    if "disk is full" in first.lower() or "no space" in first.lower():
        return StoreError(f"The disk holding the store at {location} is full ({first}); nothing half-written was kept: "
                          f"free some space and run the command again.")
    if "locked" in first.lower() or "busy" in first.lower():
        return StoreError(f"The store at {location} is busy (another process holds its lock: {first}); retry when it has finished.")
    if remote and _is_connection_error(exc):
        return StoreError(f"Lost the Chroma server at {location} ({type(exc).__name__}); check that `chroma run` is up and run the command again.")
    if isinstance(exc, (chromadb.errors.InternalError, sqlite3.DatabaseError)) or (
        isinstance(exc, chromadb.errors.ChromaError) and not isinstance(exc, (chromadb.errors.InvalidArgumentError, chromadb.errors.NotFoundError))
    ):
        where = "" if remote else f" --store {location}"
        return StoreError(f"The store at {location} is damaged or unreadable ({first}); run `rag doctor{where}` to see what can be saved, "
                          f"and `rag doctor{where} --repair` to rebuild it.")
    return None


def _is_connection_error(exc: BaseException) -> bool:
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"ConnectError", "ConnectionError", "RemoteProtocolError", "ReadError", "ReadTimeout", "TimeoutException",
                         "NetworkError", "ConnectionRefusedError", "ConnectionResetError"})


SERVER_BACKOFF = 0.5
READ_ONLY_COPY_MB = 2048


@dataclass(frozen=True)
class StoreOptions:
    """How a store behaves, given by its opener (``rag.api.open_store`` builds it from the settings)."""

    retries: int = 4  # when the server does not answer: 0.5 + 1 + 2 + 4 s, a server restart fits in it
    batch: int | None = None  # chunks per write; None: the client's largest
    read_only_copy_mb: float = READ_ONLY_COPY_MB  # largest store read through a temporary copy when it may not be written
    on_write: Callable[[str], None] | None = None  # called at each point of a document's write ("before-chunk-batch",
    # "after-chunk-batch", "after-record"): the kill -9 tests' failpoints (vectorstore.faults)


class _Guarded:
    """A Chroma collection whose failures inside Chroma become one-line StoreErrors (see store_error)."""

    def __init__(self, collection, location: str, remote: bool, retries: int, fresh: Callable | None = None):
        self._collection = collection
        self._location = location
        self._remote = remote
        self._retries = retries
        self._fresh = fresh or contextlib.nullcontext  # a local store: read under a shared lock, reopened when stale

    def __getattr__(self, name: str):
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with self._fresh():
                return _call(getattr(self._collection, name), *args, **kwargs)

        def _call(fn, *args, **kwargs):
            for attempt in range(self._retries + 1):
                try:
                    return fn(*args, **kwargs)
                except Exception as exc:
                    if self._remote and _is_connection_error(exc) and attempt < self._retries:
                        # a server restarting: wait and try again; a write is retried as an upsert of the
                        # same ids, so a first try that did land is not written twice
                        delay = SERVER_BACKOFF * 2**attempt
                        log.warning("the Chroma server at %s did not answer (%s); retrying in %.1fs", self._location, type(exc).__name__, delay)
                        time.sleep(delay)
                        if name == "add":
                            fn = self._collection.upsert
                        continue
                    err = store_error(exc, self._location, self._remote)
                    if err is None:
                        raise
                    raise err from exc

        return call


class ChromaStore:
    """A vector store of filing chunks. Open with :meth:`open`."""

    def __init__(self, client, location: str, prefix: str = CHUNKS, remote: bool = False, options: StoreOptions | None = None):
        self._client = client
        self.location = location
        self.remote = remote
        self.options = options or StoreOptions()
        self._prefix = prefix
        self._writing = _WriteLock(None if remote else Path(location), None if remote else self._reopen)
        self._attach(client)

    def derived_dir(self) -> Path | None:
        """A local store's folder for what is computed from its documents and kept to save time (one folder per
        document, named by its id, removed with the document); None for a server, which keeps no files here."""
        return None if self.remote else Path(self.location) / DERIVED / self._prefix

    def _attach(self, client) -> None:
        location, prefix = self.location, self._prefix
        # Collection names: "<prefix>", "<prefix>_docs", "<prefix>_query_cache" (several indexes can share a server).
        try:
            chunks = client.get_or_create_collection(prefix, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
            docs = client.get_or_create_collection(prefix + DOCS.removeprefix(CHUNKS), embedding_function=None)
            cache = client.get_or_create_collection(prefix + QUERY_CACHE.removeprefix(CHUNKS), embedding_function=None)
            sentences = client.get_or_create_collection(prefix + SENTENCES.removeprefix(CHUNKS), embedding_function=None,
                                                        configuration={"hnsw": {"space": "cosine"}})
        except Exception as exc:
            err = store_error(exc, location, self.remote)
            if err is None:
                raise
            raise err from exc
        if hasattr(self, "_chunks"):  # reopened: the same guards, reading the new client's collections
            for guard, collection in ((self._chunks, chunks), (self._docs, docs), (self._cache, cache), (self._sentences, sentences)):
                guard._collection = collection
            return
        fresh = None if self.remote else self._writing.shared
        self._chunks = _Guarded(chunks, location, self.remote, self.options.retries, fresh)
        self._docs = _Guarded(docs, location, self.remote, self.options.retries, fresh)
        self._cache = _Guarded(cache, location, self.remote, self.options.retries, fresh)
        self._sentences = _Guarded(sentences, location, self.remote, self.options.retries, fresh)

    def _reopen(self) -> None:
        """Read a local store's state afresh (another process has written it): Chroma's embedded client
        is made again, not taken from its per-path cache."""
        import chromadb
        from chromadb.api.shared_system_client import SharedSystemClient

        path, settings = self._client._identifier, self._client.get_settings()
        old = SharedSystemClient._identifier_to_system.pop(path, None)
        if old is not None:
            try:
                old.stop()
            except Exception:  # stopping an old view is best effort; the new one is what is read and written
                log.debug("stopping the previous Chroma client of %s failed", path, exc_info=True)
        self._client = chromadb.PersistentClient(path=path, settings=settings)
        self._attach(self._client)

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(
        cls, path: str | os.PathLike | None = None, url: str | None = None, create: bool = True, prefix: str = CHUNKS,
        options: StoreOptions | None = None,
    ) -> "ChromaStore | None":
        """Open the store at ``path`` (or the server at ``url``), behaving as ``options`` say.

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
            return cls(client, url, prefix, remote=True, options=options)
        root = Path(path).expanduser()
        _check_store_dir(root, create)
        if not (root / "chroma.sqlite3").exists() and not create:
            return None
        root.mkdir(parents=True, exist_ok=True)
        opened = root
        if not create and not _writable(root):
            opened = _read_only_copy(root, (options or StoreOptions()).read_only_copy_mb)  # Chroma writes when it opens a store: read a private copy
        try:
            with _opening_lock(opened):  # two processes creating one store race in Chroma's migrations
                client = chromadb.PersistentClient(path=str(opened), settings=settings)
                return cls(client, str(root), prefix, options=options)
        except Exception as exc:
            damaged = store_error(exc, str(root))
            if damaged is not None and not isinstance(exc, StoreError):
                raise damaged from exc
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

    def add_document(self, record: DocumentRecord, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]],
                     sentences: Sequence[SentenceUnit] = (), sentence_embeddings: Sequence[Sequence[float]] = (),
                     sentence_extra: Sequence[dict] = ()) -> int:
        """Write a document's chunks and candidate sentences, then its record. On any failure both are removed.
        ``sentence_extra``: more metadata per sentence (str, int or float values), kept and given back as is."""
        if len(chunks) != len(embeddings) or len(sentences) != len(sentence_embeddings):
            raise ValueError("one embedding per chunk and per sentence")
        with self._writing:
            done = self.get_document(record.id)
            if done is not None and done.content_sha == record.content_sha:
                return 0  # another process wrote this very document while this one embedded it
            return self._write_document(record, chunks, embeddings, sentences, sentence_embeddings, sentence_extra)

    def _write_document(self, record, chunks, embeddings, sentences, sentence_embeddings, sentence_extra) -> int:
        self._sweep_orphans(record.id)  # under the write lock: chunks without a record are an interrupted ingest's, not a writer's
        try:
            for i, j in self._batches(len(chunks)):
                self._written("before-chunk-batch")
                part = chunks[i:j]
                self._chunks.add(
                    ids=[c.id for c in part],
                    embeddings=[list(map(float, e)) for e in embeddings[i:j]],
                    documents=[c.text for c in part],
                    metadatas=[_chunk_metadata(c) for c in part],
                )
                self._written("after-chunk-batch")
            self._add_sentences(sentences, sentence_embeddings, sentence_extra)
            meta = {**record.metadata, "source": record.source, "chunks": len(chunks), "content_sha": record.content_sha,
                    "sentences": len(sentences)}
            self._docs.upsert(ids=[record.id], embeddings=[[1.0]], metadatas=[meta], documents=[record.source])
            self._written("after-record")
        except BaseException:
            self._sweep_orphans(record.id)
            raise
        return len(chunks)

    def _written(self, point: str) -> None:
        if self.options.on_write is not None:
            self.options.on_write(point)

    def _batches(self, n: int):
        # smaller write batches: tests use them to kill a process between two of them
        batch = min(self._client.get_max_batch_size(), self.options.batch or 1 << 30)
        return [(i, min(n, i + batch)) for i in range(0, n, batch)]

    def _add_sentences(self, sentences: Sequence[SentenceUnit], embeddings: Sequence[Sequence[float]], extra: Sequence[dict] = ()) -> None:
        extra = list(extra) or [{}] * len(sentences)
        for i, j in self._batches(len(sentences)):
            part = sentences[i:j]
            self._sentences.add(
                ids=[u.id for u in part],
                embeddings=[list(map(float, e)) for e in embeddings[i:j]],
                documents=[u.text for u in part],
                metadatas=[{**{f"x_{k}": v for k, v in x.items()}, **_sentence_metadata(u)} for u, x in zip(part, extra[i:j])],
            )

    def add_sentences(self, record: DocumentRecord, sentences: Sequence[SentenceUnit], embeddings: Sequence[Sequence[float]],
                      extra: Sequence[dict] = (), record_metadata: dict | None = None) -> None:
        """Give a document indexed without candidate sentences its sentences, then count them in its record
        (with ``record_metadata`` added to it)."""
        if len(sentences) != len(embeddings):
            raise ValueError("one embedding per sentence")
        with self._writing:
            self._sentences.delete(where={"doc_id": record.id})  # what an interrupted earlier try left
            self._add_sentences(sentences, embeddings, extra)
            got = self._docs.get(ids=[record.id], include=["metadatas"])
            if got["ids"]:
                self._docs.update(ids=[record.id], metadatas=[{**got["metadatas"][0], **(record_metadata or {}), "sentences": len(sentences)}])

    def delete_document(self, doc_id: str) -> int:
        """Remove a document: its record first (it stops existing), then its chunks and sentences."""
        with self._writing:
            n = self.count_chunks(doc_id)
            self._docs.delete(ids=[doc_id])
            self._chunks.delete(where={"doc_id": doc_id})
            self._sentences.delete(where={"doc_id": doc_id})
            derived = self.derived_dir()
            if derived is not None:
                shutil.rmtree(derived / doc_id, ignore_errors=True)
            return n

    def count_chunks(self, doc_id: str) -> int:
        return len(self._chunks.get(where={"doc_id": doc_id}, include=[])["ids"])

    def count_sentences(self, doc_id: str) -> int:
        return len(self._sentences.get(where={"doc_id": doc_id}, include=[])["ids"])

    def _sweep_orphans(self, doc_id: str) -> None:
        if self.get_document(doc_id) is None:
            if self.count_chunks(doc_id):
                log.info("removing %s: chunks left by an interrupted ingest", doc_id)
                self._chunks.delete(where={"doc_id": doc_id})
            if self.count_sentences(doc_id):
                self._sentences.delete(where={"doc_id": doc_id})

    # -- sentences -----------------------------------------------------------------------
    def get_sentences(self, doc_id: str, extra: bool = False):
        """A document's candidate sentences in reading order, and their vectors (a float32 array, one row each);
        with ``extra``, also each sentence's extra metadata (as given to :meth:`add_document`)."""
        import numpy as np

        got = self._sentences.get(where={"doc_id": doc_id}, include=["documents", "metadatas", "embeddings"])
        units = [_sentence(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        vectors = np.asarray(got["embeddings"], dtype=np.float32) if len(units) else np.zeros((0, 0), dtype=np.float32)
        order = sorted(range(len(units)), key=lambda k: units[k].id)
        units, vectors = [units[k] for k in order], vectors[order] if len(units) else vectors
        if not extra:
            return units, vectors
        metas = [got["metadatas"][k] for k in order]
        return units, vectors, [{k[2:]: v for k, v in m.items() if k.startswith("x_")} for m in metas]

    def query_sentences(self, embedding: Sequence[float], doc_ids: Sequence[str] | None, k: int, item: str | None = None) -> list[tuple[SentenceUnit, float]]:
        """The ``k`` sentences nearest to one query among these documents (all when ``doc_ids`` is None)."""
        conds = ([{"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}] if doc_ids else []) + \
                ([{"item": item}] if item else [])
        where = None if not conds else conds[0] if len(conds) == 1 else {"$and": conds}
        got = self._sentences.query(query_embeddings=[list(map(float, embedding))], n_results=k, where=where,
                                    include=["documents", "metadatas", "distances"])
        return [(_sentence(i, d, m), 1.0 - float(dist)) for i, d, m, dist in
                zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0])]

    def sentence_counts(self) -> dict[str, int]:
        """Candidate sentences per doc_id over the whole collection (for `rag doctor`)."""
        counts: dict[str, int] = {}
        page = 5000
        for offset in range(0, self._sentences.count(), page):
            got = self._sentences.get(include=["metadatas"], limit=page, offset=offset)
            for meta in got["metadatas"]:
                d = str(meta.get("doc_id"))
                counts[d] = counts.get(d, 0) + 1
        return counts

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

    def query_many(self, embedding: Sequence[float], doc_ids: Sequence[str] | None, k: int, item: str | None = None) -> list[Hit]:
        """One query over several documents at once: the ``k`` nearest chunks among them.

        ``doc_ids`` None means every document: no filter at all, which Chroma answers from its vector
        index alone (about 4 ms at 40k chunks, against 250-340 ms for a ``$in`` over 1,000 ids,
        bench/bench_corpus_ask.py). A ``$in`` filter is still one call instead of one per document.
        """
        if doc_ids is None:
            cond: dict | None = None
        else:
            cond = {"doc_id": {"$in": list(doc_ids)}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}
        return self._nearest([embedding], cond, k, item)[0]

    def _nearest(self, embeddings: Sequence[Sequence[float]], cond: dict | None, k: int, item: str | None) -> list[list[Hit]]:
        if not embeddings:
            return []
        if cond is None:
            where = None if item is None else {"item": item}
        else:
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

    # -- checks, for `rag doctor` ---------------------------------------------------------
    def chunk_counts(self) -> dict[str, int]:
        """Chunks per doc_id over the whole collection, records or not (orphans show here)."""
        counts: dict[str, int] = {}
        page = 5000
        for offset in range(0, self._chunks.count(), page):
            got = self._chunks.get(include=["metadatas"], limit=page, offset=offset)
            for meta in got["metadatas"]:
                d = str(meta.get("doc_id"))
                counts[d] = counts.get(d, 0) + 1
        return counts

    def get_embeddings(self, ids: Sequence[str]) -> list[list[float]]:
        """The stored vectors of these chunk ids, in order (a StoreError when the index cannot give them)."""
        out: dict[str, list[float]] = {}
        batch = 500
        for i in range(0, len(ids), batch):
            got = self._chunks.get(ids=list(ids[i : i + batch]), include=["embeddings"])
            out.update({cid: list(map(float, e)) for cid, e in zip(got["ids"], got["embeddings"])})
        missing = [cid for cid in ids if cid not in out]
        if missing:
            raise StoreError(f"The store at {self.location} has no vector for {len(missing)} chunk(s), e.g. {missing[0]}.")
        return [out[cid] for cid in ids]

    def probe(self, doc_id: str) -> None:
        """Read one stored vector of the document and search with it: a StoreError when the index is broken."""
        got = self._chunks.get(where={"doc_id": doc_id}, include=[], limit=1)
        if not got["ids"]:
            raise StoreError(f"The document {doc_id} has no chunks in {self.location}.")
        vec = self.get_embeddings(got["ids"])[0]
        hits = self._nearest([vec], {"doc_id": doc_id}, 1, None)[0]
        if not hits:
            raise StoreError(f"The vector index of {self.location} finds nothing for {doc_id}.")

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
            with self._writing:
                self._cache.upsert(ids=[_cache_key(model, t) for t in texts], embeddings=embeddings, documents=texts)


def _read_only_db(root: str | os.PathLike):
    """The store's SQLite file opened read-only (mode=ro): it is never written."""
    import sqlite3
    from contextlib import closing

    return closing(sqlite3.connect(f"file:{Path(root) / 'chroma.sqlite3'}?mode=ro", uri=True, timeout=30))


def sqlite_problem(root: str | os.PathLike) -> str | None:
    """What SQLite's own check finds wrong with a disk store's database file, or None when it is sound."""
    import sqlite3

    path = Path(root) / "chroma.sqlite3"
    if not path.is_file():
        return f"{path} is missing"
    try:
        with _read_only_db(root) as con:
            rows = [r[0] for r in con.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.Error as exc:
        return f"SQLite cannot read {path.name}: {exc}"
    return None if rows == ["ok"] else f"SQLite finds {path.name} damaged: {'; '.join(map(str, rows[:3]))}"


def recorded_sources(root: str | os.PathLike) -> list[str]:
    """The source paths of the documents a disk store records, read straight from its SQLite file:
    what can still be re-ingested when Chroma itself cannot open the store. Empty if unreadable."""
    import sqlite3

    found: set[str] = set()
    try:
        with _read_only_db(root) as con:
            for row in con.execute("SELECT string_value FROM embedding_metadata WHERE key = 'source'"):
                if row[0]:
                    found.add(str(row[0]))  # a damaged page ends the scan; the rows before it count
    except sqlite3.Error:
        pass
    return sorted(found)


def release(root: str | os.PathLike) -> None:
    """Forget this process's open clients, so a store moved or replaced on disk is opened afresh."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


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


def _sentence_metadata(unit: SentenceUnit) -> dict:
    meta = {"doc_id": unit.doc_id, "chunk": unit.chunk_id, "start": unit.start, "end": unit.end, "kind": unit.kind}
    if unit.item:
        meta["item"] = unit.item
    if unit.also:
        meta["also"] = ",".join(unit.also)
    if unit.follows:
        meta["follows"] = True
    return meta


def _sentence(sid: str, text: str, meta: dict) -> SentenceUnit:
    also = str(meta.get("also") or "")
    return SentenceUnit(sid, str(meta["doc_id"]), text, str(meta["chunk"]), meta.get("item"), int(meta["start"]), int(meta["end"]),
                        str(meta.get("kind") or "sentence"), tuple(a for a in also.split(",") if a),
                        bool(meta.get("follows")))


def _record(doc_id: str, meta: dict) -> DocumentRecord:
    rest = {k: str(v) for k, v in meta.items() if k not in {"source", "chunks", "content_sha"}}
    return DocumentRecord(id=doc_id, source=str(meta["source"]), chunks=int(meta["chunks"]), content_sha=str(meta["content_sha"]), metadata=rest)


class _opening_lock:
    """An exclusive lock on the store directory while Chroma opens it (migrations, collections):
    concurrent first opens otherwise fail with "table collections already exists". Held for the
    open only; writes are Chroma's (SQLite's) own business."""

    def __init__(self, root: Path):
        self.root = root
        self.fd: int | None = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return self
        self.fd = os.open(self.root, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)



class _WriteLock:
    """Held while a document is written or removed, so that two processes (or threads) ingesting into one
    local store take turns: otherwise one process, seeing another's first chunks without their record, takes
    them for an interrupted ingest and sweeps them while the other goes on to write the record. An exclusive
    ``flock`` on ``.rag-write.lock`` in the store directory, re-entrant within this object. A server store has
    none (its writes are the server's)."""

    NAME = ".rag-write.lock"

    def __init__(self, root: Path | None, on_stale: Callable[[], None] | None = None):
        import threading

        self.path = root / self.NAME if root is not None else None
        self.guard = threading.RLock()
        self.depth = 0
        self.fd: int | None = None
        # Chroma's embedded client keeps a collection's state in the process: once another process has
        # written, writing (or reading) on from the old state damages the store or fails ("Error finding id").
        # Each write counts one more in the lock file; a process that finds a count it has not seen calls
        # ``on_stale`` (the store opens its client again) before it goes on.
        self.on_stale = on_stale
        self.seen = self._generation()

    def _generation(self, fd: int | None = None) -> int:
        try:
            raw = os.pread(fd, 32, 0) if fd is not None else (self.path.read_bytes() if self.path is not None else b"")
        except OSError:
            return 0
        return int(raw.strip() or b"0") if raw.strip().isdigit() else 0

    @contextlib.contextmanager
    def shared(self):
        """Held while a local store is read by a process not writing it: reads wait for a write in progress
        to end, and a store another process has written since is reopened before it is read."""
        if self.path is None or self.depth > 0:
            yield
            return
        try:
            import fcntl

            fd = os.open(self.path, os.O_RDONLY)
        except (ImportError, OSError):  # never written through a lock, or a read-only copy: nothing to wait for
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            generation = self._generation(fd)
            if generation != self.seen and self.on_stale is not None:
                self.on_stale()
            self.seen = generation
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self):
        self.guard.acquire()
        self.depth += 1
        if self.depth == 1 and self.path is not None:
            try:
                import fcntl
            except ImportError:  # not POSIX: threads still take turns
                return self
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:  # a read-only store read through a copy: nothing here reaches it, nothing to guard
                return self
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            generation = self._generation(self.fd)
            if generation != self.seen and self.on_stale is not None:
                self.on_stale()  # another process wrote: this one's view of the collections is old
            self.seen = generation
        return self

    def __exit__(self, *exc) -> None:
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            import fcntl

            self.seen += 1
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, str(self.seen).encode(), 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        self.guard.release()


def _writable(root: Path) -> bool:
    db = root / "chroma.sqlite3"
    return os.access(root, os.W_OK | os.X_OK) and (not db.exists() or os.access(db, os.W_OK))


def _read_only_copy(root: Path, limit_mb: float) -> Path:
    """A temporary copy of a store this user may read but not write (a shared or archived index), for
    the reading commands; it is removed when the process exits. Past the size limit, a one-line error."""
    import atexit
    import tempfile

    # what is derived from the documents is read in place (ChromaStore.derived_dir), not copied
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and DERIVED not in p.relative_to(root).parts[:1])
    limit = int(limit_mb) * 2**20
    if size > limit:
        raise StoreError(f"The store at {root} is read-only and {size / 2**20:,.0f} MB, too large to read through a temporary copy "
                         f"(RAG_READONLY_COPY_MB={limit // 2**20}); copy it somewhere writable and pass that with --store.")
    tmp = Path(tempfile.mkdtemp(prefix="rag-readonly-"))
    atexit.register(shutil.rmtree, tmp, True)
    copy = tmp / "store"
    try:
        shutil.copytree(root, copy, ignore=lambda folder, names: [DERIVED] if Path(folder) == root and DERIVED in names else [])
        for p in [copy, *copy.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
    except OSError as exc:
        raise StoreError(f"The store at {root} is read-only and could not be copied to read it ({exc.strerror}); "
                         f"copy it somewhere writable and pass that with --store.") from exc
    log.warning("the store at %s is read-only: reading a temporary copy (nothing written reaches it)", root)
    return copy


def _check_store_dir(root: Path, create: bool) -> None:
    """Refuse paths that are not (and cannot become) a Chroma store, before touching them."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"Store path {root} is a file, not a directory; pass a directory with --store.")
    if root.is_dir():
        entries = [p.name for p in root.iterdir()]
        if entries and "chroma.sqlite3" not in entries:
            raise StoreError(f"{root} is not a Chroma store (no chroma.sqlite3 inside); pass an empty or new directory with --store.")
        if create and (not os.access(root, os.W_OK | os.X_OK) or (entries and not os.access(root / "chroma.sqlite3", os.W_OK))):
            raise StoreError(f"Store {root} is not writable; fix its permissions or pass another directory with --store.")
        return
    if create:
        parent = root.parent
        while not parent.exists():
            parent = parent.parent
        if not os.access(parent, os.W_OK | os.X_OK):
            raise StoreError(f"Cannot create the store at {root}: {parent} is not writable; pass another directory with --store.")
