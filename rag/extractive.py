"""The embedded default backend: map and reduce without a language model.

Map: for each facet, split its retrieved chunks into sentences and score each by the facts it
carries (money, percentages, counts, named organizations), the facet's key terms, and how well
its chunk was retrieved; hedged, generic and cross-reference sentences are marked down.
Reduce: share the token ceiling across facets (every facet gets its best sentences first, then
the strongest remaining evidence wins), drop redundancy, rewrite first person into the
company's name, and join everything, facets in profile order, into one paragraph.

Every number in the output is copied from the filing: sentences are trimmed and their subjects
rewritten, but figures are never computed or converted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.sentences import looks_like_heading, sentence_spans
from queries.profile import Facet, Profile
from rag.retrieve import words
from rag.tokens import count_tokens
from rag.types import Citation, FacetEvidence, Sentence

MONEY = re.compile(r"(?:US)?\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|thousand|trillion)\b)?|\d[\d,]*(?:\.\d+)?\s?(?:million|billion)\b", re.I)
PERCENT = re.compile(r"\d+(?:\.\d+)?\s?(?:%|percent\b)", re.I)
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")
ORG = re.compile(r"\b(?:[A-Z][\w&'.-]+\s){0,4}(?:Bank|Inc\.|Corporation|Company|LLC|Ltd\.|N\.A\.|Group|Partners|Securities|Capital|Markets|Stores)\b")
PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)+")
HEDGE = re.compile(
    r"\b(may|might|could|would|believes?|expects?|anticipates?|intends?|seeks?|strives?|committed|forward-looking|"
    r"no assurance|cannot assure|there can be|adversely|risks?|uncertaint\w*|such as|including, but not limited)\b",
    re.I,
)
XREF = re.compile(
    r"\s*\((?:see|refer to|as discussed|as described)[^)]*\)|"
    r"\s*\((?:Note|Notes)\s[\w\s,and]+\)|"
    r",?\s*(?:as (?:discussed|described|further discussed|set forth) (?:in|under|below|above)|see|refer to)\s+"
    r"(?:Note|Item|Part|the section|\"|“)[^.;]*?(?=[.;])",
    re.I,
)
LEAD_IN = re.compile(
    r"^(?:In addition|Additionally|Also|Further|Furthermore|Moreover|As a result|However|Accordingly|Therefore|"
    r"Consequently|Similarly|Finally|Currently|Generally|Historically|As such|For example|For instance),\s+",
    re.I,
)
BOILERPLATE = re.compile(
    r"(table of contents|incorporated (?:herein )?by reference|forward-looking|safe harbor|the following table|"
    r"as follows:?$|see note|refer to note|in thousands|in millions|\bpage\b|summary of significant accounting|"
    r"critical accounting|recently issued|accounting standards|we measure|we evaluate|is defined as|incorporation by reference|"
    r"information required by|competitive position)",
    re.I,
)
# Text in a filing is data: a sentence that addresses the summarizer is never evidence.
INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:previous|prior|above|earlier)\s+instructions?|"
    r"\bsystem\s*prompt\b|\bdeveloper mode\b|\byou are (?:now )?(?:an? )?(?:ai|assistant|language model|chatbot)\b",
    re.I,
)
MAX_SENTENCE_TOKENS = 85
MIN_WORDS = 6


@dataclass
class Candidate:
    text: str  # rewritten, ready to print
    facet: str
    chunk_id: str
    position: int  # character offset in the document, for reading order
    end: int
    item: str | None
    score: float
    tokens: int
    words: frozenset[str]
    numbers: frozenset[str]
    facts: frozenset[str]  # money, percentages and names: what makes two sentences say the same thing


# -- scoring --------------------------------------------------------------------------------
def fact_count(text: str) -> float:
    """How many concrete facts a sentence carries: amounts, percentages, other figures, names."""
    money = len(MONEY.findall(text))
    pct = len(PERCENT.findall(text))
    other = max(0, len(NUMBER.findall(text)) - money - pct)
    orgs = len(ORG.findall(text))
    names = len(PROPER.findall(text))
    marks = text.count("®") + text.count("™")  # brands
    return 1.0 * money + 1.0 * pct + 0.35 * min(other, 4) + 0.8 * orgs + 0.4 * min(names, 4) + 0.5 * min(marks, 6)


def fact_keys(text: str) -> frozenset[str]:
    keys = {re.sub(r"\s", "", m).lower() for m in MONEY.findall(text) + PERCENT.findall(text)}
    keys |= {m.strip() for m in ORG.findall(text) + PROPER.findall(text)}
    return frozenset(keys)


def term_hits(text: str, key_terms: Sequence[str]) -> int:
    low = text.lower()
    return sum(1 for t in key_terms if (t in low if " " in t else re.search(r"\b" + re.escape(t), low)))


_YEAR = re.compile(r"\b(?:19[5-9]\d|20\d\d)\b")


def score_sentence(text: str, facet: Facet, chunk_rank: int, item: str | None, fiscal_year: int | None = None) -> float:
    facts = fact_count(text)
    if facet.fact_weight < 1.0:
        # descriptive facets: an enumeration ("grocery retailers, wholesalers, club stores and ...") is the fact
        facts += (1.0 - facet.fact_weight) * min(text.count(","), 6) * 0.5
    terms = term_hits(text, facet.key_terms)
    preferred = facet.items
    if terms == 0:
        return 0.0  # not about this facet, however many numbers it has
    hedges = len(HEDGE.findall(text))
    retrieval = 1.0 / (1.0 + 0.25 * chunk_rank)
    score = (1.0 + facet.fact_weight * min(facts, 6.0)) * (0.6 + 0.4 * min(terms, 5)) * retrieval
    score *= 0.7**hedges
    score *= 1.6 ** min(term_hits(text, facet.core_terms), 2)
    score *= 0.3 ** min(term_hits(text, facet.avoid_terms), 2)
    if BOILERPLATE.search(text):
        score *= 0.3
    if fiscal_year:
        years = [int(y) for y in _YEAR.findall(text)]
        if years and max(years) < fiscal_year:
            score *= 0.6  # a figure of an earlier year when the filing reports a later one
    if item == "Item 1A":
        score *= 0.4
    elif item and item in preferred:
        score *= 1.15
    return score


# -- rewriting ------------------------------------------------------------------------------
_IRREGULAR = {"are": "is", "were": "was", "have": "has", "do": "does", "re": "is"}
_ADVERBS = {"also", "currently", "primarily", "generally", "principally", "mainly", "now", "still", "typically", "often", "directly", "only"}
_VERB = re.compile(r"^[a-z]+$")
# Modals and irregular past tenses read the same after "it" / the company's name.
_UNCHANGED = {
    "can", "will", "may", "must", "should", "would", "could", "might", "had", "did", "paid", "repaid", "sold", "bought",
    "made", "took", "spent", "held", "grew", "began", "became", "built", "won", "led", "met", "kept", "brought", "drew",
    "gave", "got", "rose", "fell", "saw", "set", "put", "cut", "chose", "sought", "sent", "lent", "owned", "thought",
    "found", "went", "began", "ran", "shut", "paid", "bore", "wrote", "became", "let", "said", "told", "struck",
}
_NOT_VERBS = {"and", "or", "to", "the", "a", "an", "in", "on", "at", "of", "for", "with", "as", "by", "that", "which", "not", "believe"}


def _third_person(verb: str) -> str | None:
    low = verb.lower()
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if not _VERB.match(low) or low in _NOT_VERBS:
        return None
    if low.endswith("ed") or low in _UNCHANGED:
        return low
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return low + "es"
    if low.endswith("y") and len(low) > 2 and low[-2] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


_WE = re.compile(r"\b(We|we)\s+((?:(?:" + "|".join(_ADVERBS) + r")\s+)?)([a-z]+)\b")


def third_person(text: str, company: str) -> str:
    """'We sell' → 'Acme sells', 'our plants' → 'its plants'; left alone when the verb is unclear."""

    def we(m: re.Match) -> str:
        verb = _third_person(m.group(3))
        if verb is None:
            return m.group(0)
        subject = company if m.start() == 0 else "it"
        return f"{subject} {m.group(2)}{verb}"

    out = _WE.sub(we, text)
    out = re.sub(r"^Our\b", possessive(company), out)
    out = re.sub(r"\bour\b", "its", out)
    out = re.sub(r"\bOur\b", "Its", out)
    out = re.sub(r"\bus\b", "it", out)
    return out


def _as_written(name: str, texts: Sequence[str]) -> str:
    """The casing the filing itself uses for the name ("NIKE", not "Nike"), when it uses one more often."""
    if name == "The company":
        return name
    joined = "\n".join(texts)
    forms = {m for m in re.findall(re.escape(name), joined, re.I)}
    mixed = {f for f in forms if not f.isupper()}  # headings shout; prose uses the real casing
    return max(mixed or forms, key=joined.count) if forms else name


# Explanations after the fact ("..., primarily due to higher volume") spend tokens a reader can skip.
_BECAUSE = re.compile(
    r",?\s+(?:(?:primarily|mainly|largely|partially|partly|principally|in part)\s+)?"
    r"(?:due to|driven by|as a result of|resulting from|reflecting|attributable to|offset by|because of|which reflects?)\b[^;]*?(?=[.;]?$)",
    re.I,
)
_DEFINED_TERM = re.compile(r"\s*\((?:the\s+|collectively,?\s+|together,?\s+)?[“\"][^)]{1,60}[”\"]\)|\s*\((?:collectively|together)[^)]*\)", re.I)


def compress(text: str) -> str:
    """Drop defined-term parentheticals and trailing explanations, keeping every figure of the main clause."""
    text = _DEFINED_TERM.sub("", text)
    m = _BECAUSE.search(text)
    if m:
        head = text[: m.start()].rstrip(" ,;")
        dangling = head.split()[-1].lower() in {"was", "were", "is", "are", "be", "been", "being", "primarily", "mainly"} if head.split() else True
        if len(head.split()) >= 6 and not dangling and (NUMBER.search(head) or not NUMBER.search(m.group(0))):
            text = head + "."
    return text


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def tidy(text: str) -> str:
    """Trim a sentence for the summary: cross-references, lead-in connectives, stray bullets."""
    text = text.strip().lstrip("•·-–—*▪●§ ").strip()
    text = re.sub(r"^[oO]\s+(?=[a-z])", "", text)  # "o" used as a bullet in older filings
    text = re.sub(r"^\(?\d{1,2}\)\s*|^[a-z]\)\s*", "", text)  # footnote or list markers "(1)", "a)"
    text = XREF.sub("", text)
    text = LEAD_IN.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    if text and text[-1] not in ".!?":
        text = text.rstrip(",;:") + "."
    return text


def short_company_name(company: str | None) -> str:
    if not company:
        return "The company"
    name = re.sub(r"\s*/\w+/?$|\\\w+\\$", "", company).strip()  # EDGAR's "/DE/" state suffixes
    name = re.sub(r",?\s+(Inc|Incorporated|Corp|Corporation|Co|Company|Ltd|LLC|plc|N\.V|S\.A|L\.P)\.?$", "", name, flags=re.I)
    if name.isupper():
        name = " ".join(w if len(w) <= 3 and w not in {"AND", "THE", "OF"} else w.capitalize() for w in name.split())
    return name.strip(" ,") or "The company"


# -- map ------------------------------------------------------------------------------------
def candidates(evidence: FacetEvidence, company: str, per_chunk: int = 4, fiscal_year: int | None = None) -> list[Candidate]:
    """The facet's scored sentences, best first."""
    facet = evidence.facet
    out: list[Candidate] = []
    for scored in evidence.chunks:
        chunk = scored.chunk
        found = []
        for a, b in sentence_spans(chunk.text):
            raw = chunk.text[a:b]
            if len(raw.split()) < MIN_WORDS or raw.count("$") > 6 or not re.search(r"[a-z]", raw) or INSTRUCTION.search(raw):
                continue
            if not re.search(r"[.!?][\"”’)]?$", raw.rstrip()):
                continue  # headings and table rows are not sentences
            if len(NUMBER.findall(raw)) > 0.4 * len(raw.split()):
                continue  # a row of figures with a period is still a table row
            if looks_like_heading(raw):
                continue
            if re.match(r"^[\s•·\-–—*▪●§]*(?:[oO]\s+)?[a-z]", raw):
                continue  # a list fragment without its lead-in ("working with customers to ...")
            s = score_sentence(raw, facet, scored.rank, chunk.item, fiscal_year)
            if s <= 0:
                continue
            text = third_person(compress(tidy(raw)), company)
            tokens = count_tokens(text)
            if tokens > MAX_SENTENCE_TOKENS:
                s *= (MAX_SENTENCE_TOKENS / tokens) ** 2  # long sentences spend the budget; rarely worth it
            # Facts per token, but not so steeply that fragments win: a 40-token sentence with 3 facts
            # beats a 12-token one with 1.
            value = s / math.sqrt(max(tokens, 12))
            found.append(
                Candidate(text, facet.name, chunk.id, chunk.start + a, chunk.start + b, chunk.item, value, tokens,
                          frozenset(words(text)), frozenset(NUMBER.findall(text)), fact_keys(text))
            )
        found.sort(key=lambda c: -c.score)
        out.extend(found[:per_chunk])
    out.sort(key=lambda c: -c.score)
    return out


# -- reduce ---------------------------------------------------------------------------------
def _redundant(c: Candidate, chosen: Sequence[Candidate]) -> bool:
    for o in chosen:
        overlap = len(c.words & o.words) / max(1, min(len(c.words), len(o.words)))
        if overlap > 0.6:
            return True
        if c.numbers and len(c.numbers) >= 2 and c.numbers <= o.numbers:
            return True
        if len(c.facts & o.facts) >= 2:  # the same figure about the same name, worded twice
            return True
    return False


def reduce_extractive(
    profile: Profile,
    evidence: Sequence[FacetEvidence],
    company: str | None,
    max_tokens: int,
    min_score: float = 0.25,
    fiscal_year: str | None = None,
) -> list[Sentence]:
    """Choose and order sentences so the joined text stays within ``max_tokens`` (cl100k)."""
    name = _as_written(short_company_name(company), [sc.chunk.text for ev in evidence for sc in ev.chunks])
    year = int(fiscal_year) if fiscal_year and str(fiscal_year).isdigit() else None
    pools = {ev.facet.name: [c for c in candidates(ev, name, fiscal_year=year) if c.score >= min_score] for ev in evidence}
    facets = [f for f in profile.facets]
    # The facets without evidence cost one sentence each; reserve it before anything else.
    missing = {f.name for f in facets if not pools.get(f.name)}
    # Joining adds one space per sentence; a sentence's count alone can differ by a token from its
    # count in context, so keep one token of slack per sentence (checked again at the end).
    budget = max_tokens - sum(count_tokens(f.missing) + 1 for f in facets if f.name in missing)
    chosen: dict[str, list[Candidate]] = {f.name: [] for f in facets}
    used = 0
    all_chosen: list[Candidate] = []

    def try_add(c: Candidate) -> bool:
        nonlocal used
        if used + c.tokens + 2 > budget or _redundant(c, all_chosen):
            return False
        chosen[c.facet].append(c)
        all_chosen.append(c)
        used += c.tokens + 2
        return True

    # Round robin: each facet's best two sentences first, so no facet starves.
    for _round in range(2):
        for f in facets:
            pool = pools.get(f.name, [])
            while pool:
                c = pool.pop(0)
                if try_add(c):
                    break
    # Then the strongest remaining evidence, whichever facet it serves, until the budget is spent.
    rest = sorted((c for f in facets for c in pools.get(f.name, [])), key=lambda c: -c.score)
    per_facet_cap = 7
    for c in rest:
        if len(chosen[c.facet]) < per_facet_cap:
            try_add(c)
    out: list[Sentence] = []
    for f in facets:
        picked = sorted(chosen[f.name], key=lambda c: c.position)
        if not picked:
            out.append(Sentence(f.missing, f.name, ()))
            continue
        out.extend(Sentence(c.text, f.name, (c.chunk_id,), (Citation(c.chunk_id, c.item, c.position, c.end),)) for c in picked)
    return out
