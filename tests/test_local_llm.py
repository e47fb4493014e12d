"""The LLM path with a real model: llama.cpp on this machine's cores, through `--llm local`.

Marked ``model``: it runs the small test model (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, 491 MB) and
skips, saying how to get it, when the file is absent. `bash scripts/setup` pulls it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.grounding import check_sentence
from rag.tokens import count_tokens

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "harborview_10k.txt"
_RAG_SCRIPT = Path(sys.executable).with_name("rag")
RAG = [str(_RAG_SCRIPT)] if _RAG_SCRIPT.is_file() else [sys.executable, "-m", "rag.cli"]
TEST_MODEL = "qwen2.5-coder-0.5b"

pytestmark = pytest.mark.model


def _model() -> Path:
    pytest.importorskip("xllamacpp", reason="the llama.cpp runtime is not installed: pip install -e '.[local]'")
    from rag.localmodel import ModelError, resolve_model

    try:
        return resolve_model(os.environ.get("RAG_TEST_MODEL") or TEST_MODEL)
    except ModelError:
        pytest.skip(f"the test model is not downloaded: run `.venv/bin/rag model pull {TEST_MODEL}` (491 MB)")


def test_summarize_the_sample_with_a_real_local_model(tmp_path: Path) -> None:
    model = _model()
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_LLM_MODEL", "RAG_STORE", "RAG_CHROMA_URL"}}
    proc = subprocess.run(
        [*RAG, "summarize", str(SAMPLE), "--store", str(tmp_path / "store"), "--llm", f"local:{model}", "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    text = out["summary"]
    assert out["backend"].startswith("llm:Qwen2.5 Coder 0.5B")
    assert out["tokens"] == count_tokens(text) <= 512
    assert "\n" not in text and text.endswith(".")
    # every facet addressed: its sentences, or the plain statement that the filing does not disclose it
    facets = {s["facet"] for s in out["sentences"]} | set(out["missing"])
    assert facets == {"revenue", "customers", "products", "distribution", "financing"}
    assert [f["facet"] for f in out["llm"]["facets"]] == ["revenue", "customers", "products", "distribution", "financing"]
    assert all(f["prompt_tokens"] > 0 for f in out["llm"]["facets"])
    assert out["llm_usage"]["calls"] == 5
    # no figure or name that is not in the filing
    filing = SAMPLE.read_text()
    for sentence in out["sentences"]:
        check = check_sentence(sentence["text"], [filing], ["Harborview Provisions"])
        assert check.ok, (sentence["text"], check.reason())
    # progress on stderr, one line per call; nothing of llama.cpp's own log
    assert sum(1 for line in proc.stderr.splitlines() if "reply tokens" in line) == 5
    assert "llama" not in proc.stderr.lower().replace("llama.cpp", "")


def test_ask_a_list_question_with_a_real_local_model(tmp_path: Path) -> None:
    """`rag ask --llm local` names the lenders of the fixture filing (four banks), each with a citation."""
    model = _model()
    lenders = ROOT / "tests" / "data" / "lenders_10k.txt"
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_LLM_MODEL", "RAG_STORE", "RAG_CHROMA_URL"}}
    store = str(tmp_path / "store")
    subprocess.run([*RAG, "ingest", str(lenders), "--store", store], check=True, capture_output=True, env=env, cwd=ROOT, timeout=600)
    proc = subprocess.run(
        [*RAG, "ask", "Which banks provide the company's loans and credit facilities?", "--store", store, "--llm", f"local:{model}", "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["answered"] and out["backend"] == "llm"
    banks = ["Pinecrest Commercial Bank", "Bank of Lakeshore", "Meridian Trust Bank", "Cedar Valley Savings Bank"]
    sentences = [s for d in out["documents"] for s in d["sentences"]]
    named = {b for b in banks if any(b in s["text"] for s in sentences)}
    assert len(named) >= 3, out["answer"]
    assert len(out["citations"]) == len(sentences) and all(c["chunk"].startswith(c["doc"]) for c in out["citations"])
    filing = lenders.read_text()
    for s in sentences:  # nothing the filing does not say
        assert check_sentence(s["text"], [filing], ["Northgate Cell Technologies"]).ok, s["text"]


def test_the_local_server_stopping_mid_summary_is_started_again(tmp_path: Path, real_embedder) -> None:
    """The llama.cpp server goes away after the first facet's call: the next call starts it again."""
    model = _model()
    from queries.profile import load_profile
    from rag.api import ingest_file, summarize_document
    from rag.llm import OpenAIChat
    from rag.localmodel import LocalServer
    from rag.llm import llm_from_env
    from rag.settings import Settings
    from vectorstore.chroma import ChromaStore

    db = ChromaStore.open(tmp_path / "store")
    record = db.get_document(ingest_file(db, SAMPLE, real_embedder).id)
    settings = Settings(store=tmp_path / "store", llm=llm_from_env(f"local:{model}"))
    llm = OpenAIChat(settings.llm, backoff=0.1)
    lines = []

    def progress(line: str) -> None:
        lines.append(line)
        if len(lines) == 1:
            for server in list(LocalServer._servers.values()):
                server.close()

    try:
        summary = summarize_document(db, record, load_profile(None), settings, lambda: real_embedder, llm=llm, progress=progress)
        assert any(s.running for s in LocalServer._servers.values())  # a new server answered the last four
    finally:
        LocalServer.close_all()  # later tests expect no server left running
    assert len(lines) == 5 and llm.usage.retries >= 1 and llm.usage.calls == 5
    assert summary.tokens <= 512 and not summary.llm_report["fallback"]
