"""rag.lc against LangChain's own standard suites (langchain-tests), plus the retriever's own contract.

The standard suites use the real embedding model and a real Chroma store holding the bundled sample
filing (ingested once per module, ~15 s). The plain tests below them use FakeEmbedder for speed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from ingest.errors import InputError
from rag.api import ingest_file
from rag.lc import FilingEmbeddings, FilingRetriever
from tests.conftest import SAMPLE, FakeEmbedder
from vectorstore.chroma import ChromaStore

QUERY = "What are the company's main risk factors?"


def _async_suite(cls: type) -> type:
    """pyproject keeps pytest-asyncio in strict mode, where the suites' unmarked `async def` tests fail
    ("async def functions are not natively supported"). The mark goes on the class, since marking the
    inherited methods would override them; it also reaches the sync tests, hence the warning filter."""
    cls = pytest.mark.asyncio(cls)
    return pytest.mark.filterwarnings("ignore:The test <Function test_.* is marked with '@pytest.mark.asyncio'")(cls)


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory, real_embedder) -> ChromaStore:
    """A store holding the bundled sample 10-K, embedded with the real model, built once per module."""
    store = ChromaStore.open(tmp_path_factory.mktemp("lc-sample-store"))
    ingest_file(store, SAMPLE, real_embedder)
    return store


# -- LangChain standard suites -----------------------------------------------------------------


@_async_suite
class TestFilingEmbeddingsUnit(EmbeddingsUnitTests):
    """Construction only; the default model is loaded lazily, so this needs no model."""

    @property
    def embeddings_class(self) -> type[FilingEmbeddings]:
        return FilingEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"embedder": FakeEmbedder()}


@_async_suite
class TestFilingEmbeddingsIntegration(EmbeddingsIntegrationTests):
    """The packaged all-MiniLM-L6-v2 model (FilingEmbeddings() with no arguments)."""

    @property
    def embeddings_class(self) -> type[FilingEmbeddings]:
        return FilingEmbeddings


@_async_suite
class TestFilingRetrieverIntegration(RetrieversIntegrationTests):
    """The suite builds ``retriever_constructor(**retriever_constructor_params)`` itself, with k=1 and k=3."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _store(cls, sample_store, real_embedder) -> None:
        cls.store = sample_store
        cls.embedder = real_embedder

    @property
    def retriever_constructor(self) -> type[FilingRetriever]:
        return FilingRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"store": self.store, "embedder": self.embedder, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


# -- the retriever's own contract --------------------------------------------------------------

_ORCHARD = [
    "Apple orchards in the valley produce cider apples, pears and plums for regional grocers every autumn season.",
    "The orchard harvest depends on frost, rainfall and pollination by rented bee colonies in early spring.",
    "Our cider press and cold storage barns keep apples fresh for nine months after the harvest ends.",
    "Orchard labor is seasonal; pickers are hired each August and trained on ladders, bins and grading apples.",
]
_SHIPPING = [
    "Freight vessels carry containers between the harbor terminal and ports along the northern shipping lanes.",
    "Fuel prices, port congestion and crew wages drive the cost of each voyage for our container fleet.",
    "The shipping company leases cranes at the terminal and pays harbor fees per container moved.",
    "Vessel maintenance happens in dry dock every winter, when freight volumes and voyage counts are lowest.",
]


def _filing(path: Path, company: str, lines: list[str]) -> Path:
    # Each line is a chunking unit (~17 words); 30 lines give several chunks of ~200 words.
    body = "\n".join(f"{lines[i % len(lines)]} Note {i}." for i in range(30))
    path.write_text(f"FORM 10-K\n\n{company}\n(Exact name of registrant as specified in its charter)\n\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_docs(tmp_path_factory) -> tuple[ChromaStore, FakeEmbedder, str, str]:
    root = tmp_path_factory.mktemp("lc-two-docs")
    store = ChromaStore.open(root / "store")
    embedder = FakeEmbedder()
    a = ingest_file(store, _filing(root / "orchard.txt", "Orchard Farms, Inc.", _ORCHARD), embedder)
    b = ingest_file(store, _filing(root / "shipping.txt", "Harbor Shipping Corp.", _SHIPPING), embedder)
    assert a.chunks >= 3 and b.chunks >= 3, "each test filing must span several chunks"
    return store, embedder, a.id, b.id


def _cosine(u: list[float], v: list[float]) -> float:
    return sum(x * y for x, y in zip(u, v))  # FakeEmbedder vectors are unit length


def test_results_come_only_from_requested_documents(two_docs):
    store, embedder, orchard, shipping = two_docs
    query = "freight vessels harbor container shipping"  # matches the other document far better
    docs = FilingRetriever(store=store, embedder=embedder, doc_ids=[orchard], k=3).invoke(query)
    assert len(docs) == 3
    assert {d.metadata["doc_id"] for d in docs} == {orchard}
    everywhere = FilingRetriever(store=store, embedder=embedder, k=3).invoke(query)
    assert {d.metadata["doc_id"] for d in everywhere} == {shipping}


def test_metadata_carries_provenance_filing_and_score(two_docs):
    store, embedder, orchard, _ = two_docs
    [doc] = FilingRetriever(store=store, embedder=embedder, doc_ids=[orchard], k=1).invoke("cider apples harvest")
    meta = doc.metadata
    assert {"doc_id", "chunk_id", "item", "start", "end", "score", "company", "source"} <= set(meta)
    chunk = {c.id: c for c in store.get_chunks(orchard)}[meta["chunk_id"]]
    assert doc.page_content == chunk.text and doc.id == chunk.id
    assert (meta["doc_id"], meta["start"], meta["end"], meta["item"]) == (orchard, chunk.start, chunk.end, chunk.item)
    assert meta["company"] == "Orchard Farms, Inc." and meta["source"].endswith("orchard.txt")
    assert 0.0 < meta["score"] <= 1.0 + 1e-6


def test_sample_filing_metadata(sample_store, real_embedder):
    docs = FilingRetriever(store=sample_store, embedder=real_embedder, k=3).invoke(QUERY)
    assert len(docs) == 3
    for d in docs:
        assert d.metadata["company"] == "Harborview Provisions, Inc."
        assert d.metadata["form"] == "10-K" and d.metadata["fiscal_year"] == "2025"
        assert str(d.metadata["item"]).startswith("Item")
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)


@pytest.mark.parametrize("k", [1, 3, 6, 1000])
def test_merge_across_documents_is_the_global_top_k(two_docs, k):
    store, embedder, orchard, shipping = two_docs
    query = "apples harvest freight vessels"  # both documents match
    docs = FilingRetriever(store=store, embedder=embedder, doc_ids=[orchard, shipping], k=k).invoke(query)

    qv = embedder.embed([query])[0]
    chunks = store.get_chunks(orchard) + store.get_chunks(shipping)
    expected = sorted((_cosine(qv, v) for v in embedder.embed([c.text for c in chunks])), reverse=True)[:k]
    scores = [d.metadata["score"] for d in docs]
    assert len(docs) == min(k, len(chunks))
    assert scores == sorted(scores, reverse=True), "best first"
    assert scores == pytest.approx(expected, abs=1e-4), "the best k of both documents, not k of each"
    if k > max(len(store.get_chunks(orchard)), len(store.get_chunks(shipping))):
        assert {d.metadata["doc_id"] for d in docs} == {orchard, shipping}


def test_invoke_k_overrides_the_field_and_bad_k_is_an_error(two_docs):
    store, embedder, _, _ = two_docs
    retriever = FilingRetriever(store=store, embedder=embedder, k=2)
    assert len(retriever.invoke("apples")) == 2
    assert len(retriever.invoke("apples", k=5)) == 5
    with pytest.raises(InputError, match="at least 1"):
        retriever.invoke("apples", k=0)
    with pytest.raises(ValueError):
        FilingRetriever(store=store, embedder=embedder, k=0)


def test_unknown_document_id_says_how_to_fix(two_docs):
    store, embedder, orchard, _ = two_docs
    retriever = FilingRetriever(store=store, embedder=embedder, doc_ids=[orchard, "no-such-doc"])
    with pytest.raises(InputError, match="no-such-doc.*rag docs"):
        retriever.invoke("apples")


def test_empty_store_returns_nothing(tmp_path, fake_embedder):
    store = ChromaStore.open(tmp_path / "empty")
    assert FilingRetriever(store=store, embedder=fake_embedder).invoke("anything") == []
    assert fake_embedder.calls == [], "no documents, no embedding"


def test_embeddings_wrap_any_embedder(fake_embedder):
    emb = FilingEmbeddings(fake_embedder)
    assert emb.embed_query("apples") == fake_embedder.embed_batch(["apples"])[0]
    assert emb.embed_documents(["apples", "pears"]) == fake_embedder.embed_batch(["apples", "pears"])
    assert emb.embed_documents([]) == []


def test_cli_start_up_does_not_import_langchain():
    code = "import sys, rag.cli, rag.api; sys.exit(sorted(m for m in sys.modules if m.startswith('langchain')) or 0)"
    subprocess.run([sys.executable, "-c", code], check=True)
