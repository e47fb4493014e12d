"""Many documents in one index: batch ingest, listing, removal, questions per document, summaries of all."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ingest.errors import InputError
from rag.ask import NO_ANSWER, ask

RAG = [sys.executable, "-m", "rag.cli"]

ACME = """Item 1. Business
Acme Foods, Inc. makes frozen meals sold under the Harbor Kitchen and Tidewater Table brands.
Our largest customer, Cartwright Markets, accounted for 18% of net sales in 2025.
We sell through a direct sales force of 40 people and 12 independent food brokers.
Item 7. Management's Discussion and Analysis
Net sales were $120.5 million in 2025, up 6.1% from 2024.
We have a $50.0 million revolving credit facility with Keystone Bank that matures in 2029.
"""
ZENITH = """Item 1. Business
Zenith Rail Corp. operates freight railcars leased to chemical and grain shippers.
Our ten largest lessees accounted for 41% of leasing revenue in 2025.
Item 7. Management's Discussion and Analysis
Leasing revenue was $310.2 million in 2025, up 3.4%.
We fund our fleet with a commercial paper program of up to $500 million and 4.25% senior notes due 2030.
"""


def run(*args, store, stdin=None, check=True):
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    proc = subprocess.run(RAG + list(args) + ["--store", str(store)], capture_output=True, text=True, env=env, input=stdin, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("filings")
    (d / "acme.txt").write_text(ACME)
    (d / "zenith.txt").write_text(ZENITH)
    (d / "broken.txt").write_bytes(b"\x00\x01binary" * 50)
    return d


@pytest.fixture(scope="module")
def index(corpus_dir, tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    proc = run("ingest", str(corpus_dir / "*.txt"), "--json", store=store, check=False)
    return store, proc


def test_batch_ingest_skips_a_bad_file_and_indexes_the_rest(index):
    store, proc = index
    assert proc.returncode == 1  # something was skipped
    rows = json.loads(proc.stdout)
    by_status = {r["status"] for r in rows}
    assert by_status == {"added", "error"}
    assert [r for r in rows if r["status"] == "error"][0]["source"].endswith("broken.txt")
    assert "1 of 3 files skipped; 2 indexed." in proc.stderr
    docs = json.loads(run("docs", "--json", store=store).stdout)
    assert sorted(d["company"] for d in docs if "company" in d) == [] or len(docs) == 2
    assert all(d["items"] == ["Item 1", "Item 7"] for d in docs)


def test_second_batch_adds_nothing(index, corpus_dir):
    store, _ = index
    rows = json.loads(run("ingest", str(corpus_dir / "acme.txt"), str(corpus_dir / "zenith.txt"), "--json", store=store).stdout)
    assert [r["chunks_added"] for r in rows] == [0, 0] and {r["status"] for r in rows} == {"unchanged"}


def test_questions_are_answered_per_document_with_citations(index, real_embedder):
    from vectorstore.chroma import ChromaStore

    store, _ = index
    db = ChromaStore.open(store)
    answer = ask(db, "Which companies use commercial paper?", real_embedder)
    assert answer.answered and len(answer.parts) == 1 and "commercial paper" in answer.answer
    assert answer.parts[0].label.startswith("zenith") or "Zenith" in answer.answer
    cites = answer.citations
    assert cites and all({"doc", "chunk", "item", "start", "end"} <= set(c) for c in cites)
    chunk = {c.id: c for c in db.get_chunks(cites[0]["doc"])}[cites[0]["chunk"]]
    assert chunk.item == cites[0]["item"] == "Item 7"
    # the cited span is exactly the sentence, inside the chunk
    assert chunk.start <= cites[0]["start"] < cites[0]["end"] <= chunk.end

    who = ask(db, "Who is the largest customer?", real_embedder, company="acme")
    assert who.answered and "Cartwright Markets" in who.answer and {c["doc"] for c in who.citations} == {who.parts[0].doc_id}


def test_weak_evidence_says_so(index, real_embedder):
    from vectorstore.chroma import ChromaStore

    store, _ = index
    answer = ask(ChromaStore.open(store), "What is the boiling point of mercury in kelvin?", real_embedder)
    assert not answer.answered and answer.answer == NO_ANSWER and answer.citations == []


def test_filters_and_bad_filters(index, real_embedder):
    from vectorstore.chroma import ChromaStore

    db = ChromaStore.open(index[0])
    only7 = ask(db, "What is the revolving credit facility?", real_embedder, company="acme", item="Item 7")
    assert only7.answered and all(c["item"] == "Item 7" for c in only7.citations)
    with pytest.raises(InputError, match="No indexed document matches"):
        ask(db, "Revenue?", real_embedder, company="no such company")
    with pytest.raises(InputError, match="No document with id"):
        ask(db, "Revenue?", real_embedder, doc_ids=["nope"])


def test_ask_cli_json_and_chat(index):
    store, _ = index
    out = json.loads(run("ask", "How large is the credit facility?", "--company", "acme", "--json", store=store).stdout)
    assert out["answered"] and "$50.0 million" in out["answer"]
    assert out["citations"] and {"doc", "chunk"} <= set(out["citations"][0])
    chat = run("chat", "--company", "acme", store=store, stdin="Who is the largest customer?\nHow large is the credit facility?\nexit\n")
    assert "Cartwright Markets" in chat.stdout and "$50.0 million" in chat.stdout


def test_llm_answer_is_grounded_and_cited(index, real_embedder):
    """Against an OpenAI-compatible server on 127.0.0.1: cited claims kept, an unsupported one dropped."""
    from rag.llm import OpenAIChat
    from rag.settings import LLMSettings
    from tests.openai_stub import OpenAIStub
    from vectorstore.chroma import ChromaStore

    db = ChromaStore.open(index[0])
    def reply(request):  # cite the line that says it, as a faithful model would
        import re as _re

        prompt = request["messages"][1]["content"]
        n = [m.group(1) for m in _re.finditer(r"^\[(\d+)\] (.*)$", prompt, _re.M) if "commercial paper" in m.group(2)][0]
        return f"Zenith funds its fleet with a commercial paper program of up to $500 million [{n}]. It also issued $9 billion of bonds [{n}]."

    with OpenAIStub(reply) as stub:
        llm = OpenAIChat(LLMSettings(model="stub-model", base_url=stub.base_url, api_key="k", max_retries=0), backoff=0.01)
        answer = ask(db, "How does Zenith fund its fleet?", real_embedder, company="zenith", llm=llm, history=[("Earlier?", "Earlier answer.")])
        prompt = stub.requests[0]["messages"][1]["content"]
    assert answer.answered and answer.backend == "llm"
    assert answer.answer == "Zenith funds its fleet with a commercial paper program of up to $500 million. [1]"
    assert [d["text"] for d in answer.dropped] == ["It also issued $9 billion of bonds."]
    assert "<filing>" in prompt and "commercial paper program" in prompt and "Earlier question: Earlier?" in prompt
    assert answer.citations[0]["chunk"].startswith(answer.parts[0].doc_id)


@pytest.mark.parametrize("style", ["markers-after-the-period", "uncited"])
def test_llm_answer_keeps_a_sentence_however_it_cites(index, real_embedder, style):
    """A 1.5B model wrote "Keystone Harbor Bank, N.A. provides ... facilities. [1], [2]": the answer was ",, [1]"."""
    from rag.llm import OpenAIChat
    from rag.settings import LLMSettings
    from tests.openai_stub import OpenAIStub
    from vectorstore.chroma import ChromaStore

    db = ChromaStore.open(index[0])
    claim = "Zenith funds its fleet with a commercial paper program of up to $500 million."
    def reply(request):  # "[n], [1]": the line that holds it, and one more, both after the period
        import re as _re

        prompt = request["messages"][1]["content"]
        n = [m.group(1) for m in _re.finditer(r"^\[(\d+)\] (.*)$", prompt, _re.M) if "commercial paper" in m.group(2)][0]
        return f"{claim} [{n}], [1]" if style == "markers-after-the-period" else claim

    with OpenAIStub(reply) as stub:
        llm = OpenAIChat(LLMSettings(model="stub-model", base_url=stub.base_url, api_key="k", max_retries=0), backoff=0.01)
        answer = ask(db, "How does Zenith fund its fleet?", real_embedder, company="zenith", llm=llm)
    assert answer.answered and answer.answer == f"{claim} [1]"
    assert answer.dropped == []


def test_a_company_named_in_the_question_picks_its_filings(index, real_embedder):
    from vectorstore.chroma import ChromaStore

    db = ChromaStore.open(index[0])
    answer = ask(db, "How large is Acme's revolving credit facility?", real_embedder)
    assert answer.answered and [p.doc_id.split("-")[0] for p in answer.parts] == ["acme"]  # Zenith's filing is not asked
    assert "$50.0 million" in answer.answer
    # the Python API takes items as the CLI does
    from rag import Index

    idx = Index(store=index[0])
    short = idx.ask("What is the revolving credit facility?", company="acme", item="7")
    assert short.answered and all(c["item"] == "Item 7" for c in short.citations)


def test_summarize_all_writes_json_lines_and_rm_removes(index):
    """Last in the module: it removes a document the other tests use."""
    store, _ = index
    lines = run("summarize", "--all", "--json", store=store).stdout.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 2 and all(r["tokens"] <= 512 for r in rows)
    assert {r["document"] for r in rows} == {d["id"] for d in json.loads(run("docs", "--json", store=store).stdout)}
    gone = rows[0]["document"]
    assert "removed" in run("rm", gone, store=store).stdout
    assert gone not in {d["id"] for d in json.loads(run("docs", "--json", store=store).stdout)}
