"""The LLM backend: map each facet's compressed evidence to a few dense sentences, then reduce all
sentences, the model's and the filing's own, to one paragraph under the ceiling.

Why this shape, measured with a 1.5B model on 2 cores (45-54 prompt tokens/s, about 14 written
tokens/s): whole chunks cost about 2,000 prompt tokens per facet and a 512-token reduce on top,
seven to ten minutes a filing, and small models copied paragraphs, parroted the prompt's examples
and invented figures. So the model is shown less, asked for less, and trusted less:

* **Compressed evidence (map input).** Per facet, the embedded backend's best sentences and table
  rows (scored for the facts they carry, de-duplicated, in reading order), numbered, about
  ``evidence_tokens`` (1,000) tokens: at most ~6,000 prompt tokens per summary at any filing length.
* **Fused sentences (map output).** The model writes three short sentences per facet, each joining
  the figures and names of several lines (a total with its growth, parts with their shares), citing
  the lines it used: about 100 written tokens, 10-30 s a facet on 2 cores.
* **Grounding per sentence.** Every figure, name and channel or customer word must be in the
  evidence the model was shown, and an amount is never stripped of its unit. A sentence that fails
  is dropped and reported, not repaired with more guessing.
* **Reduce = the embedded choice, upgraded.** The embedded backend's selection (facts per token,
  kinds of fact not yet covered, facets taking turns, the ceiling) is made first, from the filing's
  own sentences. Then each grounded model sentence, best first, goes in only if it fits and adds a
  figure or name the choice lacks, or if it holds every figure and name of the sentences of its
  facet it replaces. So the model can add facts and never take one away: the embedded summary is
  the floor, facet by facet, and a facet the model got wrong is exactly what the embedded backend
  writes. (Letting both kinds of sentence compete in one choice, as this backend first did, let
  fused sentences displace facts: measured with the 1.5B model, eval/holdout 0.34 against 0.37.)
* **No examples in prompts.** Small models state a prompt's example words as facts; the prompt
  names the facet and the rules, never sample content.

Endpoint failures (unreachable, key refused, retries exhausted) still end the run with one line:
a silent fallback would hide a broken setup. Replies that stay unusable, and calls past the
summary's deadline, fall back per facet.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingest.sentences import split_sentences
from queries.profile import Facet, Profile
from rag.grounding import Rules, reason, support_score
from rag.llm import LLM, IncompleteOutputError, ReplyError
from rag.prompts import SUMMARY_SYSTEM, WRITE_TEMPLATE, quoted
from rag.select import Candidate, aspects_of, fact_keys, redundant, upgrade
from rag.text import (  # noqa: F401  (has_verb: imported from here by the ask branch)
    BOILERPLATE,
    HEDGE,
    MONEY,
    NUMBER,
    ORG,
    PERCENT,
    PROPER,
    YEAR,
    has_verb,
    words,
)
from rag.tokens import count_tokens
from rag.types import Sentence

log = logging.getLogger(__name__)

SENTENCES = 3
WORDS = 35  # a sentence of 35 words is about 50 cl100k tokens: three of them fit any facet's share of 512
REPLY_TOKENS = 220  # room for three such sentences and their citations; a longer reply is cut and its whole sentences kept
MODEL_WEIGHT = 1.0  # a model sentence is scored as a filing sentence of the same facts and terms at the top retrieval rank


# -- map input: compressed evidence -------------------------------------------------------------


# -- a model's sentence as a candidate: how strongly it serves its facet (a rule: model sentences have no
# embedding for the scorer), and its value per token
LENGTH_EXP = 0.5
def fact_count(text: str) -> float:
    """How many concrete facts a sentence carries: amounts, percentages, other figures, names."""
    money = len(MONEY.findall(text))
    pct = len(PERCENT.findall(text))
    other = max(0, len([n for n in NUMBER.findall(text) if not YEAR.fullmatch(n)]) - money - pct)
    orgs = len(ORG.findall(text))
    names = len(PROPER.findall(text))
    marks = text.count("®") + text.count("™")  # brands
    return 1.0 * money + 1.0 * pct + 0.35 * min(other, 4) + 0.8 * orgs + 0.4 * min(names, 4) + 0.5 * min(marks, 6)


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
    retrieval = 1.0 / (1.0 + 0.1 * chunk_rank)
    score = (1.0 + facet.fact_weight * min(facts, 6.0)) * (0.6 + 0.4 * min(terms, 5)) * retrieval
    score *= 0.7**hedges
    score *= 1.6 ** min(term_hits(text, facet.core_terms), 2)
    score *= 0.3 ** min(term_hits(text, facet.avoid_terms), 2)
    if BOILERPLATE.search(text):
        score *= 0.3
    if fiscal_year:
        years = [int(y) for y in YEAR.findall(text)]
        if years and max(years) < fiscal_year:
            score *= 0.6  # a figure of an earlier year when the filing reports a later one
    if item == "Item 1A":
        score *= 0.4
    elif item and item in preferred:
        score *= 1.15
    return score


def make_candidate(text: str, facet: Facet, chunk_id: str, start: int, end: int, item: str | None, strength: float,
                   rank: int, tokens: int | None = None, also: tuple[str, ...] = ()) -> Candidate:
    """A sentence with its evidence ``strength``. Its value is facts per token, but not so steeply that
    fragments win: a 40-token sentence with 3 facts beats a 12-token one with 1."""
    tokens = count_tokens(text) if tokens is None else tokens
    return Candidate(text, facet.name, chunk_id, start, end, item, strength / max(tokens, 12) ** LENGTH_EXP, tokens,
                     frozenset(words(text)), frozenset(NUMBER.findall(text)), fact_keys(text), aspects_of(text, facet), rank,
                     strength / math.sqrt(max(tokens, 12)), also)


def compressed_evidence(pool: Sequence[Candidate], budget: int) -> list[Candidate]:
    """The facet's best sentences that fit ``budget`` tokens, near-duplicates skipped, in reading order."""
    chosen: list[Candidate] = []
    used = 0
    for c in sorted(pool, key=lambda c: -c.score):
        if used + c.tokens + 3 > budget or redundant(c, chosen):
            continue
        chosen.append(c)
        used += c.tokens + 3  # "[n] " and the newline
    return sorted(chosen, key=lambda c: c.position)


# -- map output: the reply, parsed and checked -------------------------------------------------
_MARKERS = re.compile(r"\s*\[(\d{1,3}(?:\s*(?:,|-|–|and)\s*\d{1,3})*)\]")
# the same numbers in parentheses or after "Lines", where a model puts them at a sentence's start or end
_PAREN_MARKERS = re.compile(r"^\s*\((\d{1,2}(?:\s*(?:,|-|–|and)\s*\d{1,2})*)\)\s*|\s*\((?:lines?\s*)?(\d{1,2}(?:\s*(?:,|-|–|and)\s*\d{1,2})*)\)(?=[.!?]?$)", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•▪●]|\d{1,2}[.)])\s+")
_HEADING = re.compile(r"^\s*(?:#+\s.*|\*\*[^*]{1,80}\*\*:?\s*$|[A-Z][\w ,&/-]{0,60}:\s*$)")
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:Topic|Summary|Answer|Sentence \d)(?:\*\*)?\s*[:—-]\s*", re.I)


def _numbers(marker: str) -> set[int]:
    out: set[int] = set()
    for a, b in re.findall(r"(\d+)\s*(?:-|–)\s*(\d+)", marker):
        out.update(range(int(a), min(int(b), int(a) + 20) + 1))
    out.update(int(n) for n in re.findall(r"\d+", marker))
    return out


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9$%.]+", " ", text.lower()).strip()


def without_loops(sentence: str) -> str:
    """A clause the model repeated ("..., including X, including X, including X") is kept once."""
    parts = re.split(r"(,\s+|;\s+|\s+and\s+)", sentence)
    seen: set[str] = set()
    out: list[str] = []
    for i in range(0, len(parts), 2):
        clause = parts[i]
        key = _norm(clause)
        if key and len(key) > 3 and key in seen:
            if out and re.fullmatch(r",\s+|;\s+|\s+and\s+", out[-1]):
                out.pop()
            continue
        seen.add(key)
        if i and out:
            out.append(parts[i - 1])
        out.append(clause)
    text = "".join(out)
    # a run of the same words ("the the the", "of net sales of net sales")
    return re.sub(r"\b((?:\w+\W+){1,6}?)\1{2,}", r"\1", text)


def parse_reply(text: str, cut_off: bool = False, title: str = "") -> list[tuple[str, set[int]]]:
    """The reply's sentences with the evidence numbers each cites; markup, labels and repeats removed.
    When the reply was cut off, its unfinished last sentence is left out: complete sentences are kept."""
    lines = []
    echo = re.compile(r"^\s*" + re.escape(title) + r"\s*[:—-]\s*", re.I) if title else None
    for line in text.splitlines():
        if _HEADING.match(line) and not re.search(r"\d", line):
            continue
        line = _LABEL.sub("", _BULLET.sub("", line)).replace("**", "").strip()
        if echo:
            line = echo.sub("", line)
        if line:
            lines.append(line)
    joined = " ".join(lines)
    out: list[tuple[str, set[int]]] = []
    seen: list[str] = []
    pieces = split_sentences(joined)
    for k, raw in enumerate(pieces):
        cited: set[int] = set()
        for m in _MARKERS.finditer(raw):
            cited |= _numbers(m.group(1))
        body = _MARKERS.sub("", raw).strip()
        for m in _PAREN_MARKERS.finditer(body):
            cited |= _numbers(m.group(1) or m.group(2))
        body = _PAREN_MARKERS.sub("", body).strip()
        if out and not re.search(r"[A-Za-z]{2}", body) and cited:
            out[-1][1].update(cited)  # "... 2025. [3][4]": markers after the period belong to the sentence before
            continue
        last = k == len(pieces) - 1
        if last and cut_off and not re.search(r"[.!?][\"”’)]?$", body):
            break
        if not re.search(r"[.!?][\"”’)]?$", body):
            body = body.rstrip(",;: ") + "."
        body = re.sub(r"\.\.(?!\.)", ".", re.sub(r"\s+([.,;:])", r"\1", without_loops(body)))
        key = _norm(body)
        if len(key.split()) < 4 or any(key == s or (len(key) > 40 and key in s) for s in seen):
            continue
        seen.append(key)
        out.append((body, cited))
    return out


# -- map: one call per facet ------------------------------------------------------------------
@dataclass
class FacetReport:
    """What happened to one facet: the model call's cost and outcome, and where the facet's text came from."""

    facet: str
    reply: str = "none"  # "complete", "cut off", "empty", "filtered", "unusable", "none" (no evidence, no call)
    offered: int = 0  # model sentences that passed grounding and joined the candidates
    used: int = 0  # of those, in the summary
    source: str = "embedded"  # "model", "model+embedded", "embedded", "missing"
    reason: str = ""  # why no model sentence is in the summary, when none is
    evidence_lines: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    dropped: list[dict] = field(default_factory=list)  # model sentences withheld, with the reason

    @property
    def fell_back(self) -> bool:
        """The model was asked and wrote nothing usable (cut off before a whole sentence, empty, filtered,
        ungrounded): the facet is the embedded backend's. A usable sentence the choice passed over is no fallback."""
        return self.reply != "none" and self.offered == 0 and self.source != "missing"

    def as_dict(self) -> dict:
        return {
            "facet": self.facet, "source": self.source, "reply": self.reply, "reason": self.reason,
            "offered": self.offered, "used": self.used, "evidence_lines": self.evidence_lines,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 2), "dropped": self.dropped,
        }


def _cite(cited: set[int], sentence: str, lines: Sequence[Candidate]) -> list[Candidate]:
    chosen = [lines[n - 1] for n in sorted(cited) if 1 <= n <= len(lines)]
    if chosen:
        return chosen
    # uncited: the lines that support most of its figures and words (the grounding step's own measure)
    ranked = sorted(((support_score(sentence, c.text), c) for c in lines), key=lambda x: -x[0])
    return [c for score, c in ranked[:3] if score > 0]


def _texts(lines: Sequence[Candidate], chunk_text: Callable[[str], str | None]) -> list[str]:
    return [t for cid in dict.fromkeys(cid for c in lines for cid in (c.chunk_id, *c.also)) if (t := chunk_text(cid))]


def write_facet(
    llm: LLM,
    facet: Facet,
    company: str,
    lines: Sequence[Candidate],
    chunk_text: Callable[[str], str | None],
    allowed_names: Sequence[str] = (),
    fiscal_year: int | None = None,
) -> tuple[list[Candidate], FacetReport]:
    """One model call: the facet's fused sentences that are grounded in its evidence, as candidates."""
    report = FacetReport(facet.name, evidence_lines=len(lines))
    if not lines:
        return [], report
    prompt = WRITE_TEMPLATE.format(company=company or "the company", title=facet.title,
                                   lines="\n".join(f"[{i}] {quoted(c.text)}" for i, c in enumerate(lines, 1)), sentences=SENTENCES, words=WORDS)
    messages = [{"role": "system", "content": SUMMARY_SYSTEM}, {"role": "user", "content": prompt}]
    before = (llm.usage.prompt_tokens, llm.usage.completion_tokens)
    t0 = time.perf_counter()
    try:
        reply, report.reply = llm.complete(messages, REPLY_TOKENS).text, "complete"
    except ReplyError as exc:  # cut off: keep what is whole; empty or filtered: nothing to keep
        report.reply = exc.kind
        reply = exc.partial if isinstance(exc, IncompleteOutputError) else ""
    report.seconds = time.perf_counter() - t0
    report.prompt_tokens = llm.usage.prompt_tokens - before[0]
    report.completion_tokens = llm.usage.completion_tokens - before[1]
    evidence = _texts(lines, chunk_text)
    rules = Rules(tuple(allowed_names), by_model=True, lines=tuple(c.text for c in lines), company=company)
    out: list[Candidate] = []
    for text, cited in parse_reply(reply, cut_off=report.reply == "cut off", title=facet.title):
        why = reason(text, evidence, rules)  # written, then grounded
        if why:
            report.dropped.append({"text": text, "reason": why})
            continue
        # cite the lines it names when they hold its facts, else the lines that do, else all it was shown
        used = next((u for u in (_cite(cited, text, lines), _cite(set(), text, lines))
                     if u and not reason(text, _texts(u, chunk_text), rules)), list(lines))
        first = min(used, key=lambda c: c.position)
        strength = MODEL_WEIGHT * score_sentence(text, facet, 0, first.item, fiscal_year)
        if strength <= 0:
            report.dropped.append({"text": text, "reason": "not about this facet"})
            continue
        also = tuple(dict.fromkeys(cid for c in used for cid in (c.chunk_id, *c.also) if cid != first.chunk_id))
        out.append(make_candidate(text, facet, first.chunk_id, first.position, first.end, first.item, strength, 0, also=also))
    report.offered = len(out)
    if not out:
        report.reason = ("no sentence of the reply passed grounding" if report.dropped else
                         {"empty": "the model sent an empty reply", "filtered": "the reply was withheld by a content filter",
                          "cut off": "the reply was cut off before one whole sentence",
                          "deadline": "the deadline for model calls had passed", "unusable": "the endpoint sent no usable completion"}.get(report.reply, "the reply held no sentence"))
    return out, report


# -- reduce: the embedded choice over the filing's sentences and the model's ------------------
def llm_summarize(
    profile: Profile,
    pools: dict[str, list[Candidate]],
    floor: dict[str, list[Candidate]],
    company: str,
    llm: LLM,
    max_tokens: int,
    evidence_tokens: int,
    chunk_text: Callable[[str], str | None],
    allowed_names: Sequence[str] = (),
    fiscal_year: int | None = None,
    progress: Callable[[str], None] | None = None,
    deadline: float | None = None,
) -> tuple[list[Sentence], list[FacetReport]]:
    """Map every facet with evidence to fused sentences, then add them to ``floor``, the embedded choice.
    ``pools``: each facet's most likely sentences, best first (what the model is shown);
    ``deadline``: seconds for all calls; once it has passed, the facets left keep the filing's sentences."""
    llm.start_deadline(deadline)
    reports: list[FacetReport] = []
    written: dict[str, set[str]] = {}
    extra: list[Candidate] = []
    for f in profile.facets:
        pool = pools.get(f.name, [])
        lines = compressed_evidence(pool, evidence_tokens)
        fused, report = write_facet(llm, f, company, lines, chunk_text, allowed_names, fiscal_year)
        reports.append(report)
        written[f.name] = {c.text for c in fused}
        # the model's sentences, and the filing's own where the model copied one word for word (scored as
        # a filing sentence, it may fit where the copy did not)
        extra.extend([*fused, *(c for c in pool if c.text in written[f.name])])
        if progress and report.reply != "none":
            progress(f"  {f.name}: {report.prompt_tokens:,} prompt + {report.completion_tokens:,} reply tokens, {report.seconds:.1f} s, "
                     f"{report.offered} grounded sentence(s){'' if report.reply == 'complete' else ' (reply ' + report.reply + ')'}")
    # the embedded choice first; the model's sentences may add facts, never take one away (a facet
    # without evidence states its absence, whatever was written)
    sentences = upgrade(profile, floor, extra, max_tokens, company=company)
    for r in reports:
        mine = [s for s in sentences if s.facet == r.facet]
        r.used = sum(1 for s in mine if s.text in written[r.facet] or _named(s.text, written[r.facet]))
        r.source = "missing" if not floor.get(r.facet) else ("model" if r.used == len(mine) else "model+embedded" if r.used else "embedded")
        if r.offered and not r.used:
            r.reason = "no figure or name the filing's own sentences lacked, or no room for it"
    return sentences, reports


def _named(text: str, written: set[str]) -> bool:
    """The choice names the company in the first sentence that says "It": still the model's sentence."""
    return any(text.endswith(w[2:]) and w.startswith("It") for w in written)
