"""Corpus work on Ray (`--ray`) against Chroma's server: the result equals a single-process ingest.

Ray runs locally (``ray.init(num_cpus=2)``) and `chroma run` on 127.0.0.1. The batch is the 8
shortest filings of ../shared/corpus (skipped, saying so, when the corpus is absent). A worker that
SIGKILLs itself mid-write is restarted and its file retried; a driver killed mid-run is finished by
the same command; either way the store then equals one that was never interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vectorstore.chroma import ChromaStore

ray = pytest.importorskip("ray", reason="the Ray extra is not installed: pip install -e '.[ray]'")

pytestmark = [pytest.mark.server, pytest.mark.ray]
ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "edgar-10k"
DATA = Path(__file__).parent / "data"
BATCH = 8  # filings per run: enough that a driver killed after its first file leaves others unfinished


def shortest_filings(n: int) -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent: the batch of filings comes from ../shared/corpus")
    return sorted(CORPUS.glob("*.json"), key=lambda p: (p.stat().st_size, p.name))[:n]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray cluster of 2 CPUs. Its workers die at a failpoint only when a test removes the flag file."""
    flag = tmp_path_factory.mktemp("failpoint") / "fired"
    flag.touch()  # disarmed
    env = {"RAG_FAILPOINT": "after-chunk-batch", "RAG_FAILPOINT_ONCE": str(flag), "RAG_STORE_BATCH": "16", "HF_HUB_OFFLINE": "1"}
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env}, log_to_driver=False)
    yield flag
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, real_embedder):
    """The batch of filings ingested in this process into a disk store: what every distributed run must equal."""
    from rag.api import ingest_file

    store = ChromaStore.open(tmp_path_factory.mktemp("reference") / "store")
    for path in shortest_filings(BATCH):
        ingest_file(store, path, real_embedder)
    return snapshot(store)


def snapshot(store: ChromaStore) -> dict:
    """Documents with their chunk counts, every chunk's id, text and metadata, and the vectors."""
    docs = {r.id: (r.source, r.chunks) for r in store.list_documents()}
    chunks = {d: [(c.id, c.text, c.item, c.index) for c in store.get_chunks(d)] for d in docs}
    ids = [c[0] for cs in chunks.values() for c in cs]
    vectors = dict(zip(ids, np.asarray(store.get_embeddings(ids), dtype=np.float32)))
    return {"docs": docs, "chunks": chunks, "vectors": vectors, "total": sum(store.chunk_counts().values())}


def assert_equal(got: dict, want: dict) -> None:
    assert got["docs"] == want["docs"]
    assert got["chunks"] == want["chunks"]
    assert got["total"] == want["total"] == sum(n for _, n in want["docs"].values())  # no orphan chunk
    cosines = [float(np.dot(got["vectors"][i], v)) for i, v in want["vectors"].items()]
    assert min(cosines) > 0.9999  # one thread per worker here, two in the reference: the same vectors to rounding


def test_a_batch_on_ray_equals_a_single_process_ingest_and_a_rerun_adds_nothing(cluster, server, reference) -> None:
    from rag.distributed import ingest_files

    files = shortest_filings(BATCH)
    seen: list[dict] = []
    results = ingest_files(files, server.url, progress=False, on_result=seen.append)
    assert [r.status for r in results] == ["added"] * BATCH
    assert [r.source for r in results] == [str(f.resolve()) for f in files]  # reported in the order given
    assert len(seen) == BATCH
    assert_equal(snapshot(ChromaStore.open(url=server.url)), reference)

    again = ingest_files(files, server.url, progress=False)
    assert [r.status for r in again] == ["unchanged"] * BATCH
    assert sum(r.chunks_added for r in again) == 0
    assert_equal(snapshot(ChromaStore.open(url=server.url)), reference)


def test_a_worker_killed_mid_write_is_restarted_and_the_result_is_whole(cluster, server, reference) -> None:
    from rag.distributed import ingest_files

    cluster.unlink()  # armed: the first worker past a chunk batch SIGKILLs itself
    files = shortest_filings(BATCH)
    results = ingest_files(files, server.url, progress=False)
    assert cluster.exists(), "no worker died: the failpoint did not fire"
    assert [r.status for r in results] == ["added"] * BATCH
    assert_equal(snapshot(ChromaStore.open(url=server.url)), reference)


def test_a_killed_driver_is_finished_by_the_same_command(cluster, server, reference) -> None:
    files = [str(f) for f in shortest_filings(BATCH)]
    address = ray.get_runtime_context().gcs_address
    cmd = [sys.executable, "-m", "rag.cli", "ingest", *files, "--ray", address, "--chroma-url", server.url]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}  # each line reaches the pipe as printed
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    first = proc.stdout.readline()  # one file indexed, the others in flight
    assert "\tadded\t" in first
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = ChromaStore.open(url=server.url)
    done = {r.id for r in partial.list_documents()}
    assert 1 <= len(done) < BATCH
    time.sleep(1)  # the killed job's actors are torn down by Ray
    rerun = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    statuses = [r["status"] for r in json.loads(rerun.stdout)]
    assert statuses.count("unchanged") >= len(done) and statuses.count("added") == BATCH - statuses.count("unchanged")
    assert_equal(snapshot(ChromaStore.open(url=server.url)), reference)


def test_summaries_on_ray_are_written_once_per_document_and_skipped_on_a_rerun(cluster, server, tmp_path: Path) -> None:
    from queries.profile import load_profile
    from rag.api import summarize_many
    from rag.distributed import RayExecutor, ingest_files
    from rag.settings import Settings

    ingest_files([DATA / "lenders_10k.txt", ROOT / "samples" / "harborview_10k.txt"], server.url, progress=False)
    store = ChromaStore.open(url=server.url)
    records = store.list_documents()
    settings = Settings.for_store(url=server.url)
    profile = load_profile(None)
    out = tmp_path / "summaries"
    executor = RayExecutor(None, server.url, out, progress=False)
    first = summarize_many(records, settings, profile, 512, executor, out=out)
    assert sorted(r.document for r in first) == sorted(r.id for r in records)
    files = sorted(out.glob("*.json"))
    assert [f.stem for f in files] == sorted(r.id for r in records)
    for f in files:
        data = json.loads(f.read_text())
        assert 0 < data["tokens"] <= 512 and data["summary"]
    stamps = {f: f.stat().st_mtime_ns for f in files}
    again = summarize_many(records, settings, profile, 512, executor, out=out)
    assert {r.document: r.data["summary"] for r in again} == {r.document: r.data["summary"] for r in first}
    assert {f: f.stat().st_mtime_ns for f in files} == stamps  # nothing recomputed
    assert not list(out.glob(".*"))  # no temporary file left


def test_distributed_runs_refuse_a_disk_store_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(DATA / "lenders_10k.txt"), "--ray", "--store", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "--chroma-url" in errors[0]
    assert not (tmp_path / "s").exists()  # nothing written
