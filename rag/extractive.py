"""The embedded default backend: map and reduce without a language model.

Map: for each facet, split its retrieved chunks into sentences and score each by the facts it
carries (money, percentages, counts, named organizations), the facet's key terms, and how well
its chunk was retrieved; hedged, generic and cross-reference sentences are marked down.
Reduce: share the token ceiling across facets (every facet gets its best sentences first, then
the strongest remaining evidence wins), drop redundancy, rewrite first person into the
third ("We sell" becomes "It sells"; the first such sentence names the company), and join everything, facets in profile order, into one paragraph.

Every number in the output is copied from the filing: sentences are trimmed and their subjects
rewritten, but figures are never computed or converted.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ingest.sentences import looks_like_heading, sentence_spans
from queries.profile import Facet, Profile
from rag.retrieve import words
from rag.tables import TableSentence
from rag.text import MONEY, NUMBER, ORG, PERCENT, PROPER
from rag.text import YEAR as _YEAR
from rag.tokens import count_tokens
from rag.types import Citation, FacetEvidence, Sentence

HEDGE = re.compile(
    r"\b(may|might|could|would|believes?|expects?|anticipates?|intends?|seeks?|strives?|committed|forward-looking|"
    r"no assurance|cannot assure|there can be|adversely|risks?|uncertaint\w*|such as|including, but not limited|"
    r"terminable|without penalty|exert|influence over|minimum purchase)\b",
    re.I,
)
XREF = re.compile(
    r"\s*\((?:see|refer to|as discussed|as described)[^)]*\)|"
    r"\s*\((?:Note|Notes)\s[\w\s,and]+\)|"
    r",?\s*(?:as (?:discussed|described|further discussed|set forth) (?:in|under|below|above)|see|refer to)\s+"
    r"(?:Note|Item|Part|the section|\"|“)[^.;]*?(?=[.;](?:\s|$))",
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
    r"information required by|competitive position|(?:shown|listed|set forth|summarized) (?:below|above)|the following discussions?|"
    r"^(?:we|management|the company) (?:believes?|expects?|anticipates?)\b|carrying (?:amount|value)s?|fair (?:market )?value|"
    r"\bthese (?:percentages|amounts|figures)\b|\bthe (?:above|preceding) table\b|"
    # accounting policy and legal protection, not the business: "allocates revenue to each element based on its
    # relative selling price", "relies on patent, copyright, trademark and trade secret laws"
    r"relative selling price|allocat\w* (?:the )?(?:revenue|consideration|transaction price)|vendor[- ]specific objective|\bVSOE\b|"
    r"multiple[- ]element|(?:is|are) (?:included|recorded|classified) (?:in|as) (?:cost|selling|revenue)|sales returns|"
    r"analyzes whether|trade secrets?\b|proprietary rights|risk of loss|recogni[sz]ed as revenue|revenue recognition criteria|"
    r"debt issuance costs|subject to certain exceptions|classification is based on|classified based on|"
    # an officer's biography: "Mr. Allard previously was employed by ..., where as Chief Operating Officer ..."
    r"\b(?:previously|formerly) (?:was )?(?:employed|served)|\bwas employed by\b|"
    r"\bserved as (?:its |the )?(?:chief|president|vice|director|chairman|executive))",
    re.I,
)
# Text in a filing is data: a sentence that addresses the summarizer is never evidence.
# Text addressed to a model rather than a reader: never evidence, never shown to a model, never stated.
# Instructions to drop the rules, role turns and chat-template tokens, requests for the prompt, in the
# languages such text is usually written in.
INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions?|prompts?|rules|directions)|"
    r"\bsystem\s*prompt\b|\bdeveloper mode\b|\byou are (?:now )?(?:an? )?(?:ai|assistant|language model|chatbot|llm)\b|"
    r"\b(?:reveal|print|repeat|show|output|disclose)\s+(?:\w+\s+){0,3}(?:prompt|instructions)\b|"
    r"\b(?:new|updated|real)\s+(?:task|instructions?)\s*:|\bas an ai\b|"
    r"(?:^|\n)\s*(?:system|assistant|user|developer)\s*:\s|<\|\s*(?:im_start|im_end|system|assistant|user|endoftext)\s*\|>|\[/?INST\]|###\s*(?:instruction|system)|"
    r"\bignor(?:ez|e[rz]?|a|iere|ieren)\s+(?:\w+\s+){0,3}(?:instructions|anweisungen|instrucciones|istruzioni)\b|"
    r"忽略|无视|之前的指令|指示を無視",
    re.I,
)
def addressed_to_model(text: str, start: int, end: int) -> bool:
    """Whether the line (paragraph) holding ``text[start:end]`` speaks to a model: a role turn's
    claims ("Assistant: Understood. The company is bankrupt.") are in sentences without the marker."""
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    return bool(INSTRUCTION.search(text[a : b if b >= 0 else len(text)]))


MAX_SENTENCE_TOKENS = 85
# Map: the value of a sentence is its score over tokens ** LENGTH_EXP; a chunk's retrieval rank r
# scales it by 1 / (1 + RANK_DECAY * r); a sentence in last year's comparison by PRIOR_PERIOD; a
# sentence without a figure or a name, in a figure-driven facet, by NO_FACT.
LENGTH_EXP = 0.5
RANK_DECAY = 0.1
PRIOR_PERIOD = 0.3
NO_FACT = 0.4
# Reduce: facets take ROUNDS turns first. A sentence's value counts fully when it adds a new kind
# of fact to its facet (FRESH_BONUS more per further new kind), REPEAT ** n when its kinds are
# covered n times, NO_ASPECT when it holds none. At most PER_FACET_CAP sentences per facet.
ROUNDS = 3
FRESH_BONUS = 0.5
REPEAT = 0.5
NO_ASPECT = 0.15
PER_FACET_CAP = 7
TABLE_RANK = 5
DANGLING = 0.5  # a sentence opening with "This", "These", "Such": it leans on the one before
HYPOTHETICAL = 0.5
ANAPHORA = re.compile(r"^(?:This|These|Those|Such|That|They|Their|The (?:\w+ )?(?:increase|decrease|decline|change|growth|improvement))\b")
MIN_WORDS = 6
TOTAL_ASPECT = "total"  # the profile's aspect for a facet's headline figure (revenue: total net sales)
TOTAL_EXP = 0.25


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
    aspects: frozenset[str] = frozenset()  # the facet's kinds of fact this sentence holds
    rank: int = 0  # the rank of its chunk in the facet's retrieval
    quality: float = 0.0  # evidence strength regardless of length: decides whether a facet has evidence at all
    also: tuple[str, ...] = ()  # further chunks the sentence rests on (a table's header and rows)


# -- scoring --------------------------------------------------------------------------------
def fact_count(text: str) -> float:
    """How many concrete facts a sentence carries: amounts, percentages, other figures, names."""
    money = len(MONEY.findall(text))
    pct = len(PERCENT.findall(text))
    other = max(0, len([n for n in NUMBER.findall(text) if not _YEAR.fullmatch(n)]) - money - pct)
    orgs = len(ORG.findall(text))
    names = len(PROPER.findall(text))
    marks = text.count("®") + text.count("™")  # brands
    return 1.0 * money + 1.0 * pct + 0.35 * min(other, 4) + 0.8 * orgs + 0.4 * min(names, 4) + 0.5 * min(marks, 6)


def fact_keys(text: str) -> frozenset[str]:
    keys = {re.sub(r"\s", "", m).lower() for m in MONEY.findall(text) + PERCENT.findall(text)}
    keys |= {m.strip() for m in ORG.findall(text) + PROPER.findall(text)}
    return frozenset(keys)


@functools.lru_cache(maxsize=64)
def _aspect_patterns(aspects: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((name, re.compile("|".join(f"(?:{p})" for p in pats), re.I)) for name, pats in aspects if pats)


def aspects_of(text: str, facet: Facet) -> frozenset[str]:
    """Which of the facet's kinds of fact (its profile ``aspects``) a sentence holds."""
    compiled = _aspect_patterns(tuple((k, tuple(v)) for k, v in facet.aspects.items()))
    return frozenset(name for name, rx in compiled if rx.search(text))


def specific(text: str, company: str = "") -> bool:
    """Whether a sentence states something checkable: a figure other than a year, a name other
    than the company's own, or a brand. An enumeration is not enough here: "Liquidity includes
    cash, short-term investments, and availability under its facility" defines, it does not report."""
    if MONEY.search(text) or PERCENT.search(text) or "®" in text or "™" in text:
        return True
    if any(not _YEAR.fullmatch(n) for n in NUMBER.findall(text)):
        return True
    rest = text.replace(company, " ") if company else text
    return bool(ORG.search(rest) or any(len(m.split()) >= 2 for m in PROPER.findall(rest)))


def term_hits(text: str, key_terms: Sequence[str]) -> int:
    low = text.lower()
    return sum(1 for t in key_terms if (t in low if " " in t else re.search(r"\b" + re.escape(t), low)))


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
    retrieval = 1.0 / (1.0 + RANK_DECAY * chunk_rank)
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
_NOT_VERBS = {"and", "or", "to", "the", "a", "an", "in", "on", "at", "of", "for", "with", "as", "by", "that", "which", "not", "believe",
              "other", "others", "related", "then", "thereby", "also", "is", "has", "was", "does"}


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


_ADVERB = r"(?:" + "|".join(_ADVERBS) + r"|(?!(?:supply|apply|rely|reply|comply|multiply|fly|ally)\b)[a-z]+ly)"
# "We design, manufacture and sell": verbs listed right after the subject's verb share its subject.
_VERB_LIST = r"((?:,\s*[a-z]+)*,?\s+(?:and|or)\s+[a-z]+\b(?!\s+(?:of|to)\b))?"
_WE = re.compile(r"\b(We|we)\s+((?:" + _ADVERB + r"\s+)?)([a-z]+)\b" + _VERB_LIST)
# "... and usually source steel": after "and", an adverb marks the next word as a verb.
_AND_ADVERB_VERB = re.compile(r"\b(and|or)\s+(" + _ADVERB + r")\s+([a-z]+)\b")


def _coordinated(tail: str) -> str:
    """The verbs of a list after the subject's verb, each in the third person: ", manufacture and
    sell" becomes ", manufactures and sells". Anything that is not plainly a verb is left alone."""
    def one(m: re.Match) -> str:
        word = m.group(0)
        return word if len(word) > 5 and word.endswith("ing") else _third_person(word) or word
    return re.sub(r"(?<![\w-])[a-z]+\b", one, tail)


def third_person(text: str) -> str:
    """'We sell' → 'It sells', 'our plants' → 'its plants'; left alone when the verb is unclear. The
    summary names the company once (``name_first``): repeating a three-token name in every
    sentence spends the budget on words a reader does not need."""

    def we(m: re.Match) -> str:
        verb = _third_person(m.group(3))
        if verb is None:
            return m.group(0)
        subject = "It" if m.start() == 0 else "it"
        return f"{subject} {m.group(2)}{verb}" + _coordinated(m.group(4) or "")

    out = _WE.sub(we, text)
    if out != text:  # the subject became "it": so do its later verbs after "and usually"
        out = _AND_ADVERB_VERB.sub(lambda m: f"{m.group(1)} {m.group(2)} {_third_person(m.group(3)) or m.group(3)}", out)
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
    # Headings shout and web addresses whisper ("www.spacehab.com"); prose uses the real casing.
    mixed = {f for f in forms if not f.isupper() and not f.islower()}
    upper = {f for f in forms if f.isupper()}
    return max(mixed or upper or forms, key=joined.count) if forms else name


# Explanations after the fact ("..., primarily due to higher volume") spend tokens a reader can skip.
_BECAUSE = re.compile(
    r",?\s+(?:(?:primarily|mainly|largely|partially|partly|principally|in part)\s+)?"
    r"(?:due to|driven by|as a result of|resulting from|reflecting|attributable to|offset by|because of|which reflects?)\b",
    re.I,
)
_SUBORDINATE = re.compile(r"^(?:As|If|While|Although|Though|Because|When|Whenever|Since|Whereas|Unless|After|Before|Once|Until)\b")
_DEFINED_TERM = re.compile(r"\s*\((?:the\s+|collectively,?\s+|together,?\s+)?[“\"][^)]{1,60}[”\"]\)|\s*\((?:collectively|together)[^)]*\)", re.I)


def compress(text: str) -> str:
    """Drop defined-term parentheticals and trailing explanations, keeping every figure of the main clause."""
    text = _DEFINED_TERM.sub("", text)
    for m in _BECAUSE.finditer(text):  # the first explanation that leaves a whole statement before it
        if m.group(0).lower().endswith("attributable to") and not m.group(0).startswith(","):
            continue  # "net income attributable to Disney" names whose income it is; it explains nothing
        if m.group(0).lower().endswith("offset by") and NUMBER.search(text, m.end()):
            continue  # "$3.0 million, consisting of ..., offset by borrowings of $42.0 million": a term of the sum
        head = text[: m.start()].rstrip(" ,;")
        if _SUBORDINATE.match(head) and "," not in head:
            break  # "As revenues fluctuate due to ..., its other operations are stable": the cut would keep only the "As" clause
        dangling = head.split()[-1].lower() in {"was", "were", "is", "are", "be", "been", "being", "primarily", "mainly"} if head.split() else True
        if len(head.split()) >= 6 and not dangling and (NUMBER.search(head) or not NUMBER.search(text[m.start():])):
            return head if head.endswith(".") else head + "."
    return text


_ASIDE = re.compile(r"\s*\((?![^)]*[\d$%®™])(?:[^()]{0,100})\)")
# ", which hold fuel for grills, are sold ...": only when the main clause resumes with its verb
# (a comma inside the "which" clause would otherwise cut a list in half).
_WHICH = re.compile(
    r",\s(?:which|who)\s(?![^,]*[\d$%])[^,;]{3,160},\s(?=(?:is|are|was|were|has|have|had|will|would|can|could|may|also|generally|"
    r"primarily|typically|\w+ed)\b)"
)
_VERSUS = re.compile(
    r",?\s(?:as\s)?(?:compared\s(?:to|with)|versus|vs\.)\s(?:(?:(?:net\s)?(?:sales|revenues?)\sof\s)?\$?[\d.,]+\s?(?:million|billion|%)?(?:,\s(?:representing|or)\s[^.;,]{1,60},)?\s)?(?:in|for|at|during|from|over)?\s?"
    r"(?:the\s)?(?:prior|previous|last|same period|fiscal\s(?:year\s)?(?P<y>(?:19|20)\d\d)|(?P<y2>(?:19|20)\d\d)|[A-Z][a-z]+ \d{1,2}, (?P<y3>(?:19|20)\d\d))[^,;.]*",
)
# "... compared to fiscal year 2001 when approximately 67.0% of sales were ...": the rest of the sentence is last year's
_VERSUS_WHEN = re.compile(r",?\s(?:as\s)?compared\s(?:to|with)\s(?:the\s)?(?:fiscal\s(?:year\s)?)?((?:19|20)\d\d)\s(?:when|in which)\b.*(?=\.[\"”’)]?\s*$)")
_WHEN = re.compile(r"^(?:In|During|For)\s(?:the\s)?(?:fiscal\s(?:year\s)?|year\s(?:ended\s)?(?:[A-Z][a-z]+\s\d{1,2},\s)?)?((?:19|20)\d\d),\s+")


def trim(text: str, fiscal_year: int | None = None) -> str:
    """Qualifiers a reader does not need: asides in parentheses without figures, non-restrictive
    "which" clauses without figures, comparisons with an earlier year, and a leading "In fiscal
    2023," when 2023 is the filing's own year. Every figure of the main statement stays."""
    def versus(m: re.Match) -> str:
        y = m.group("y") or m.group("y2") or m.group("y3")
        if re.match(r"\.[\dA-Za-z]", m.string[m.end():m.end() + 2]):
            return m.group(0)  # stopped at "67.0%" or "U.S.", not at the clause's end: cutting there leaves debris
        return "" if (y is None or (fiscal_year and int(y) < fiscal_year)) else m.group(0)

    def versus_when(m: re.Match) -> str:
        return "" if fiscal_year and int(m.group(1)) < fiscal_year else m.group(0)

    out = _VERSUS_WHEN.sub(versus_when, _WHICH.sub(" ", _ASIDE.sub("", text)))
    out = _VERSUS.sub(versus, out)
    if fiscal_year:
        m = _WHEN.match(out)
        if m and int(m.group(1)) == fiscal_year and len(out[m.end():].split()) >= MIN_WORDS:
            out = out[m.end()].upper() + out[m.end() + 1:]
    out = re.sub(r"\s+([,.;])", r"\1", re.sub(r"\s{2,}", " ", out)).strip()
    return out if len(out.split()) >= MIN_WORDS else text


_VALUE = r"(?:(?:US)?\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|thousand))?|\d[\d,]*(?:\.\d+)?\s?(?:%|percent\b|(?:million|billion)\b))"
_VALUE_LIST = re.compile(_VALUE + r"(?:,\s(?:and\s)?" + _VALUE + r"|,?\s(?:and|or)\s" + _VALUE + r")+")
_YEAR_LIST = re.compile(r"(?:19[5-9]\d|20\d\d)(?:,\s(?:and\s)?(?:19[5-9]\d|20\d\d)|,?\s(?:and|or)\s(?:19[5-9]\d|20\d\d))+")
_RESPECTIVELY = re.compile(r",?\s+respectively\b", re.I)


def latest_only(text: str) -> str:
    """'$1,126.7 million, $1,027.0 million and $956.7 million in fiscal 2012, 2011 and 2010, respectively'
    becomes '$1,126.7 million in fiscal 2012': the figure of the latest year, copied, not computed.
    Left unchanged unless every list of figures pairs one to one with the list of years."""
    if not _RESPECTIVELY.search(text):
        return text
    years = list(_YEAR_LIST.finditer(text))
    values = list(_VALUE_LIST.finditer(text))
    if len(years) != 1 or not values:
        return text
    year_items = _YEAR.findall(years[0].group(0))
    n = len(year_items)
    lists = [re.findall(_VALUE, v.group(0)) for v in values]
    if any(len(items) != n for items in lists) or len(set(year_items)) != n:
        return text
    pick = max(range(n), key=lambda i: int(year_items[i]))
    spans = [(years[0].start(), years[0].end(), year_items[pick])] + [(v.start(), v.end(), items[pick]) for v, items in zip(values, lists)]
    out = text
    for a, b, rep in sorted(spans, reverse=True):
        out = out[:a] + rep + out[b:]
    out = _RESPECTIVELY.sub("", out, count=1)
    out = re.sub(r"\b(fiscal )years\b", r"\1year", out)
    out = re.sub(r"\b(?:the )?years ended\b", "the year ended", out)
    return out


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


# Two scraps of a figure on lines of their own right before the text ("$\n600\nmillion\n2-year\n"): the
# sentence began lines earlier. One short line ("Fiscal 2025") is a heading.
_BROKEN_FIGURE = re.compile(r"(?:\A|\n)[^\n]{0,8}\n[^\n.!?:;]{0,6}(?:\$|\d|\b(?:million|billion|thousand)|-year|%)[ \t]*\n\s*\Z", re.I)
# A running page header glued to the text after a page break: "Index to Financial Statements circuits which ..."
PAGE_HEADER = re.compile(r"^\s*(?:Index to (?:Consolidated )?Financial Statements|Table of Contents)\s+(?=\S)", re.I)


def tidy(text: str) -> str:
    """Trim a sentence for the summary: cross-references, lead-in connectives, stray bullets."""
    text = PAGE_HEADER.sub("", text.strip()).lstrip("•·-–—*▪●§ ").strip()
    text = re.sub(r"^[oO]\s+(?=[a-z])", "", text)  # "o" used as a bullet in older filings
    text = re.sub(r"^\(?\d{1,2}\)\s*|^[a-z]\)\s*", "", text)  # footnote or list markers "(1)", "a)"
    text = XREF.sub("", text)
    text = LEAD_IN.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    if text and not re.search(r"[.!?][\"”’)]?$", text):
        text = text.rstrip(",;:") + "."
    return text


def short_company_name(company: str | None) -> str:
    if not company:
        return "The company"
    name = re.sub(r"\s*/\w+/?$|\\\w+\\$", "", company).strip().rstrip("/")  # EDGAR's "/DE/" and "CO/" suffixes
    name = re.sub(r",?\s+(Inc|Incorporated|Corp|Corporation|Co|Company|Ltd|LLC|plc|N\.V|S\.A|L\.P)\.?$", "", name, flags=re.I)
    if name.isupper():
        name = " ".join(w if len(w) <= 3 and w not in {"AND", "THE", "OF"} else w.capitalize() for w in name.split())
    return name.strip(" ,") or "The company"


def _outside_parentheses(text: str, at: int) -> bool:
    head = text[:at]
    return head.count("(") <= head.count(")")


def clause_spans(text: str) -> list[tuple[int, int, int]]:
    """Sentence spans, with independent clauses joined by "; " as sentences of their own: each
    can be kept or dropped on its facts ("revenues rose 8% to $48.8 billion; net income ...").
    The third value is the clause's index within its sentence, -1 for a whole sentence."""
    out = []
    for a, b in sentence_spans(text):
        raw = text[a:b]
        parts = [m.start() for m in re.finditer(r";\s+(?=[a-zA-Z$])", raw) if _outside_parentheses(raw, m.start())]
        pieces, start = [], 0
        for p in parts:
            pieces.append((start, p + 1))
            start = p + 1 + len(raw[p + 1 :]) - len(raw[p + 1 :].lstrip())
            conj = re.match(r"(?:and|or|but|while)\s+", raw[start:])  # "; and diluted EPS rose": the clause without its joint
            start += conj.end() if conj else 0
        pieces.append((start, len(raw)))
        if len(pieces) > 1 and all(len(raw[x:y].split()) >= MIN_WORDS for x, y in pieces):
            out.extend((a + x, a + y, i) for i, (x, y) in enumerate(pieces))
        else:
            out.append((a, b, -1))
    return out


# -- map ------------------------------------------------------------------------------------
def make_candidate(text: str, facet: Facet, chunk_id: str, start: int, end: int, item: str | None, strength: float,
                   rank: int, tokens: int | None = None, also: tuple[str, ...] = ()) -> Candidate:
    """A sentence with its evidence ``strength``. Its value is facts per token, but not so steeply that
    fragments win: a 40-token sentence with 3 facts beats a 12-token one with 1."""
    tokens = count_tokens(text) if tokens is None else tokens
    return Candidate(text, facet.name, chunk_id, start, end, item, strength / max(tokens, 12) ** LENGTH_EXP, tokens,
                     frozenset(words(text)), frozenset(NUMBER.findall(text)), fact_keys(text), aspects_of(text, facet), rank,
                     strength / math.sqrt(max(tokens, 12)), also)


def candidates(
    evidence: FacetEvidence,
    company: str,
    per_chunk: int = 4,
    fiscal_year: int | None = None,
    prior: Sequence[tuple[int, int]] = (),
    tables: Sequence[TableSentence] = (),
) -> list[Candidate]:
    """The facet's scored sentences, best first. ``prior`` spans discuss an earlier year;
    ``tables`` are the document's tables as sentences, candidates where their chunk was retrieved."""
    facet = evidence.facet
    out: list[Candidate] = []
    # A table is a candidate for every facet its words serve, at its chunk's rank when the chunk
    # was retrieved and at TABLE_RANK otherwise: dense retrieval ranks rows of figures poorly.
    ranks = {sc.chunk.id: sc.rank for sc in evidence.chunks}
    largest = max((t.scale for t in tables), default=0.0) or 1.0
    for t in tables:
        if INSTRUCTION.search(t.text):
            continue
        rank = ranks.get(t.chunk_id, TABLE_RANK)
        # relative to the largest figure of any table: the consolidated split before a region's
        s = score_sentence(t.text, facet, rank, t.item, fiscal_year) * math.sqrt(t.scale / largest)
        if s > 0 and t.chunk_id:
            out.append(make_candidate(t.text, facet, t.chunk_id, t.start, t.end, t.item, s, rank, also=t.also))
    for scored in evidence.chunks:
        chunk = scored.chunk
        found = []
        for a, b, clause in clause_spans(chunk.text):
            raw = chunk.text[a:b]
            if len(raw.split()) < MIN_WORDS or raw.count("$") > 6 or not re.search(r"[a-z]", raw) or addressed_to_model(chunk.text, a, b):
                continue
            if not re.search(r"[.!?;][\"”’)]?$" if clause >= 0 else r"[.!?][\"”’)]?$", raw.rstrip()):
                continue  # headings and table rows are not sentences
            if len(NUMBER.findall(raw)) > 0.4 * len(raw.split()):
                continue  # a row of figures with a period is still a table row
            if looks_like_heading(raw):
                continue
            if _BROKEN_FIGURE.search(chunk.text, max(0, a - 48), a):
                continue  # the tail of a sentence whose figure the extraction broke over lines ("$\n600\nmillion\n2-year\n")
            header = PAGE_HEADER.match(raw)
            if header and raw[header.end()].islower():
                continue  # the rest of a sentence from the page before
            if clause <= 0 and re.match(r"^[\s•·\-–—*▪●§]*(?:[oO]\s+)?(?:[a-z]|(?:And|Or|But|Nor)\b)", raw):
                continue  # a list fragment without its lead-in ("working with customers to ...")
            s = score_sentence(raw, facet, scored.rank, chunk.item, fiscal_year)
            if s <= 0:
                continue
            if any(p0 <= chunk.start + a < p1 for p0, p1 in prior):
                s *= PRIOR_PERIOD  # last year's comparison, lifted out of its section, reads as this year's
            plain = trim(compress(latest_only(tidy(raw))), fiscal_year)
            text = third_person(plain)
            if len(text.split()) < MIN_WORDS or not re.match(r"[\"“(]?[A-Z0-9$]", text):
                continue  # trimming left a fragment
            if CONDITIONAL.search(text):
                s *= HYPOTHETICAL  # "If the Company is unable to ..., it will ...": what has not happened
            if ANAPHORA.match(plain):
                s *= DANGLING  # "This includes ...", "These include ...": says little without the sentence before
            elif re.match(r"Its?\b", plain):
                # The filing's own "It contributes to ..." means something said before; in the summary,
                # where "It" is the company, it would tell of the company what was said of something else.
                s *= DANGLING**2
            if facet.fact_weight >= 1.0 and not specific(text, company):
                s *= NO_FACT  # "Its strategy is to build strong relationships with retailers": nothing to check
            tokens = count_tokens(text)
            if tokens > MAX_SENTENCE_TOKENS:
                s *= (MAX_SENTENCE_TOKENS / tokens) ** 2  # long sentences spend the budget; rarely worth it
            found.append(make_candidate(text, facet, chunk.id, chunk.start + a, chunk.start + b, chunk.item, s, scored.rank, tokens))
        found.sort(key=lambda c: -c.score)
        out.extend(found[:per_chunk])
    out = _company_totals_first(out)
    out.sort(key=lambda c: -c.score)
    return out


_MULTIPLIER = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}


def money_amount(text: str) -> float:
    """The largest amount of money a sentence states, in dollars ("$9,713.6 million" is 9.7e9)."""
    best = 0.0
    for m in MONEY.finditer(text):
        figure = m.group(0)
        if "$" not in figure:
            continue  # "610 million pounds"
        value = float(re.search(r"\d[\d,]*(?:\.\d+)?", figure).group(0).replace(",", ""))
        unit = re.search(r"thousand|million|billion|trillion", figure, re.I)
        if unit:
            value *= _MULTIPLIER[unit.group(0).lower()]
        best = max(best, value)
    return best


def _company_totals_first(found: list[Candidate]) -> list[Candidate]:
    """Among statements of a total ("net sales increased 10% to $9,713.6 million"), the company's
    own outranks a segment's: each is weighted by its amount against the largest one, gently."""
    amounts = {id(c): money_amount(c.text) for c in found if TOTAL_ASPECT in c.aspects}
    largest = max(amounts.values(), default=0.0)
    if largest <= 0:
        return found
    return [replace(c, score=c.score * (amounts[id(c)] / largest) ** TOTAL_EXP) if amounts.get(id(c)) else c for c in found]


# -- reduce ---------------------------------------------------------------------------------
def _other_year(a: str, b: str) -> bool:
    years_a, years_b = set(_YEAR.findall(a)), set(_YEAR.findall(b))
    return bool(years_a) and bool(years_b) and years_a.isdisjoint(years_b)


def _redundant(c: Candidate, chosen: Sequence[Candidate]) -> bool:
    for o in chosen:
        overlap = len(c.words & o.words) / max(1, min(len(c.words), len(o.words)))
        if overlap > 0.6 and all(w[0].isdigit() for w in c.words - o.words) and _other_year(c.text, o.text):
            return True  # the same statement for another year: one is enough
        if overlap > 0.6 and (not c.facts or c.facts & o.facts or not (c.facts - o.facts) or overlap > 0.85):
            return True  # one template with different figures ("Segment A sales rose ...", "Segment B ...") is not
        if c.numbers and len(c.numbers) >= 2 and c.numbers <= o.numbers:
            return True
        if len(c.facts & o.facts) >= 2:  # the same figure about the same name, worded twice
            return True
    return False


def facet_pools(
    profile: Profile,
    evidence: Sequence[FacetEvidence],
    company: str | None,
    min_score: float = 0.25,
    fiscal_year: int | None = None,
    prior: Sequence[tuple[int, int]] = (),
    tables: Sequence[TableSentence] = (),
) -> tuple[str, dict[str, list[Candidate]]]:
    """The company's name as the filing writes it, and each facet's scored sentences strong
    enough to state, best first. Both backends start here: the embedded one chooses among them,
    an LLM is shown the best of them."""
    name = _as_written(short_company_name(company), [sc.chunk.text for ev in evidence for sc in ev.chunks])
    found = (candidates(ev, name, fiscal_year=fiscal_year, prior=prior, tables=tables) for ev in evidence)
    return name, {ev.facet.name: evidence_pool(ev.facet, cands, min_score) for ev, cands in zip(evidence, found)}


def reduce_extractive(
    profile: Profile,
    evidence: Sequence[FacetEvidence],
    company: str | None,
    max_tokens: int,
    min_score: float = 0.25,
    fiscal_year: int | None = None,
    prior: Sequence[tuple[int, int]] = (),
    tables: Sequence[TableSentence] = (),
) -> list[Sentence]:
    """Choose and order sentences so the joined text stays within ``max_tokens`` (cl100k)."""
    name, pools = facet_pools(profile, evidence, company, min_score, fiscal_year, prior, tables)
    return select(profile, pools, max_tokens, company=name)


WEAK_EVIDENCE = 0.2  # of the floor: how weak a sentence in the facet's own words may be before absence is claimed


def evidence_pool(facet: Facet, found: Sequence[Candidate], min_score: float) -> list[Candidate]:
    """The sentences strong enough to state. When none is, the facet would say the filing does not
    disclose it; that claim must be true, so a weak sentence in the facet's own core words ("The
    company maintains lines of credit ...") is stated instead, the best one only."""
    pool = [c for c in found if c.quality >= min_score]
    if pool:
        return pool
    return [c for c in found if c.quality >= min_score * WEAK_EVIDENCE and (term_hits(c.text, facet.core_terms) or c.aspects)
            and not CONDITIONAL.search(c.text) and not BOILERPLATE.search(c.text)][:1]


# A hypothetical discloses nothing; nor does a pointer to another document (BOILERPLATE).
CONDITIONAL = re.compile(r"^(?:If|Unless|Should|Were)\b|\bwould\b")


def name_first(sentences: list[Sentence], company: str) -> list[Sentence]:
    """The first sentence that opens with "It" or "Its" names the company instead, so every later
    "It" has something to refer to."""
    for i, s in enumerate(sentences):
        m = re.match(r"It(s)?\b", s.text)
        if m and company:
            named = (possessive(company) if m.group(1) else company) + s.text[m.end():]
            return [*sentences[:i], replace(s, text=named), *sentences[i + 1:]]
    return sentences


def choose(profile: Profile, pools: dict[str, list[Candidate]], max_tokens: int, company: str = "") -> dict[str, list[Candidate]]:
    """Greedy choice under the ceiling: facets take turns first, then whatever adds most."""
    pools = {k: list(v) for k, v in pools.items()}
    facets = [f for f in profile.facets]
    # The facets without evidence cost one sentence each; reserve it before anything else.
    missing = {f.name for f in facets if not pools.get(f.name)}
    # Sentences are counted alone; joined, a count can differ by a token at each seam. The joined
    # text is counted at the end and the last choices are given back until it fits.
    budget = max_tokens - sum(count_tokens(f.missing) + 1 for f in facets if f.name in missing)
    chosen: dict[str, list[Candidate]] = {f.name: [] for f in facets}
    used = 0
    all_chosen: list[Candidate] = []

    def try_add(c: Candidate) -> bool:
        nonlocal used
        if used + c.tokens > budget or _redundant(c, all_chosen):
            return False
        chosen[c.facet].append(c)
        all_chosen.append(c)
        used += c.tokens
        return True

    covered: dict[str, dict[str, int]] = {f.name: {} for f in facets}

    def gain(c: Candidate) -> float:
        """What a sentence adds now: its own value, more if it holds a kind of fact not yet covered."""
        seen = covered[c.facet]
        if c.aspects:
            fresh = sum(1 for a in c.aspects if not seen.get(a))
            novelty = (1.0 + FRESH_BONUS * (fresh - 1)) if fresh else REPEAT ** min(seen[a] for a in c.aspects)
        else:
            novelty = NO_ASPECT
        return c.score * novelty

    def take(c: Candidate) -> bool:
        if not try_add(c):
            return False
        for a in c.aspects:
            covered[c.facet][a] = covered[c.facet].get(a, 0) + 1
        return True

    # Round robin: each facet's best sentences first, so no facet starves. In each round the facet
    # that has spent least goes first, so the last in profile order does not find the budget gone.
    for _round in range(ROUNDS):
        for f in sorted(facets, key=lambda f: sum(c.tokens for c in chosen[f.name])):
            pool = pools.get(f.name, [])
            while pool:
                best = max(pool, key=gain)
                pool.remove(best)
                if take(best):
                    break
    # Then whatever adds most, whichever facet it serves, until the budget is spent.
    rest = [c for f in facets for c in pools.get(f.name, [])]
    while rest:
        best = max(rest, key=gain)
        rest.remove(best)
        if len(chosen[best.facet]) < PER_FACET_CAP:
            take(best)

    def assemble() -> list[Sentence]:
        return assemble_sentences(profile, chosen, company)

    out = assemble()
    while count_tokens(" ".join(s.text for s in out)) > max_tokens:
        # the latest (weakest) choice goes back, but never a facet's only sentence
        last = next((c for c in reversed(all_chosen) if len(chosen[c.facet]) > 1), None)
        if last is None:
            break  # cannot happen within the budget; the caller cuts at the ceiling regardless
        all_chosen.remove(last)
        chosen[last.facet].remove(last)
        out = assemble()
    return chosen


def select(profile: Profile, pools: dict[str, list[Candidate]], max_tokens: int, company: str = "") -> list[Sentence]:
    """Greedy choice under the ceiling, as sentences in profile order (see :func:`choose`)."""
    return assemble_sentences(profile, choose(profile, pools, max_tokens, company), company)


def assemble_sentences(profile: Profile, chosen: dict[str, list[Candidate]], company: str = "") -> list[Sentence]:
    """Each facet's chosen sentences in reading order, facets in profile order; a facet with none says so."""
    out: list[Sentence] = []
    for f in profile.facets:
        picked = sorted(chosen.get(f.name, []), key=lambda c: c.position)
        if not picked:
            out.append(Sentence(f.missing, f.name, ()))
            continue
        out.extend(Sentence(c.text, f.name, (c.chunk_id, *c.also), (Citation(c.chunk_id, c.item, c.position, c.end),)) for c in picked)
    return name_first(out, company)


def _fact_set(c: Candidate) -> set[str]:
    return {k for k in c.facts | c.numbers if not _YEAR.fullmatch(k)}


def upgrade(profile: Profile, chosen: dict[str, list[Candidate]], extra: Sequence[Candidate], max_tokens: int,
            company: str = "") -> list[Sentence]:
    """Add model-written sentences to an embedded choice without losing any of its facts: one goes in
    when it fits the budget and adds a figure or name the choice lacks, or when it holds all the
    figures and names of the sentences of its facet that it replaces."""
    chosen = {f.name: list(chosen.get(f.name, [])) for f in profile.facets}
    budget = max_tokens - sum(count_tokens(f.missing) + 1 for f in profile.facets if not chosen[f.name])
    used = sum(c.tokens for cs in chosen.values() for c in cs)
    steps: list[tuple[Candidate, list[Candidate]]] = []
    for m in sorted(extra, key=lambda c: -c.score):
        mine = chosen.get(m.facet)
        if not mine:
            continue  # a facet without evidence states its absence
        km = _fact_set(m)
        covered = [c for c in mine if _fact_set(c) and _fact_set(c) <= km]
        held = set().union(*(_fact_set(c) for cs in chosen.values() for c in cs))
        if not covered and not (km - held):
            continue
        others = [c for cs in chosen.values() for c in cs if not any(c is x for x in covered)]
        cost = m.tokens - sum(c.tokens for c in covered)
        if used + cost > budget or _redundant(m, others):
            continue
        chosen[m.facet] = [c for c in mine if not any(c is x for x in covered)] + [m]
        used += cost
        steps.append((m, covered))
    out = assemble_sentences(profile, chosen, company)
    while steps and count_tokens(" ".join(s.text for s in out)) > max_tokens:
        m, covered = steps.pop()  # the seams cost a token or two: the last swap goes back
        chosen[m.facet] = [c for c in chosen[m.facet] if c is not m] + covered
        out = assemble_sentences(profile, chosen, company)
    return out
