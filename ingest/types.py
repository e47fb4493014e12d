"""Typed values passed between stages: a loaded document and its chunks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """A span of the document's text that belongs to one 10-K item (``"Item 7"``)."""

    item: str
    title: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """A loaded, cleaned document.

    ``text`` is the cleaned text every character span refers to. ``metadata`` holds what
    is known of the filing: ``company``, ``form``, ``fiscal_year``, ``filing_date``
    (missing keys mean unknown). ``sections`` are the 10-K items found, in order; when
    the loader knows the items (one JSON field per item) it fills them, otherwise they
    are detected in the text.
    """

    source: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A piece of a document sized for the embedding model, with its provenance."""

    id: str
    doc_id: str
    text: str
    index: int
    start: int
    end: int
    item: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SentenceUnit:
    """A sentence, a clause or a table read as a sentence: a candidate for a summary or an answer.

    ``text`` is as the filing states it (a table sentence as composed from its cells); ``start`` and
    ``end`` are its span in the document's cleaned text; ``chunk_id`` the chunk that holds it whole,
    ``also`` further chunks a table sentence rests on (its title and header rows); ``follows`` says whether
    the sentence it may lean on ("These customers ...") is the unit just before it."""

    id: str
    doc_id: str
    text: str
    chunk_id: str
    item: str | None
    start: int
    end: int
    kind: str = "sentence"  # "sentence", "clause" or "table"
    also: tuple[str, ...] = ()
    follows: bool = False  # the sentence right before it, in the same paragraph, is the previous unit

    def as_tuple(self) -> tuple:
        return (self.id, self.doc_id, self.text, self.chunk_id, self.item, self.start, self.end, self.kind, self.also, self.follows)
