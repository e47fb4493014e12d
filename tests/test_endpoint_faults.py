"""A model endpoint that misbehaves, played by the OpenAI-compatible stub on 127.0.0.1.

Every row ends in one of four ways, within an overall deadline: retried and used; the facet falls
back to the filing's own sentences; or a one-line error. Never a hang, a traceback, a summary over
the ceiling, or a figure that is not in the evidence. The secret key appears in no output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.errors import LLMError
from rag.grounding import check_sentence
from rag.tokens import count_tokens
from tests.openai_stub import OpenAIStub, StubReply
from tests.test_llm_backend import COMPANY, PROFILE, FacetWriter, chunk_texts, floor, pools, stub_settings

ROOT = Path(__file__).resolve().parents[1]
_RAG_SCRIPT = Path(sys.executable).with_name("rag")
RAG = [str(_RAG_SCRIPT)] if _RAG_SCRIPT.is_file() else [sys.executable, "-m", "rag.cli"]
FACETS = [f.name for f in PROFILE.facets]


def summarize(responder, **overrides):
    """The LLM backend over the test pools against the stub: (sentences, reports by facet, usage, seconds, requests)."""
    from rag.llm import OpenAIChat
    from rag.mapreduce import llm_summarize

    with OpenAIStub(responder) as stub:
        settings = stub_settings(stub, **overrides)
        llm = OpenAIChat(settings, backoff=0.01)
        t0 = time.monotonic()
        pooled = pools()
        sentences, reports = llm_summarize(PROFILE, pooled, floor(pooled), COMPANY, llm, 512, settings.evidence_tokens, chunk_texts(),
                                           allowed_names=["Acme Foods, Inc.", COMPANY], deadline=settings.deadline)
        return sentences, {r.facet: r for r in reports}, llm.usage, time.monotonic() - t0, stub.requests


def sound(sentences) -> None:
    """At most 512 tokens, every facet addressed, every figure and name in the evidence."""
    text = " ".join(s.text for s in sentences)
    assert count_tokens(text) <= 512
    assert {s.facet for s in sentences} == set(FACETS)
    evidence = [t for cid in {c for s in sentences for c in s.chunk_ids} if (t := chunk_texts()(cid))]
    for s in sentences:
        assert check_sentence(s.text, evidence, ["Acme Foods, Inc.", COMPANY]).ok, s.text


def first_then_good(fault: StubReply):
    """The first request of each facet gets ``fault``, its retry a good reply."""
    seen: set[str] = set()
    writer = FacetWriter()

    def respond(request):
        key = request["messages"][1]["content"][:2000]
        if key not in seen:
            seen.add(key)
            return fault
        return writer(request)

    return respond


@pytest.mark.parametrize(
    "fault",
    [
        StubReply("Slow down", status=429, headers={"retry-after": "0.2"}),
        StubReply("boom", status=500),
        StubReply("overloaded", status=503),
        StubReply(raw=b"{this is not json"),
        StubReply(raw=b"<html><body>502 Bad Gateway</body></html>"),
        StubReply(raw=b'{"id": "x", "object": "chat.completion"}'),  # JSON, but no choices
        StubReply(reset=True),
        StubReply("too late", delay=3.0),
    ],
    ids=["429-retry-after", "500", "503", "malformed-json", "html-page", "no-choices", "reset-mid-reply", "timeout"],
)
def test_a_transient_fault_is_retried_and_the_model_still_writes(fault: StubReply) -> None:
    sentences, reports, usage, seconds, requests = summarize(first_then_good(fault), timeout=1.0)
    assert usage.retries == 5 and usage.calls == 5 and len(requests) == 10
    assert all(r.reply == "complete" and r.offered for r in reports.values())
    sound(sentences)


@pytest.mark.parametrize(
    ("fault", "reply_state"),
    [
        (StubReply(raw=b"{this is not json"), "unusable"),
        (StubReply(raw=b'{"id": "x", "object": "chat.completion"}'), "unusable"),
        (StubReply(""), "empty"),
        (StubReply("Withheld.", finish_reason="content_filter"), "filtered"),
    ],
    ids=["malformed-json", "no-choices", "empty", "content-filter"],
)
def test_an_unusable_reply_every_time_falls_back_per_facet(fault: StubReply, reply_state: str) -> None:
    sentences, reports, usage, seconds, requests = summarize(lambda request: fault, max_retries=2)
    assert {r.reply for r in reports.values()} == {reply_state}
    assert all(r.offered == 0 and r.fell_back and r.source == "embedded" for r in reports.values())
    sound(sentences)  # exactly what the embedded backend writes


@pytest.mark.parametrize(
    "fault",
    [StubReply("overloaded", status=503), StubReply(reset=True), StubReply("Slow down", status=429, headers={"retry-after": "0.1"})],
    ids=["503", "reset-mid-reply", "429"],
)
def test_a_fault_that_never_ends_is_a_one_line_error(fault: StubReply) -> None:
    started = time.monotonic()
    with pytest.raises(LLMError) as info:
        summarize(lambda request: fault, max_retries=2)
    assert "\n" not in str(info.value) and "kept failing" in str(info.value) and "3 tries" in str(info.value)
    assert time.monotonic() - started < 30


def test_the_deadline_bounds_a_summary_whose_endpoint_never_answers() -> None:
    """Every request hangs past its timeout: no call starts once the deadline has passed; all facets fall back."""
    sentences, reports, usage, seconds, requests = summarize(lambda request: StubReply("late", delay=30), timeout=1.0, deadline=3.5, max_retries=10)
    assert seconds < 3.5 + 2.0
    assert {r.reply for r in reports.values()} == {"deadline"}
    assert all(r.fell_back for r in reports.values())
    assert "deadline" in reports["financing"].reason
    sound(sentences)


def test_the_deadline_leaves_written_facets_alone() -> None:
    """The first facets answer, then the endpoint stalls: those keep the model's sentences, the rest fall back."""
    writer = FacetWriter()
    calls = []

    def respond(request):
        calls.append(1)
        return writer(request) if len(calls) <= 2 else StubReply("late", delay=30)

    sentences, reports, usage, seconds, requests = summarize(respond, timeout=1.0, deadline=4.0, max_retries=10)
    states = [reports[f].reply for f in FACETS]
    assert states[:2] == ["complete", "complete"] and set(states[2:]) == {"deadline"}
    assert seconds < 6.0
    sound(sentences)


def test_invented_figures_and_an_over_long_reply_never_reach_the_summary() -> None:
    flood = "Acme Foods sold 9,999 tons of frozen seafood for $77.7 billion in 2031 through 400 stores. " * 60
    sentences, reports, usage, seconds, requests = summarize(lambda request: StubReply(flood, finish_reason="length"))
    assert "77.7" not in " ".join(s.text for s in sentences)
    assert all(r.offered == 0 for r in reports.values())
    sound(sentences)


# -- the secret key ----------------------------------------------------------------------------
SENTINEL = "sk-SENTINEL-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, real_embedder) -> Path:
    from rag.api import ingest_file
    from vectorstore.chroma import ChromaStore, release

    store = tmp_path_factory.mktemp("secret") / "store"
    ingest_file(ChromaStore.open(store), ROOT / "samples" / "harborview_10k.txt", real_embedder)
    release(store)
    return store


@pytest.mark.parametrize("outcome", ["answers", "401", "503", "reset"])
def test_the_api_key_appears_nowhere(indexed: Path, outcome: str) -> None:
    """stdout, stderr at -vv, --json and every file of the store: no trace of OPENAI_API_KEY."""
    replies = {
        "answers": lambda request: "Harborview Provisions sells food. [1]",
        "401": lambda request: StubReply("Incorrect API key provided: " + SENTINEL[:8] + "...", status=401),
        "503": lambda request: StubReply("overloaded", status=503),
        "reset": lambda request: StubReply(reset=True),
    }
    store = indexed
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))}
    with OpenAIStub(replies[outcome]) as stub:
        env.update(OPENAI_API_KEY=SENTINEL, OPENAI_BASE_URL=stub.base_url, RAG_LLM_TIMEOUT="2")
        procs = [
            subprocess.run([*RAG, "-vv", "summarize", str(ROOT / "samples" / "harborview_10k.txt"), "--store", str(store), "--json"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=600),
        ]
        if outcome in {"answers", "401"}:  # the same client: the failing endpoints' retries need not be waited out twice
            procs.append(subprocess.run([*RAG, "-vv", "ask", "Who are the customers?", "--store", str(store), "--json"],
                                        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600))
        sent = stub.request_headers
    assert sent and all(h.get("authorization") == f"Bearer {SENTINEL}" for h in sent)  # it was used...
    for proc in procs:  # ...and never shown
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert SENTINEL not in proc.stdout and SENTINEL not in proc.stderr
        assert SENTINEL[3:20] not in proc.stdout + proc.stderr
        if proc.returncode == 0 and proc.stdout.strip().startswith("{"):
            json.loads(proc.stdout)
    if outcome == "answers":
        assert procs[0].returncode == 0
    else:
        assert procs[0].returncode != 0 and sum(line.startswith("Error:") for line in procs[0].stderr.splitlines()) == 1
    for path in store.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SENTINEL.encode() not in data and SENTINEL[3:20].encode() not in data, path
