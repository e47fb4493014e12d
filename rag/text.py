"""What a filing's text means, defined once: figures, years, names, words, and the named rules of thumb.

Every module that reads figures, years or organisation names out of a sentence, compares two
sentences' words or fuses two rankings imports them from here, so two stages never disagree about
what a figure, a year or a name is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# -- years -------------------------------------------------------------------------------------
# A calendar or fiscal year a filing can speak of: the oldest filings on EDGAR are from 1993, and
# their histories and tables reach back decades ("1948 1947" columns of a 1990s ten-year summary).
YEAR_DIGITS = r"(?:19|20)\d\d"
YEAR = re.compile(rf"\b{YEAR_DIGITS}\b")

# -- figures: amount, scale, unit --------------------------------------------------------------
# "$9,713.6 million", "US$ 12", "610 million" (money with or without the sign): what a sentence states
MONEY = re.compile(r"(?:US)?\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|thousand|trillion)\b)?|\d[\d,]*(?:\.\d+)?\s?(?:million|billion)\b", re.I)
PERCENT = re.compile(r"\d+(?:\.\d+)?\s?(?:%|percent\b)", re.I)
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")
SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "k": 1e3, "m": 1e6, "mm": 1e6, "bn": 1e9, "b": 1e9}
# a figure with its value: optional currency, digits with separators, optional scale word, optional percent
FIGURE = re.compile(
    r"(?P<cur>(?:US)?\$|€|£)?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mm)\b)?(?P<pct>\s?%|\s?percent\b|\s?percentage points?)?",
    re.I,
)
# An amount or a percentage as a list of them writes it ("$1,126.7 million, $1,027.0 million and $956.7 million")
VALUE = r"(?:(?:US)?\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|thousand))?|\d[\d,]*(?:\.\d+)?\s?(?:%|percent\b|(?:million|billion)\b))"
# a figure written with a large scale word (a sentence feature)
SCALED = re.compile(r"\b(?:million|billion|trillion)\b", re.I)
# The unit a table declares for its bare figures: "(in thousands)", "Dollars in millions", "in $000s", or
# the scale alone as the header's first cell or a line of its own ("Millions | 2024 | 2023 | 2022", "Millions,
# Except Per Share Amounts, for the Years Ended December 31, | 2024").
SCALES_PLURAL = r"thousands|millions|billions"
TABLE_UNIT = re.compile(r"\bin\s+(" + SCALES_PLURAL + r")\b|\bin\s+(\$\s?000)s?\b|"
                        r"^[ \t]*\(?[ \t]*(?:\$[ \t]*)?(" + SCALES_PLURAL + r")(?:[ \t]+of[ \t]+dollars)?[ \t]*\)?"
                        r"(?:,[^|\n]{0,80})?[ \t]*(?:\||$)", re.I | re.M)
_TABLE_SCALE = {"thousands": 1e3, "millions": 1e6, "billions": 1e9}


def table_unit(m: re.Match) -> str:
    """The unit a ``TABLE_UNIT`` match declares: "thousands", "millions" or "billions" ("$000" is thousands)."""
    return (m.group(1) or m.group(3) or "thousands").lower()


def table_scale(text: str) -> float | None:
    """The scale of the bare figures under a table that declares its unit ("in thousands" -> 1e3)."""
    m = TABLE_UNIT.search(text)
    return _TABLE_SCALE[table_unit(m)] if m else None


@dataclass(frozen=True)
class Figure:
    text: str
    value: float  # in units (dollars, items); percentages as the number before %
    kind: str  # "money", "percent", "number", "year"
    decimals: int  # precision as written: "3.5" -> 1
    scaled: bool  # had a scale word (million, billion...)


def figures(text: str, unit_scale: float | None = None) -> list[Figure]:
    """The figures in ``text`` with their values; bare numbers take ``unit_scale`` when a table declares one.

    "$3.5 billion" is money of 3.5e9 written to one decimal; "12%" a percent; "2024" a year (also in
    "FISCAL 2024 % CHANGE", a table header); "10-K", "Q4" and "A300" hold no figure."""
    out = []
    for m in FIGURE.finditer(text):
        raw = m.group("num")
        if m.start("num") > 0 and text[m.start("num") - 1].isalnum():
            continue  # part of a word or code ("10-K", "Q4", "A300")
        digits = raw.replace(",", "")
        value = float(digits)
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        scale_word = (m.group("scale") or "").lower()
        year = re.fullmatch(YEAR_DIGITS, raw) and not m.group("cur") and not scale_word
        if m.group("pct") and not (year and m.group("pct").startswith(" ")):
            kind, scaled = "percent", False
        elif year:
            kind, scaled = "year", False
        else:
            kind = "money" if m.group("cur") else "number"
            scaled = bool(scale_word)
            if scale_word:
                value *= SCALE[scale_word]
            elif unit_scale and kind == "money" or (unit_scale and kind == "number" and "," in raw):
                value *= unit_scale
        out.append(Figure(m.group(0).strip(), value, kind, decimals, scaled))
    return out


# -- figures a question asks for -----------------------------------------------------------------
# A question's figure is found more loosely than a grounded one: any figure of the kind asked, not a date
# or a time, and a number written as a word ("nine stores").
DATE = re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2},?\s+" + YEAR_DIGITS + r"\b"
                   r"|\b\d{1,2}:\d\d\s*(?:[ap]\.m\.|[ap]m\b|noon)?"
                   r"|\b" + YEAR_DIGITS + r"\b")
# a figure of each kind a question can ask for; dates and years are none
FIGURE_OF_KIND = {
    # (a table sentence's figures are money when its caption declares it: "($ millions; ...): Revenues 46,309")
    "money": re.compile(r"(?:US)?\$\s?\d|\b\d[\d,]*(?:\.\d+)?\s?(?:million|billion|thousand)\b|€\s?\d|£\s?\d"
                        r"|\(\s*(?:in\s+)?\$\s?(?:in\s+)?(?:millions|billions|thousands)\b.*?\d", re.I),
    "percent": re.compile(r"\d(?:\.\d+)?\s?(?:%|percent\b)", re.I),
    "any": re.compile(r"\d[\d,]*(?:\.\d+)?\s?(?:%|percent\b|million\b|billion\b|thousand\b)|\$\s?\d|\b\d[\d,.]*\b", re.I),
}
NUMBER_WORDS = re.compile(r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|hundred|dozen)\b", re.I)


def has_figure(text: str, kind: str = "any") -> bool:
    """Whether ``text`` states a figure of ``kind`` ("money", "percent", "any"); "nine stores" counts, a date does not."""
    bare = DATE.sub(" ", text)
    return bool(FIGURE_OF_KIND[kind].search(bare) or kind == "any" and NUMBER_WORDS.search(bare))


# -- names -------------------------------------------------------------------------------------
# An organisation by its corporate word: "Wells Fargo Bank", "Acme Holdings Inc." (a capitalized run ending in one)
ORG = re.compile(r"\b(?:[A-Z][\w&'.-]+\s){0,4}(?:Bank|Inc\.|Corporation|Company|LLC|Ltd\.|N\.A\.|Group|Partners|Securities|Capital|Markets|Stores)\b")
# a proper name: two or more capitalized words not at a sentence's start ("Cloud Volumes", "Tech Data"),
# counted as a fact a sentence states (the scorer's weights were learned on this pattern)
PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)+")
# A name a summary sentence must find in its evidence: an organisation (``ORG``), or a run of two to five
# capitalized words, "&" joining ("Standard & Poors", "Morgan Stanley"); at a sentence's start the first
# word may be capitalized only by its place (``rag.grounding.names`` drops it).
NAME = re.compile(ORG.pattern + r"|\b[A-Z][a-z]+(?:\s(?:&\s)?[A-Z][a-z]+){1,4}\b")
# Any capitalized word, or a run of them ("Walgreens", "FedEx Freight", "Bank of America"): every word of a
# name a model writes must be in its evidence, however short the name.
CAPITALIZED = re.compile(r"(?<![\w.])[A-Z][A-Za-z&'’-]*[A-Za-z](?:\s+(?:of\s+|&\s+)?[A-Z][A-Za-z&'’-]*[A-Za-z])*")
# Capitalized only by their place in a sentence, or words of every filing: never a name to check.
COMMON_CAPS = frozenset({
    "The", "This", "These", "Its", "It", "In", "On", "As", "At", "For", "With", "Through", "During", "From", "By", "And",
    "Of", "To", "An", "A", "Our", "Company", "Net", "Total", "Fiscal", "Sales", "Revenue", "Revenues",
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
})


# a name: a capitalized word not opening the sentence, and not one every filing capitalizes
PROPER_WORD = re.compile(r"(?<!^)(?<![.!?:]\s)\b(?!(?:The|Company|Company’s|Company's|Item|Items|Note|Notes|Fiscal|Annual|Report|Form|Part|"
                         r"January|February|March|April|May|June|July|August|September|October|November|December|Board|Directors|"
                         r"Statements?|Results|Operations|Consolidated|Financial|Revenues?|Sales|Income|Expenses?|Operating|Net|Total|Segment)\b)[A-Z][\w&'’.-]*[A-Za-z]\b")
# A lender as a filing names it: "Wells Fargo Bank, N.A.", "Bank of America", "KeyBank" (ask's list answers).
NAME_WORD = r"[A-Z][\w&'-]*\.?"
LENDER_NAME = re.compile(
    r"\b(?:" + NAME_WORD + r"\s){1,5}(?:Bank|Bancorp|Banking Corporation|Trust Company)\b(?:,?\s+N\.A\.)?"
    r"(?:\s+of\s+" + NAME_WORD + r"(?:\s+" + NAME_WORD + r"){0,3})?"
    r"|\bBank\s+of\s+" + NAME_WORD + r"(?:\s+" + NAME_WORD + r"){0,3}"
    r"|\b[A-Z][a-z]+bank\b(?:\s+(?!The\b)[A-Z][a-z]+)?(?:,?\s+N\.A\.)?"  # Citibank Texas, KeyBank
)


# -- words ----------------------------------------------------------------------------------------
# a figure is its digits and inner separators: "2001," and "2000." at a clause's end are "2001" and "2000"
_WORD = re.compile(r"[a-z][a-z\-']+|\d+(?:[,.]\d+)*%?")


def words(text: str) -> list[str]:
    """The lower-cased words and figures of ``text``, as retrieval and the choice compare them."""
    return _WORD.findall(text.lower())


# longest first ("operations", "operating", "operates" and "operate" all meet at "oper")
_SUFFIXES = ("ations", "ation", "ating", "ings", "ated", "ates", "ing", "ers", "ies", "ied", "ate", "ed", "es", "er", "ly", "s")


def stem(word: str) -> str:
    """A word's stem for matching a question to a sentence: "customers", "customer" -> "custom";
    "revenue", "revenues" -> "revenu"; "sales" -> "sale", "sell" -> "sell". Crude on purpose: it only has to
    make two forms of one word meet, and a stem of at least four letters keeps unrelated words apart."""
    w = re.sub(r"['’]s?$", "", word.lower()).strip("'’-")  # "FedEx Express's" is "express"
    if w.endswith("ies") and len(w) > 5:
        w = w[:-3] + "y"  # "facilities" is "facility"
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    while w[-1:] in ("e", "y") and len(w) > 5:  # "revenue" meets "revenues", "employee" "employees", "facility" "facilities"
        w = w[:-1]
    return w


def overlap(a: set | frozenset, b: set | frozenset) -> float:
    """The share of the smaller bag's words the other holds: 1.0 when one text's words are all in the other."""
    return len(a & b) / max(1, min(len(a), len(b)))


def overlaps(a: set | frozenset, b: set | frozenset, share: float) -> bool:
    """Whether the bags share more than ``share`` of the smaller one's words: ``overlap(a, b) > share``, counted
    without dividing (as the choice has always compared it)."""
    return len(a & b) > share * max(1, min(len(a), len(b)))


# -- rank fusion ---------------------------------------------------------------------------------
RRF_K = 60  # the standard reciprocal-rank-fusion constant


def rank_fusion(rankings: Iterable[tuple[Sequence[str], float]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal-rank fusion: each ranking (ids best first, with its weight) gives an id ``weight / (k + rank)``."""
    scores: dict[str, float] = {}
    for ranking, weight in rankings:
        for rank, key in enumerate(ranking):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return scores


# -- term lists ----------------------------------------------------------------------------------
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
VERBS = _AUX | _IRREGULAR_VERBS | {f for s in _VERB_STEMS for f in (s, s + "s", s + "es", s + "d", s + "ed")}
_NOT_AFTER = {"to", "the", "a", "an", "its", "their", "of", "our", "his", "her"}  # "to serve", "the leased", "its products"


def lexicon_verb(prev: str, word: str) -> bool:
    """Whether ``word`` is a verb of the lexicon where it stands: not after "to", "the", "its" ("to serve", "its products")."""
    return word.lower() in VERBS and prev.lower() not in _NOT_AFTER


def has_verb(sentence: str) -> bool:
    """Whether a sentence has a finite verb (from a lexicon of the verbs filings and summaries use): a bare
    noun phrase ("Our flagship brand of frozen entrees.") states nothing."""
    tokens = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", sentence)
    for prev, word in zip(["", *tokens], tokens):
        w = word.lower()
        if "-" in w or prev.lower() in _NOT_AFTER:
            continue
        if w in VERBS or (w.endswith("ed") and len(w) > 5 and not word[0].isupper()):
            return True
    return False


# A finite verb the model-sentence check (``rag.text.has_verb``, a closed list) does not know: an
# auxiliary, or a subject and its verb ("the Company utilizes", "which holds").
FINITE = re.compile(r"\b(?:is|are|was|were|has|have|had|will|would|may|might|can|could|should|must|does|did)\b"
                    r"|\b(?:company|corporation|we|it|they|which|who|that|[A-Z][\w.&'’-]*[a-z])\s+(?:\w+ly\s+)?[a-z]{3,}(?:s|ed)\b")
# "Major distributors in the United States include All American Semiconductor, Bell Microproducts, ... and
# Reptron Electronics." and "Consolidated revenues increased 6% to $60.6 billion, led by GE Capital Services,
# Power Systems, ..." are mostly capitals, yet sentences: a heading has no lowercase finite verb.
STATEMENT_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|include[sd]?|increased|decreased|rose|fell|grew|declined|"
                            r"accounted|represented|totaled|totalled|provides?|provided|sells?|sold|operates?|operated|consists?)\b")


def figures_of(text: str) -> frozenset[str]:
    """The figures that tell one statement from another: amounts of money and percentages with decimals, as
    written ("$6.9 billion", "12.4%"). A bare "1%" or "7%" is too common to say two sentences repeat each other.
    An amount of three or more significant digits is also kept by value ("=7.85e+10" for "$78.5 billion"),
    and one of more digits by its value to three ("~=7.85e+10" for "$78,508 million"): see :func:`repeats`."""
    found = MONEY.findall(text) + [p for p in PERCENT.findall(text) if "." in p]
    out = {m.replace(" ", "").lower() for m in found}
    for f in figures(" ; ".join(MONEY.findall(text))):
        digits = len(re.sub(r"\D", "", f.text.split()[0]).lstrip("0").rstrip("0"))  # "$78,508" 5, "$78.5" 3, "$1,200" 2
        if f.kind != "money" or f.value <= 0 or digits < 3:
            continue
        if digits == 3:
            out.add(f"={f.value:.2e}")
        else:  # to three digits, either way at a half ("$24,250 million" is "$24.2 billion" or "$24.3 billion")
            out.update(f"~={f.value * (1 + e):.2e}" for e in (-1e-9, 1e-9))
    return frozenset(out)


def repeats(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two sentences' figures (:func:`figures_of`) share one: as written, or an amount written to three
    significant digits that the other's amount rounds to ("$78.5 billion" and "$78,508 million")."""
    if a & b and any(not k.startswith("~") for k in a & b):
        return True
    return any(k[1:] in b for k in a if k.startswith("~")) or any(k[1:] in a for k in b if k.startswith("~"))
