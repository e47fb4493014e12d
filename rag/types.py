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
class Sentence:
    """One sentence of a summary and where it came from."""

    text: str
    facet: str
    chunk_ids: tuple[str, ...]


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
    timings: dict[str, float] = field(default_factory=dict)
    llm_usage: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "summary": self.text,
            "tokens": self.tokens,
            "max_tokens": self.max_tokens,
            "document": self.document,
            "backend": self.backend,
            "facets": self.facets,
            "missing": list(self.missing),
            "sentences": [{"text": s.text, "facet": s.facet, "chunks": list(s.chunk_ids)} for s in self.sentences],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            **({"llm_usage": self.llm_usage} if self.llm_usage else {}),
        }
