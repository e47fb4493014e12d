"""What a filing's text means, defined once: figures, years, names.

Every module that reads figures, years or organisation names out of a sentence imports them
from here, so two stages never disagree about what a figure or a year is.
"""

from __future__ import annotations

import functools
import re

# "$9,713.6 million", "US$ 12", "610 million" (money with or without the sign)
MONEY = re.compile(r"(?:US)?\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|thousand|trillion)\b)?|\d[\d,]*(?:\.\d+)?\s?(?:million|billion)\b", re.I)
PERCENT = re.compile(r"\d+(?:\.\d+)?\s?(?:%|percent\b)", re.I)
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")
# "Wells Fargo Bank", "Acme Holdings Inc.": a capitalized run ending in a corporate word
ORG = re.compile(r"\b(?:[A-Z][\w&'.-]+\s){0,4}(?:Bank|Inc\.|Corporation|Company|LLC|Ltd\.|N\.A\.|Group|Partners|Securities|Capital|Markets|Stores)\b")
# two or more capitalized words not at a sentence's start: "Cloud Volumes", "Tech Data"
PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)+")
# a calendar or fiscal year a filing can speak of (the oldest filings on EDGAR are from 1993; their
# histories reach back decades)
YEAR = re.compile(r"\b(?:19\d\d|20\d\d)\b")


class Terms:
    """A list of lower-case terms found in text at once: a term with a space is a phrase, any other a word
    prefix ("manufactur" finds "manufacturing"). ``count`` says how many different terms a text holds."""

    def __init__(self, terms):
        self.terms = tuple(terms)
        words = sorted({t for t in self.terms if " " not in t}, key=len, reverse=True)
        phrases = sorted({t for t in self.terms if " " in t}, key=len, reverse=True)
        parts = []
        if words:
            parts.append(r"\b(?=(" + "|".join(re.escape(t) for t in words) + "))")
        if phrases:
            parts.append(r"(?=(" + "|".join(re.escape(t) for t in phrases) + "))")
        self._rx = [re.compile(p) for p in parts]

    def found(self, lowered: str) -> set[str]:
        out: set[str] = set()
        for rx in self._rx:
            out.update(rx.findall(lowered))
        return out

    def count(self, lowered: str) -> int:
        return len(self.found(lowered))


@functools.lru_cache(maxsize=256)
def terms(words: tuple[str, ...]) -> Terms:
    return Terms(words)
