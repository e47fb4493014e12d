"""Chroma's own server (`chroma run`) stopped or restarted under a question or an ingest.

A restart is waited out (retries with backoff, writes retried as upserts of the same ids); a server
that stays down is a one-line error within a bounded time; the re-run completes, and the store then
equals an ingest that was never interrupted.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vectorstore.errors import StoreError
from tests.chroma_server import Server
from vectorstore.chroma import ChromaStore

pytestmark = [pytest.mark.server, pytest.mark.faults]
DATA = Path(__file__).parent / "data"


def _restart_later(server: Server, after: float) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(after), server.start()), daemon=True)
    t.start()
    return t


def test_a_question_waits_out_a_server_restart(server: Server, real_embedder) -> None:
    from rag.api import ingest_file
    from rag.ask import ask

    db = ChromaStore.open(url=server.url)
    ingest_file(db, DATA / "lenders_10k.txt", real_embedder)
    server.kill()
    restart = _restart_later(server, 1.5)
    answer = ask(db, "Which banks provide the company's loans and credit facilities?", real_embedder)
    restart.join()
    assert answer.answered and "Pinecrest Commercial Bank" in answer.answer


def test_a_server_that_stays_down_is_a_one_line_error(server: Server, real_embedder, monkeypatch) -> None:
    from rag.ask import ask
    from vectorstore import chroma

    db = ChromaStore.open(url=server.url)
    server.kill()
    monkeypatch.setattr(chroma, "SERVER_BACKOFF", 0.1)
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        ask(db, "Who are the customers?", real_embedder)
    assert "Lost the Chroma server" in str(info.value) and "\n" not in str(info.value)
    assert time.monotonic() - started < 20
    # the CLI: one line, no traceback
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "Who?", "--chroma-url", server.url], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("Error:")]


def test_an_ingest_survives_a_restart_and_equals_a_clean_one(server: Server, tmp_path: Path, real_embedder, monkeypatch) -> None:
    from rag.api import ingest_file
    from vectorstore import chroma

    clean = ChromaStore.open(tmp_path / "clean")
    ingest_file(clean, DATA / "lenders_10k.txt", real_embedder)
    want = [c.id for c in clean.get_chunks(clean.list_documents()[0].id)]

    db = ChromaStore.open(url=server.url)
    # the server dies just before the chunks are written, and comes back 1.5 s later
    real_add = chroma._Guarded.__getattr__

    def dying(self, name):
        if name == "add" and not getattr(dying, "done", False):
            dying.done = True
            server.kill()
            _restart_later(server, 1.5)
        return real_add(self, name)

    monkeypatch.setattr(chroma._Guarded, "__getattr__", dying)
    result = ingest_file(db, DATA / "lenders_10k.txt", real_embedder)
    monkeypatch.undo()
    assert result.status == "added"
    got = ChromaStore.open(url=server.url)
    record = got.list_documents()[0]
    assert [c.id for c in got.get_chunks(record.id)] == want and got.chunk_counts() == {record.id: len(want)}
    # and again: nothing added
    assert ingest_file(got, DATA / "lenders_10k.txt", real_embedder).status == "unchanged"
