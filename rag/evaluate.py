"""`rag eval`: run the summarizer over labelled cases and measure what users fear.

A case is a filing plus gold facts per facet; each fact has a one-line statement, a verbatim
evidence quote from the filing, and tolerant regex patterns a summary stating it would match.
Per case and overall the harness reports: fact coverage per facet, figures and names in the
summary that the filing does not support, tokens against the ceiling, whether the text is one
continuous paragraph, evidence recall of retrieval (did the facet's retrieved chunks contain each
gold fact's evidence?), and wall time.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Fact:
    fact: str
    evidence: str
    patterns: tuple[str, ...]

    def found_in(self, text: str) -> bool:
        return any(re.search(p, text, re.I) for p in self.patterns)


@dataclass(frozen=True)
class Case:
    name: str
    document: Path
    max_tokens: int
    facets: dict[str, tuple[Fact, ...]]


@dataclass
class CaseResult:
    name: str
    document: str
    tokens: int
    max_tokens: int
    continuous: bool
    coverage: dict[str, float]  # facet -> share of gold facts stated (facets with gold facts only)
    matched: dict[str, list[str]]
    missed: dict[str, list[str]]
    evidence_recall: float
    ungrounded_numbers: list[str]
    ungrounded_names: list[str]
    undisclosed_stated: dict[str, bool]  # facets with no gold facts: did the summary say so?
    dropped: int
    wall_s: float
    summary: str = ""
    missed_evidence: list[str] = field(default_factory=list)
    summarize_s: float = 0.0  # retrieval and writing, without ingest
    llm_usage: dict[str, int] = field(default_factory=dict)  # calls, prompt_tokens, completion_tokens, retries
    model_facets: dict[str, int] = field(default_factory=dict)  # facet -> model sentences in the summary
    fallback: list[str] = field(default_factory=list)  # facets where the model wrote nothing usable

    @property
    def mean_coverage(self) -> float:
        return sum(self.coverage.values()) / len(self.coverage) if self.coverage else 1.0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["mean_coverage"] = round(self.mean_coverage, 3)
        d["coverage"] = {k: round(v, 3) for k, v in self.coverage.items()}
        d["evidence_recall"] = round(self.evidence_recall, 3)
        d["wall_s"] = round(self.wall_s, 2)
        return d


def resolve_path(doc: str, case_file: Path) -> Path:
    """A filing named in a case or question file: relative to the working directory, the repository or the file."""
    for base in (Path.cwd(), ROOT, case_file.parent):
        p = (base / doc).resolve()
        if p.is_file():
            return p
    raise InputError(f"{case_file}: document {doc} not found (paths are relative to the repository root); put ../shared beside the checkout.")


def load_cases(path: str | Path) -> list[Case]:
    """Cases from a JSON file or every ``*.json`` in a directory."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise InputError(f"No case files at {path}; pass a case JSON file or a directory of them (see eval/cases/).")
    from ingest.files import read_regular_file

    cases = []
    for f in files:
        try:
            data = json.loads(read_regular_file(f, what="case file").decode("utf-8"))
            facets = {
                name: tuple(Fact(x["fact"], x["evidence"], tuple(x["patterns"])) for x in facts)
                for name, facts in data["facets"].items()
            }
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"Case {f} is not a valid case file ({exc}); compare it with eval/cases/.") from exc
        cases.append(Case(data.get("name", f.stem), resolve_path(data["document"], f), int(data.get("max_tokens", 512)), facets))
    return cases


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def evaluate_case(case: Case, store, settings, profile, embedder_factory, llm=None, progress=None) -> CaseResult:
    """``llm``: a model client shared by every case (a local model loads once); ``progress`` hears each model call."""
    from ingest.loaders import load_document
    from rag.api import ingest_file, summarize_document

    limit = settings.files.max_bytes
    doc = load_document(case.document, limit)
    _check_gold(case, doc.text)
    t0 = time.perf_counter()
    result = ingest_file(store, case.document, embedder_factory(), doc=doc, limit=limit)
    record = store.get_document(result.id)
    t1 = time.perf_counter()
    summary = summarize_document(store, record, profile, settings, embedder_factory, max_tokens=case.max_tokens, llm=llm, progress=progress)
    wall = time.perf_counter() - t0
    summarize_s = time.perf_counter() - t1
    coverage, matched, missed = _coverage(case, summary.text)
    missing_sentences = {f.name: f.missing for f in profile.facets}
    undisclosed = {facet: missing_sentences.get(facet, "") in summary.text for facet, facts in case.facets.items() if not facts}
    recall, missed_evidence = _evidence_recall(case, doc.text, summary, {c.id: c for c in store.get_chunks(record.id)})
    numbers, names = _ungrounded(summary, doc.text, record)
    continuous = "\n" not in summary.text and not re.search(r"[•#]|(^|\s)\*\s|^\s*-\s", summary.text)
    return CaseResult(
        name=case.name,
        document=str(case.document),
        tokens=summary.tokens,
        max_tokens=case.max_tokens,
        continuous=continuous,
        coverage=coverage,
        matched=matched,
        missed=missed,
        evidence_recall=recall,
        ungrounded_numbers=numbers,
        ungrounded_names=names,
        undisclosed_stated=undisclosed,
        dropped=len(summary.dropped),
        wall_s=wall,
        summary=summary.text,
        missed_evidence=missed_evidence,
        summarize_s=summarize_s,
        llm_usage=dict(summary.llm_usage),
        model_facets={f["facet"]: f["used"] for f in summary.llm_report.get("facets", [])},
        fallback=list(summary.llm_report.get("fallback", [])),
    )


def _check_gold(case: Case, text: str) -> None:
    """The gold must come from the filing itself."""
    squeezed = _squeeze(text)
    for facts in case.facets.values():
        for fact in facts:
            if _squeeze(fact.evidence) not in squeezed:
                raise InputError(f"Case {case.name}: evidence not found in {case.document.name}: {fact.evidence[:80]!r}")


def _coverage(case: Case, text: str) -> tuple[dict, dict, dict]:
    """Per facet: the share of its gold facts the summary states, those it states, those it misses."""
    coverage, matched, missed = {}, {}, {}
    for facet, facts in case.facets.items():
        if not facts:
            continue
        hits = [f for f in facts if f.found_in(text)]
        coverage[facet] = len(hits) / len(facts)
        matched[facet] = [f.fact for f in hits]
        missed[facet] = [f.fact for f in facts if f not in hits]
    return coverage, matched, missed


def _evidence_recall(case: Case, text: str, summary, chunks: dict) -> tuple[float, list[str]]:
    """The share of gold quotes that lie (mostly) inside a chunk retrieved for their facet, and the facts whose quote does not."""
    found = total = 0
    missed_evidence = []
    for facet, facts in case.facets.items():
        spans = [(chunks[c].start, chunks[c].end) for c in summary.retrieved.get(facet, []) if c in chunks]
        for fact in facts:
            total += 1
            pos = text.find(fact.evidence)
            if pos < 0:  # whitespace differs: fall back to text containment
                ok = any(_squeeze(fact.evidence) in _squeeze(chunks[c].text) for c in summary.retrieved.get(facet, []) if c in chunks)
            else:
                end = pos + len(fact.evidence)
                ok = any(min(end, b) - max(pos, a) >= 0.5 * (end - pos) for a, b in spans)
            found += ok
            if not ok:
                missed_evidence.append(f"{facet}: {fact.fact}")
    return (found / total if total else 1.0), missed_evidence


def _ungrounded(summary, text: str, record) -> tuple[list[str], list[str]]:
    """Figures and names of the summary that the whole filing does not hold."""
    from rag.grounding import check_sentence
    from rag.rewrite import short_company_name

    allowed = [record.metadata.get("company") or "", short_company_name(record.metadata.get("company"))]
    numbers, names = [], []
    for s in summary.sentences:
        check = check_sentence(s.text, [text], allowed)
        numbers += check.unsupported_numbers
        names += check.unsupported_names
    return numbers, names


def overall(results: list[CaseResult], facets: list[str]) -> dict:
    per_facet = {}
    for f in facets:
        vals = [r.coverage[f] for r in results if f in r.coverage]
        if vals:
            per_facet[f] = round(sum(vals) / len(vals), 3)
    return {
        "cases": len(results),
        "mean_coverage": round(sum(r.mean_coverage for r in results) / len(results), 3) if results else 0.0,
        "facet_coverage": per_facet,
        "ungrounded_numbers": sum(len(r.ungrounded_numbers) for r in results),
        "ungrounded_names": sum(len(r.ungrounded_names) for r in results),
        "within_ceiling": sum(r.tokens <= r.max_tokens for r in results),
        "continuous": sum(r.continuous for r in results),
        "evidence_recall": round(sum(r.evidence_recall for r in results) / len(results), 3) if results else 0.0,
        "wall_s": round(sum(r.wall_s for r in results), 1),
        "summarize_s": round(sum(r.summarize_s for r in results), 1),
        **({"llm_usage": {k: sum(r.llm_usage.get(k, 0) for r in results) for k in ("calls", "prompt_tokens", "completion_tokens", "retries")},
            "model_sentences": sum(sum(r.model_facets.values()) for r in results),
            "fallback": sum(len(r.fallback) for r in results)} if any(r.llm_usage for r in results) else {}),
    }


def format_table(results: list[CaseResult], summary: dict, facets: list[str]) -> str:
    short = {f: f[:5] for f in facets}
    head = f"{'case':<24} {'tok':>4} " + " ".join(f"{short[f]:>5}" for f in facets) + f" {'mean':>5} {'recall':>6} {'ungr':>4} {'wall':>6}"
    lines = [head, "-" * len(head)]
    for r in results:
        cells = " ".join(f"{r.coverage[f]:>5.2f}" if f in r.coverage else f"{'-':>5}" for f in facets)
        ungr = len(r.ungrounded_numbers) + len(r.ungrounded_names)
        lines.append(f"{r.name[:24]:<24} {r.tokens:>4} {cells} {r.mean_coverage:>5.2f} {r.evidence_recall:>6.2f} {ungr:>4} {r.wall_s:>6.1f}")
    fc = summary["facet_coverage"]
    lines.append("-" * len(head))
    cells = " ".join(f"{fc[f]:>5.2f}" if f in fc else f"{'-':>5}" for f in facets)
    lines.append(f"{'overall':<24} {'':>4} {cells} {summary['mean_coverage']:>5.2f} {summary['evidence_recall']:>6.2f} "
                 f"{summary['ungrounded_numbers'] + summary['ungrounded_names']:>4} {summary['wall_s']:>6.1f}")
    lines.append(f"within ceiling: {summary['within_ceiling']}/{summary['cases']}; continuous text: {summary['continuous']}/{summary['cases']}")
    if "llm_usage" in summary:  # the model's share of the work, per case
        lines.append("")
        lines.append(f"{'case':<24} {'calls':>5} {'in tok':>7} {'out tok':>7} {'model sent':>10} {'fallback':>8} {'write s':>8}")
        for r in results:
            u = r.llm_usage
            lines.append(f"{r.name[:24]:<24} {u.get('calls', 0):>5} {u.get('prompt_tokens', 0):>7,} {u.get('completion_tokens', 0):>7,} "
                         f"{sum(r.model_facets.values()):>10} {len(r.fallback):>8} {r.summarize_s:>8.1f}")
        u = summary["llm_usage"]
        lines.append(f"{'overall':<24} {u['calls']:>5} {u['prompt_tokens']:>7,} {u['completion_tokens']:>7,} "
                     f"{summary['model_sentences']:>10} {summary['fallback']:>8} {summary['summarize_s']:>8.1f}")
    return "\n".join(lines)
