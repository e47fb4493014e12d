"""`rag eval --questions`: the question file, the gold check and the four outcomes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.errors import InputError
from rag.ask import Answer, AnswerSentence, DocumentAnswer
from rag.evaluate_ask import judge, load_questions, run_questions, score
from rag.types import Citation
from vectorstore.chroma import ChromaStore

ROOT = Path(__file__).resolve().parents[1]
ACME = (
    "Item 1. Business\n"
    "Acme Foods, Inc. makes frozen meals sold under the Harbor Kitchen and Tidewater Table brands.\n"
    "Cartwright Markets accounted for 18% of our net sales in 2025, and no other customer reached 10%.\n"
    "We sell through a direct sales force of 40 people and 12 independent food brokers.\n"
    "Item 7. Management's Discussion and Analysis\n"
    "Net sales were $120.5 million in 2025, up 6.1% from 2024.\n"
    "We have a $50.0 million revolving credit facility with Keystone Bank that matures in 2029.\n"
)


def _file(tmp_path: Path, questions: list[dict], documents: dict | None = None) -> Path:
    (tmp_path / "acme.txt").write_text(ACME)
    path = tmp_path / "questions.json"
    path.write_text(json.dumps({"documents": documents or {"acme": str(tmp_path / "acme.txt")}, "questions": questions}))
    return path


QUESTIONS = [
    {"id": "sales", "doc": "acme", "question": "What were net sales in 2025?", "answer": [r"120\.5 million"]},
    {"id": "facility", "doc": "acme", "question": "How large is the revolving credit facility?", "answer": [r"\$50\.0 million"]},
    {"id": "none", "doc": "acme", "question": "How many aircraft engines did the company deliver?", "answer": []},
]


def test_questions_are_asked_and_judged(tmp_path, fake_embedder):
    questions = load_questions(_file(tmp_path, QUESTIONS))
    results = run_questions(questions, ChromaStore.open(tmp_path / "store"), lambda: fake_embedder)
    by_id = {r.id: r for r in results}
    assert by_id["sales"].outcome == "answered" and "120.5" in by_id["sales"].answer
    assert by_id["facility"].outcome == "answered"
    assert by_id["none"].outcome == "declined"
    totals = score(results)
    assert (totals["questions"], totals["answerable"], totals["answered"], totals["declined"], totals["right"]) == (3, 2, 2, 1, 3)


def _answer(text: str, chunk: str, start: int = 10, end: int = 40) -> Answer:
    sentence = AnswerSentence(text, Citation(chunk, "Item 1", start, end), chunk.split("#")[0], 1.0)
    return Answer("q", True, [DocumentAnswer(chunk.split("#")[0], "Acme", (sentence,))])


@pytest.mark.parametrize(
    ("answer", "gold", "outcome"),
    [
        (_answer("Cartwright Markets accounted for 18% of net sales.", "acme#00001"), [r"Cartwright.{0,40}18%"], "answered"),
        (_answer("Net sales were $120.5 million.", "acme#00001"), [r"Cartwright.{0,40}18%"], "wrong"),  # an answer without the fact
        (_answer("Cartwright Markets accounted for 18% of net sales.", "other#00001"), [r"Cartwright.{0,40}18%"], "wrong"),  # another filing's
        (_answer("Cartwright Markets accounted for 18% of net sales.", "acme#00001", 10, 900), [r"Cartwright.{0,40}18%"], "wrong"),  # span outside
        (Answer("q", False, []), [r"Cartwright"], "missed"),
        (Answer("q", False, []), [], "declined"),
        (_answer("Net sales were $120.5 million.", "acme#00001"), [], "wrong"),  # an unanswerable question answered
    ],
)
def test_outcomes(tmp_path, answer, gold, outcome):
    from rag.evaluate_ask import Question

    doc = tmp_path / "acme.txt"
    q = Question("q", "q", "", (doc,), {doc: tuple(gold)} if gold else {})
    assert judge(q, answer, {doc: "acme"}, {"acme#00001": (0, 500)})[0] == outcome


@pytest.mark.parametrize(
    ("questions", "documents", "message"),
    [
        ([{"id": "x", "doc": "acme", "question": "q", "answer": ["(unclosed"]}], None, "not a regular expression"),
        ([{"id": "x", "doc": "nowhere.txt", "question": "q", "answer": ["a"]}], None, "not found"),
        ([{"id": "x", "documents": ["acme"], "question": "q", "answers": {"other": ["a"]}}], {"acme": "A", "other": "B"}, "not among its documents"),
        ([{"id": "x", "question": "q"}], None, "not a valid question file"),
        ([], None, "holds no questions"),
    ],
)
def test_bad_question_files(tmp_path, questions, documents, message):
    if documents:
        (tmp_path / "b.txt").write_text(ACME)
        documents = {"acme": str(tmp_path / "acme.txt"), "other": str(tmp_path / "b.txt")}
    with pytest.raises(InputError, match=message):
        load_questions(_file(tmp_path, questions, documents))


def test_a_gold_pattern_absent_from_the_filing_is_an_error(tmp_path, fake_embedder):
    questions = load_questions(_file(tmp_path, [{"id": "typo", "doc": "acme", "question": "Net sales?", "answer": [r"121\.5 million"]}]))
    with pytest.raises(InputError, match="no pattern matches acme.txt"):
        run_questions(questions, ChromaStore.open(tmp_path / "store"), lambda: fake_embedder)


def test_the_question_set_is_well_formed():
    """At least 40 questions, several phrasings of one need, some that must be declined, and none about
    the filings kept for checking (KO, TJX, NVDA, 1001907_10K_2010, 100493_10K_2022)."""
    data = json.loads((ROOT / "eval" / "questions.json").read_text())
    qs = data["questions"]
    assert len(qs) >= 40 and len({q["id"] for q in qs}) == len(qs)
    assert sum(not q.get("answer") and not q.get("answers") for q in qs) >= 5
    needs = [q["need"] for q in qs]
    assert max(needs.count(n) for n in set(needs)) >= 10
    assert not any(k in p for p in data["documents"].values() for k in ("KO.json", "TJX.json", "NVDA.json", "1001907_10K_2010", "100493_10K_2022"))


def test_cli_one_line_error_for_a_missing_question_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "eval", "--questions", str(tmp_path / "nope.json"), "--store", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0 and "No question file" in proc.stderr
