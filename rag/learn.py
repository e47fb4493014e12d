"""``rag train`` and ``rag eval --cv``: the trained scorer rebuilt from the labelled cases, and measured with
whole companies held out. The learning itself is ``rag/train.py``; this module runs it over a store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest.errors import InputError
from rag.api import configure, default_embedder, open_store

log = logging.getLogger("rag")


def training_store(store: Path | None, chroma_url: str | None):
    """The store the labelled filings are indexed in: ``store``, or a store of its own beside the default one
    (the user's index is not filled with the labelled filings)."""
    settings = configure(store, chroma_url)
    if store is None and chroma_url is None and settings.store.url is None:
        settings = configure(settings.store.path.with_name("train-store"))
    return open_store(settings), settings


def _say(line: str) -> None:
    log.warning("%s", line)


def cross_validate(cases: Sequence, store: Path | None, chroma_url: str | None, profile) -> tuple[list[dict], dict]:
    """Each case summarized by a scorer trained on the other companies' cases (5 fixed folds), with the oracle beside it:
    per-case rows and the overall figures."""
    from rag.scorer import load_scorer
    from rag.train import coverage, examples, oracle, out_of_fold, summarize_with

    db, settings = training_store(store, chroma_url)
    items = examples(cases, db, lambda: default_embedder(settings.embedding), profile, progress=_say)
    logits = out_of_fold(items, profile, progress=_say)
    params = {**load_scorer().selection, "temperature": load_scorer().model(profile.facets[0].name).temperature}
    rows = []
    for e, case, z in zip(items, cases, logits):
        text = summarize_with(e, z, profile, params, case.max_tokens)
        cov = coverage(e, text, case)
        rows.append({"name": e.name, "company": e.company, "coverage": {f: round(v, 3) for f, v in cov.items()},
                     "mean_coverage": round(sum(cov.values()) / len(cov), 3) if cov else 1.0, "oracle": round(oracle(e, case.max_tokens), 3),
                     "summary": text})
    mean = lambda key: round(sum(r[key] for r in rows) / len(rows), 3) if rows else 0.0  # noqa: E731
    totals = {"cases": len(rows), "companies": len({r["company"] for r in rows}), "mean_coverage": mean("mean_coverage"),
              "oracle": mean("oracle"), "selection": params}
    return rows, totals


def check_scorer(cases: Sequence, out: Path | None) -> str:
    """That the scorer at ``out`` (the shipped one by default) was trained on these cases' labels; returns their digest."""
    from rag.scorer import load_scorer
    from rag.train import label_digest

    digest = label_digest(cases)
    shipped = load_scorer(str(out) if out else None)
    if shipped.labels_sha256 != digest:
        raise InputError(f"The scorer was trained on other labels ({shipped.labels_sha256[:12]}, these are {digest[:12]}); run `rag train` on them.")
    return digest


def train_scorer(cases: Sequence, store: Path | None, chroma_url: str | None, profile, out: Path | None,
                 say: Callable[[str], None] = _say) -> tuple[Path, int, str, float]:
    """Index each case's filing, cross-validate to tune the selection, fit on every case and write the weights
    with the labels' SHA-256: (where, cases, digest, cross-validated coverage)."""
    from rag.scorer import DEFAULT_PATH
    from rag.train import examples, fit, label_digest, out_of_fold, tune

    digest = label_digest(cases)
    db, settings = training_store(store, chroma_url)
    items = examples(cases, db, lambda: default_embedder(settings.embedding), profile, progress=say)
    logits = out_of_fold(items, profile, progress=say)
    params, value = tune(items, cases, logits, profile)
    say(f"selection {params}: cross-validated mean coverage {value:.3f}")
    scorer = fit(items, profile, params, digest)
    target = out or DEFAULT_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(scorer.as_json(), encoding="utf-8")
    return target, len(items), digest, value
