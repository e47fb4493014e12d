"""``rag serve``: a reading view over the store, on the same Python API as the CLI (``rag.Index``).

Pages are rendered here (Jinja2, every value escaped) and a little plain JavaScript
(``static/app.js``) opens citations beside the text, uploads files and polls their progress. No
asset comes from a network: the scripts and styles ship in this package.

Safe by default: the CLI binds 127.0.0.1 and this app then answers only requests addressed to a
loopback name (a page on another site cannot reach it through DNS rebinding); bound to another host,
every request must carry the token the CLI printed. Posts from another origin are refused, and the
Content-Security-Policy lets no inline or foreign script run.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.errors import InputError, RagError
from rag.errors import LLMError
from rag.web.jobs import Uploads, safe_name, too_large
from rag.web.reading import FilingText, check_doc_id, filing_text
from vectorstore.errors import StoreError

log = logging.getLogger("rag")

HERE = Path(__file__).parent
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}
TOKEN_COOKIE = "rag_token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


@dataclass
class Reading:
    """What the app keeps between requests: the index, its summaries and texts, and the uploads."""

    index: object  # rag.Index
    uploads: Uploads
    profile: object
    texts: OrderedDict = field(default_factory=OrderedDict)  # doc id -> FilingText, the last few
    summaries: dict = field(default_factory=dict)  # doc id -> Summary (ids are content hashes: a summary never goes stale)
    locks: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, doc_id: str):
        record = self.index.store.get_document(check_doc_id(doc_id))
        if record is None:
            raise NotFound(f"No document with id {doc_id!r} in this store; pick one from the list.")
        return record

    def text(self, record) -> FilingText:
        with self.lock:
            if record.id in self.texts:
                self.texts.move_to_end(record.id)
                return self.texts[record.id]
        filing = filing_text(self.index.store, record, self.index.settings.files.max_bytes)
        with self.lock:
            self.texts[record.id] = filing
            while len(self.texts) > 8:
                self.texts.popitem(last=False)
        return filing

    def summary(self, record):
        with self.lock:
            lock = self.locks.setdefault(record.id, threading.Lock())
        with lock:  # one summary per document at a time: a second click waits for the first
            if record.id not in self.summaries:
                self.summaries[record.id] = self.index.summarize(record.id)
            return self.summaries[record.id]


class NotFound(InputError):
    pass


def _status(exc: RagError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, StoreError):
        return 503
    if isinstance(exc, LLMError):
        return 502
    return 400


class Guard:
    """Who may talk to the app: loopback names only when bound to loopback, else the token; same-origin posts."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        problem, set_cookie = self.check(request)
        if problem:
            await PlainTextResponse(problem, status_code=403, headers=_HEADERS)(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in _HEADERS.items()]
                if set_cookie:
                    headers.append((b"set-cookie", f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def check(self, request: Request) -> tuple[str | None, bool]:
        host = _host_name(request.headers.get("host") or "")
        if self.token is None and host not in LOOPBACK_NAMES:
            return f"This server answers only at 127.0.0.1 or localhost, not {host[:60]!r}; open the address `rag serve` printed.", False
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
                return "Requests from another site are refused; use the page this server sent.", False
        if self.token is None:
            return None, False
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given, self.token):
            return None, True
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        cookie = request.cookies.get(TOKEN_COOKIE, "")
        if any(v and hmac.compare_digest(v, self.token) for v in (bearer, cookie)):
            return None, False
        return "This server needs its token: open the address `rag serve` printed (it ends in ?token=...).", False


def _host_name(host: str) -> str:
    """The name in a Host header, without its port ("[::1]:8000" -> "[::1]", "localhost:8000" -> "localhost")."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["label"] = _label
    return env


def _label(record) -> str:
    from rag.ask import label

    return label(record)


def summary_pieces(summary) -> list[tuple[str, object]]:
    """The summary's text as (text, sentence or None) pieces in order: every sentence found where it stands."""
    pieces: list[tuple[str, object]] = []
    pos = 0
    text = summary.text
    for s in summary.sentences:
        at = text.find(s.text, pos)
        if at < 0:
            continue
        if at > pos:
            pieces.append((text[pos:at], None))
        pieces.append((s.text, s))
        pos = at + len(s.text)
    if pos < len(text):
        pieces.append((text[pos:], None))
    return pieces


def create_app(index, *, token: str | None = None, uploads: Path, llm_label: str | None = None) -> Starlette:
    from queries.profile import load_profile
    from rag.api import default_embedder

    limit = index.settings.files.max_bytes
    embedder = lambda: default_embedder(index.settings.embedding)  # noqa: E731
    state = Reading(index=index, uploads=Uploads(uploads, lambda: index.store, embedder, limit), profile=load_profile(None))
    pages = _Pages(state, _env(), llm_label, limit)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        state.uploads.close()

    async def no_page(request: Request, exc) -> Response:
        return PlainTextResponse("No page at this address; start from the documents list at /.", status_code=404)

    async def wrong_method(request: Request, exc) -> Response:
        return PlainTextResponse(f"{request.method} is not accepted here; use the page's own forms.", status_code=405)

    app = Starlette(routes=pages.routes(), middleware=[Middleware(Guard, token=token)], lifespan=lifespan,
                    exception_handlers={404: no_page, 405: wrong_method})
    app.state.reading = state
    return app


class _Pages:
    """The reading view's pages, fragments and JSON over one ``Reading``: each handler turns a user's error
    into one line on the page (or in the JSON) and the server's own into one line and a logged traceback."""

    def __init__(self, state: Reading, env, llm_label: str | None, limit: int):
        self.state, self.env, self.llm_label, self.limit = state, env, llm_label, limit
        self.facet_index = {f.name: i for i, f in enumerate(state.profile.facets)}
        self.facet_title = {f.name: f.title for f in state.profile.facets}

    def page(self, name: str, status: int = 200, **ctx) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(llm=self.llm_label, **ctx), status_code=status)

    def fail(self, message: str, status: int, fragment: bool) -> Response:
        if fragment:
            return HTMLResponse(self.env.from_string('<p class="error" role="alert">{{ m }}</p>').render(m=message), status_code=status)
        return self.page("error.html", status=status, message=message)

    def handles(self, fragment: bool = False, as_json: bool = False):
        def wrap(fn):
            async def endpoint(request: Request):
                try:
                    return await fn(request)
                except RagError as exc:
                    message, status = " ".join(str(exc).split()), _status(exc)
                except Exception as exc:  # not the reader's fault: one line on the page, the traceback in the log
                    log.exception("%s %s failed", request.method, request.url.path)
                    message, status = f"The server failed ({type(exc).__name__}: {exc}); see the log of `rag serve`.", 500
                    message = " ".join(message.split())
                if as_json:
                    return JSONResponse({"error": message}, status_code=status)
                return self.fail(message, status, fragment)
            return endpoint
        return wrap

    @staticmethod
    async def run(fn, *args):
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(fn, *args)

    def docs_rows(self):
        rows = []
        for r in self.state.index.docs():
            m = r.metadata
            rows.append({"id": r.id, "label": _label(r), "company": m.get("company") or "-", "form": m.get("form") or "-",
                         "fiscal_year": m.get("fiscal_year") or "-", "items": [i for i in m.get("items", "").split(",") if i],
                         "chunks": r.chunks, "source": Path(r.source).name})
        return rows

    @staticmethod
    def span_args(request: Request, filing: FilingText) -> tuple[int, int] | None:
        raw = request.query_params.get("start"), request.query_params.get("end")
        if raw == (None, None):
            return None
        try:
            start, end = int(raw[0]), int(raw[1])
        except (TypeError, ValueError):
            raise InputError("start and end must be character offsets (whole numbers); follow a citation from a summary or an answer.") from None
        filing.span(start, end)  # checked
        return start, end

    @staticmethod
    def reader_ctx(record, filing: FilingText, span=None) -> dict:
        n = max(len(filing.text), 1)
        text = filing.text
        parts = (text, "", "") if span is None else (text[:span[0]], text[span[0]:span[1]], text[span[1]:])
        bands = [{"item": b.item or "cover", "start": b.start, "top": round(100 * b.start / n, 3),
                  "height": round(100 * max(b.end - b.start, 1) / n, 3), "k": i % 2} for i, b in enumerate(filing.bands)]
        return {"doc": record, "doc_label": _label(record), "parts": parts, "length": len(text), "bands": bands,
                "span": span, "span_item": filing.item_at(span[0]) if span else None, "exact": filing.exact}

    async def home(self, request: Request):
        rows = await self.run(self.docs_rows)
        from ingest.loaders import SUPPORTED_SUFFIXES

        return self.page("index.html", docs=rows, limit=self.limit, suffixes=",".join(SUPPORTED_SUFFIXES))

    async def document(self, request: Request):
        record = await self.run(self.state.record, request.path_params["doc_id"])
        filing = await self.run(self.state.text, record)
        span = self.span_args(request, filing)
        return self.page("doc.html", facets=[(i, f.name, f.title) for i, f in enumerate(self.state.profile.facets)],
                    **self.reader_ctx(record, filing, span))

    async def reader(self, request: Request):
        record = await self.run(self.state.record, request.path_params["doc_id"])
        filing = await self.run(self.state.text, record)
        return self.page("reader.html", **self.reader_ctx(record, filing, self.span_args(request, filing)))

    async def summary_fragment(self, request: Request):
        record = await self.run(self.state.record, request.path_params["doc_id"])
        summary = await self.run(self.state.summary, record)
        filing = await self.run(self.state.text, record)
        facets = _facet_rows(self.state.profile, summary)
        sources: dict[str, int] = {}
        for s in summary.sentences:
            for c in s.citations[:1]:
                key = c.item or filing.item_at(c.start) or "cover"
                sources[key] = sources.get(key, 0) + 1
        return self.page("summary.html", doc=record, summary=summary, pieces=summary_pieces(summary), facets=facets,
                    facet_index=self.facet_index, facet_title=self.facet_title, sources=sources, length=max(len(filing.text), 1))

    async def summary_json(self, request: Request):
        record = await self.run(self.state.record, request.path_params["doc_id"])
        summary = await self.run(self.state.summary, record)
        return JSONResponse(summary.as_dict())

    async def span_json(self, request: Request):
        record = await self.run(self.state.record, request.path_params["doc_id"])
        filing = await self.run(self.state.text, record)
        span = self.span_args(request, filing)
        if span is None:
            raise InputError("Give start and end, the character offsets of a citation.")
        return JSONResponse({"doc": record.id, "start": span[0], "end": span[1], "item": filing.item_at(span[0]),
                             "text": filing.text[span[0]:span[1]]})

    async def docs_json(self, request: Request):
        return JSONResponse(await self.run(self.docs_rows))

    async def ask(self, request: Request):
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise InputError("The question did not arrive as JSON; reload the page and ask again.") from None
        question = str(body.get("question") or "").strip()
        if not question:
            raise InputError("Type a question first.")
        if len(question) > 2000:
            raise InputError("The question is over 2,000 characters; ask something shorter.")
        doc_ids = [check_doc_id(str(d)) for d in body.get("docs") or []]
        for d in doc_ids:
            await self.run(self.state.record, d)  # an unknown id is a one-line error, not an empty answer
        answer = await self.run(lambda: self.state.index.ask(question, docs=doc_ids or None))
        refs = []
        for part in answer.parts:
            for s in part.sentences:
                refs.append({"n": len(refs) + 1, "doc": part.doc_id, "label": part.label, "text": s.text, **s.citation.as_dict()})
        return self.page("answer.html", answer=answer, refs=refs, several=len(answer.parts) > 1)

    async def upload(self, request: Request):
        name = safe_name(request.query_params.get("name", ""))
        tmp = await _receive(self.state.uploads, name, request, self.limit)
        job = self.state.uploads.submit(tmp)
        return JSONResponse(job.as_dict(), status_code=202)

    async def job_json(self, request: Request):
        job = self.state.uploads.jobs.get(request.path_params["job_id"])
        if job is None:
            raise NotFound("No such upload; upload the file again.")
        return JSONResponse(job.as_dict())

    def routes(self) -> list:
        return [
            Route("/", self.handles()(self.home)),
            Route("/doc/{doc_id}", self.handles()(self.document)),
            Route("/doc/{doc_id}/reader", self.handles(fragment=True)(self.reader)),
            Route("/doc/{doc_id}/summary", self.handles(fragment=True)(self.summary_fragment)),
            Route("/api/docs", self.handles(as_json=True)(self.docs_json)),
            Route("/api/doc/{doc_id}/summary", self.handles(as_json=True)(self.summary_json)),
            Route("/api/doc/{doc_id}/span", self.handles(as_json=True)(self.span_json)),
            Route("/ask", self.handles(fragment=True)(self.ask), methods=["POST"]),
            Route("/upload", self.handles(as_json=True)(self.upload), methods=["POST"]),
            Route("/jobs/{job_id}", self.handles(as_json=True)(self.job_json)),
            Route("/favicon.ico", lambda request: Response(status_code=204)),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]


async def _receive(uploads: Uploads, name: str, request: Request, limit: int) -> Path:
    """The body streamed to a temporary file; past ``limit`` bytes nothing more is kept and the upload is refused."""
    import tempfile

    from starlette.concurrency import run_in_threadpool

    uploads.folder.mkdir(parents=True, exist_ok=True)
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)
    size = 0
    async for piece in request.stream():  # read to the end even past the limit (kept: nothing), so the client hears why
        size += len(piece)
        if size <= limit:
            spool.write(piece)
    if size > limit:
        spool.close()
        raise too_large(name, size, limit)
    spool.seek(0)

    def pieces():
        while piece := spool.read(1 << 20):
            yield piece

    try:
        return await run_in_threadpool(uploads.receive, name, pieces(), limit)
    finally:
        spool.close()


def _facet_rows(profile, summary) -> list[dict]:
    report = {f.get("facet"): f for f in (summary.llm_report or {}).get("facets", []) if isinstance(f, dict)}
    rows = []
    for i, f in enumerate(profile.facets):
        r = report.get(f.name, {})
        if summary.llm_report:
            source = r.get("source") or "embedded"
        else:
            source = "missing" if f.name in summary.missing else "embedded"
        rows.append({"i": i, "name": f.name, "title": f.title, "source": source, "reply": r.get("reply"), "reason": r.get("reason"),
                     "sentences": sum(1 for s in summary.sentences if s.facet == f.name)})
    return rows
