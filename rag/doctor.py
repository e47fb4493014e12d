"""`rag doctor`: check a store, and rebuild what can be rebuilt.

A store can be damaged from outside: a partial copy or a restore that lost the vector-index folders,
a truncated SQLite file, a disk that filled up. Checking reads only. Repairing never edits the damaged
store in place: a new store is built beside it (``<store>.repairing``), checked, and swapped in with
two renames; the damaged one is kept as ``<store>.damaged-<time>`` for the user to delete.

What can be rebuilt, best first:

1. a document whose chunks and vectors read back: copied as it is;
2. a document whose chunks read back but whose vectors do not: its stored chunk texts re-embedded
   (the same model gives the same vectors);
3. a document whose chunks are incomplete, or a store Chroma cannot open: re-ingested from its
   source file when that file still exists with the same content;
4. anything else is reported as lost, by id and source, with the command that re-adds it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import InputError
from vectorstore.chroma import StoreOptions
from vectorstore.errors import StoreError

log = logging.getLogger(__name__)


@dataclass
class DocumentState:
    id: str
    source: str
    chunks_recorded: int
    chunks_found: int
    state: str  # ok | vectors unreadable | chunks missing | sentences missing | sentences unreadable
    detail: str = ""
    outcome: str = ""  # after --repair: copied | re-embedded | re-ingested | lost

    def as_dict(self) -> dict:
        d = {"id": self.id, "source": self.source, "chunks_recorded": self.chunks_recorded, "chunks_found": self.chunks_found, "state": self.state}
        if self.detail:
            d["detail"] = self.detail
        if self.outcome:
            d["outcome"] = self.outcome
        return d


@dataclass
class Report:
    store: str
    problems: list[str] = field(default_factory=list)
    documents: list[DocumentState] = field(default_factory=list)
    orphan_chunks: int = 0  # chunks of no recorded document: left by an interrupted ingest, harmless, swept on re-ingest
    opened: bool = True
    repaired: bool = False
    backup: str | None = None
    lost: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "store": self.store,
            "healthy": self.healthy,
            "problems": self.problems,
            "documents": [d.as_dict() for d in self.documents],
            "orphan_chunks": self.orphan_chunks,
            **({"repaired": self.repaired, "backup": self.backup, "lost": self.lost} if self.repaired or self.lost else {}),
        }


def check(root: Path, options: StoreOptions | None = None) -> Report:
    """What is wrong with the disk store at ``root``; reads only."""
    from vectorstore.chroma import ChromaStore, sqlite_problem

    root = Path(root).expanduser()
    if not (root / "chroma.sqlite3").is_file():
        raise InputError(f"No Chroma store at {root} (no chroma.sqlite3 inside); pass the store directory with --store.")
    report = Report(str(root))
    problem = sqlite_problem(root)
    if problem:
        report.problems.append(problem)
    try:
        db = ChromaStore.open(root, create=False, options=options)
        records = db.list_documents()
        counts = db.chunk_counts()
        sentence_counts = db.sentence_counts()
    except StoreError as exc:
        report.opened = False
        report.problems.append(f"Chroma cannot read the store: {exc}")
        return report
    for r in records:
        found = counts.get(r.id, 0)
        state = DocumentState(r.id, r.source, r.chunks, found, "ok")
        if found != r.chunks:
            state.state = "chunks missing"
            state.detail = f"{found} of {r.chunks} chunks"
        elif r.sentences is not None and sentence_counts.get(r.id, 0) != r.sentences:
            state.state = "sentences missing"  # an older store's documents have no count: their sentences are made when first summarized
            state.detail = f"{sentence_counts.get(r.id, 0)} of {r.sentences} sentences"
        else:
            # a chunk's vector found by a search, then every sentence with its vector, as a summary reads them
            checks = [("vectors unreadable", db.probe)] + ([("sentences unreadable", db.get_sentences)] if r.sentences else [])
            for problem, read in checks:
                try:
                    read(r.id)
                except StoreError as exc:
                    cause = exc.__cause__ or exc
                    state.state, state.detail = problem, (str(cause).strip().splitlines() or [type(cause).__name__])[0][:120]
                    break
        report.documents.append(state)
    bad = [d for d in report.documents if d.state != "ok"]
    if bad:
        kinds = sorted({d.state for d in bad})
        report.problems.append(f"{len(bad)} of {len(records)} document(s) damaged: {', '.join(kinds)}")
    recorded = {r.id for r in records}
    report.orphan_chunks = sum(n for d, n in counts.items() if d not in recorded)
    return report


def _same_file(source: str, content_sha: str, limit: int | None = None) -> bool:
    """The source file still exists with the bytes that were indexed."""
    from ingest.files import read_regular_file

    try:
        data = read_regular_file(source, limit)  # a source replaced by a FIFO or a device must not hang or fill the repair
    except InputError:
        return False
    return not content_sha or hashlib.sha256(data).hexdigest() == content_sha


def repair(root: Path, embedder_factory, progress=None, options: StoreOptions | None = None, limit: int | None = None) -> Report:
    """Rebuild the store at ``root`` beside it and swap it in; returns the check with each document's outcome.

    ``options`` is how the stores behave (``rag.api.store_options``), ``limit`` the largest source file re-read."""
    from vectorstore.chroma import ChromaStore

    root = Path(root).expanduser()
    _finish_interrupted_swap(root)
    report = check(root, options)
    if report.healthy:
        return report
    target = root.with_name(root.name + ".repairing")
    if target.exists():
        shutil.rmtree(target)  # an earlier repair that did not finish: start it again
    rebuild = _Rebuild(ChromaStore.open(target, options=options), embedder_factory, limit)
    if report.opened:
        rebuild.copy(ChromaStore.open(root, create=False, options=options), report.documents, progress or (lambda line: None))
    else:
        report.documents.extend(rebuild.from_sources(root, target))
    report.lost = [f"{d.id} ({d.source})" for d in report.documents if d.outcome == "lost"]
    after = check(target, options)
    if not after.healthy:
        raise StoreError(f"The rebuilt store at {target} is not sound either ({'; '.join(after.problems)}); the damaged store is untouched.")
    report.backup = _swap(root, target)
    report.repaired = True
    return report


class _Rebuild:
    """The new store, filled from what the damaged one still holds, or from the source files."""

    def __init__(self, new, embedder_factory, limit: int | None):
        self.new, self.embedder_factory, self.limit = new, embedder_factory, limit
        self._embedder = None

    @property
    def embedder(self):
        self._embedder = self._embedder or self.embedder_factory()  # loaded only when something needs embedding
        return self._embedder

    def reingest(self, source: str) -> bool:
        from rag.api import ingest_file

        if not Path(source).is_file():
            return False
        try:
            ingest_file(self.new, source, self.embedder, limit=self.limit)
        except InputError:
            return False
        return True

    def copy(self, old, documents: list[DocumentState], say) -> None:
        """Each document of a store Chroma still opens: copied, re-embedded, or re-ingested from its unchanged source."""
        for state in documents:
            record = old.get_document(state.id)
            say(f"{state.id}: {state.state}")
            if state.state == "chunks missing":
                same = _same_file(state.source, record.content_sha, self.limit) and self.reingest(state.source)
                state.outcome = "re-ingested" if same else "lost"
                continue
            chunks = old.get_chunks(state.id)
            try:
                vectors = old.get_embeddings([c.id for c in chunks])
                state.outcome = "copied"
            except StoreError:
                vectors = self.embedder.embed([c.text for c in chunks])
                state.outcome = "re-embedded"
            record, sentences, sentence_vectors, extra = self._sentences(old, record, state, chunks)
            self.new.add_document(record, chunks, vectors, sentences, sentence_vectors, extra)

    def _sentences(self, old, record, state: DocumentState, chunks):
        """The document's sentences, their vectors and sentence-table rows: kept, or made again from the chunks
        as at ingest (then the record says which features version made the table)."""
        try:
            sentences, sentence_vectors, extra = old.get_sentences(state.id, extra=True)
        except StoreError:
            sentences, sentence_vectors, extra = [], [], []
        from rag.candidates import CANDIDATES_VERSION, sentences_current

        if state.state == "sentences missing" or not sentences_current(record.metadata, record.sentences, len(sentences)):
            from rag.stored import make_sentences
            from rag.features import features_version
            from vectorstore.chroma import DocumentRecord

            # made from the chunks, as at ingest
            sentences, sentence_vectors, table = make_sentences(state.id, chunks, record.metadata, self.embedder)
            extra = [table.metadata(i) for i in range(len(sentences))]
            record = DocumentRecord(record.id, record.source, record.chunks, record.content_sha,
                                    {**record.metadata, "features": features_version(), "candidates": CANDIDATES_VERSION})
            state.outcome = "re-embedded"
        return record, sentences, sentence_vectors, extra

    def from_sources(self, root: Path, target: Path) -> list[DocumentState]:
        """Chroma cannot open the store: what the SQLite file still tells of the sources is all there is."""
        from vectorstore.chroma import recorded_sources

        sources = recorded_sources(root)
        if not sources:
            shutil.rmtree(target, ignore_errors=True)
            raise StoreError(f"Nothing in the store at {root} can be read, not even which files it indexed; it is left as it is. "
                             f"Move it aside and index your files again with `rag ingest FILES --store {root}`.")
        states = []
        for source in sources:
            state = DocumentState("?", source, 0, 0, "unreadable")
            state.outcome = "re-ingested" if self.reingest(source) else "lost"
            states.append(state)
        return states


def _swap(root: Path, target: Path) -> str:
    """The rebuilt store in the damaged one's place, the damaged one kept beside it; returns where."""
    from vectorstore.chroma import release

    (target / "REPAIRED").write_text(str(root))
    release(root)
    backup = root.with_name(f"{root.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.rename(root, backup)
    os.rename(target, root)
    (root / "REPAIRED").unlink()
    release(root)
    return str(backup)


def _finish_interrupted_swap(root: Path) -> None:
    """A repair killed between its two renames left the store missing and the rebuilt one complete."""
    target = root.with_name(root.name + ".repairing")
    if not root.exists() and (target / "REPAIRED").is_file():
        os.rename(target, root)
        (root / "REPAIRED").unlink()
        log.warning("finished an interrupted repair: %s is in place", root)
