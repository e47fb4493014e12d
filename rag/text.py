"""What a filing's text means, defined once: figures, years, names, and the named rules of thumb.

Every module that reads figures, years or organisation names out of a sentence imports them
from here, so two stages never disagree about what a figure or a year is.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

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


def lower_pattern(pattern: str) -> str:
    """The same regular expression for lower-cased text: every letter lower-cased except an escape's
    (``\\S``, ``\\W``, ``\\D`` keep their meaning). Matching lower-cased text without ``re.I`` finds
    what ``re.I`` would, about three times faster."""
    out, escaped = [], False
    for ch in pattern:
        out.append(ch if escaped else ch.lower())
        escaped = not escaped and ch == "\\"
    return "".join(out)


@functools.lru_cache(maxsize=512)
def lower_regex(pattern: str) -> re.Pattern:
    return re.compile(lower_pattern(pattern))


class TermIndex:
    """Several term lists found with one pass over a text: ``counts(lowered)`` gives, per list, how many
    of its terms the text holds (the same as each ``Terms(list).count``)."""

    def __init__(self, lists):
        self.lists = [tuple(t) for t in lists]
        self._all = Terms(sorted({t for terms in self.lists for t in terms}))
        self._sets = [frozenset(t) for t in self.lists]

    def counts(self, lowered: str) -> list[int]:
        found = self._all.found(lowered)
        return [len(found & s) for s in self._sets]


@dataclass(frozen=True)
class Rule:
    """A rule about a sentence, with its reason and an example it must match (tests read the examples).
    The scorer weighs each as a feature: a rule stays only where cross-validated coverage needs it."""

    name: str
    regex: re.Pattern
    reason: str
    example: str

    @property
    def pattern(self) -> str:
        return self.regex.pattern

    def search(self, text: str):
        return self.regex.search(text)

    def findall(self, text: str) -> list:
        return self.regex.findall(text)


HEDGE = Rule("hedge", re.compile(
    r"\b(may|might|could|would|believes?|expects?|anticipates?|intends?|seeks?|strives?|committed|forward-looking|"
    r"no assurance|cannot assure|there can be|adversely|risks?|uncertaint\w*|such as|including, but not limited|"
    r"terminable|without penalty|exert|influence over|minimum purchase)\b", re.I),
    "speculation and risk language states what may happen, not what the business is",
    "The Company may not be able to renew its contracts, which could adversely affect its results.")

BOILERPLATE = Rule("boilerplate", re.compile(
    r"(table of contents|incorporated (?:herein )?by reference|forward-looking|safe harbor|the following table|"
    r"as follows:?$|see note|refer to note|in thousands|in millions|\bpage\b|summary of significant accounting|"
    r"critical accounting|recently issued|accounting standards|we measure|we evaluate|is defined as|incorporation by reference|"
    r"information required by|competitive position|(?:shown|listed|set forth|summarized) (?:below|above)|the following discussions?|"
    r"^(?:we|management|the company) (?:believes?|expects?|anticipates?)\b|carrying (?:amount|value)s?|fair (?:market )?value|"
    r"\bthese (?:percentages|amounts|figures)\b|\bthe (?:above|preceding) table\b|"
    r"relative selling price|allocat\w* (?:the )?(?:revenue|consideration|transaction price)|vendor[- ]specific objective|\bVSOE\b|"
    r"multiple[- ]element|(?:is|are) (?:included|recorded|classified) (?:in|as) (?:cost|selling|revenue)|sales returns|"
    r"analyzes whether|trade secrets?\b|proprietary rights|risk of loss|recogni[sz]ed as revenue|revenue recognition criteria|"
    r"debt issuance costs|subject to certain exceptions|classification is based on|classified based on|"
    r"\b(?:previously|formerly) (?:was )?(?:employed|served)|\bwas employed by\b|"
    r"\bserved as (?:its |the )?(?:chief|president|vice|director|chairman|executive))", re.I),
    "pointers to other text, accounting policy, legal protection and biographies are not the business model",
    "Revenue is allocated to each element based on its relative selling price (see Note 2).")

CONDITIONAL = Rule("conditional", re.compile(r"^(?:If|Unless|Should|Were)\b|\bwould\b"),
                   "a hypothetical discloses nothing about what the company does",
                   "If the Company loses its largest customer, its sales would decline.")

POINTER = Rule("pointer", re.compile(
    r"\b(?:the )?(?:following|above|preceding|below) (?:table|chart|graph|schedule|summary|list)s?\b|"
    r"\b(?:table|chart|graph|schedule)s? (?:below|above)\b|\bas follows\b|\b(?:set forth|shown|listed|summarized|presented) below\b", re.I),
    "a sentence that points at a table or text the summary does not hold says nothing alone",
    "The table below presents details of its reportable segments.")

RULES = (HEDGE, BOILERPLATE, CONDITIONAL, POINTER)


# A sentence states something only with a finite verb; a small model also writes bare noun phrases
# ("FedEx Freight Corporation, a leading provider of ...") that read as broken prose.
_AUX = {"is", "are", "was", "were", "has", "have", "had", "does", "do", "did", "can", "will", "may", "must", "would", "could", "should"}
_IRREGULAR_VERBS = {"sold", "grew", "rose", "fell", "made", "paid", "held", "bought", "spent", "ran", "became", "won", "led", "began",
                    "relies", "rely", "relied", "applies", "applied", "carries", "carried", "buys", "pays", "makes", "grows",
                    "took", "takes", "gave", "gives", "got", "gets", "saw", "sees", "kept", "keeps", "brought", "brings", "built",
                    "sent", "sends", "went", "goes", "found", "finds", "set", "sets", "cut", "cuts", "put", "puts", "lent", "lends"}
_VERB_STEMS = (
    "sell", "operate", "provide", "offer", "serve", "distribute", "market", "generate", "include", "represent", "account", "comprise",
    "consist", "produce", "manufacture", "own", "lease", "use", "depend", "earn", "derive", "reach", "total", "grow", "rise", "fall",
    "decline", "increase", "decrease", "make", "pay", "borrow", "issue", "repurchase", "maintain", "hold", "employ", "ship", "deliver",
    "buy", "spend", "design", "develop", "contribute", "target", "focus", "compete", "license", "run", "remain", "become", "launch",
    "acquire", "complete", "enter", "open", "close", "expand", "reduce", "raise", "fund", "finance", "invest", "purchase", "receive",
    "sign", "extend", "amend", "repay", "retire", "redeem", "declare", "return", "outsource", "contract", "export", "import", "focus",
    "rank", "lead", "support", "access", "sponsor", "franchise", "process", "transport", "store", "build", "plan", "expect", "believe",
)
_VERBS = _AUX | _IRREGULAR_VERBS | {f for s in _VERB_STEMS for f in (s, s + "s", s + "es", s + "d", s + "ed")}
_NOT_AFTER = {"to", "the", "a", "an", "its", "their", "of", "our", "his", "her"}  # "to serve", "the leased", "its products"


def has_verb(sentence: str) -> bool:
    """Whether a sentence has a finite verb (from a lexicon of the verbs filings and summaries use): a bare
    noun phrase ("Our flagship brand of frozen entrees.") states nothing."""
    words = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", sentence)
    for prev, word in zip(["", *words], words):
        w = word.lower()
        if "-" in w or prev.lower() in _NOT_AFTER:
            continue
        if w in _VERBS or (w.endswith("ed") and len(w) > 5 and not word[0].isupper()):
            return True
    return False
