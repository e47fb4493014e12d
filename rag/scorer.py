"""Stage 3 of a summary: the trained scorer, the probability that a sentence states a fact an analyst keeps.

One logistic model per facet over the named features of ``rag.features`` and the sentence's words
and word pairs, trained on the labelled cases (``rag train``, ``rag/train.py``). A facet a profile
adds gets the ``generic`` model, trained on every facet's labels with the features that mean the
same for any facet (similarities to its queries, its terms, its kinds of fact, the sentence's own).

The weights ship as data (``rag/data/scorer.json``: no pickle), with the SHA-256 of the labels they
were learned from; ``rag train`` rebuilds the file from the cases byte for byte.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.features import FACET_FEATURES, SENTENCE_FEATURES, FeatureSet

DEFAULT_PATH = Path(__file__).parent / "data" / "scorer.json"
GENERIC = "generic"
# what the generic model may read: no facet-specific kinds of fact, no words
GENERIC_FEATURES = SENTENCE_FEATURES + FACET_FEATURES


@dataclass(frozen=True)
class FacetModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    grams: dict[str, float] = field(default_factory=dict)
    temperature: float = 1.0  # logits are divided by it before the sigmoid: calibrated under cross-validation

    def logits(self, fs: FeatureSet, facet: str) -> np.ndarray:
        x = columns(fs, facet, self.features)
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        if self.grams:
            vocab, which, values, owner = fs.gram_table
            weights = np.zeros(len(vocab), dtype=np.float64)
            at = fs.gram_index
            for g, w in self.grams.items():  # the model's few thousand grams, not the filing's every one
                j = at.get(g)
                if j is not None:
                    weights[j] = w
            # each sentence's sum in its own order, as sum(weight * value for its grams) would add them
            z = z + np.bincount(owner, weights=weights[which] * values, minlength=len(fs.grams)) if len(which) else z
        return z

    def probabilities(self, fs: FeatureSet, facet: str) -> np.ndarray:
        if not fs.texts:
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-self.logits(fs, facet) / self.temperature))

    def as_dict(self) -> dict:
        return {"features": list(self.features), "mean": _round(self.mean), "scale": _round(self.scale),
                "weights": _round(self.weights), "bias": _round([self.bias])[0], "temperature": self.temperature,
                "grams": {g: _round([w])[0] for g, w in sorted(self.grams.items())}}

    @classmethod
    def from_dict(cls, d: dict) -> FacetModel:
        return cls(tuple(d["features"]), np.asarray(d["mean"]), np.asarray(d["scale"]), np.asarray(d["weights"]), float(d["bias"]),
                   dict(d.get("grams", {})), float(d.get("temperature", 1.0)))


def columns(fs: FeatureSet, facet: str, names: Sequence[str]) -> np.ndarray:
    """The named feature columns of a facet's matrix (a column the filing lacks, such as a kind of fact
    the profile does not name, is zero)."""
    x, have = fs.matrix(facet)
    index = {n: i for i, n in enumerate(have)}
    out = np.zeros((x.shape[0], len(names)))
    for j, name in enumerate(names):
        if name in index:
            out[:, j] = x[:, index[name]]
    return out


def _round(values) -> list[float]:
    """Six significant digits: the file is the same on every machine that trains from the same labels."""
    return [float(f"{float(v):.6g}") for v in values]


@dataclass(frozen=True)
class Scorer:
    """A model per facet and the generic model, learned from every facet's labels at once (five times the
    positives, with the facet's similarities and terms as features). A facet's logit is ``blend`` of its own
    model's and the rest the generic one's (an average of two models ranks better than either: cross-validated
    0.395 alone, 0.412 with 0.5, measured with whole companies held out); a facet of the user's own profile
    has the generic model alone."""

    facets: dict[str, FacetModel]
    selection: dict = field(default_factory=dict)  # the selection's parameters, tuned under the same cross-validation
    labels_sha256: str = ""
    cases: tuple[str, ...] = ()
    blend: float = 1.0  # weight of a facet's own model in its logit; the generic model has the rest

    def model(self, facet: str) -> FacetModel:
        return self.facets.get(facet) or self.facets[GENERIC]

    def logits(self, fs: FeatureSet, facet: str) -> np.ndarray:
        own = self.facets.get(facet)
        if own is None or self.blend >= 1.0 or GENERIC not in self.facets:
            return self.model(facet).logits(fs, facet)
        return self.blend * own.logits(fs, facet) + (1.0 - self.blend) * self.facets[GENERIC].logits(fs, facet)

    def probabilities(self, fs: FeatureSet, facets: Sequence[str]) -> dict[str, np.ndarray]:
        if not fs.texts:
            return {f: np.zeros(0) for f in facets}
        return {f: 1.0 / (1.0 + np.exp(-self.logits(fs, f) / self.model(f).temperature)) for f in facets}

    def as_json(self) -> str:
        data = {"format": 1, "labels_sha256": self.labels_sha256, "cases": list(self.cases), "selection": self.selection,
                "blend": self.blend, "facets": {name: m.as_dict() for name, m in sorted(self.facets.items())}}
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Scorer:
        d = json.loads(text)
        return cls({k: FacetModel.from_dict(v) for k, v in d["facets"].items()}, dict(d.get("selection", {})),
                   d.get("labels_sha256", ""), tuple(d.get("cases", ())), float(d.get("blend", 1.0)))


@functools.lru_cache(maxsize=4)
def load_scorer(path: str | None = None) -> Scorer:
    """The shipped scorer (or another file written by ``rag train``)."""
    from ingest.errors import InputError

    p = Path(path) if path else DEFAULT_PATH
    try:
        return Scorer.from_json(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"No scorer at {p}; rebuild it with `rag train` or reinstall the package.") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{p} is not a scorer file ({exc}); rebuild it with `rag train`.") from None


# -- training ---------------------------------------------------------------------------------
MAX_GRAMS = 4000  # per facet: the words and word pairs of largest weight (the rest move a score by little)


def fit_model(rows: Sequence[tuple[FeatureSet, str, np.ndarray, np.ndarray]], features: Sequence[str], use_grams: bool,
              c: float = 1.0, min_documents: int = 3, max_grams: int = MAX_GRAMS) -> FacetModel:
    """A logistic model from ``(features, facet, labels, weights)`` of several filings. Standardized named
    features and, with ``use_grams``, the words and word pairs found in at least ``min_documents`` filings
    (the ``max_grams`` of largest weight are kept). liblinear with a fixed seed: the same rows give the same weights."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    dense = np.round(np.vstack([columns(fs, facet, features) for fs, facet, _, _ in rows]), 6)
    mean = dense.mean(axis=0)
    scale = dense.std(axis=0)
    scale[scale < 1e-9] = 1.0
    parts = [sparse.csr_matrix((dense - mean) / scale)]
    vocabulary: list[str] = []
    if use_grams:
        seen: dict[str, int] = {}
        for fs, _, _, _ in rows:
            for g in {g for bag in fs.grams for g in bag}:
                seen[g] = seen.get(g, 0) + 1
        vocabulary = sorted(g for g, n in seen.items() if n >= min_documents)
        index = {g: i for i, g in enumerate(vocabulary)}
        data, cols, indptr = [], [], [0]
        for fs, _, _, _ in rows:
            for bag in fs.grams:
                for g, v in sorted(bag.items()):
                    j = index.get(g)
                    if j is not None:
                        cols.append(j)
                        data.append(round(v, 6))
                indptr.append(len(cols))
        parts.append(sparse.csr_matrix((data, cols, indptr), shape=(dense.shape[0], len(vocabulary))))
    x = sparse.hstack(parts).tocsr()
    y = np.concatenate([r[2] for r in rows])
    w = np.concatenate([r[3] for r in rows])
    model = LogisticRegression(C=c, solver="liblinear", random_state=0, max_iter=2000).fit(x, y, sample_weight=w)
    coef = model.coef_[0]
    k = len(features)
    ranked = sorted(range(len(vocabulary)), key=lambda i: (-abs(coef[k + i]), vocabulary[i]))[:max_grams]
    grams = {vocabulary[i]: float(coef[k + i]) for i in ranked}
    return FacetModel(tuple(features), mean, scale, coef[:k].copy(), float(model.intercept_[0]), grams)
