"""A document's candidate sentences as the store keeps them: read, or made from its chunks and kept.

Ingest, summaries, questions and ``rag doctor`` all go through here, so each reads the sentences of
this candidates version (``rag.candidates.CANDIDATES_VERSION``) and the sentence table of this
features version (``rag.features``): what an older version stored is made again, once.
"""

from __future__ import annotations

import logging

from ingest.embed import sentence_embedder
from vectorstore.chroma import ChromaStore, DocumentRecord

log = logging.getLogger("rag")


def make_sentences(doc_id: str, chunks, metadata: dict, embedder, progress: bool = False, desc: str = "Sentences",
                   known: dict | None = None):
    """A document's candidate sentences made from its chunks, their vectors and their sentence table: what
    ingest stores, and what a document stored without them (or a rebuilt store) gets the same way.
    ``known``: vectors already made, by text (an older version's sentences): only new texts are embedded."""
    import numpy as np

    from rag.candidates import document_sentences
    from rag.features import sentence_table

    units = document_sentences(doc_id, chunks)
    table = sentence_table(units, chunks, metadata)  # what a summary reads of each, made once
    known = known or {}
    new = list(dict.fromkeys(u.text for u in units if u.text not in known))  # each text embedded once
    made = dict(zip(new, sentence_embedder(embedder)(new, progress=progress, desc=desc))) if new else {}
    vectors = np.asarray([known[u.text] if u.text in known else made[u.text] for u in units], dtype=np.float32)
    return units, vectors.reshape(len(units), -1) if units else np.zeros((0, 0), np.float32), table


def sentences_of(store: ChromaStore, record: DocumentRecord, embedder_factory, chunks=None, table: bool = True):
    """A document's candidate sentences, their vectors and their sentence table (``rag.features``). A document
    indexed by an older version has none: they are made from its stored chunks and embedded once, and kept
    unless the store is read-only. A table of another features version is made again (without embedding) and
    kept; with ``table=False`` (questions do not read it) the stored sentences come back without it."""
    from rag.candidates import sentences_current
    from rag.features import SentenceTable, features_version, sentence_table

    units, vectors, extra = store.get_sentences(record.id, extra=True)
    current = record.metadata.get("features") == features_version()
    if sentences_current(record.metadata, record.sentences, len(units)):
        if current or not table:
            return units, vectors, SentenceTable.from_metadata(extra) if current else None
        made = sentence_table(units, chunks if chunks is not None else store.get_chunks(record.id), record.metadata)
        _keep(store, record, units, vectors, made)  # the next summary reads it
        return units, vectors, made
    chunks = chunks if chunks is not None else store.get_chunks(record.id)
    if record.sentences is None or len(units) != record.sentences:
        log.warning("%s was indexed without its sentences: embedding them once", record.id)
    else:
        log.warning("%s has the candidate sentences of an older version: making and embedding them again, once", record.id)
    known = {u.text: v for u, v in zip(units, vectors)}  # an older version's sentence keeps its vector
    units, vectors, table = make_sentences(record.id, chunks, record.metadata, embedder_factory(), progress=True, known=known)
    _keep(store, record, units, vectors, table)
    return units, vectors, table


def _keep(store: ChromaStore, record: DocumentRecord, units, vectors, table) -> None:
    """Store a document's sentences with this version's table; a store that cannot be written serves this command only."""
    from rag.candidates import CANDIDATES_VERSION
    from rag.features import features_version
    from vectorstore.errors import StoreError

    try:
        store.add_sentences(record, units, vectors, [table.metadata(i) for i in range(len(units))],
                            {"features": features_version(), "candidates": CANDIDATES_VERSION})
    except StoreError as exc:
        log.warning("the sentences could not be kept (%s); they serve this command only", str(exc).split(";")[0])
