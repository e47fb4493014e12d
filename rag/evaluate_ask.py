"""`rag eval --questions FILE`: questions with known answers, asked as users ask them.

A question file (``eval/questions.json``) names its filings once (``documents``: an alias and a path,
relative to the repository like the cases'), then lists questions. Each question is asked of one
filing (``doc`` and ``answer``: regular expressions, one of which an answer must match) or of several
(``documents`` and ``answers``: per filing that must answer, its expressions). No expression at all
means the filings do not answer: the question must be declined. Every expression must match the
filing's own text, so a typo in the gold is an error, not a miss.

Each question ends in one of four outcomes:

- ``answered``: every filing that must answer does, with a sentence that states the fact (matches an
  expression) and cites a span of that filing that lies inside the cited chunk;
- ``declined``: an unanswerable question is declined;
- ``missed``: an answerable question is declined;
- ``wrong``: an answer without the fact, or an answer to an unanswerable question.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import InputError

OUTCOMES = ("answered", "declined", "missed", "wrong")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    need: str
    documents: tuple[Path, ...]  # asked of these filings
    answers: dict[Path, tuple[str, ...]]  # the filings that must answer, each with its patterns; empty: decline
    item: str | None = None


@dataclass
class QuestionResult:
    id: str
    question: str
    need: str
    outcome: str
    answer: str
    found: dict[str, bool] = field(default_factory=dict)  # per filing that must answer: fact stated and cited
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {**self.__dict__, "seconds": round(self.seconds, 2)}


def _pattern(text: str, where: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise InputError(f"{where}: {text!r} is not a regular expression ({exc}); fix it in the question file.") from None
    return text


def load_questions(path: str | Path) -> list[Question]:
    """The questions of a file, with each filing resolved; the patterns are compiled but not yet checked against the filings."""
    from ingest.files import read_regular_file
    from rag.evaluate import resolve_path

    path = Path(path)
    if not path.is_file():
        raise InputError(f"No question file at {path}; pass a JSON file like eval/questions.json.")
    try:
        data = json.loads(read_regular_file(path, what="question file").decode("utf-8"))
        aliases = {k: resolve_path(v, path) for k, v in data.get("documents", {}).items()}
        out = []
        for q in data["questions"]:
            def doc(ref: str) -> Path:
                if ref in aliases:
                    return aliases[ref]
                return resolve_path(ref, path)

            where = f"{path.name}, question {q['id']}"
            if "doc" in q:
                documents = (doc(q["doc"]),)
                answers = {documents[0]: tuple(_pattern(p, where) for p in q.get("answer", []))} if q.get("answer") else {}
            else:
                documents = tuple(doc(d) for d in q["documents"])
                answers = {doc(d): tuple(_pattern(p, where) for p in ps) for d, ps in q.get("answers", {}).items() if ps}
                if not set(answers) <= set(documents):
                    raise InputError(f"{where}: an answering filing is not among its documents; list it under 'documents'.")
            out.append(Question(str(q["id"]), q["question"], q.get("need", ""), documents, answers, q.get("item")))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path} is not a valid question file ({exc}); compare it with eval/questions.json.") from exc
    if not out:
        raise InputError(f"{path} holds no questions; see eval/questions.json for the layout.")
    return out


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def check_gold(questions: list[Question], texts: dict[Path, str]) -> None:
    """Every answering filing's patterns must find the fact in the filing's text: a gold that cannot match is an error."""
    for q in questions:
        for doc, patterns in q.answers.items():
            if not any(re.search(p, texts[doc], re.I) for p in patterns):
                raise InputError(f"Question {q.id}: no pattern matches {doc.name}; fix the question file.")


def judge(q: Question, answer, doc_ids: dict[Path, str], chunk_spans: dict[str, tuple[int, int]]) -> tuple[str, dict[str, bool]]:
    """The outcome of ``answer`` (a ``rag.ask.Answer``) for ``q``, and per answering filing whether its fact was stated and cited."""
    if not q.answers:
        return ("declined" if not answer.answered else "wrong"), {}
    if not answer.answered:
        return "missed", {d.name: False for d in q.answers}
    found = {}
    for doc, patterns in q.answers.items():
        doc_id = doc_ids[doc]
        ok = False
        for part in answer.parts:
            for s in part.sentences:
                c = s.citation
                span = chunk_spans.get(c.chunk)
                cited = span is not None and c.chunk.startswith(doc_id + "#") and span[0] <= c.start < c.end <= span[1]
                if cited and any(re.search(p, _squeeze(s.text), re.I) for p in patterns):
                    ok = True
        found[doc.name] = ok
    return ("answered" if all(found.values()) else "wrong"), found


def run_questions(questions: list[Question], store, embedder_factory, llm=None, progress=None, limit: int | None = None) -> list[QuestionResult]:
    """Index the filings (once), check the gold against each filing's text, then ask every question. ``limit``: the
    largest file read, in bytes (``FileSettings.max_bytes``)."""
    from rag.api import ingest_file, resolve_document
    from rag.ask import ask
    from rag.candidates import rebuilt_text

    paths = list(dict.fromkeys(p for q in questions for p in q.documents))
    doc_ids: dict[Path, str] = {}
    texts: dict[Path, str] = {}
    spans: dict[str, tuple[int, int]] = {}
    for p in paths:
        record = resolve_document(store, str(p), limit)
        if record is None:
            if progress:
                progress(f"indexing {p.name}")
            record = store.get_document(ingest_file(store, p, embedder_factory(), limit=limit).id)
        doc_ids[p] = record.id
        chunks = store.get_chunks(record.id)
        texts[p] = _squeeze(rebuilt_text(chunks))
        spans.update({c.id: (c.start, c.end) for c in chunks})
    check_gold(questions, texts)
    embedder = embedder_factory()
    results = []
    for q in questions:
        t0 = time.perf_counter()
        answer = ask(store, q.question, embedder, doc_ids=[doc_ids[p] for p in q.documents], item=q.item, llm=llm)
        outcome, found = judge(q, answer, doc_ids, spans)
        results.append(QuestionResult(q.id, q.question, q.need, outcome, answer.answer, found, time.perf_counter() - t0))
        if progress:
            progress(f"{q.id}: {outcome}")
    return results


def score(results: list[QuestionResult]) -> dict:
    counts = {o: sum(r.outcome == o for r in results) for o in OUTCOMES}
    answerable = counts["answered"] + counts["missed"] + sum(r.outcome == "wrong" and bool(r.found) for r in results)
    return {
        "questions": len(results),
        "answerable": answerable,
        "unanswerable": len(results) - answerable,
        **counts,
        "right": counts["answered"] + counts["declined"],
        "seconds": round(sum(r.seconds for r in results), 1),
    }


def format_results(results: list[QuestionResult], totals: dict, verbose: bool = False) -> str:
    lines = [f"{'question':<28} {'outcome':<9} answer", "-" * 100]
    for r in results:
        first = r.answer.splitlines()[0] if r.answer else ""
        lines.append(f"{r.id[:28]:<28} {r.outcome:<9} {first if verbose else first[:62]}")
    t = totals
    lines.append("-" * 100)
    lines.append(f"answered with the fact and a citation: {t['answered']}/{t['answerable']}; declined correctly: "
                 f"{t['declined']}/{t['unanswerable']}; missed (declined though answerable): {t['missed']}; wrong: {t['wrong']}")
    lines.append(f"right: {t['right']}/{t['questions']} in {t['seconds']} s")
    return "\n".join(lines)
