"""One contract for the store, run against a directory on disk and against `chroma run`."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vectorstore.errors import StoreError
from ingest.types import Chunk, SentenceUnit
from rag.api import ingest_file
from vectorstore.chroma import ChromaStore, DocumentRecord


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        exe = shutil.which("chroma")
    assert exe, "the chroma CLI comes with the chromadb dependency"
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([str(exe), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            ChromaStore.open(url=url)
            break
        except StoreError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("chroma run did not start within 60 s")
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(params=["persistent", pytest.param("server", marks=pytest.mark.server)])
def store(request, tmp_path):
    if request.param == "persistent":
        return ChromaStore.open(tmp_path / "store")
    url = request.getfixturevalue("chroma_server")
    # the server is shared by the module's tests: each gets collections of its own
    return ChromaStore.open(url=url, prefix=f"t{abs(hash(request.node.name)) % 10**8}")


def _chunks(doc_id: str, n: int) -> list[Chunk]:
    return [Chunk(id=f"{doc_id}#{i:05d}", doc_id=doc_id, text=f"chunk {i} of {doc_id}", index=i, start=i * 10, end=i * 10 + 9,
                  item="Item 7" if i else None, metadata={"company": "Acme"}) for i in range(n)]


def test_add_query_list_delete(store):
    vecs = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    store.add_document(DocumentRecord("doc-a", "/a.txt", 3, "sha-a", {"company": "Acme"}), _chunks("doc-a", 3), vecs)
    store.add_document(DocumentRecord("doc-b", "/b.txt", 2, "sha-b", {}), _chunks("doc-b", 2), vecs[:2])
    assert [r.id for r in store.list_documents()] == ["doc-b", "doc-a"] or {r.id for r in store.list_documents()} == {"doc-a", "doc-b"}
    hits = store.query([[0.0, 1.0, 0.0]], "doc-a", k=2)[0]
    assert hits[0].chunk.id == "doc-a#00001" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert all(h.chunk.doc_id == "doc-a" for h in hits)  # the metadata filter keeps to one document
    assert hits[0].chunk.item == "Item 7" and hits[0].chunk.metadata["company"] == "Acme"
    assert [c.index for c in store.get_chunks("doc-a")] == [0, 1, 2]
    assert store.get_document("doc-a").chunks == 3
    assert store.delete_document("doc-a") == 3
    assert store.get_document("doc-a") is None and store.count_chunks("doc-a") == 0
    assert store.count_chunks("doc-b") == 2


def test_a_failed_write_leaves_nothing(store):
    chunks = _chunks("doc-c", 3)
    bad = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0]]  # wrong dimension: Chroma refuses the batch
    with pytest.raises(Exception):
        store.add_document(DocumentRecord("doc-c", "/c.txt", 3, "sha-c", {}), chunks, bad)
    assert store.get_document("doc-c") is None and store.count_chunks("doc-c") == 0


def test_orphans_of_an_interrupted_ingest_are_swept(store):
    # chunks written without their record, as a killed process would leave them
    store._chunks.add(ids=["doc-d#00000"], embeddings=[[1.0, 0.0, 0.0]], documents=["x"],
                      metadatas=[{"doc_id": "doc-d", "index": 0, "start": 0, "end": 1}])
    assert store.get_document("doc-d") is None
    store.add_document(DocumentRecord("doc-d", "/d.txt", 2, "sha-d", {}), _chunks("doc-d", 2), [[1.0, 0.0, 0.0]] * 2)
    assert store.count_chunks("doc-d") == 2


def test_two_writers_of_one_document_take_turns(tmp_path):
    """A second writer of a document must not take the first one's chunks, written before its record, for an
    interrupted ingest's and sweep them: it waits, then finds the document written (CI saw the 4-ingest race)."""
    import threading

    from vectorstore.chroma import StoreOptions

    first_wrote, second_started = threading.Event(), threading.Event()

    def pause(point: str) -> None:
        if point == "after-chunk-batch" and not first_wrote.is_set():
            first_wrote.set()
            assert second_started.wait(30)
            time.sleep(0.5)  # the second writer's sweep would run now

    root = tmp_path / "store"
    one = ChromaStore.open(root, options=StoreOptions(batch=2, on_write=pause))
    two = ChromaStore.open(root, options=StoreOptions(batch=2))
    record, chunks, vecs = DocumentRecord("doc-r", "/r.txt", 6, "sha-r", {}), _chunks("doc-r", 6), [[1.0, 0.0, 0.0]] * 6
    results = {}
    writer = threading.Thread(target=lambda: results.setdefault("one", one.add_document(record, chunks, vecs)))
    writer.start()
    assert first_wrote.wait(30)
    second_started.set()
    results["two"] = two.add_document(record, chunks, vecs)
    writer.join(30)
    assert sorted(results.values()) == [0, 6]  # one wrote it; the other found it written
    assert [c.index for c in two.get_chunks("doc-r")] == list(range(6)) and two.get_document("doc-r").chunks == 6


def _units(doc_id: str, n: int) -> list[SentenceUnit]:
    return [SentenceUnit(f"{doc_id}#s{i:05d}", doc_id, f"Sentence {i} of {doc_id} states a fact.", f"{doc_id}#{i:05d}",
                         "Item 7" if i else None, i * 10, i * 10 + 5, "table" if i == 2 else "sentence",
                         (f"{doc_id}#00000",) if i == 2 else (), i == 1) for i in range(n)]


def test_sentences_are_written_with_their_document_and_removed_with_it(store):
    vecs = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    record = DocumentRecord("doc-s", "/s.txt", 3, "sha-s", {})
    store.add_document(record, _chunks("doc-s", 3), vecs, _units("doc-s", 3), vecs)
    assert store.get_document("doc-s").sentences == 3
    units, vectors = store.get_sentences("doc-s")
    assert units == _units("doc-s", 3)  # text, chunk, item, span, kind, the chunks a table rests on, whether it follows
    assert vectors.shape == (3, 3) and vectors[1].tolist() == pytest.approx([0.0, 1.0, 0.0])
    [(best, score)] = store.query_sentences([0.0, 0.0, 1.0], ["doc-s"], k=1)
    assert best.id == "doc-s#s00002" and score == pytest.approx(1.0, abs=1e-4)
    assert [u.id for u, _ in store.query_sentences([0.0, 1.0, 0.0], None, k=3, item="Item 7")] == ["doc-s#s00001", "doc-s#s00002"]
    store.delete_document("doc-s")
    assert store.count_sentences("doc-s") == 0 and store.get_sentences("doc-s")[0] == []


def test_sentences_of_an_interrupted_ingest_are_swept(store):
    store._sentences.add(ids=["doc-o#s00000"], embeddings=[[1.0, 0.0, 0.0]], documents=["x"],
                         metadatas=[{"doc_id": "doc-o", "chunk": "doc-o#00000", "start": 0, "end": 1, "kind": "sentence"}])
    store.add_document(DocumentRecord("doc-o", "/o.txt", 1, "sha-o", {}), _chunks("doc-o", 1), [[1.0, 0.0, 0.0]],
                       _units("doc-o", 2), [[0.0, 1.0, 0.0]] * 2)
    assert store.count_sentences("doc-o") == 2 and store.get_document("doc-o").sentences == 2


def test_a_document_indexed_without_sentences_gets_them_later(store):
    store.add_document(DocumentRecord("doc-l", "/l.txt", 2, "sha-l", {}), _chunks("doc-l", 2), [[1.0, 0.0, 0.0]] * 2)
    record = store.get_document("doc-l")
    assert record.sentences == 0
    legacy = DocumentRecord(record.id, record.source, record.chunks, record.content_sha,
                            {k: v for k, v in record.metadata.items() if k != "sentences"})
    assert legacy.sentences is None  # what an older version of the store records
    store.add_sentences(legacy, _units("doc-l", 2), [[0.0, 1.0, 0.0]] * 2)
    assert store.get_document("doc-l").sentences == 2 and len(store.get_sentences("doc-l")[0]) == 2


def test_query_embedding_cache(store):
    store.cache_embeddings("model-x", ["revenue by segment"], [[0.5, 0.5, 0.0]])
    assert store.cached_embeddings("model-x", ["revenue by segment", "other"]) == {"revenue by segment": [0.5, 0.5, 0.0]}
    assert store.cached_embeddings("model-y", ["revenue by segment"]) == {}


def test_query_vectors_are_cached_per_embedder(store, fake_embedder):
    """The cache is keyed by the embedder in use: another embedder never gets the first one's vectors."""
    from rag.api import query_vectors

    class Other(type(fake_embedder)):
        name = "other-model"

        def embed_batch(self, texts):
            self.calls.append(list(texts))
            return [[1.0] + [0.0] * 63 for _ in texts]

    import numpy as np

    other = Other()
    queries = ["revenue by segment", "largest customers"]
    first = query_vectors(store, lambda: fake_embedder, queries)
    assert np.allclose(first, fake_embedder.embed_batch(queries), atol=1e-6)
    calls = len(fake_embedder.calls)
    assert np.allclose(query_vectors(store, lambda: fake_embedder, queries), first)
    assert len(fake_embedder.calls) == calls  # from the cache
    assert np.allclose(query_vectors(store, lambda: other, queries), [[1.0] + [0.0] * 63] * 2)
    assert other.calls == [queries]  # embedded by the other model, not read from the first one's entries
    cached = store.cached_embeddings("fake-bow-64", queries)
    assert np.allclose([cached[q] for q in queries], first)


def test_ingest_twice_adds_nothing_and_a_changed_file_replaces(store, tmp_path, fake_embedder):
    path = tmp_path / "filing.txt"
    path.write_text("Item 1. Business\nAcme sells anvils to hungry desert coyotes. " * 40)
    first = ingest_file(store, path, fake_embedder)
    assert first.status == "added" and first.chunks_added > 0
    sentences = store.count_sentences(first.id)
    assert sentences == store.get_document(first.id).sentences > 0
    again = ingest_file(store, path, fake_embedder)
    assert (again.status, again.chunks_added, again.id) == ("unchanged", 0, first.id)
    assert store.count_sentences(first.id) == sentences  # nothing written twice
    path.write_text("Item 1. Business\nAcme now sells rockets to roadrunners. " * 40)
    changed = ingest_file(store, path, fake_embedder)
    assert changed.status == "replaced" and changed.id != first.id
    assert store.get_document(first.id) is None and store.count_chunks(first.id) == 0 and store.count_sentences(first.id) == 0
    assert [r.id for r in store.list_documents()] == [changed.id]


def test_not_a_store(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(StoreError, match="not a Chroma store"):
        ChromaStore.open(tmp_path)
    file_path = tmp_path / "notes.txt"
    with pytest.raises(StoreError, match="is a file"):
        ChromaStore.open(file_path)


def test_open_without_create_leaves_disk_alone(tmp_path):
    assert ChromaStore.open(tmp_path / "new", create=False) is None
    assert not (tmp_path / "new").exists()
