"""`rag train` and `rag eval --cv`: learn the scorer from labelled cases, and measure it honestly.

A labelled case (``eval/cases``, ``eval/holdout``) is a filing and, per facet, the facts an analyst
keeps, each with tolerant patterns a summary stating it matches. A candidate sentence is a positive
for a facet when its printed text matches a pattern of one of the facet's facts; a fact stated by
several sentences shares its weight among them (at least a third each), so a loose pattern does
not outweigh a precise one.

Cross-validation holds out whole companies: case files are named ``<company>-<year>``, and all the
filings of a company fall in the same fold, so the scorer never scores a filing of a company it
was trained on. Folds are fixed (companies in sorted order, dealt round-robin), so the figures
repeat. The selection's few parameters are then chosen on the cross-validated probabilities.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.features import FeatureSet
from rag.scorer import GENERIC, GENERIC_FEATURES, FacetModel, Scorer, fit_model
from rag.select import SelectionParams, select_summary

log = logging.getLogger("rag")

FOLDS = 5
C = 1.0
BLEND = 0.5  # a facet's own model and the generic one, averaged (see rag.scorer.Scorer)
MIN_SHARE = 1 / 3
# the grid the selection is tuned on (every combination is tried on the cross-validated probabilities)
GRID = {"alpha": (0.5, 0.75, 1.0), "rounds": (2, 3, 4), "theta": (0.8, 0.9), "temperature": (1.0, 1.5, 2.0)}


@dataclass
class Example:
    """A labelled filing, featurized: per facet, which facts each candidate states."""

    name: str
    company: str
    fs: FeatureSet
    labels: dict[str, list[frozenset[int]]]
    facts: dict[str, int]  # gold facts per facet
    company_name: str = ""  # as the filing names itself (for the summary's first sentence)


def company_of(case_name: str) -> str:
    """``home-health-corp-1997`` -> ``home-health-corp``: a company's filings share a fold."""
    return re.sub(r"-\d{4}$", "", case_name)


def label_digest(cases) -> str:
    """SHA-256 of what the scorer learns from: each case's name, filing and facts with their patterns."""
    data = [[c.name, c.document.name, {f: [[x.fact, x.evidence, list(x.patterns)] for x in facts] for f, facts in sorted(c.facets.items())}]
            for c in sorted(cases, key=lambda c: c.name)]
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def labelled(case, fs: FeatureSet) -> dict[str, list[frozenset[int]]]:
    return {facet: [frozenset(j for j, fact in enumerate(facts) if fact.found_in(t)) for t in fs.texts] for facet, facts in case.facets.items()}


def targets(labels: Sequence[frozenset[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate: positive or not, and its weight (a fact's sentences share one unit, at least a third each)."""
    stated: dict[int, int] = {}
    for found in labels:
        for j in found:
            stated[j] = stated.get(j, 0) + 1
    y = np.asarray([1.0 if found else 0.0 for found in labels])
    w = np.asarray([sum(max(MIN_SHARE, 1.0 / stated[j]) for j in found) if found else 1.0 for found in labels])
    return y, w


def examples(cases, store, embedder_factory, profile, progress: Callable[[str], None] | None = None) -> list[Example]:
    """Each case's filing, indexed in ``store`` (once: an indexed filing is reused), featurized as a summary would."""
    from ingest.loaders import load_document
    from rag.api import document_inputs, ingest_file

    out = []
    embedder = None
    for case in cases:
        if progress:
            progress(f"featurizing {case.name}")
        doc = load_document(case.document)
        embedder = embedder or embedder_factory()
        record = store.get_document(ingest_file(store, case.document, embedder, doc=doc).id)
        fs = document_inputs(store, record, profile, lambda: embedder)
        out.append(Example(case.name, company_of(case.name), fs, labelled(case, fs), {f: len(v) for f, v in case.facets.items()},
                           record.metadata.get("company", "")))
    return out


def folds(items: Sequence[Example], k: int = FOLDS) -> list[list[int]]:
    companies = sorted({e.company for e in items})
    fold_of = {c: i % k for i, c in enumerate(companies)}
    return [[j for j, e in enumerate(items) if fold_of[e.company] == i] for i in range(k)]


def fit(items: Sequence[Example], profile, selection: dict | None = None, labels_sha256: str = "") -> Scorer:
    """One model per facet of the profile and the generic one (every facet's labels at once), each over features and words."""
    models: dict[str, FacetModel] = {}
    generic_rows = []
    for facet in profile.facets:
        rows = [(e.fs, facet.name, *targets(e.labels[facet.name])) for e in items if facet.name in e.labels and e.fs.texts]
        names = e_names(items, facet.name)
        models[facet.name] = fit_model(rows, names, use_grams=True, c=C)
        generic_rows.extend(rows)
    models[GENERIC] = fit_model(generic_rows, GENERIC_FEATURES, use_grams=True, c=C)
    selection = dict(selection or {})
    temperature = float(selection.pop("temperature", 1.0))
    models = {k: FacetModel(m.features, m.mean, m.scale, m.weights, m.bias, m.grams, temperature) for k, m in models.items()}
    return Scorer(models, selection, labels_sha256, tuple(sorted(e.name for e in items)), BLEND)


def e_names(items: Sequence[Example], facet: str) -> tuple[str, ...]:
    for e in items:
        if e.fs.texts:
            return e.fs.matrix(facet)[1]
    return GENERIC_FEATURES


def coverage(e: Example, text: str, case) -> dict[str, float]:
    return {f: sum(1 for fact in facts if fact.found_in(text)) / len(facts) for f, facts in case.facets.items() if facts}


def out_of_fold(items: Sequence[Example], profile, k: int = FOLDS, progress=None) -> list[dict[str, np.ndarray]]:
    """Each filing's logits per facet from a scorer trained on the other companies' filings only."""
    logits: list[dict[str, np.ndarray] | None] = [None] * len(items)
    for n, test in enumerate(folds(items, k), 1):
        if progress:
            progress(f"fold {n}/{k}: training on {len(items) - len(test)} filings, scoring {len(test)}")
        scorer = fit([items[j] for j in range(len(items)) if j not in test], profile)
        for j in test:
            logits[j] = {f.name: scorer.logits(items[j].fs, f.name) for f in profile.facets} if items[j].fs.texts else \
                {f.name: np.zeros(0) for f in profile.facets}
    return logits  # type: ignore[return-value]


def summarize_with(e: Example, logits: dict[str, np.ndarray], profile, params: dict, max_tokens: int = 512) -> str:
    from rag.rewrite import short_company_name
    from rag.select import assemble_sentences

    temperature = float(params.get("temperature", 1.0))
    probs = {f: 1.0 / (1.0 + np.exp(-z / temperature)) for f, z in logits.items()}
    chosen = select_summary(profile, e.fs, probs, max_tokens, short_company_name(e.company_name), SelectionParams.of(params))
    return " ".join(s.text for s in assemble_sentences(profile, chosen, short_company_name(e.company_name)))


def tune(items: Sequence[Example], cases, logits, profile, grid: dict = GRID) -> tuple[dict, float]:
    """The selection parameters that cover most facts on the cross-validated probabilities."""
    best, best_value = {}, -1.0
    keys = sorted(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        params = dict(zip(keys, values))
        value = mean_coverage(items, cases, logits, profile, params)
        if value > best_value + 1e-9:
            best, best_value = params, value
    return best, best_value


def mean_coverage(items, cases, logits, profile, params) -> float:
    values = []
    for e, case, z in zip(items, cases, logits):
        cov = coverage(e, summarize_with(e, z, profile, params), case)
        values.append(sum(cov.values()) / len(cov) if cov else 1.0)
    return float(np.mean(values)) if values else 0.0


def oracle(e: Example, budget: int = 512) -> float:
    """The best a choice of the filing's own sentences can do under the ceiling, knowing the gold facts:
    greedy, most new facts per token. The ceiling the scorer is measured against."""
    covered = {f: set() for f in e.labels}
    used = 0
    n = len(e.fs.texts)
    taken = [False] * n
    facets = [f for f, k in e.facts.items() if k]
    while True:
        best, best_value = -1, 0.0
        for i in range(n):
            cost = int(e.fs.tokens[i]) + 1
            if taken[i] or used + cost > budget:
                continue
            gain = sum(len(e.labels[f][i] - covered[f]) / e.facts[f] for f in facets)
            if gain > 0 and gain / cost > best_value:
                best, best_value = i, gain / cost
        if best < 0:
            break
        taken[best] = True
        used += int(e.fs.tokens[best]) + 1
        for f in facets:
            covered[f] |= e.labels[f][best]
    return float(np.mean([len(covered[f]) / e.facts[f] for f in facets])) if facets else 1.0
