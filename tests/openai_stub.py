"""A tiny OpenAI-compatible HTTP server for tests (standard library only).

Usage in tests::

    with OpenAIStub() as stub:
        stub.script(StubReply("", status=429, headers={"retry-after": "0"}))
        client = openai.OpenAI(base_url=stub.base_url, api_key="k", max_retries=0)
        ...
        assert stub.requests[0]["model"] == "stub-model"

Standalone, for manual checks::

    python tests/openai_stub.py --port 8011
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

__all__ = ["OpenAIStub", "StubReply", "Responder", "default_responder"]

DEFAULT_MODEL = "stub-model"

# status -> (error.type, error.code), roughly as the real API reports them.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "timeout"),
}


@dataclass
class StubReply:
    """One reply of the stub: a completion (status 200) or an error (any other status).

    For errors, ``content`` is used as the error message. ``delay`` seconds are
    slept before answering; ``headers`` are added to the HTTP response.
    """

    content: str = ""
    finish_reason: str = "stop"
    status: int = 200
    delay: float = 0
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as the 200 body instead of a completion (malformed JSON, an HTML page)
    reset: bool = False  # the connection drops mid-reply: headers and half a body, then a TCP reset


Responder = Callable[[dict[str, Any]], "str | StubReply"]


def _text_of(content: Any) -> str:
    """Flatten a message ``content`` (string or list of parts) into text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part)
            for part in content
        )
    return ""


def _last_user_text(request: dict[str, Any]) -> str | None:
    """Return the text of the last ``user`` message of a chat request, if any."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return None


def default_responder(request: dict[str, Any]) -> str:
    """Deterministic reply derived from the last user message."""
    text = _last_user_text(request)
    if not text or not text.strip():
        return "Stub reply."
    snippet = " ".join(text.split())
    if len(snippet) > 60:
        snippet = snippet[:60] + "..."
    return f"Stub reply to: {snippet}"


def _rough_tokens(text: str) -> int:
    """Very rough token count (about four characters per token)."""
    return len(text) // 4


def _error_body(status: int, message: str, *, type_: str | None = None,
                code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """Build an OpenAI-style error body."""
    default_type, default_code = _ERROR_KINDS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {
        "error": {
            "message": message,
            "type": type_ or default_type,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }


class _Server(ThreadingHTTPServer):
    """HTTP server that joins its handler threads on close and stays quiet."""

    daemon_threads = False  # so server_close() joins the handler threads
    block_on_close = True
    allow_reuse_address = True

    stub: "OpenAIStub"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Swallow errors such as a client hanging up during a delayed reply."""


class _Handler(BaseHTTPRequestHandler):
    """Request handler implementing the few endpoints the stub supports."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "OpenAIStub/1.0"
    sys_version = ""

    # --- plumbing -------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.stub._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.stub._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the default per-request logging to stderr."""

    def _send_json(self, status: int, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
            for name, value in (headers or {}).items():
                self.send_header(name, str(value))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            pass  # client went away (e.g. it timed out during a delay)

    def _send_raw(self, body: bytes) -> None:
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            pass

    def _send_reset(self) -> None:
        import struct

        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"id": "chatcmpl-cut", "object": "chat.comp')
            self.wfile.flush()
            # SO_LINGER 0: close sends a reset, as a crashed server or a dropped proxy does
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _send_error(self, status: int, message: str, **kwargs: Any) -> None:
        self._send_json(status, _error_body(status, message, **kwargs))

    def _path(self) -> str:
        return urlsplit(self.path).path.rstrip("/")

    # --- endpoints ------------------------------------------------------

    def do_GET(self) -> None:
        """Serve ``GET /v1/models`` and ``GET /v1/models/{id}``."""
        path = self._path()
        stub = self.server.stub
        if path == "/v1/models":
            data = [stub._model_object(name) for name in stub.models]
            self._send_json(200, {"object": "list", "data": data})
        elif path.startswith("/v1/models/") and path[len("/v1/models/"):] in stub.models:
            self._send_json(200, stub._model_object(path[len("/v1/models/"):]))
        else:
            self._send_error(404, f"Unknown path: GET {self.path}", code="unknown_url")

    def do_POST(self) -> None:
        """Serve ``POST /v1/chat/completions``."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if self._path() != "/v1/chat/completions":
            self._send_error(404, f"Unknown path: POST {self.path}", code="unknown_url")
            return
        try:
            request = json.loads(raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._send_error(400, f"Request body is not valid JSON: {exc}")
            return
        if not isinstance(request, dict):
            self._send_error(400, "Request body must be a JSON object.")
            return

        stub = self.server.stub
        stub._record(request, {k.lower(): v for k, v in self.headers.items()})

        if request.get("stream"):
            self._send_error(400, "Streaming is not supported by OpenAIStub.",
                             param="stream", code="unsupported_parameter")
            return

        try:
            reply = stub._next_reply(request)
        except Exception as exc:  # responder bug: report it to the client
            self._send_error(500, f"Stub responder raised {type(exc).__name__}: {exc}")
            return

        if reply.delay > 0 and stub._stopping.wait(reply.delay):
            return  # stub is shutting down: don't answer

        if reply.reset:
            self._send_reset()
            return
        if reply.raw is not None:
            self._send_raw(reply.raw)
            return
        if reply.status != 200:
            try:
                phrase = HTTPStatus(reply.status).phrase
            except ValueError:
                phrase = f"HTTP {reply.status}"
            message = reply.content or f"Stub error: {phrase}"
            self._send_json(reply.status, _error_body(reply.status, message), reply.headers)
            return
        self._send_json(200, stub._completion(request, reply), reply.headers)


class OpenAIStub:
    """OpenAI-compatible HTTP stub server, run in a background thread.

    Use as a context manager; ``base_url`` is valid while it runs. Replies come
    from queued :meth:`script` replies first, then from ``responder``.
    """

    def __init__(self, responder: Responder | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, models: Iterable[str] = (DEFAULT_MODEL,)) -> None:
        """Configure the stub; nothing is bound until :meth:`start` / ``__enter__``."""
        self.responder: Responder = responder or default_responder
        self.host = host
        self.port = port
        self.models: tuple[str, ...] = tuple(models)
        self._lock = threading.Lock()
        self._script: deque[StubReply] = deque()
        self._requests: list[dict[str, Any]] = []
        self._request_headers: list[dict[str, str]] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------

    def start(self) -> "OpenAIStub":
        """Bind the port and start serving in a background thread."""
        if self._server is not None:
            raise RuntimeError("OpenAIStub is already running")
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.stub = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"OpenAIStub-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, release the port and join all threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wake handlers sleeping on a delay
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # unblock handlers waiting on idle clients
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()  # joins handler threads
        if thread is not None:
            thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> "OpenAIStub":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1`` of the running stub."""
        if self._server is None:
            raise RuntimeError("OpenAIStub is not running")
        return f"http://{self.host}:{self.port}/v1"

    # --- scripting and inspection ----------------------------------------

    def script(self, *replies: StubReply | str) -> None:
        """Queue replies served first, in order, before falling back to the responder."""
        with self._lock:
            self._script.extend(r if isinstance(r, StubReply) else StubReply(r)
                                for r in replies)

    @property
    def pending(self) -> int:
        """Number of scripted replies not yet served."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Parsed JSON bodies of all chat completion requests (a snapshot copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """Headers of each chat completion request, keys lower-cased; parallel to ``requests``."""
        with self._lock:
            return list(self._request_headers)

    # --- internals used by the handler ------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _record(self, request: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self._requests.append(request)
            self._request_headers.append(headers)

    def _next_reply(self, request: dict[str, Any]) -> StubReply:
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            return scripted
        reply = self.responder(request)
        return reply if isinstance(reply, StubReply) else StubReply(str(reply))

    def _model_object(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 0, "owned_by": "openai-stub"}

    def _completion(self, request: dict[str, Any], reply: StubReply) -> dict[str, Any]:
        messages = request.get("messages") or []
        prompt_text = " ".join(
            _text_of(m.get("content")) for m in messages if isinstance(m, dict)
        )
        prompt_tokens = _rough_tokens(prompt_text)
        completion_tokens = _rough_tokens(reply.content)
        return {
            "id": f"chatcmpl-stub{uuid.uuid4().hex[:20]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.get("model") or DEFAULT_MODEL),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def main(argv: list[str] | None = None) -> None:
    """Serve the stub with the default responder until Ctrl-C."""
    parser = argparse.ArgumentParser(description="OpenAI-compatible stub server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    args = parser.parse_args(argv)
    with OpenAIStub(host=args.host, port=args.port) as stub:
        print(f"OpenAIStub serving at {stub.base_url} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
