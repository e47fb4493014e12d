"""List questions: "Which banks provide the company's loans?" names every lender the filing names.

The fixture filing (tests/data/lenders_10k.txt, fictional) names four lending banks, two of them only in
the debt note. A small model tends to stop at the first, or to decline; the answer must still name all
four, each with a citation whose span holds the name, with either backend.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.ask import NO_ANSWER, ask, list_names
from tests.openai_stub import OpenAIStub

DATA = Path(__file__).parent / "data"
BANKS = ["Pinecrest Commercial Bank", "Bank of Lakeshore", "Meridian Trust Bank", "Cedar Valley Savings Bank"]
QUESTION = "Which banks provide the company's loans and credit facilities?"


@pytest.fixture(scope="module")
def lenders(tmp_path_factory, real_embedder):
    from rag.api import ingest_file
    from vectorstore.chroma import ChromaStore

    store = tmp_path_factory.mktemp("lenders") / "store"
    db = ChromaStore.open(store)
    ingest_file(db, DATA / "lenders_10k.txt", real_embedder)
    return db


def _stub_llm(stub):
    from rag.llm import OpenAIChat
    from rag.settings import LLMSettings

    return OpenAIChat(LLMSettings(model="stub-model", base_url=stub.base_url, api_key="k", max_retries=0), backoff=0.01)


def _cited_names(answer) -> set[str]:
    """The banks the answer names whose own sentence's citation span, in the filing, holds the name."""
    text = (DATA / "lenders_10k.txt").read_text()
    named = set()
    for part in answer.parts:
        for s in part.sentences:
            for bank in BANKS:
                if bank in s.text:
                    assert s.citation.chunk.startswith(part.doc_id)
                    named.add(bank)
    assert named <= {b for b in BANKS if b in answer.answer}
    assert all(b in text for b in named)
    return named


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        (QUESTION, "The equipment loan from Bank of Lakeshore had a balance of $14.3 million.", ["Bank of Lakeshore"]),
        (QUESTION, "On September 2, 2025 the Company entered into a loan agreement with Meridian Trust Bank, N.A. for $8.0 million.",
         ["Meridian Trust Bank, N.A."]),
        ("Who are the lenders?", "The Term Loan was amended with Citibank Texas, N.A., formerly First American Bank, SSB.",
         ["Citibank Texas, N.A.", "First American Bank"]),
        # not a list question, or not about lending: no names to complete
        ("How large is the credit line?", "The line with Pinecrest Commercial Bank provides up to $40.0 million.", []),
        (QUESTION, "Customers include Allied Irish Banks, Deutsche Bank and TD Bank.", []),
        (QUESTION, "Note 8. Bank loans were $53.8 million.", []),
    ],
)
def test_list_names(question, text, expected):
    assert list_names(question, text) == expected


def test_embedded_answer_names_every_lender(lenders, real_embedder):
    answer = ask(lenders, QUESTION, real_embedder)
    assert answer.answered and answer.backend == "extractive"
    assert _cited_names(answer) == set(BANKS)


def test_model_naming_one_lender_is_completed_from_the_filing(lenders, real_embedder):
    def reply(request):
        prompt = request["messages"][1]["content"]
        n = next(m.group(1) for m in re.finditer(r"^\[(\d+)\] (.*)$", prompt, re.M) if "Pinecrest" in m.group(2))
        return f"Pinecrest Commercial Bank provides the revolving credit line [{n}]."

    with OpenAIStub(reply) as stub:
        answer = ask(lenders, QUESTION, real_embedder, llm=_stub_llm(stub))
        prompt = stub.requests[0]["messages"][1]["content"]
    assert "name every one the lines name" in prompt  # a list question is told so
    assert answer.answered and answer.backend == "llm" and answer.fallback is None
    assert answer.answer.startswith("Pinecrest Commercial Bank provides the revolving credit line. [1]")
    assert _cited_names(answer) == set(BANKS)
    assert len(answer.citations) == len(re.findall(r"\[\d+\]", answer.answer))


def test_a_list_followed_by_the_refusal_line_is_an_answer(lenders, real_embedder):
    """Seen from a 1.5B model: four correct sentences, then "The indexed filings do not answer this question." """
    def reply(request):
        prompt = request["messages"][1]["content"]
        lines = {m.group(1): m.group(2) for m in re.finditer(r"^\[(\d+)\] (.*)$", prompt, re.M)}
        said = [f"{line} [{n}]" for n, line in lines.items() if any(b in line for b in BANKS)]
        return "\n".join(said + [NO_ANSWER])

    with OpenAIStub(reply) as stub:
        answer = ask(lenders, QUESTION, real_embedder, llm=_stub_llm(stub))
    assert answer.answered and NO_ANSWER not in answer.answer
    assert _cited_names(answer) == set(BANKS)


def test_a_declining_model_gives_way_to_the_filings_sentences(lenders, real_embedder):
    with OpenAIStub(lambda request: NO_ANSWER) as stub:
        answer = ask(lenders, QUESTION, real_embedder, llm=_stub_llm(stub))
        off_topic = ask(lenders, "What is the boiling point of mercury in kelvin?", real_embedder, llm=_stub_llm(stub))
    assert answer.answered and answer.fallback == "the model declined"
    assert answer.as_dict()["fallback"] == "the model declined" and answer.backend == "llm"
    assert _cited_names(answer) == set(BANKS)
    # weak evidence is still declined
    assert not off_topic.answered and off_topic.answer == NO_ANSWER


def test_invented_lender_is_dropped_and_the_list_completed(lenders, real_embedder):
    with OpenAIStub(lambda request: "The company borrows from Granite Mountain Bank [1].") as stub:
        answer = ask(lenders, QUESTION, real_embedder, llm=_stub_llm(stub))
    assert "Granite Mountain" not in answer.answer and [d["text"] for d in answer.dropped] == ["The company borrows from Granite Mountain Bank."]
    assert answer.answered and _cited_names(answer) == set(BANKS)
    assert json.dumps(answer.as_dict())  # serializable, as --json prints it
