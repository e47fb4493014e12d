"""Uploads to ingest, one at a time, with progress a page can poll.

An upload is streamed to disk under the size limit the loaders apply to any file
(``FileSettings.max_bytes``, ``RAG_MAX_FILE_MB``), kept under ``<uploads>/<sha256[:10]>/<name>`` (so the
document's source stays readable, and the same bytes give the same document id), then indexed by
``rag.api.ingest_file`` as ``rag ingest`` does: the file is loaded and checked before the store is
touched, and a document's record is written only after all its chunks. A failed upload leaves
the store and the uploads folder as they were, and its job carries the one-line reason.

No web library is imported here.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ingest.embed import Embedder
from ingest.errors import InputError, RagError

log = logging.getLogger("rag")

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_name(name: str) -> str:
    """The upload's file name without any directory part or odd characters (its stem makes the document id)."""
    base = re.split(r"[\\/]", name or "")[-1].strip()
    base = _UNSAFE.sub("_", base).strip(" .")[:120]
    if not base:
        raise InputError("The upload has no file name; choose a filing file (.txt, .md, .html, .htm, .json).")
    return base


def too_large(name: str, size: int, limit: int) -> InputError:
    return InputError(f"{name} is {size / 2**20:,.1f} MB, over the {limit / 2**20:,.0f} MB limit for one filing; "
                      f"split it, or start `rag serve` with RAG_MAX_FILE_MB raised.")


@dataclass
class Job:
    id: str
    name: str
    state: str = "queued"  # queued, reading, embedding, writing, done, error
    done: int = 0
    total: int = 0
    error: str | None = None
    result: dict | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "state": self.state, "done": self.done, "total": self.total,
                "error": self.error, "result": self.result}


class ProgressEmbedder(Embedder):
    """The real embedder, fed in slices so a job can count the chunks embedded so far.

    Each text's vector depends on that text alone (the ONNX embedder picks its model by the text's own
    length), so slicing does not change a vector."""

    def __init__(self, inner: Embedder, job: Job, step: int = 32):
        self.inner, self.job, self.step = inner, job, step
        self.name, self.max_tokens = inner.name, inner.max_tokens

    def embed_batch(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_batch(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        counter = getattr(self.inner, "count_tokens_batch", None)
        return counter(texts) if counter else [self.inner.count_tokens(t) for t in texts]

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False, desc: str = "Embedding") -> list[list[float]]:
        self.job.state, self.job.total, self.job.done = "embedding", len(texts), 0
        out: list[list[float]] = []
        for i in range(0, len(texts), self.step):
            out.extend(self.inner.embed(texts[i:i + self.step], batch_size=batch_size))
            self.job.done = len(out)
        self.job.state = "writing"
        return out


@dataclass
class Uploads:
    """Where uploads are kept, the jobs that index them, and the one thread that runs those jobs."""

    folder: Path
    store_factory: object  # () -> ChromaStore
    embedder_factory: object  # () -> Embedder
    limit: int | None = None  # the largest file read, in bytes (FileSettings.max_bytes)
    jobs: dict[str, Job] = field(default_factory=dict)
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest"))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, name: str, chunks, limit: int) -> Path:
        """Stream an upload's bytes (an iterable of byte strings) to a private temporary file under ``limit``."""
        name = safe_name(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".upload-", dir=self.folder)) / name
        size = 0
        try:
            with open(tmp, "wb") as f:
                for piece in chunks:
                    size += len(piece)
                    if size > limit:
                        raise too_large(name, size, limit)
                    f.write(piece)
        except BaseException:
            shutil.rmtree(tmp.parent, ignore_errors=True)
            raise
        if size == 0:
            shutil.rmtree(tmp.parent, ignore_errors=True)
            raise InputError(f"{name} is empty; choose a filing with text in it.")
        return tmp

    def submit(self, tmp: Path) -> Job:
        job = Job(uuid.uuid4().hex[:12], tmp.name)
        with self._lock:
            self.jobs[job.id] = job
            for old in [j for j in self.jobs.values() if j.state in ("done", "error")][:-50]:
                self.jobs.pop(old.id, None)
        self._pool.submit(self._run, job, tmp)
        return job

    def _run(self, job: Job, tmp: Path) -> None:
        from ingest.loaders import load_document
        from rag.api import ingest_file

        data = tmp.read_bytes()
        final_dir = self.folder / hashlib.sha256(data).hexdigest()[:10]
        final = final_dir / tmp.name
        created = not final.exists()
        error = None
        try:
            job.state = "reading"
            if created:
                final_dir.mkdir(parents=True, exist_ok=True)
                tmp.replace(final)
            doc = load_document(final, self.limit)  # a bad file fails here, before the store is touched
            result = ingest_file(self.store_factory(), final, ProgressEmbedder(self.embedder_factory(), job), doc=doc, limit=self.limit)
        except RagError as exc:
            error = str(exc).replace(str(final_dir) + "/", "")
        except Exception as exc:  # not the user's fault: say so in one line, keep the details in the log
            log.exception("ingest of %s failed", tmp.name)
            error = f"Indexing {tmp.name} failed ({type(exc).__name__}: {exc}); nothing was kept. See the server's log."
        finally:
            shutil.rmtree(tmp.parent, ignore_errors=True)
        if error is not None:
            if created:
                shutil.rmtree(final_dir, ignore_errors=True)
            job.error, job.state = " ".join(error.split()), "error"  # the page learns of it once nothing is left behind
            return
        job.result, job.state = result.as_dict(), "done"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
