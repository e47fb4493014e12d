"""Typed values of the summarization pipeline: retrieval → evidence → summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.types import Chunk
from queries.profile import Facet


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float  # fused retrieval score; higher is better
    rank: int  # 0 is best within its facet


@dataclass(frozen=True)
class FacetEvidence:
    """The chunks retrieved for one facet, best first."""

    facet: Facet
    chunks: tuple[ScoredChunk, ...]


@dataclass(frozen=True)
class Citation:
    """Where a sentence's support lies: a chunk, its 10-K item, and a character span in the document."""

    chunk: str
    item: str | None
    start: int
    end: int

    def as_dict(self) -> dict:
        return {"chunk": self.chunk, "item": self.item, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Sentence:
    """One sentence of a summary and where it came from."""

    text: str
    facet: str
    chunk_ids: tuple[str, ...]
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Dropped:
    """A sentence withheld from the summary because its evidence does not support it."""

    text: str
    facet: str
    reason: str


@dataclass(frozen=True)
class Summary:
    text: str
    tokens: int
    document: str
    backend: str
    max_tokens: int
    facets: dict[str, list[str]]  # facet name -> chunk ids used as evidence
    sentences: tuple[Sentence, ...] = ()
    missing: tuple[str, ...] = ()  # facets the filing does not disclose
    dropped: tuple[Dropped, ...] = ()
    retrieved: dict[str, list[str]] = field(default_factory=dict)  # facet -> chunk ids retrieved as evidence
    timings: dict[str, float] = field(default_factory=dict)
    llm_usage: dict[str, int] = field(default_factory=dict)
    llm_report: dict = field(default_factory=dict)  # per facet: source (model, embedded...), reason, tokens, seconds

    def as_dict(self) -> dict:
        return {
            "summary": self.text,
            "tokens": self.tokens,
            "max_tokens": self.max_tokens,
            "document": self.document,
            "backend": self.backend,
            "facets": self.facets,
            "missing": list(self.missing),
            "sentences": [
                {"text": s.text, "facet": s.facet, "chunks": list(s.chunk_ids), "citations": [c.as_dict() for c in s.citations]}
                for s in self.sentences
            ],
            "dropped": [{"text": d.text, "facet": d.facet, "reason": d.reason} for d in self.dropped],
            "retrieved": self.retrieved,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            **({"llm_usage": self.llm_usage} if self.llm_usage else {}),
            **({"llm": self.llm_report} if self.llm_report else {}),
        }
