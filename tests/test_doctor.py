"""A damaged store: one-line errors, `rag doctor` says what is wrong, `--repair` brings it back.

The damage is made the way it happens: the vector-index folders of a store copied without them (and
the write-ahead log already purged, so Chroma cannot rebuild them itself), chunks lost from one
document, a truncated SQLite file, a repair killed between its two renames.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from vectorstore.errors import StoreError

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
_RAG_SCRIPT = Path(sys.executable).with_name("rag")
RAG = [str(_RAG_SCRIPT)] if _RAG_SCRIPT.is_file() else [sys.executable, "-m", "rag.cli"]
QUESTION = "Which banks provide the company's loans and credit facilities?"


def rag(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_STORE", "RAG_CHROMA_URL"}}
    return subprocess.run([*RAG, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory, real_embedder) -> Path:
    """Two documents: the lenders fixture and the bundled sample (copied, so a test may remove one)."""
    from rag.api import ingest_file
    from vectorstore.chroma import ChromaStore, release

    base = tmp_path_factory.mktemp("doctor")
    files = base / "files"
    files.mkdir()
    for src in (DATA / "lenders_10k.txt", ROOT / "samples" / "harborview_10k.txt"):
        shutil.copy(src, files / src.name)
    store = base / "clean"
    db = ChromaStore.open(store)
    for f in sorted(files.iterdir()):
        ingest_file(db, f, real_embedder)
    del db
    release(store)
    return store


def snapshot(store: Path) -> dict:
    """Ids, counts and vectors of every document: what a repair must give back."""
    from vectorstore.chroma import ChromaStore, release

    release(store)
    db = ChromaStore.open(store, create=False)
    out = {}
    for r in db.list_documents():
        chunks = db.get_chunks(r.id)
        out[r.id] = {"chunks": [c.id for c in chunks], "texts": [c.text for c in chunks], "vectors": db.get_embeddings([c.id for c in chunks]),
                     "source": r.source}
    release(store)
    return out


def copy_of(store: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "store"
    shutil.copytree(store, dest)
    return dest


def lose_vector_index(store: Path) -> None:
    """The segment folders gone, and the write-ahead log purged as Chroma does once the index is on disk."""
    for d in store.iterdir():
        if d.is_dir():
            shutil.rmtree(d)
    con = sqlite3.connect(store / "chroma.sqlite3")
    con.execute("DELETE FROM embeddings_queue")
    con.commit()
    con.close()


def cosine(a, b) -> float:
    return sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_missing_vector_index_one_line_error_then_repair(clean_store: Path, tmp_path: Path) -> None:
    before = snapshot(clean_store)
    store = copy_of(clean_store, tmp_path)
    lose_vector_index(store)

    err = one_line_error(rag("ask", QUESTION, "--store", str(store)))
    assert "is damaged or unreadable" in err and f"rag doctor --store {store} --repair" in err
    one_line_error(rag("summarize", "--all", "--store", str(store)))

    checked = rag("doctor", "--store", str(store), "--json")
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    report = json.loads(checked.stdout)
    assert not report["healthy"] and {d["state"] for d in report["documents"]} == {"vectors unreadable"}
    assert sorted(d["id"] for d in report["documents"]) == sorted(before)

    fixed = rag("doctor", "--store", str(store), "--repair", "--json")
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    out = json.loads(fixed.stdout)
    assert out["repaired"] and out["lost"] == [] and {d["outcome"] for d in out["documents"]} == {"re-embedded"}
    assert Path(out["backup"]).is_dir() and not Path(str(store) + ".repairing").exists()

    after = snapshot(store)
    assert sorted(after) == sorted(before)
    for doc_id, b in before.items():
        a = after[doc_id]
        assert a["chunks"] == b["chunks"] and a["texts"] == b["texts"]
        assert min(cosine(x, y) for x, y in zip(a["vectors"], b["vectors"])) > 0.999  # the same model, the same vectors
    assert rag("doctor", "--store", str(store)).returncode == 0
    answer = rag("ask", QUESTION, "--store", str(store), "--json")
    assert answer.returncode == 0 and "Pinecrest Commercial Bank" in json.loads(answer.stdout)["answer"]


def test_lost_chunks_are_reingested_from_an_unchanged_source_or_reported_lost(clean_store: Path, tmp_path: Path, real_embedder) -> None:
    from rag import doctor
    from vectorstore.chroma import ChromaStore, release

    before = snapshot(clean_store)
    store = copy_of(clean_store, tmp_path)
    db = ChromaStore.open(store, create=False)
    lenders, sample = sorted(before, key=lambda d: "lenders" not in d)
    # one chunk of each document gone (a partial restore); only the lenders file is still where it was
    for doc_id in (lenders, sample):
        db._chunks.delete(ids=[before[doc_id]["chunks"][1]])
    del db
    release(store)
    moved = Path(before[sample]["source"])
    hidden = moved.with_suffix(".moved")
    moved.rename(hidden)
    try:
        report = doctor.check(store)
        assert {d.id: d.state for d in report.documents} == {lenders: "chunks missing", sample: "chunks missing"}
        fixed = doctor.repair(store, lambda: real_embedder)
    finally:
        hidden.rename(moved)
    assert {d.id: d.outcome for d in fixed.documents} == {lenders: "re-ingested", sample: "lost"}
    assert fixed.lost == [f"{sample} ({before[sample]['source']})"]
    after = snapshot(store)
    assert list(after) == [lenders] and after[lenders]["chunks"] == before[lenders]["chunks"]
    assert doctor.check(store).healthy


def test_truncated_sqlite_gives_one_line_errors_and_is_left_as_it_is(clean_store: Path, tmp_path: Path) -> None:
    store = copy_of(clean_store, tmp_path)
    db_file = store / "chroma.sqlite3"
    with open(db_file, "r+b") as f:
        f.truncate(db_file.stat().st_size // 4)
    damaged = db_file.read_bytes()
    err = one_line_error(rag("docs", "--store", str(store)))
    assert "damaged or unreadable" in err and "rag doctor" in err
    checked = rag("doctor", "--store", str(store))
    assert checked.returncode == 1 and "problem: SQLite" in checked.stdout
    repair = rag("doctor", "--store", str(store), "--repair")
    assert "Traceback" not in repair.stderr
    if repair.returncode == 0:  # SQLite still told which files were indexed: they were ingested again
        assert "repaired" in repair.stdout and rag("doctor", "--store", str(store)).returncode == 0
    else:
        assert "index your files again" in one_line_error(repair)
        assert db_file.read_bytes() == damaged  # nothing written to it


def test_a_repair_killed_between_its_renames_is_finished(tmp_path: Path, clean_store: Path, real_embedder) -> None:
    from rag import doctor

    store = tmp_path / "store"
    rebuilt = tmp_path / "store.repairing"
    shutil.copytree(clean_store, rebuilt)
    (rebuilt / "REPAIRED").write_text(str(store))
    report = doctor.repair(store, lambda: real_embedder)
    assert store.is_dir() and not rebuilt.exists() and not (store / "REPAIRED").exists()
    assert report.healthy and len(report.documents) == 2


def test_healthy_store_and_orphans(clean_store: Path, tmp_path: Path) -> None:
    from rag import doctor
    from vectorstore.chroma import ChromaStore, release

    store = copy_of(clean_store, tmp_path)
    db = ChromaStore.open(store, create=False)
    doc = db.list_documents()[0]
    db._docs.delete(ids=[doc.id])  # the record gone, its chunks left: an ingest killed before its last write
    del db
    release(store)
    report = doctor.check(store)
    assert report.healthy and report.orphan_chunks == doc.chunks
    proc = rag("doctor", "--store", str(store))
    assert proc.returncode == 0 and "healthy" in proc.stdout and "interrupted ingest" in proc.stdout
    assert doctor.repair(store, lambda: None).repaired is False  # nothing to do: nothing touched


def test_no_store_is_a_one_line_error(tmp_path: Path) -> None:
    err = one_line_error(rag("doctor", "--store", str(tmp_path / "nowhere")))
    assert "No Chroma store" in err
    with pytest.raises(StoreError):
        from vectorstore.chroma import ChromaStore

        store = tmp_path / "x"
        store.mkdir()
        (store / "chroma.sqlite3").write_bytes(b"not a database" * 100)
        ChromaStore.open(store, create=False).list_documents()


def _as_unprivileged() -> list[str]:
    """A prefix that makes the command respect file permissions: root ignores them, so it drops the capabilities."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("running as root without setpriv: a read-only directory cannot be made here")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def test_a_read_only_store_still_answers_and_refuses_writes_in_one_line(clean_store: Path, tmp_path: Path) -> None:
    store = copy_of(clean_store, tmp_path)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    for p in [store, *store.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_STORE", "RAG_CHROMA_URL"}}
    pre = _as_unprivileged()
    try:
        def run(*args):
            return subprocess.run([*pre, *RAG, *args, "--store", str(store)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)

        docs = run("docs", "--json")
        assert docs.returncode == 0, docs.stderr[-2000:]
        assert len(json.loads(docs.stdout)) == 2
        answer = run("ask", QUESTION, "--json")
        assert answer.returncode == 0 and "Pinecrest Commercial Bank" in json.loads(answer.stdout)["answer"]
        doc_id = json.loads(docs.stdout)[0]["id"]
        summary = run("summarize", doc_id)
        assert summary.returncode == 0 and summary.stdout.strip()
        assert "read-only" in summary.stderr  # said once, on stderr
        err = one_line_error(run("ingest", str(DATA / "lenders_10k.txt")))
        assert "not writable" in err
        assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before  # nothing written to it
    finally:
        for p in [store, *store.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)


def test_a_full_disk_during_ingest_keeps_nothing_half_written(tmp_path: Path, real_embedder, monkeypatch) -> None:
    """The write error a full disk gives, injected into the second batch of chunks."""
    import chromadb.errors

    from rag.api import ingest_file
    from vectorstore.chroma import ChromaStore

    from vectorstore.chroma import StoreOptions

    db = ChromaStore.open(tmp_path / "store", options=StoreOptions(batch=4))
    real = db._chunks._collection.add
    calls = []

    def add(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise chromadb.errors.InternalError("error returned from database: (code: 13) database or disk is full")
        return real(*args, **kwargs)

    monkeypatch.setattr(db._chunks._collection, "add", add)
    with pytest.raises(StoreError) as info:
        ingest_file(db, DATA / "lenders_10k.txt", real_embedder)
    assert "is full" in str(info.value) and "run the command again" in str(info.value) and "\n" not in str(info.value)
    assert db.list_documents() == [] and db.chunk_counts() == {}  # the first batch was swept
    monkeypatch.undo()
    assert ingest_file(db, DATA / "lenders_10k.txt", real_embedder).status == "added"


def test_unreadable_sentences_are_found_and_made_again_by_a_repair(clean_store: Path, tmp_path: Path, monkeypatch, real_embedder) -> None:
    """A store whose chunks read but whose sentences do not (two writers once damaged them): doctor names the
    document, and a repair makes its sentences again from the chunks."""
    from rag import doctor
    from vectorstore.chroma import ChromaStore, release

    store = copy_of(clean_store, tmp_path)
    db = ChromaStore.open(store, create=False)
    victim = db.list_documents()[0].id
    wanted = db.get_sentences(victim)[0]
    del db
    release(store)
    real = ChromaStore.get_sentences

    def damaged(self, doc_id, extra=False):
        if doc_id == victim and self.location == str(store):
            raise StoreError(f"The store at {store} is damaged or unreadable (Error executing plan: Internal error: Error finding id)")
        return real(self, doc_id, extra=extra)

    monkeypatch.setattr(ChromaStore, "get_sentences", damaged)
    report = doctor.check(store)
    assert not report.healthy and [d.state for d in report.documents if d.id == victim] == ["sentences unreadable"]
    assert all(d.state == "ok" for d in report.documents if d.id != victim)
    repaired = doctor.repair(store, lambda: real_embedder)
    assert repaired.repaired and [d.outcome for d in repaired.documents if d.id == victim] == ["re-embedded"]
    monkeypatch.setattr(ChromaStore, "get_sentences", real)
    release(store)
    assert [u.text for u in ChromaStore.open(store, create=False).get_sentences(victim)[0]] == [u.text for u in wanted]
