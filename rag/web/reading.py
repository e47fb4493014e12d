"""The filing text a reader sees, exactly as citations count it, and the checks on what a request may read.

Citations (``Citation.start``/``end``) are character offsets into the document's cleaned text
(``Document.text``). Every chunk is a slice of that text, so the text is rebuilt from the stored
chunks; the few characters no chunk covers (the space between two sentences that fall in different
chunks) are taken from the source file when it is still there unchanged, else written as spaces
or line breaks. Either way each offset points at the same character as at ingest.

No web library is imported here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import InputError

# Document ids are made by rag.api.document_id: a slug of the file name and 10 hex digits of its sha256.
DOC_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,80}")


@dataclass(frozen=True)
class Band:
    """A stretch of the filing that belongs to one 10-K item (None: before the first item)."""

    item: str | None
    start: int
    end: int


@dataclass(frozen=True)
class FilingText:
    doc_id: str
    text: str
    bands: tuple[Band, ...]
    exact: bool  # True: every character as at ingest (the source file was unchanged); False: gaps filled

    def span(self, start: int, end: int) -> str:
        check_span(self, start, end)
        return self.text[start:end]

    def item_at(self, offset: int) -> str | None:
        for band in self.bands:
            if band.start <= offset < band.end:
                return band.item
        return None


def check_doc_id(doc_id: str) -> str:
    if not DOC_ID.fullmatch(doc_id or ""):
        raise InputError(f"{doc_id[:80]!r} is not a document id; pick a document from the list.")
    return doc_id


def check_span(filing: FilingText, start: int, end: int) -> None:
    if not (0 <= start < end <= len(filing.text)):
        raise InputError(f"Characters {start}-{end} are not in {filing.doc_id} ({len(filing.text):,} characters); "
                         f"follow a citation from a summary or an answer.")


def rebuild(chunks) -> tuple[str, list[tuple[int, int]]]:
    """The text from overlapping chunks, and the (start, end) stretches no chunk covers."""
    parts: list[str] = []
    gaps: list[tuple[int, int]] = []
    covered = 0
    for chunk in sorted(chunks, key=lambda c: c.start):
        if chunk.end <= covered:
            continue
        if chunk.start > covered:
            gaps.append((covered, chunk.start))
            gap = chunk.start - covered
            parts.append(" " if gap == 1 else "\n" * gap)
            covered = chunk.start
        parts.append(chunk.text[covered - chunk.start:])
        covered = chunk.end
    return "".join(parts), gaps


def bands(chunks) -> tuple[Band, ...]:
    """Consecutive chunks of one item joined into one band each, in reading order."""
    out: list[Band] = []
    for chunk in sorted(chunks, key=lambda c: c.start):
        if out and out[-1].item == chunk.item:
            out[-1] = Band(chunk.item, out[-1].start, max(out[-1].end, chunk.end))
        else:
            out.append(Band(chunk.item, chunk.start if out else 0, chunk.end))
    return tuple(out)


def _source_text(record, chunks, limit: int | None = None) -> str | None:
    """The source file's cleaned text when the file is still there, unchanged, and agrees with every chunk."""
    path = Path(record.source)
    try:
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != record.content_sha:
            return None
        from ingest.loaders import load_document

        text = load_document(path, limit).text
    except (OSError, InputError):
        return None
    if all(text[c.start:c.end] == c.text for c in chunks):
        return text
    return None


def filing_text(store, record, limit: int | None = None) -> FilingText:
    """What the reading pane shows for a document of the store (its source file read up to ``limit`` bytes)."""
    chunks = store.get_chunks(record.id)
    text, gaps = rebuild(chunks)
    exact = not gaps
    if gaps:
        source = _source_text(record, chunks, limit)
        if source is not None:
            text, exact = source, True
    # The HTML parser drops NUL characters and turns CR LF into one character: the same length keeps offsets.
    text = text.replace("\x00", "\ufffd").replace("\r", " ")
    return FilingText(record.id, text, bands(chunks), exact)
