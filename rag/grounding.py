"""Grounding: is every figure and name in a summary sentence supported by its evidence?

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

from rag.text import FIGURE, NAME, Figure, figures, table_scale  # noqa: F401  (FIGURE, Figure: read here with their values)

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


# -- the product's grounding step -------------------------------------------------------------
def support_score(sentence: str, chunk_text: str) -> float:
    claims = figures(sentence)
    ev = evidence_figures([chunk_text])
    supported = sum(1 for c in claims if any(supports(c, e) for e in ev))
    sw = set(re.findall(r"[a-z]{4,}", sentence.lower()))
    cw = set(re.findall(r"[a-z]{4,}", chunk_text.lower()))
    return 3 * supported + len(sw & cw) / max(1, len(sw))


def ground_sentences(sentences, chunks_by_id, allowed_names=(), exempt=(), repair=None, max_tokens=None):
    """Check every sentence against the chunks it cites (or, uncited, the best-supporting retrieved chunks).

    Returns ``(kept, dropped)``. An unsupported sentence is given to ``repair(text, evidence_texts)``
    once when a repair function is given (the LLM backend re-asks with the evidence); if the repair
    is still unsupported, or there is none, the sentence is dropped with its reason. With
    ``max_tokens``, sentences past the ceiling are not checked (nor repaired): they would be cut anyway.
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
        cited = [chunks_by_id[c] for c in s.chunk_ids if c in chunks_by_id] if s.citations else []
        if not cited:  # attribute: the retrieved chunks that support it best
            ranked = sorted(chunks_by_id.values(), key=lambda c: -support_score(s.text, c.text))
            cited = ranked[:3]
        check = check_sentence(s.text, [c.text for c in cited], allowed_names)
        if not check.ok and not s.citations:
            wider = check_sentence(s.text, [c.text for c in chunks_by_id.values()], allowed_names)
            if wider.ok:
                check = wider
        text = s.text
        if not check.ok and repair is not None:
            fixed = repair(text, [c.text for c in cited])
            if fixed:
                recheck = check_sentence(fixed, [c.text for c in cited], allowed_names)
                if recheck.ok:
                    text, check = fixed, recheck
        if not check.ok:
            dropped.append(Dropped(s.text, s.facet, check.reason()))
            continue
        citations = s.citations or tuple(Citation(c.id, c.item, c.start, c.end) for c in cited[:2])
        kept.append(Sentence(text, s.facet, tuple(c.chunk for c in citations), citations))
    return kept, dropped
