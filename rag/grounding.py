"""Grounding, the stage after writing: is every figure and name of a sentence supported by its evidence?

Summaries (the embedded backend's and a model's) and answers are written first, then grounded here:
``ground`` checks a written text sentence by sentence against the chunks each cites, and ``reason``
is the rule it applies to one sentence under ``Rules`` (a model's sentence is read more strictly).

A number is compared by value, not by spelling: "$3.5 billion" is supported by "$3,512.4 million"
(it rounds to it at the precision written), and "412.3 million" by a table row "412,306" under
"(in thousands)". Scale words are never guessed across: a figure stated in millions is not
supported by the same digits stated in thousands, and a bare table figure is only read in a unit
the table itself declares. Percentages, years and counts must match at the precision written.
Organization names (multi-word capitalized names, "... Bank", "... Inc.") must appear in the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from rag.text import (  # noqa: F401  (FIGURE, Figure: read here with their values)
    CAPITALIZED,
    COMMON_CAPS,
    FIGURE,
    NAME,
    YEAR,
    YEAR_DIGITS,
    Figure,
    figures,
    has_verb,
    lexicon_verb,
    table_scale,
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


_STOP_NAMES = {"The Company", "Board Of Directors", "Board of Directors", "United States", "North America", "South America", "Latin America",
               "Senior Notes", "Credit Facility", "Credit Agreement", "Term Loan"}


@dataclass
class Check:
    sentence: str
    unsupported_numbers: list[str] = field(default_factory=list)
    unsupported_names: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unsupported_numbers and not self.unsupported_names

    def reason(self) -> str:
        parts = []
        if self.unsupported_numbers:
            parts.append("figures not in the evidence: " + ", ".join(self.unsupported_numbers))
        if self.unsupported_names:
            parts.append("names not in the evidence: " + ", ".join(self.unsupported_names))
        return "; ".join(parts)


def evidence_figures(texts: Iterable[str]) -> list[Figure]:
    """Figures of evidence texts, each read both as written and in its table's declared unit."""
    out: list[Figure] = []
    for t in texts:
        out.extend(figures(t))
        scale = table_scale(t)
        if scale:
            out.extend(f for f in figures(t, scale) if not f.scaled)
    return out


def supports(claim: Figure, ev: Figure) -> bool:
    if claim.kind == "percent" or ev.kind == "percent":
        if claim.kind != ev.kind:
            return False
        return abs(round(ev.value, claim.decimals) - claim.value) < 10 ** -(claim.decimals + 3) or abs(ev.value - claim.value) < 1e-9
    if claim.kind == "year":
        return ev.kind == "year" and ev.value == claim.value or abs(ev.value - claim.value) < 1e-9
    if claim.value == 0:
        return ev.value == 0
    # tolerance: half a unit of the last written digit, at the claim's scale
    step = _step(claim)
    return abs(ev.value - claim.value) <= step / 2 + 1e-9 * abs(claim.value)


def _step(f: Figure) -> float:
    """The value of one unit in the last written digit: "$3.5 billion" -> 0.1e9, "412,306" -> 1."""
    m = re.search(r"\d[\d,]*(?:\.\d+)?", f.text)
    written = float(m.group(0).replace(",", "")) if m else f.value
    scale = f.value / written if written else 1.0
    return scale * 10 ** -f.decimals


def names(text: str, allowed: Sequence[str] = ()) -> list[str]:
    found = []
    for m in NAME.finditer(text):
        name = m.group(0).strip()
        first = name.split()[0]
        if m.start() == 0 or text[max(0, m.start() - 2) : m.start()].strip() in {".", ":"}:
            # a capital at the start of a sentence is not a name by itself: drop the first word
            rest = name.split(" ", 1)[1] if " " in name else ""
            if not rest or not rest[0].isupper():
                continue
            name = rest
        if name in _STOP_NAMES or first in {"In", "On", "As", "At", "For", "The", "During", "Our", "Its", "Fiscal"} and len(name.split()) < 3:
            continue
        if any(name.lower() in a.lower() for a in allowed):
            continue
        found.append(name)
    return found


def check_sentence(sentence: str, evidence: Sequence[str], allowed_names: Sequence[str] = ()) -> Check:
    """Which figures and names of ``sentence`` the ``evidence`` texts do not support."""
    result = Check(sentence)
    ev_figs = evidence_figures(evidence)
    for f in figures(sentence):
        if not any(supports(f, e) for e in ev_figs):
            result.unsupported_numbers.append(f.text)
    joined = " ".join(evidence).lower()
    joined_squeezed = re.sub(r"\s+", " ", joined)
    for n in names(sentence, allowed_names):
        if re.sub(r"\s+", " ", n.lower()) not in joined_squeezed:
            result.unsupported_names.append(n)
    return result


# -- a model's sentence: read more strictly ------------------------------------------------------
# Words that name a channel or a kind of customer. A small model adds them from habit ("sold through
# distributors and online"); each must be in the evidence. Stems, matched at a word start.
CLAIM_TERMS = (
    "direct sales", "sales force", "sales representative", "distributor", "wholesaler", "retailer", "reseller",
    "dealer", "broker", "agent", "franchis", "online", "e-commerce", "ecommerce", "internet", "website", "catalog",
    "mail order", "telemarket", "television", "direct mail", "OEM", "original equipment", "government", "consumer",
    "small business", "enterprise", "hospital", "physician", "school", "universit", "military", "export", "subscription",
    "licens", "royalt", "joint venture", "acquisition", "commercial paper", "term loan", "revolving", "senior notes",
    "convertible", "dividend", "repurchase", "buyback", "bond", "warrant", "preferred stock", "initial public offering",
    "private placement", "mortgage", "lease",
)
# "The evidence does not ..." says something about the prompt, not the company; absence is the embedded backend's call
META = re.compile(r"\b(?:evidence|excerpts?|the (?:provided|given) (?:text|lines))\b|^(?:NONE|N/A)\b|\bI (?:cannot|can't|am unable)\b", re.I)


def unsupported(sentence: str, evidence: Sequence[str], allowed_names: Sequence[str] = ()) -> str:
    """Why a model sentence is not supported by ``evidence`` (chunk texts), or "" when it is: a finite verb,
    its figures and names (``check_sentence``), every capitalized word, every channel or customer word
    (``CLAIM_TERMS``), and no amount stripped of its table's unit."""
    if not has_verb(sentence):
        return "no verb: not a statement"
    check = check_sentence(sentence, evidence, allowed_names)
    if not check.ok:
        return check.reason()
    flat = re.sub(r"\s+", " ", " ".join(evidence))
    return _unknown_word(sentence, flat, " ".join(allowed_names)) or _unknown_claim_term(sentence, flat.lower()) or _unit_dropped(sentence, flat)


def _unknown_word(sentence: str, flat: str, allowed: str) -> str:
    """Names: every capitalized word or run of them, at any place but a sentence's first word, is in the evidence."""
    for m in CAPITALIZED.finditer(sentence):
        words = m.group(0).split()
        if m.start() == 0 or sentence[max(0, m.start() - 2):m.start()].strip() in {".", ":", ";"}:
            words = words[1:]
        for w in (w for w in words if w not in COMMON_CAPS and w not in {"of", "&"}):
            if not re.search(r"(?<![A-Za-z])" + re.escape(w), flat) and w not in allowed:
                return f"name not in the evidence: {w}"
    return ""


def _unknown_claim_term(sentence: str, lower: str) -> str:
    low = sentence.lower()
    for term in CLAIM_TERMS:
        t = term.lower()
        if re.search(r"(?<![a-z])" + re.escape(t), low) and not re.search(r"(?<![a-z])" + re.escape(t), lower):
            return f"'{term}' is not in the evidence"
    return ""


def _unit_dropped(sentence: str, flat: str) -> str:
    """An amount stripped of its unit: "$10,369" written from a table in thousands is not ten thousand dollars."""
    for f in figures(sentence):
        if f.kind == "money" and not f.scaled and f.value >= 1000:
            literal = re.escape(f.text.replace(" ", ""))
            if not re.search(literal + r"(?![\d,])", flat.replace("$ ", "$")):
                return f"figure without its unit: {f.text}"
    return ""


_GENERIC_HEAD = {"its", "the", "company", "companies", "their", "this", "these", "total", "fiscal", "year", "also", "which", "that",
                 "with", "from", "into", "other", "each", "were", "was", "has", "have", "had", "and", "for"}


def _subject_words(sentence: str) -> set[str]:
    """The content words before the sentence's first verb or first comma: what it is about."""
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*|[,;]", sentence)
    head: list[str] = []
    for prev, word in zip(["", *words], words):
        if word in {",", ";"} or lexicon_verb(prev, word):
            break
        head.append(word)
    return {w.lower().strip("'’").removesuffix("'s").removesuffix("’s") for w in head if len(w) > 3} - _GENERIC_HEAD


def mixes_subjects(sentence: str, lines: Sequence[str], company: str = "") -> str:
    """A fused sentence says one thing about one subject. Small models also glue a figure or name
    from an unrelated line onto a subject ("FedEx Freight Direct ... has grown to include nearly
    17,000 Walgreens ... stores", a figure of another network). Each figure and name must be found
    in a line that speaks of the sentence's subject, unless the subject itself is only "It"."""
    subject = _subject_words(sentence) - {w.lower() for w in re.findall(r"[A-Za-z]+", company)}  # the company is not a subject
    if not subject:
        return ""
    about = [t for t in lines if subject & set(re.findall(r"[a-z][a-z'’-]+", t.lower()))]
    anchors = [f.text for f in figures(sentence) if f.kind != "year"]
    anchors += [m.group(0) for m in CAPITALIZED.finditer(sentence) if m.start() > 0 and m.group(0) not in COMMON_CAPS]
    for a in anchors:
        holders = [t for t in lines if a in t]
        if holders and not any(t in about for t in holders):
            return f"joins '{a}' from a line about something else"
    return ""


# -- the stage ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """How a sentence is read against its evidence.

    A filing's own sentence (the default) must find its figures and names there. A model's sentence
    (``by_model``) must also not speak of the prompt, have a finite verb, find every capitalized
    word and channel or customer word, keep each amount's unit, and, given the ``lines`` it was
    shown, take each figure and name from a line about its own subject."""

    allowed_names: tuple[str, ...] = ()  # the company's own names, which a sentence may add
    by_model: bool = False
    lines: tuple[str, ...] = ()
    company: str = ""
    # an answer's sentence: each figure also keeps the year and the owner its evidence gives it
    # (attribution_lost; ``company`` is the filing's own owner, ``fiscal_year`` its own year)
    attribution: bool = False
    fiscal_year: str | int | None = None


def reason(sentence: str, evidence: Sequence[str], rules: Rules = Rules()) -> str:
    """Why ``sentence`` does not stand on ``evidence`` (texts) under ``rules``; "" when it does."""
    if not rules.by_model:
        why = check_sentence(sentence, evidence, rules.allowed_names).reason()
        if why or not rules.attribution:
            return why
        return attribution_lost(sentence, evidence, [rules.company], rules.fiscal_year)
    if META.search(sentence):
        return "speaks of the prompt, not the company"
    return unsupported(sentence, evidence, rules.allowed_names) or mixes_subjects(sentence, rules.lines, rules.company)


def support_score(sentence: str, chunk_text: str) -> float:
    claims = figures(sentence)
    ev = evidence_figures([chunk_text])
    supported = sum(1 for c in claims if any(supports(c, e) for e in ev))
    sw = set(re.findall(r"[a-z]{4,}", sentence.lower()))
    cw = set(re.findall(r"[a-z]{4,}", chunk_text.lower()))
    return 3 * supported + len(sw & cw) / max(1, len(sw))


class Grounded(NamedTuple):
    kept: list  # Sentence: each with the citations it rests on
    dropped: list  # Dropped: each with its reason


def ground(sentences, chunks_by_id, rules: Rules = Rules(), exempt=(), repair=None, max_tokens=None) -> Grounded:
    """Check every sentence of a written text against the chunks it cites (or, uncited, the best-supporting
    retrieved chunks): the one grounding pass of summaries and answers.

    An unsupported sentence is given to ``repair(text, evidence_texts)`` once when a repair function is
    given; if the repair is still unsupported, or there is none, the sentence is dropped with its reason.
    ``exempt`` sentences (a facet's "not disclosed" line) are kept unchecked. With ``max_tokens``, sentences
    past the ceiling are not checked (nor repaired): they would be cut anyway.
    """
    from rag.tokens import count_tokens
    from rag.types import Citation, Dropped, Sentence

    kept, dropped = [], []
    tail = " ".join(s.text for s in sentences if s.text in exempt)
    for s in sentences:
        if s.text in exempt:
            kept.append(s)
            continue
        if max_tokens is not None:
            body = " ".join([k.text for k in kept if k.text not in exempt] + [s.text, tail]).strip()
            if count_tokens(body) > max_tokens:
                continue
        cited, why = _evidence_of(s, chunks_by_id, rules)
        text = s.text
        if why and repair is not None:
            fixed = repair(text, [c.text for c in cited])
            if fixed and not reason(fixed, [c.text for c in cited], rules):
                text, why = fixed, ""
        if why:
            dropped.append(Dropped(s.text, s.facet, why))
            continue
        citations = s.citations or tuple(Citation(c.id, c.item, c.start, c.end) for c in cited[:2])
        kept.append(Sentence(text, s.facet, tuple(c.chunk for c in citations), citations))
    return Grounded(kept, dropped)


def _evidence_of(s, chunks_by_id, rules: Rules):
    """The chunks a sentence rests on (those it cites, else the three that support it best) and why it
    does not stand on them ("" when it does). An uncited sentence that fails on its best three may
    still stand on all the chunks."""
    cited = [chunks_by_id[c] for c in s.chunk_ids if c in chunks_by_id] if s.citations else []
    if not cited:  # attribute: the retrieved chunks that support it best
        cited = sorted(chunks_by_id.values(), key=lambda c: -support_score(s.text, c.text))[:3]
    texts = [c.text for c in cited]
    if len(cited) > 1:  # a table sentence cites its rows' chunk and its header's: the unit line declared in one
        texts.append("\n".join(c.text for c in sorted(cited, key=lambda c: c.index)))  # scales the figures of the other
    why = reason(s.text, texts, rules)
    if why and not s.citations and not reason(s.text, [c.text for c in chunks_by_id.values()], rules):
        why = ""
    return cited, why


# -- attribution: whose figure, and of which year ---------------------------------------------
# "In fiscal 1997, sales to Harris accounted for 17% of net revenues" does not support "Harris
# accounts for 17% of revenue", and "Building Products generated 11.9% of net sales" does not support
# "the largest customer accounted for 11.9%". A figure keeps the year and the owner (a segment, a
# subsidiary, an affiliate, a customer) its evidence gives it.
# "notes due 2030", "matures in 2029": a date of the instrument, not the year a figure belongs to
_TERM_YEAR = re.compile(r"\b(?:due|matur\w*|expir\w*|until|through|terminat\w*|ending|callable|redeemable)\s+(?:in\s+|on\s+)?(?:\w+\s+){0,2}(" + YEAR_DIGITS + r")\b", re.I)
_NOT_OWNER = frozenset(
    "a an the in on at as for from by to of during our its their this that these those we it net total fiscal year years ended "
    "company company's companies revenue revenues sales sale income operating consolidated approximately about "
    "january february march april may june july august september october november december "
    "first second third fourth quarter see note item u.s us".split())


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(r"(?<=[.;!?])\s+(?=[A-Z(\"“])|;\s*", " ".join(text.split())) if c]


def _owners(before: str, allowed: Sequence[str]) -> set[str]:
    """Capitalized words and acronyms that can say whose a figure is ("CPI", "Harris", "Building Products")."""
    own = {w.lower() for a in allowed for w in re.findall(r"[A-Za-z][\w&'-]+", a)}
    found = set()
    for w in re.findall(r"\b[A-Z][A-Za-z&'’-]*[A-Za-z]\b|\b[A-Z]{2,}\b", before):
        key = re.sub(r"['’]s$", "", w).lower()
        if key not in _NOT_OWNER and key not in own:
            found.add(key)
    return found


def attribution_lost(sentence: str, evidence: Sequence[str], allowed_names: Sequence[str] = (), fiscal_year: str | int | None = None) -> str:
    """Why ``sentence`` gives a figure without the year or the owner its evidence gives it, or "" when it keeps them.

    A year is kept when the evidence's clause names any year but the filing's own (``fiscal_year``); an
    owner when the words before the figure in that clause name one and the sentence names none of them."""
    said_years = set(YEAR.findall(sentence))
    said = {re.sub(r"['’]s$", "", w).lower() for w in re.findall(r"[A-Za-z][\w&'’-]*", sentence)}
    for claim in figures(sentence):
        if claim.kind == "year":
            continue
        for text in evidence:
            for clause in _clauses(text):
                scale = table_scale(clause)
                hit = next((m for m in FIGURE.finditer(clause) for f in figures(m.group(0), scale) if f.kind != "year" and supports(claim, f)), None)
                if hit is None:
                    continue
                years = set(YEAR.findall(clause)) - set(_TERM_YEAR.findall(clause))
                if years and years != {str(fiscal_year)} and not years & said_years:
                    return f"{claim.text} is given without its year ({', '.join(sorted(years))})"
                owners = _owners(clause[: hit.start()], allowed_names)
                if owners and not owners & said:
                    return f"{claim.text} is given without whose it is ({', '.join(sorted(owners))})"
    return ""
