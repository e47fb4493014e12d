"""Corpus-wide questions beyond AskSettings.read_whole documents: one nearest-sentence query ranks the documents, the
best are then read whole, as each would be alone. Latency and recall at 1,000 filings: bench/bench_corpus_ask.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag.ask as ask_module
from rag.api import ingest_file
from rag.settings import AskSettings
from vectorstore.chroma import ChromaStore

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
QUESTION = "Which banks provide the company's loans and credit facilities?"


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory, real_embedder):
    store = ChromaStore.open(tmp_path_factory.mktemp("corpus") / "store")
    for path in (DATA / "lenders_10k.txt", ROOT / "samples" / "harborview_10k.txt"):
        ingest_file(store, path, real_embedder)
    return store


def _spy(monkeypatch, store: ChromaStore) -> list:
    calls: list = []
    original = ChromaStore.query_sentences

    def query_sentences(self, embedding, doc_ids, k, item=None):
        calls.append(None if doc_ids is None else sorted(doc_ids))
        return original(self, embedding, doc_ids, k, item)

    monkeypatch.setattr(ChromaStore, "query_sentences", query_sentences)
    return calls


def test_the_corpus_path_answers_as_the_per_document_path_does(monkeypatch, corpus_store, real_embedder) -> None:
    per_document = ask_module.ask(corpus_store, QUESTION, real_embedder)
    calls = _spy(monkeypatch, corpus_store)
    corpus = ask_module.ask(corpus_store, QUESTION, real_embedder, options=AskSettings(read_whole=1))  # two documents are "very many"
    assert calls == [None]  # every document selected: one query with no filter at all
    assert corpus.answered and per_document.answered
    banks = ("Pinecrest Commercial Bank", "Bank of Lakeshore", "Meridian Trust Bank", "Cedar Valley Savings Bank")
    named = [b for b in banks if b in corpus.answer]
    assert len(named) >= 3, corpus.answer  # the best document is read whole, so its lenders are all there
    assert [b for b in banks if b in per_document.answer] == named


def test_a_selection_is_one_filtered_query(monkeypatch, corpus_store, real_embedder) -> None:
    calls = _spy(monkeypatch, corpus_store)
    ids = [r.id for r in corpus_store.list_documents()]
    answer = ask_module.ask(corpus_store, QUESTION, real_embedder, doc_ids=ids[:1], options=AskSettings(read_whole=0))
    assert calls == [ids[:1]]
    assert answer.answered and {c["doc"] for c in answer.citations} == {ids[0]}
