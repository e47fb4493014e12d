"""Questions as users ask them, answered with the real embedding model and Chroma on disk: the bundled
sample filing, and (when ../shared/corpus is there) two filings of the labelled corpus."""

from __future__ import annotations

import re

import pytest

from rag.api import ingest_file
from rag.ask import NO_ANSWER, ask
from vectorstore.chroma import ChromaStore


@pytest.fixture(scope="module")
def harborview(tmp_path_factory, real_embedder):
    from tests.conftest import SAMPLE

    db = ChromaStore.open(tmp_path_factory.mktemp("harborview") / "store")
    return db, ingest_file(db, SAMPLE, real_embedder).id


def _cited(db, answer, doc_id: str, pattern: str) -> bool:
    """A sentence of the answer states the fact and its citation lies inside a chunk of the filing."""
    chunks = {c.id: c for c in db.get_chunks(doc_id)}
    for part in answer.parts:
        for s in part.sentences:
            c = chunks.get(s.citation.chunk)
            if c and c.start <= s.citation.start < s.citation.end <= c.end and re.search(pattern, s.text):
                return True
    return False


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("Who is the largest customer?", r"Cartwright Markets.{0,120}18%"),
        ("Which customers account for more than 10% of sales?", r"Cartwright Markets.{0,120}18%|Bellweather.{0,80}11%"),
        ("How dependent is Harborview on a few customers?", r"(?:ten|two) largest customers.{0,60}(?:54|29)%|Cartwright Markets.{0,120}18%"),
        ("How much did the company sell in fiscal 2025?", r"\$797\.7 million"),
        ("How many people work at Harborview?", r"3,450"),
        ("How many independent food brokers does the company use?", r"38 independent food brokers"),
    ],
)
def test_the_sample_filing_answers_questions_as_users_ask_them(harborview, real_embedder, question, fact):
    db, doc = harborview
    answer = ask(db, question, real_embedder, doc_ids=[doc])
    assert answer.answered and _cited(db, answer, doc, fact), answer.answer


@pytest.mark.parametrize("question", ["What was the company's revenue from selling aircraft engines in 2017?",
                                      "How many hotel rooms does the company own?"])
def test_the_sample_filing_declines_what_it_does_not_say(harborview, real_embedder, question):
    db, doc = harborview
    answer = ask(db, question, real_embedder, doc_ids=[doc])
    assert not answer.answered and answer.answer == NO_ANSWER


@pytest.fixture(scope="module")
def two_filings(tmp_path_factory, real_embedder, request):
    from tests.conftest import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    db = ChromaStore.open(tmp_path_factory.mktemp("corpus") / "store")
    zurn = ingest_file(db, CORPUS / "edgar-10k" / "109446_10K_1994_0000109446-94-000012.json", real_embedder).id
    walmart = ingest_file(db, CORPUS / "edgar-10k" / "104169_10K_1995_0000104169-95-000004.json", real_embedder).id
    return db, {"zurn": zurn, "walmart": walmart}


@pytest.mark.parametrize(
    ("doc", "question", "fact"),
    [
        ("zurn", "Is the company dependent on a major customer?", r"no customers? the loss of which|has a customer the loss of which"),
        ("zurn", "How many people work at Zurn?", r"2,900 employees"),
        ("walmart", "What were net sales for the year?", r"82,494"),
        ("walmart", "How many Sam's Clubs were open at year end?", r"428 Sam's Clubs"),
    ],
)
def test_corpus_filings_answer(two_filings, real_embedder, doc, question, fact):
    db, ids = two_filings
    answer = ask(db, question, real_embedder, doc_ids=[ids[doc]])
    assert answer.answered and _cited(db, answer, ids[doc], fact), answer.answer


def test_corpus_filings_decline_and_answer_together(two_filings, real_embedder):
    db, ids = two_filings
    assert not ask(db, "How much revenue came from cloud computing services?", real_embedder, doc_ids=[ids["walmart"]]).answered
    both = ask(db, "How many employees does each company have?", real_embedder)
    alone = {name: ask(db, "How many employees does each company have?", real_embedder, doc_ids=[doc]).answered for name, doc in ids.items()}
    assert {p.doc_id for p in both.parts} == {ids[n] for n, a in alone.items() if a}
