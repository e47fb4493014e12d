"""Sentence spans in filing text, aware of the abbreviations filings are full of."""

from __future__ import annotations

import re

# A period after these does not end a sentence ("Inc.", "U.S.", "No. 3", "approx. 5").
_ABBREV = {
    "inc", "corp", "co", "ltd", "llc", "l.p", "lp", "no", "nos", "u.s", "u.k", "e.g", "i.e", "vs", "mr", "mrs", "ms",
    "dr", "st", "jr", "sr", "approx", "fig", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "n.a", "s.a", "n.v", "b.v", "plc", "ag", "etc", "dept", "est", "avg", "sq", "ft", "mo", "yr", "yrs",
}
_BOUNDARY = re.compile(r"[.!?][\"”’)\]]*(?=\s+[\"“(\[]?[A-Z0-9$•])")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text[start:end]``; lines are hard boundaries.

    Each line of a filing is a paragraph, a heading or a table row, so a sentence never crosses
    a newline. Within a line, a sentence ends at ``.``, ``!`` or ``?`` followed by space and a
    capital, digit or ``$``, unless the word before the period is a known abbreviation or a
    single capital letter (an initial).
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        line_end = end if nl == -1 else nl
        spans.extend(_line_sentences(text, pos, line_end))
        pos = line_end + 1
    return spans


def _line_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    s = start
    for m in _BOUNDARY.finditer(text, start, end):
        word = text[max(s, m.start() - 12) : m.start() + 1].split()[-1].rstrip(".").lower() if m.start() > s else ""
        word = word.lstrip("(\"“")
        if word in _ABBREV or (len(word) == 1 and word.isalpha()):
            continue
        spans.append((s, m.end()))
        s = m.end()
    spans.append((s, end))
    return [(a + _lstrip_len(text, a, b), b - _rstrip_len(text, a, b)) for a, b in spans if text[a:b].strip()]


def _lstrip_len(text: str, a: int, b: int) -> int:
    seg = text[a:b]
    return len(seg) - len(seg.lstrip())


def _rstrip_len(text: str, a: int, b: int) -> int:
    seg = text[a:b]
    return len(seg) - len(seg.rstrip())


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def looks_like_heading(text: str) -> bool:
    """Title Case text ("Expand Through Acquisitions.", "Commercial Paper Program") is a heading, not a claim."""
    long_words = [w for w in text.split() if len(w) > 3 and w[0].isalpha()]
    return bool(long_words) and sum(w[0].isupper() for w in long_words) >= 0.7 * len(long_words)
