"""Stage 4 of a summary: choose sentences for expected facts per token under the ceiling.

Every candidate has, per facet, the scorer's probability that it states a fact an analyst keeps.
The choice is greedy: facets take turns first (each takes its most valuable sentence, ``rounds``
times), then the budget goes to whatever is worth most, until nothing fits. A sentence's value is
its probability over its tokens to the power ``alpha``. Two sentences do not state the same fact:
a candidate too similar to a chosen one (cosine of their embeddings at least ``theta``) or
repeating one of its amounts or percentages is passed over. A sentence that leans on the one
before it ("These customers ...") comes with that sentence or not at all.

The parameters are tuned under the scorer's cross-validation and ship with its weights.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from queries.profile import Facet, Profile
from rag.features import SENTENCE_FEATURES, FeatureSet
from rag.rewrite import name_first
from rag.text import MONEY, NUMBER, ORG, PERCENT, PROPER, figures_of, overlap, overlaps, repeats, words
from rag.text import YEAR as _YEAR
from rag.tokens import count_tokens
from rag.types import Citation, Sentence


@dataclass(frozen=True)
class SelectionParams:
    alpha: float = 1.0  # value = probability / tokens ** alpha
    rounds: int = 3  # turns each facet takes before the rest of the budget is shared
    theta: float = 0.85  # cosine at which two sentences say the same thing
    cap: int = 7  # sentences a facet may hold at most
    floor: float = 0.02  # a sentence less likely than this is never chosen
    shortlist: int = 80  # candidates per facet considered (the most likely)
    overlap: float = 0.6  # share of a sentence's words another chosen one has, past which with a shared name or figure it repeats it
    richness: float = 0.0  # value grows by this much for each fact (figure, name) a sentence holds beyond the first

    @classmethod
    def of(cls, values: dict | None) -> SelectionParams:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in names})


# -- candidates as the writer sees them ------------------------------------------------------
@dataclass
class Candidate:
    """A sentence ready to print, with what the choice needs to know of it."""

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
    lead: bool = False  # opens its facet whatever its place in the filing (the headline revenue)


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


def _other_year(a: str, b: str) -> bool:
    years_a, years_b = set(_YEAR.findall(a)), set(_YEAR.findall(b))
    return bool(years_a) and bool(years_b) and years_a.isdisjoint(years_b)


def redundant(c: Candidate, chosen: Sequence[Candidate]) -> bool:
    for o in chosen:
        shared = overlap(c.words, o.words)
        if shared > 0.6 and all(w[0].isdigit() for w in c.words - o.words) and _other_year(c.text, o.text):
            return True  # the same statement for another year: one is enough
        if shared > 0.6 and (not c.facts or c.facts & o.facts or not (c.facts - o.facts) or shared > 0.85):
            return True  # one template with different figures ("Segment A sales rose ...", "Segment B ...") is not
        if c.numbers and len(c.numbers) >= 2 and c.numbers <= o.numbers:
            return True
        if len(c.facts & o.facts) >= 2:  # the same figure about the same name, worded twice
            return True
    return False


def assemble_sentences(profile: Profile, chosen: dict[str, list[Candidate]], company: str = "") -> list[Sentence]:
    """Each facet's chosen sentences in reading order, facets in profile order; a facet with none says so.
    A facet missing from ``chosen`` altogether is left out: it had evidence, but a small ceiling left no room."""
    out: list[Sentence] = []
    for f in profile.facets:
        if f.name not in chosen:
            continue
        picked = sorted(chosen[f.name], key=lambda c: (not c.lead, c.position))
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
    chosen = {f.name: list(chosen[f.name]) for f in profile.facets if f.name in chosen}
    budget = max_tokens - sum(count_tokens(f.missing) + 1 for f in profile.facets if f.name in chosen and not chosen[f.name])
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
        if used + cost > budget or redundant(m, others):
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


# -- the choice ------------------------------------------------------------------------------
def names_of(text: str) -> frozenset[str]:
    """The organisations, products and brands a sentence names ("Walmart Inc.", "Jimmy Dean®")."""
    found = {m.strip() for m in ORG.findall(text) + PROPER.findall(text)}
    found |= {m.group(1) for m in re.finditer(r"([A-Z][\w&'.-]*(?:\s[A-Z][\w&'.-]*){0,3})[®™]", text)}
    return frozenset(found)


@dataclass(frozen=True)
class Pick:
    units: tuple[int, ...]  # indices into the FeatureSet: one, or an antecedent and the sentence that leans on it
    facet: str
    probability: float


def choose(fs: FeatureSet, probabilities: dict[str, np.ndarray], budget: int, params: SelectionParams = SelectionParams(),
           order: Sequence[str] | None = None) -> list[Pick]:
    """The chosen sentences, in the order they were chosen; ``budget`` counts each sentence's tokens and
    one for the space after it."""
    facets = list(order or probabilities)
    if not len(fs.texts) or not facets:
        return []
    c = _Choice(fs, probabilities, budget, params, facets)
    for _ in range(params.rounds):  # the facets take turns, the one with fewest sentences first
        for f in sorted(facets, key=lambda f: c.count[f]):
            v, i = c.best(f)
            if i >= 0:
                c.take(f, i)
    while True:  # then the best value per token of any facet under its cap
        top, at, facet = -1.0, -1, None
        for f in facets:
            if c.count[f] >= params.cap:
                continue
            v, i = c.best(f)
            if v > top:
                top, at, facet = v, i, f
        if facet is None:
            break
        c.take(facet, at)
    return c.picks


class _Choice:
    """The state of one choice: what is taken, what it states, and how much of the budget is used."""

    def __init__(self, fs: FeatureSet, probabilities: dict[str, np.ndarray], budget: int, params: SelectionParams, facets: list[str]):
        n = len(fs.texts)
        self.probabilities, self.budget, self.params = probabilities, budget, params
        self.tokens = fs.tokens.astype(np.float64)
        self.vectors = fs.vectors
        self.chosen: list[int] = []
        self.antecedent = fs.antecedent
        self.taken = np.zeros(n, dtype=bool)
        self.nearest = np.full(n, -1.0)  # each candidate's highest similarity to a chosen sentence
        self.stated: set[str] = set()
        self.picks: list[Pick] = []
        self.count = {f: 0 for f in facets}
        self.used = 0.0
        self.shortlists = {}
        for f in facets:
            p = probabilities[f]
            ranked = np.argsort(-p, kind="stable")[: params.shortlist]
            self.shortlists[f] = [int(i) for i in ranked if p[i] >= params.floor]
        # what each sentence states, read only for those a choice can reach: the shortlisted and what they lean on
        reach = sorted({j for found in self.shortlists.values() for i in found for j in (i, int(self.antecedent[i])) if j >= 0})
        self.figures = {j: figures_of(fs.texts[j]) for j in reach}
        self.names = {j: names_of(fs.texts[j]) for j in reach}
        self.bags = {j: frozenset(words(fs.texts[j])) for j in reach}
        self.richness = {j: 1.0 + params.richness * max(0, len(self.figures[j]) + len(self.names[j]) - 1) for j in reach}

    def members(self, i: int) -> tuple[int, ...]:
        a = int(self.antecedent[i])
        return (a, i) if a >= 0 and not self.taken[a] else (i,)

    def cost(self, i: int) -> float:
        return sum(self.tokens[j] + 1 for j in self.members(i))

    def fits(self, i: int) -> bool:
        if self.taken[i] or self.used + self.cost(i) > self.budget:
            return False
        group = self.members(i)
        if any(self.nearest[j] >= self.params.theta for j in group):
            return False
        if any(repeats(self.figures[j], self.stated) for j in group):
            return False
        return not any(self._restates(j) for j in group)

    def _restates(self, j: int) -> bool:
        """The same statement worded again: most words and a name or figure in common, or three names."""
        bags, names, figures = self.bags, self.names, self.figures
        for k in self.chosen:
            if overlaps(bags[j], bags[k], self.params.overlap) and \
                    (names[j] & names[k] or repeats(figures[j], figures[k]) or len(names[j] & names[k]) >= 2):
                return True
        return any(len(names[j] & names[k]) >= 3 for k in self.chosen)

    def value(self, f: str, i: int) -> float:
        group = self.members(i)
        p = sum(float(self.probabilities[f][j]) * self.richness[j] for j in group if not self.taken[j])
        return p / self.cost(i) ** self.params.alpha

    def take(self, f: str, i: int) -> None:
        group = self.members(i)
        for j in group:
            self.taken[j] = True
            self.chosen.append(j)
            np.maximum(self.nearest, self.vectors @ self.vectors[j], out=self.nearest)
            self.stated.update(self.figures[j])
        self.used += sum(self.tokens[j] + 1 for j in group)
        self.count[f] += 1
        self.picks.append(Pick(group, f, float(sum(self.probabilities[f][j] for j in group))))

    def best(self, f: str) -> tuple[float, int]:
        top, at = -1.0, -1
        for i in self.shortlists[f]:
            if self.fits(i):
                v = self.value(f, i)
                if v > top:
                    top, at = v, i
        return top, at


def candidate(fs: FeatureSet, group: Sequence[int], facet, probability: float):
    """A chosen unit (or an antecedent and the sentence leaning on it) as the writer's ``Candidate``:
    printed text, citation span, chunks, the facts it states."""
    units = [fs.units[j] for j in group]
    text = " ".join(fs.texts[j] for j in group)
    tokens = int(sum(fs.tokens[j] for j in group)) + len(group) - 1
    chunks = tuple(dict.fromkeys(c for u in units for c in (u.chunk_id, *u.also)))
    return Candidate(text, facet.name, chunks[0], units[0].start, units[-1].end, units[0].item, probability, tokens,
                     frozenset(words(text)), frozenset(NUMBER.findall(text)), fact_keys(text), aspects_of(text, facet), 0,
                     probability, chunks[1:])


def pools(fs: FeatureSet, probabilities: dict[str, np.ndarray], profile, size: int = 40, floor: float = SelectionParams.floor) -> dict[str, list]:
    """Each facet's most likely sentences as candidates, best first: the evidence a model is shown."""
    out = {}
    for facet in profile.facets:
        p = probabilities[facet.name]
        if not has_evidence(fs, facet.name, p, floor):
            out[facet.name] = []
            continue
        ranked = [int(i) for i in np.argsort(-p, kind="stable")[:size] if p[i] >= floor]
        out[facet.name] = [candidate(fs, (int(fs.antecedent[i]), i) if fs.antecedent[i] >= 0 else (i,), facet, float(p[i])) for i in ranked]
    return out


def beside_antecedents(fs: FeatureSet, picks: Sequence[Pick]) -> list[Pick]:
    """A sentence that leans on one an earlier pick holds ("Those products are its largest contributors
    to profits." after "Its Fine Paper Division produces bleached paper ...") joins that pick, right
    after it, whatever facet chose it: alone, in another facet's place, it would point at the wrong text.
    A facet's only sentence stays its own (every facet that has evidence speaks)."""
    out: list[Pick] = []
    holder: dict[int, int] = {}
    left = Counter(p.facet for p in picks)
    for p in picks:
        a = int(fs.antecedent[p.units[0]]) if len(p.units) == 1 else -1
        if a >= 0 and a in holder and left[p.facet] > 1:
            left[p.facet] -= 1
            h = holder[a]
            out[h] = Pick(tuple(sorted((*out[h].units, *p.units))), out[h].facet, out[h].probability + p.probability)
        else:
            h = len(out)
            out.append(p)
        for j in p.units:
            holder[j] = h
    return out


def chosen_candidates(fs: FeatureSet, picks: Sequence[Pick], profile) -> dict[str, list]:
    """The picks per facet, as candidates (the shape :func:`assemble_sentences` writes from)."""
    by_name = {f.name: f for f in profile.facets}
    out: dict[str, list] = {f.name: [] for f in profile.facets}
    for pick in picks:
        out[pick.facet].append(candidate(fs, pick.units, by_name[pick.facet], pick.probability))
    return out


def has_evidence(fs: FeatureSet, facet: str, probabilities: np.ndarray, floor: float) -> bool:
    """Whether the filing speaks to the facet at all: some sentence likely enough that also uses one of
    the facet's own terms. Otherwise the summary says plainly that the filing does not disclose it."""
    if not len(fs.texts):
        return False
    x, names = fs.matrix(facet)
    terms = x[:, names.index("key_terms")] + x[:, names.index("core_terms")]
    return bool(((probabilities >= floor) & (terms > 0)).any())


# "Total net sales were $391,035 million in 2024", "Revenues increased 6% to $60.6 billion": the
# filing's headline revenue, the first fact an analyst states. The scorer ranks a segment's or a region's
# growth above it often enough ("Europe net sales increased during 2024.") that the revenue facet's
# first pick is the likeliest such sentence of the fiscal year, when the filing has one.
# A table sentence's caption may stand before it when the caption is the whole company's ("Summary:",
# "Consolidated Results of Operations:"), not a segment's or a product's ("Software: Revenue was ...").
_COMPANY_CAPTION = r"(?:[\w ,&]*\b(?:consolidated|results?|summary|statements?|operations|financial|highlights|selected)\b[\w ,&]*:\s+)?"
_REVENUE = r"(?:net\s+|operating\s+)?(?:revenues?|sales)"  # "net sales", "operating revenues", "revenue"
# a table whose caption is the revenue itself ("Operating Revenues: Total was $24,250 in 2024 ...")
_REVENUE_TABLE_TOTAL = r"^(?:(?:total|consolidated)\s+)?" + _REVENUE + r":\s+total\s+(?:was|were)\s+"
_TOTAL_REVENUE = r"\b(?:total|consolidated)\s+" + _REVENUE
HEADLINE_REVENUE = re.compile(_REVENUE_TABLE_TOTAL + "|" + _TOTAL_REVENUE + r"\b|"
                              r"^" + _COMPANY_CAPTION + r"(?:total\s+)?" + _REVENUE + r"\s+(?:were|was|totaled|totalled|increased|decreased|grew|rose|declined)\b", re.I)

_TOTAL = re.compile(r"\b(?:total|consolidated)\b", re.I)
# the amount is the total's own ("total revenues of $681.0 billion", "Total net sales were $391,035 million"),
# not a segment's beside the words "consolidated net sales" ("International had net sales of $121.9 billion,
# representing 18% of its consolidated net sales")
_TOTAL_AMOUNT = re.compile(_REVENUE_TABLE_TOTAL + r"(?:US)?\$|" + _TOTAL_REVENUE + r"\s+(?:\w+\s+){0,3}(?:US)?\$", re.I)


def headline_revenue(fs: FeatureSet, p: np.ndarray) -> int:
    """The likeliest sentence stating the filing's total revenue for its own fiscal year, or -1."""
    prior = fs.sentence[:, SENTENCE_FEATURES.index("prior_period")] if len(fs.texts) else np.zeros(0)
    fy = fs.document.fiscal_year
    found = [i for i, t in enumerate(fs.texts) if HEADLINE_REVENUE.search(t) and MONEY.search(t) and not prior[i]
             and fs.antecedent[i] < 0 and (fy is None or str(fy) in t or not _YEAR.search(t))]
    return max(found, key=lambda i: (bool(_TOTAL_AMOUNT.search(fs.texts[i])), bool(_TOTAL.search(fs.texts[i])), p[i]), default=-1)


def select_summary(profile, fs: FeatureSet, probabilities: dict[str, np.ndarray], max_tokens: int, company: str = "",
                   params: SelectionParams = SelectionParams()) -> dict[str, list]:
    """The embedded choice: per facet the chosen candidates, the joined text within ``max_tokens`` (cl100k).

    A facet without evidence (:func:`has_evidence`) states that the filing does not disclose it; those
    sentences are paid for first. The joined text is counted at the end (a seam can cost a token)
    and the last choices go back until it fits, never a facet's only sentence."""
    names = [f.name for f in profile.facets]
    silent = [f for f in profile.facets if not has_evidence(fs, f.name, probabilities[f.name], params.floor)]
    probabilities = {f: np.zeros_like(p) if f in {s.name for s in silent} else p for f, p in probabilities.items()}
    budget = max_tokens - sum(count_tokens(f.missing) + 1 for f in silent)
    top = -1
    if "revenue" in probabilities and "revenue" not in {f.name for f in silent}:
        top = headline_revenue(fs, probabilities["revenue"])
        if top >= 0:
            probabilities = {**probabilities, "revenue": probabilities["revenue"].copy()}
            probabilities["revenue"][top] = 100.0  # worth more per token than anything: the facet's first pick
    picks = beside_antecedents(fs, choose(fs, probabilities, budget, params, order=names))
    chosen = chosen_candidates(fs, picks, profile)
    if top >= 0:
        chosen["revenue"] = [replace(c, lead=True) if top in p.units else c
                             for p, c in zip([p for p in picks if p.facet == "revenue"], chosen["revenue"])]
    sequence = []  # (facet, candidate) in the order they were chosen
    seen = {f: 0 for f in names}
    for p in picks:
        sequence.append((p.facet, chosen[p.facet][seen[p.facet]]))
        seen[p.facet] += 1

    def text() -> str:
        return " ".join(s.text for s in assemble_sentences(profile, chosen, company))

    while count_tokens(text()) > max_tokens:
        last = next(((f, c) for f, c in reversed(sequence) if len(chosen[f]) > 1), None)
        if last is None:
            break  # the caller cuts at the ceiling regardless
        sequence.remove(last)
        chosen[last[0]].remove(last[1])
    # a facet that has evidence but found no room is left out, never said to be undisclosed
    return {name: found for name, found in chosen.items() if found or name in {f.name for f in silent}}
