"""Tests of the OpenAI stub server, driven through the real ``openai`` client."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Iterator

import openai
import pytest

try:
    from openai_stub import OpenAIStub, StubReply
except ImportError:  # tests/ imported as a package
    from tests.openai_stub import OpenAIStub, StubReply

MESSAGES = [
    {"role": "system", "content": "You summarize SEC filings."},
    {"role": "user", "content": "Summarize Item 7 of the 10-K."},
]


def _stub_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("OpenAIStub-")]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    """A running stub; afterwards checks that its thread and port are released."""
    before = set(threading.enumerate())
    with OpenAIStub() as running:
        port = running.port
        yield running
    assert not _stub_threads()
    assert set(threading.enumerate()) <= before
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "port still accepting"


def _client(stub: OpenAIStub, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=stub.base_url, api_key="test-key", max_retries=0, **kwargs)


@pytest.fixture
def client(stub: OpenAIStub) -> Iterator[openai.OpenAI]:
    """Real openai client pointed at the stub, no retries."""
    with _client(stub) as c:
        yield c


def _ask(client: openai.OpenAI, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="stub-model", messages=MESSAGES, **kwargs)


def test_base_url_shape(stub: OpenAIStub) -> None:
    assert stub.base_url == f"http://127.0.0.1:{stub.port}/v1"
    assert stub.port > 0


def test_completion_round_trip(client: openai.OpenAI) -> None:
    resp = _ask(client)
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Stub reply to: Summarize Item 7 of the 10-K."
    assert choice.finish_reason == "stop"
    assert resp.object == "chat.completion"
    assert resp.model == "stub-model"
    assert resp.usage is not None
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.usage.prompt_tokens > 0


def test_custom_responder_sees_request() -> None:
    seen: list[dict[str, Any]] = []

    def responder(request: dict[str, Any]) -> str:
        seen.append(request)
        return f"{len(request['messages'])} messages"

    with OpenAIStub(responder) as stub, _client(stub) as client:
        assert _ask(client).choices[0].message.content == "2 messages"
        stub.script(StubReply("scripted first"))
        assert _ask(client).choices[0].message.content == "scripted first"
        assert _ask(client).choices[0].message.content == "2 messages"
    assert len(seen) == 2  # the scripted reply bypassed the responder


def test_requests_are_recorded(stub: OpenAIStub, client: openai.OpenAI) -> None:
    _ask(client, temperature=0)
    assert len(stub.requests) == 1
    body = stub.requests[0]
    assert body["model"] == "stub-model"
    assert body["messages"] == MESSAGES
    assert body["temperature"] == 0


def test_authorization_header(stub: OpenAIStub, client: openai.OpenAI) -> None:
    _ask(client)
    assert stub.request_headers[0]["authorization"] == "Bearer test-key"


def test_rate_limit_then_success(stub: OpenAIStub, client: openai.OpenAI) -> None:
    stub.script(
        StubReply("Slow down", status=429, headers={"retry-after": "1"}),
        StubReply("After the storm"),
    )
    with pytest.raises(openai.RateLimitError) as info:
        _ask(client)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.code == "rate_limit_exceeded"
    assert "Slow down" in str(info.value)

    assert _ask(client).choices[0].message.content == "After the storm"
    assert stub.pending == 0
    assert len(stub.requests) == 2


def test_server_error(stub: OpenAIStub, client: openai.OpenAI) -> None:
    stub.script(StubReply("boom", status=500))
    with pytest.raises(openai.InternalServerError) as info:
        _ask(client)
    assert info.value.status_code == 500
    assert info.value.type == "server_error"


def test_finish_reason_length(stub: OpenAIStub, client: openai.OpenAI) -> None:
    stub.script(StubReply("The summary was cut", finish_reason="length"))
    choice = _ask(client).choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content == "The summary was cut"


def test_delay_causes_client_timeout(stub: OpenAIStub) -> None:
    stub.script(StubReply("too late", delay=2.0))
    with _client(stub, timeout=0.2) as client:
        with pytest.raises(openai.APITimeoutError):
            _ask(client)
        # the stub keeps serving after the abandoned request
        assert _ask(client).choices[0].finish_reason == "stop"


def test_streaming_is_rejected(stub: OpenAIStub, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        _ask(client, stream=True)
    assert info.value.status_code == 400
    assert stub.requests[0]["stream"] is True


def test_models_endpoint(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["stub-model"]


def test_idle_connection_does_not_block_exit() -> None:
    with OpenAIStub() as stub:
        idle = socket.create_connection(("127.0.0.1", stub.port))
        idle.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")  # never finished
        time.sleep(0.05)  # let a handler thread block on the half-sent request
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    idle.close()
    assert not _stub_threads()
