"""Stage 5 of a summary: a filing's sentence as the summary prints it.

Sentences are trimmed and their subject rewritten, never their figures: asides, cross-references,
lead-in connectives, comparisons with earlier years and trailing explanations go; "We sell" becomes
"It sells" (the first such sentence of the summary names the company); a list of figures for
several years keeps the latest year's, copied, not computed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from rag.text import NUMBER, VALUE, YEAR_DIGITS
from rag.text import YEAR as _YEAR
from rag.types import Sentence

MIN_WORDS = 6  # fewer words than this is a fragment, not a statement
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
    r"(?:the\s)?(?:prior|previous|last|same period|fiscal\s(?:year\s)?(?P<y>" + YEAR_DIGITS + r")|(?P<y2>" + YEAR_DIGITS + r")|[A-Z][a-z]+ \d{1,2}, (?P<y3>" + YEAR_DIGITS + r"))[^,;.]*",
)
# "... compared to fiscal year 2001 when approximately 67.0% of sales were ...": the rest of the sentence is last year's
_VERSUS_WHEN = re.compile(r",?\s(?:as\s)?compared\s(?:to|with)\s(?:the\s)?(?:fiscal\s(?:year\s)?)?(" + YEAR_DIGITS + r")\s(?:when|in which)\b.*(?=\.[\"”’)]?\s*$)")
_WHEN = re.compile(r"^(?:In|During|For)\s(?:the\s)?(?:fiscal\s(?:year\s)?|year\s(?:ended\s)?(?:[A-Z][a-z]+\s\d{1,2},\s)?)?(" + YEAR_DIGITS + r"),\s+")


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


_VALUE_LIST = re.compile(VALUE + r"(?:,\s(?:and\s)?" + VALUE + r"|,?\s(?:and|or)\s" + VALUE + r")+")
_YEAR_LIST = re.compile(YEAR_DIGITS + r"(?:,\s(?:and\s)?" + YEAR_DIGITS + r"|,?\s(?:and|or)\s" + YEAR_DIGITS + r")+")
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
    lists = [re.findall(VALUE, v.group(0)) for v in values]
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


def name_first(sentences: list[Sentence], company: str) -> list[Sentence]:
    """The first sentence that opens with "It" or "Its" names the company instead, so every later
    "It" has something to refer to."""
    company = re.sub(r"^The\s+(?=\S)", "", company or "") if company and company.lower() != "the company" else company
    # "THE BOEING COMPANY" is Boeing: "The Boeing recorded ..." reads as a typo
    for i, s in enumerate(sentences):
        m = re.match(r"It(s)?\b", s.text)
        if m and company:
            named = (possessive(company) if m.group(1) else company) + s.text[m.end():]
            return [*sentences[:i], replace(s, text=named), *sentences[i + 1:]]
    return sentences
