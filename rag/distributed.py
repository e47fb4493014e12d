"""Corpus work on Ray: files and documents spread over Ray workers, one Chroma server for all of them.

``rag ingest PATHS... --ray [ADDRESS] --chroma-url URL`` (``ingest_files``) and ``rag summarize --all --ray
[ADDRESS] --chroma-url URL --out DIR`` (``rag.api.summarize_many`` with a ``RayExecutor``) use this module.
The driver (the command) plans and reports; workers do the work, and hand back the same typed results as
a run in one process (``rag.api.IngestResult``, ``rag.api.SummaryResult``):

- **Actors that load once.** Each worker is a Ray actor that loads the embedding model (and, for
  summaries with ``--llm local``, starts its llama.cpp server) once, opens one client to the Chroma
  server, then takes one file or document at a time from an ``ActorPool``.
- **Files travel as bytes.** The driver reads each file and hands its bytes to a worker, which
  parses them under the file's own name; the source recorded is the driver's path. Workers need no
  shared file system, only the Chroma server.
- **Idempotent.** Document ids come from the bytes. The driver skips every file whose document is
  already recorded, and a document is recorded only after all its chunks are written
  (``ChromaStore.add_document``), so after a worker or the driver dies the same command finishes the
  rest and adds nothing twice. A worker that dies is restarted by Ray and its file retried
  (``max_restarts``, ``max_task_retries``). Summaries go to ``--out DIR``, one file per document,
  written whole (a temporary file renamed); a re-run skips the documents whose file is there.
- **A disk store is refused.** A ``--store`` directory is on one machine; a distributed run needs a
  server every worker can reach.

``ray`` is an optional extra (``pip install -e '.[ray]'``) and is imported only here, and only when
``--ray`` is given.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.errors import InputError, RagError
from ingest.files import read_regular_file
from rag.api import (
    IngestResult,
    SummaryResult,
    default_embedder,
    document_id,
    ingest_file,
    label,
    open_store,
    summarize_document,
)
from rag.settings import EmbeddingSettings, Settings, StoreSettings
from vectorstore.errors import StoreError

log = logging.getLogger("rag")

RAY_EXTRA = "pip install -e '.[ray]'"
# A worker that dies is restarted and its task retried this many times before the run stops.
RESTARTS = 3


def require_server(chroma_url: str | None) -> str:
    if not chroma_url:
        raise InputError("A distributed run (--ray) writes to a Chroma server that every worker can reach: start one with "
                         "`chroma run --path DIR --host 0.0.0.0` and pass --chroma-url http://HOST:8000 "
                         "(a --store directory lives on one machine).")
    return chroma_url


def connect(address: str | None = None, num_cpus: int | None = None):
    """Ray, initialized: ``address`` None or "local" starts a cluster on this machine, else joins one."""
    try:
        import ray
    except ImportError as exc:
        raise InputError(f"--ray needs Ray, which is not installed; install the extra with `.venv/bin/{RAY_EXTRA}` "
                         "(scripts/setup does).") from exc
    if ray.is_initialized():
        return ray
    kwargs: dict = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False,
                    "configure_logging": False}
    local = address in (None, "", "local")
    try:
        if local:
            ray.init(num_cpus=num_cpus, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "on this machine" if local else f"at {address}"
        raise InputError(f"Cannot start or reach a Ray cluster {where} ({str(exc).splitlines()[0][:160]}); "
                         "start one with `ray start --head`, or pass --ray without an address to run on this machine.") from exc
    return ray


def _workers(ray, cpus_per_worker: float, jobs: int, limit: int | None = None) -> int:
    cpus = float(ray.cluster_resources().get("CPU", 1))
    return max(1, min(jobs, limit or jobs, int(cpus // cpus_per_worker) or 1))


def _progress(total: int, initial: int, desc: str, unit: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr)


def _reraise(exc: BaseException, what: str) -> None:
    """A worker that died past its restarts is one line; anything else (a bug of ours) stays a traceback."""
    from ray.exceptions import RayActorError

    if isinstance(exc, RayActorError):
        raise RagError(f"A Ray worker died {RESTARTS + 1} times on {what} ({type(exc).__name__}); the documents finished so far "
                       "are kept: run the same command again to do the rest.") from None
    raise exc


def _on_actors(address: str | None, worker: type, args: tuple, cpus: float, items: list, call: Callable, *, workers: int | None,
               total: int, done: int, desc: str, unit: str, progress: bool, what: str) -> Iterator:
    """Run ``call(actor, item)`` for every item on a pool of ``worker`` actors (restarted when they die),
    yielding each result as it finishes, under one progress bar. A result marked ``fatal`` (the store
    failed) stops the run with its one-line error."""
    ray = connect(address)
    from ray.util import ActorPool

    n = _workers(ray, cpus, len(items), workers)
    actor = ray.remote(num_cpus=cpus, max_restarts=RESTARTS, max_task_retries=RESTARTS)(worker)
    pool = ActorPool([actor.remote(*args) for _ in range(n)])
    log.info("%s: %d on %d Ray workers (%s CPU each); %d already done", desc, len(items), n, cpus, done)
    bar = _progress(total, done, desc, unit, progress)
    try:
        for result in pool.map_unordered(call, items):
            if result.fatal:
                raise StoreError(result.error)
            if bar is not None:
                bar.update(1)
                if isinstance(result, IngestResult):
                    bar.set_postfix_str(f"{result.status} {Path(result.source).name}"[:40])
            yield result
    except Exception as exc:
        _reraise(exc, what)
    finally:
        if bar is not None:
            bar.close()


# --------------------------------------------------------------------------- ingest


def _worker_settings(chroma_url: str, threads: int, settings: Settings | None = None) -> Settings:
    """A worker's settings: the driver's, with the store and the embedder as this worker's environment and CPUs say."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = settings or Settings.from_env(chroma_url=chroma_url)
    return settings.model_copy(update={"store": StoreSettings.from_env(url=chroma_url),
                                       "embedding": EmbeddingSettings.from_env(threads=max(1, threads))})


class IngestWorker:
    """One Ray actor: the embedding model and a Chroma client, loaded once, then any number of files."""

    def __init__(self, chroma_url: str, threads: int):
        self.settings = _worker_settings(chroma_url, threads)
        self.store = open_store(self.settings)
        self.embedder = default_embedder(self.settings.embedding)

    def pid(self) -> int:
        return os.getpid()

    def ingest(self, source: str, data: bytes | InputError) -> IngestResult:
        """Index one file's bytes under its driver-side name (an error from the driver's read is reported as it is)."""
        from ingest.loaders import load_document

        if isinstance(data, InputError):
            return IngestResult.failed(source, str(data))
        local = Path(source).name
        try:
            with tempfile.TemporaryDirectory(prefix="rag-ray-") as tmp:
                path = Path(tmp) / local  # the loader picks its format by the suffix
                path.write_bytes(data)
                doc = load_document(path, self.settings.files.max_bytes)
            doc = replace(doc, source=source)
            return ingest_file(self.store, source, self.embedder, doc=doc, data=data)
        except RagError as exc:  # a bad file is reported and the run goes on; a store failure stops it
            return IngestResult.failed(source, str(exc).replace(str(path), source), fatal=isinstance(exc, StoreError))


@dataclass(frozen=True)
class Planned:
    source: str
    doc_id: str


def plan_ingest(store, files: Sequence[Path], limit: int | None = None) -> tuple[list[Planned], list[IngestResult]]:
    """Files still to index, and results for those already recorded (an unchanged file adds nothing)."""
    todo: list[Planned] = []
    done: list[IngestResult] = []
    for path in files:
        resolved = path.expanduser().resolve()
        try:
            data = read_regular_file(path.expanduser(), limit)  # only regular files, bounded as it reads
        except InputError as exc:
            done.append(IngestResult.failed(str(path), str(exc)))
            continue
        doc_id = document_id(resolved, data)
        record = store.get_document(doc_id)
        if record is not None:
            done.append(IngestResult(doc_id, record.source, 0, "unchanged", record.chunks))
        else:
            todo.append(Planned(str(resolved), doc_id))
    return todo, done


def _read_or_error(source: str, limit: int | None) -> bytes | InputError:
    """The file's bytes, or the one-line error of reading them (a file replaced or grown since it was planned)."""
    try:
        return read_regular_file(source, limit)
    except InputError as exc:
        return exc


def ingest_files(files: Sequence[Path], chroma_url: str | None, address: str | None = None, *, cpus_per_worker: float = 1,
                 workers: int | None = None, progress: bool = True, on_result: Callable[[IngestResult], None] | None = None,
                 settings: Settings | None = None) -> list[IngestResult]:
    """Index ``files`` into the Chroma server at ``chroma_url`` on Ray workers. One result per file, in the order given."""
    settings = settings or Settings.from_env(chroma_url=require_server(chroma_url))
    store = open_store(settings.model_copy(update={"store": settings.store.model_copy(update={"url": require_server(chroma_url)})}))
    limit = settings.files.max_bytes
    todo, results = plan_ingest(store, files, limit)
    for r in results:
        if on_result:
            on_result(r)
    if not todo:
        return results
    # the bytes are read again here, one file at a time, so that the driver never holds the corpus in memory
    submit = lambda a, item: a.ingest.remote(item.source, _read_or_error(item.source, limit))  # noqa: E731
    for result in _on_actors(address, IngestWorker, (chroma_url, int(cpus_per_worker) or 1), cpus_per_worker, todo, submit,
                             workers=workers, total=len(files), done=len(results), desc="Ingesting", unit="file",
                             progress=progress, what="a file"):
        results.append(result)
        if on_result:
            on_result(result)
    order = {str(Path(f).expanduser().resolve()): i for i, f in enumerate(files)}
    return sorted(results, key=lambda r: order.get(r.source, len(order)))


# --------------------------------------------------------------------------- summaries


class SummaryWorker:
    """One Ray actor: a Chroma client, the embedding model and the configured model, loaded once."""

    def __init__(self, chroma_url: str, settings: Settings, profile_path: str | None, max_tokens: int, threads: int):
        from queries.profile import load_profile

        self.settings = _worker_settings(chroma_url, threads, settings)
        self.store = open_store(self.settings)
        self.profile = load_profile(Path(profile_path) if profile_path else None)
        self.max_tokens = max_tokens

    def summarize(self, doc_id: str) -> SummaryResult:
        record = self.store.get_document(doc_id)
        if record is None:
            return SummaryResult(doc_id, doc_id, error=f"document {doc_id} is no longer in the store; run `rag docs` to list ids.")
        embedder = lambda: default_embedder(self.settings.embedding)  # noqa: E731
        try:
            summary = summarize_document(self.store, record, self.profile, self.settings, embedder, max_tokens=self.max_tokens)
        except RagError as exc:
            return SummaryResult(doc_id, label(record), error=str(exc), fatal=isinstance(exc, StoreError))
        return SummaryResult(doc_id, label(record), summary.as_dict())


@dataclass
class RayExecutor:
    """Summaries on Ray workers (``rag.api.summarize_many``): each loads the models once and writes nothing but
    its result; the driver writes each summary to ``--out`` as it comes, so a re-run skips the finished ones."""

    address: str | None
    chroma_url: str | None
    out: Path | None
    cpus_per_worker: float | None = None
    workers: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        require_server(self.chroma_url)
        if self.out is None:
            raise InputError("A distributed summary run writes one file per document, so that a re-run skips finished ones: "
                             "pass --out DIR.")

    def summarize(self, records, settings, profile, profile_path, max_tokens, progress=None) -> Iterator[SummaryResult]:
        if not records:
            return
        cpus = self.cpus_per_worker
        if cpus is None:  # a local model wants the cores of its machine; the embedded backend needs one
            cpus = 2 if settings.llm is not None and settings.llm.is_local else 1
        args = (self.chroma_url, settings, str(profile_path) if profile_path else None, max_tokens, int(cpus) or 1)
        yield from _on_actors(self.address, SummaryWorker, args, cpus, list(records), lambda a, r: a.summarize.remote(r.id),
                              workers=self.workers, total=len(records), done=0, desc="Summarizing", unit="doc",
                              progress=self.progress, what="a document")


def shutdown() -> None:
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            ray.shutdown()

