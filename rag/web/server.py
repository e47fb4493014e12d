"""Bind, print the address (with its token when not on loopback), and run the app under uvicorn."""

from __future__ import annotations

import errno
import secrets
import socket
import sys
from pathlib import Path

from ingest.errors import InputError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def needs_token(host: str) -> bool:
    return host not in LOOPBACK


def uploads_dir(settings) -> Path:
    """Uploaded files are kept beside a disk store (``<store>-uploads``), else in the per-user data directory."""
    if settings.store.url:
        import platformdirs

        return Path(platformdirs.user_data_dir("rag-filings")) / "uploads"
    store = Path(settings.store.path).expanduser()
    return store.parent / f"{store.name}-uploads"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one), or a one-line error that says what to do."""
    address = "127.0.0.1" if host == "localhost" else host
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise InputError(f"--host {host} is not an address or a name this machine can resolve; the default is 127.0.0.1.") from None
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(sockaddr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"Port {port} on {host} is in use; pass another with --port (--port 0 picks a free one).") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise InputError(f"--host {host} is not an address of this machine; the default is 127.0.0.1.") from None
        if exc.errno == errno.EACCES:
            raise InputError(f"Port {port} needs privileges on this machine; use a port above 1023, e.g. --port 8000.") from None
        raise InputError(f"Cannot listen on {host}:{port} ({exc.strerror}); try another --host or --port.") from None
    sock.setblocking(False)
    return sock


def run(settings, host: str, port: int, echo=print) -> None:
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise InputError(f"`rag serve` needs {exc.name}: install the web extra with `pip install -e '.[web]'` (scripts/setup does).") from None
    from rag import Index
    from rag.web.app import create_app

    index = Index(settings=settings)  # the CLI's own: --store, --llm, --llm-timeout and --llm-context as given
    count = len(index.docs())  # opens the store now: a bad --store is a one-line error before anything listens
    token = secrets.token_urlsafe(24) if needs_token(host) else None
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    llm = settings.llm.model if settings.llm is not None else None
    app = create_app(index, token=token, uploads=uploads_dir(settings), llm_label=llm)
    where = settings.store.url or settings.store.path
    print(f"rag serve: {count} document(s) in {where}; Ctrl-C stops it.", file=sys.stderr)
    if token:
        print(f"Listening on {host} beyond this machine's loopback: every request needs the token in this address.", file=sys.stderr)
    echo(f"http://{shown}:{bound}/" + (f"?token={token}" if token else ""))
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3)
    uvicorn.Server(config).run(sockets=[sock])
