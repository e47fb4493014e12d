"""Token-aware chunking sized to the embedding model's window.

all-MiniLM-L6-v2 reads at most 256 word pieces, two of them [CLS] and [SEP]; anything longer is
silently cut off before embedding. Chunks are packed from whole units (a line that is a table
row or heading, or one sentence of a paragraph) up to ``target_tokens`` word pieces and never
beyond ``max_tokens``, so every chunk is embedded in full:

    256 window - 2 special tokens = 254 usable  >=  max_tokens = 250 (4 spare)
    target 200 + overlap <= 48 leaves room for the one unit that crosses the target

A unit is only split when it alone exceeds ``max_tokens`` (a run-on paragraph sentence or a
huge flattened table row), and then at word boundaries. Chunks never cross a 10-K item
boundary, so each chunk has exactly one item.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ingest.sections import item_at
from ingest.sentences import sentence_spans
from ingest.types import Chunk, Document, Section

TokenCounter = Callable[[list[str]], list[int]]


@dataclass(frozen=True)
class ChunkingConfig:
    target_tokens: int = 200
    max_tokens: int = 250
    overlap_tokens: int = 40


def chunk_document(doc: Document, doc_id: str, count_tokens: TokenCounter, config: ChunkingConfig = ChunkingConfig()) -> list[Chunk]:
    """Split ``doc.text`` into chunks with provenance (item, span, position, filing metadata)."""
    text = doc.text
    spans = _units(text)
    if not spans:
        return []
    counts = count_tokens([text[a:b] for a, b in spans])
    units: list[tuple[int, int, int]] = []
    for (a, b), n in zip(spans, counts):
        if n > config.max_tokens:
            units.extend(_split_long(text, a, b, n, config.max_tokens, count_tokens))
        else:
            units.append((a, b, n))

    sections = doc.sections
    bounds = sorted({s.start for s in sections})
    chunks: list[Chunk] = []
    group: list[tuple[int, int, int]] = []
    group_tokens = 0

    def flush() -> None:
        nonlocal group, group_tokens
        if not group:
            return
        start, end = group[0][0], group[-1][1]
        chunks.append(_make_chunk(doc, doc_id, len(chunks), text, start, end, sections))
        # Carry trailing units as overlap, so a fact split across the boundary is whole in one chunk.
        carry: list[tuple[int, int, int]] = []
        carried = 0
        for unit in reversed(group[1:]):
            if carried + unit[2] > config.overlap_tokens:
                break
            carry.insert(0, unit)
            carried += unit[2]
        group, group_tokens = carry, carried

    next_bound = iter(bounds + [len(text) + 1])
    bound = next(next_bound)
    for unit in units:
        while unit[0] >= bound:
            flush()
            group, group_tokens = [], 0  # no overlap across an item boundary
            bound = next(next_bound)
        if group and group_tokens + unit[2] > config.max_tokens:
            flush()
        while group and group_tokens + unit[2] > config.max_tokens:
            group_tokens -= group.pop(0)[2]  # drop overlap that would push the chunk past the window
        group.append(unit)
        group_tokens += unit[2]
        if group_tokens >= config.target_tokens:
            flush()
    if group and (not chunks or group[-1][1] > chunks[-1].end):
        flush()
    return chunks


def _make_chunk(doc: Document, doc_id: str, index: int, text: str, start: int, end: int, sections: tuple[Section, ...]) -> Chunk:
    meta = {k: str(v) for k, v in doc.metadata.items() if v not in (None, "")}
    return Chunk(
        id=f"{doc_id}#{index:05d}",
        doc_id=doc_id,
        text=text[start:end],
        index=index,
        start=start,
        end=end,
        item=item_at(sections, start) if sections else None,
        metadata=meta,
    )


_LONG_LINE = 300  # characters; shorter lines (headings, table rows) are kept whole


def _units(text: str) -> list[tuple[int, int]]:
    """Lines, with long paragraph lines broken into sentences."""
    units = []
    pos = 0
    for line in text.split("\n"):
        a, b = pos, pos + len(line)
        pos = b + 1
        if not line.strip():
            continue
        if len(line) <= _LONG_LINE:
            stripped = len(line) - len(line.lstrip())
            units.append((a + stripped, b - (len(line) - len(line.rstrip()))))
        else:
            units.extend(sentence_spans(text, a, b))
    return units


_WORD = re.compile(r"\S+")


def _split_long(text: str, a: int, b: int, n: int, max_tokens: int, count_tokens: TokenCounter) -> list[tuple[int, int, int]]:
    """Split an over-long unit at word boundaries into pieces that fit."""
    words = [(m.start() + a, m.end() + a) for m in _WORD.finditer(text[a:b])]
    word_counts = count_tokens([text[s:e] for s, e in words])
    pieces = []
    start_i, tokens = 0, 0
    for i, c in enumerate(word_counts):
        if tokens + c > max_tokens and i > start_i:
            pieces.append((words[start_i][0], words[i - 1][1], tokens))
            start_i, tokens = i, 0
        tokens += c
    pieces.append((words[start_i][0], words[-1][1], tokens))
    return pieces
