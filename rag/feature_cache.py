"""A filing's facet features kept beside a local store, so a warm summary does not compute them again.

The facet features (similarities, terms, kinds of fact, BM25 of the chunk, ...) and the words the
scorer reads are most of a warm summary's time (1.3 s of FedEx 2023's 2,023 sentences), and they
depend only on what the store holds and on the profile. They are kept as one ``.npz`` (arrays only,
no pickle) per document and key, in the store's folder for derived data
(``ChromaStore.derived_dir``: ``<store>/rag-derived/<collection>/<doc_id>/``). The key
hashes everything the features are made from: the sentences as printed with their table rows and
headings, every vector (sentences, chunks, queries), the document's metadata, the profile and the
source of the modules that compute them. So any change of input or code misses, and the features
are made anew; nothing is ever served stale.

A remote (Chroma server) store has no directory of its own: its summaries compute the features each
time. A store that may not be written is read, never written. ``rag rm`` removes a document's
entries with the document; a store rebuilt by ``rag doctor --repair`` starts without any.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger("rag")

# what features read of a document's record (rag.features._document); its bookkeeping (versions, counts) is not
# an input, and the table, vectors and code the key also hashes already change with it
READ_FROM_METADATA = ("fiscal_year", "company", "form", "content_sha")
KEEP = 4  # entries per document (one per profile and form in use); the least recently written go first
_SOURCES = ("features.py", "text.py", "retrieve.py", "candidates.py", "scorer.py")


def _code_digest() -> str:
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in _SOURCES:
        h.update((here / name).read_bytes())
    h.update((here.parent / "queries" / "profile.py").read_bytes())
    return h.hexdigest()


def feature_key(texts, rows, headings, vectors: np.ndarray, chunk_vectors: np.ndarray, chunk_keys, unit_keys,
                metadata: dict, profile, query_vectors: dict[str, np.ndarray]) -> str:
    """The digest of everything a filing's facet features are computed from (see the module's docstring):
    ``texts``, ``rows`` and ``headings`` of its sentence table, the vectors, each chunk's and unit's
    identifying fields, what features read of the record's metadata, and the profile."""
    h = hashlib.sha256()
    h.update(_code_digest().encode())
    h.update(json.dumps([list(texts), list(headings), list(chunk_keys), list(unit_keys), {k: str(metadata.get(k)) for k in READ_FROM_METADATA},
                         profile.model_dump(mode="json")], sort_keys=True, default=str).encode())
    width = max((len(r) for r in rows if r is not None), default=0)
    table = np.asarray([r if r is not None else [np.nan] * width for r in rows], dtype=np.float64)
    for array in (table, vectors, chunk_vectors, *(query_vectors[k] for k in sorted(query_vectors))):
        a = np.ascontiguousarray(array, dtype=np.float64 if array is table else np.float32)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def load(folder: Path | None, doc_id: str, key: str) -> dict[str, np.ndarray] | None:
    """The arrays kept for this document and key, or None (not kept, unreadable, or no folder)."""
    if folder is None:
        return None
    path = folder / doc_id / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged entry is a miss: it is made again and replaced
        log.debug("cached features %s unreadable (%s)", path, exc)
        return None


def save(folder: Path | None, doc_id: str, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Keep the arrays (written whole, then renamed into place); a store that may not be written keeps nothing."""
    if folder is None:
        return
    target = folder / doc_id
    try:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".{key}.{os.getpid()}.tmp"
        with open(tmp, "wb") as out:
            np.savez(out, **arrays)
        os.replace(tmp, target / f"{key}.npz")  # a reader sees the whole file or none
        entries = sorted(target.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("features of %s not kept (%s)", doc_id, exc)
