"""`rag serve` as a reader uses it: the real CLI server over a store on disk (the sample filing and a hostile one,
indexed by `rag ingest` with the packaged embedding model), driven by headless Chromium from Debian's package
through Playwright, and by plain HTTP for what a browser would not send.

The expected spans come from the filing itself (``load_document(...).text[start:end]``, what ingest read), and the
expected summary and answer from `rag summarize --json` and `rag ask --json`: the pages must show exactly those.
"""

from __future__ import annotations

import html
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from ingest.loaders import load_document
from tests.conftest import SAMPLE

RAG = [sys.executable, "-m", "rag.cli"]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCRIPT = "<script>alert(1)</script>"
QUESTION = "Which companies sell through distributors?"  # answered from each of the two filings

HOSTILE = f"""UNITED STATES SECURITIES AND EXCHANGE COMMISSION
FORM 10-K
ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
For the fiscal year ended December 31, 2024

Anvil {SCRIPT} Works, Inc.
(Exact name of registrant as specified in its charter)

Item 1. Business

Anvil Works sells forged steel anvils and hardy tools to blacksmiths, farriers and schools. Our largest customer, {SCRIPT} Forge Supply Company, accounted for approximately 31% of our net sales in fiscal 2024. We sell through our own web store and through 14 independent farm supply distributors.

Item 7. Management's Discussion and Analysis of Financial Condition and Results of Operations

Net sales were $12.4 million in fiscal 2024 <img src=x onerror=alert(2)> compared with $11.1 million in fiscal 2023. We finance our operations with cash from operations and a $5.0 million revolving credit facility with First Anvil Bank & Trust.
"""


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_STORE"}}
    return {**env, **extra}


def rag(*args) -> subprocess.CompletedProcess:
    proc = subprocess.run(RAG + list(args), capture_output=True, text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


class Served:
    """`rag serve ...` in a subprocess; ``url`` is the address it printed."""

    def __init__(self, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen(RAG + ["serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=_env(**(env or {})))
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()
        try:
            self.url = lines.get(timeout=120).strip()
        except queue.Empty:
            self.stop()
            raise AssertionError("rag serve printed no address within 120 s") from None
        if not self.url:
            raise AssertionError(f"rag serve ended: {self.proc.stderr.read()}")
        self.base = self.url.split("?")[0].rstrip("/")
        self.port = int(self.base.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


def http(url: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None) -> tuple[int, str, dict]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.read().decode(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), {k.lower(): v for k, v in err.headers.items()}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    store = root / "store"
    hostile = root / "anvil_10k.txt"
    hostile.write_text(HOSTILE)
    ingested = json.loads(rag("ingest", str(SAMPLE), str(hostile), "--store", str(store), "--json").stdout)
    sample_id, hostile_id = (r["id"] for r in ingested)
    summary = json.loads(rag("summarize", sample_id, "--store", str(store), "--json").stdout)
    answer = json.loads(rag("ask", QUESTION, "--doc", sample_id, "--doc", hostile_id, "--store", str(store), "--json").stdout)
    texts = {sample_id: load_document(SAMPLE).text, hostile_id: load_document(hostile).text}
    server = Served("--store", str(store), "--port", "0", env={"RAG_MAX_FILE_MB": "1"})
    yield SimpleNamespace(store=store, uploads=root / "store-uploads", sample=sample_id, hostile=hostile_id, summary=summary,
                          answer=answer, texts=texts, server=server, base=server.base)
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: scripts/setup installs Debian's chromium when run as root")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]' (scripts/setup does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def seen():
    return SimpleNamespace(dialogs=[], errors=[], requests=[])


@pytest.fixture
def page(browser, site, seen):
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: seen.errors.append(str(e)))
    pg.on("request", lambda r: seen.requests.append(r.url))
    yield pg
    context.close()
    assert not seen.errors, seen.errors
    assert all(u.startswith(site.base) for u in seen.requests), [u for u in seen.requests if not u.startswith(site.base)]


def _docs(site) -> list[dict]:
    status, body, _ = http(site.base + "/api/docs")
    assert status == 200
    return json.loads(body)


# --------------------------------------------------------------------------- in a browser


@pytest.mark.browser
def test_every_summary_sentence_opens_its_cited_span_highlighted(page, site):
    page.goto(f"{site.base}/doc/{site.sample}")
    page.wait_for_selector("#paragraph")
    expected = site.summary
    shown = page.evaluate("() => { const p = document.getElementById('paragraph').cloneNode(true); "
                          "p.querySelectorAll('sup').forEach(s => s.remove()); return p.textContent; }")
    assert shown == expected["summary"]  # one paragraph, the CLI's summary
    cited = [s for s in expected["sentences"] if s["citations"]]
    links = page.locator("#paragraph a.sentence")
    assert links.count() == len(cited) > 5
    text = site.texts[site.sample]
    for i, sentence in enumerate(cited):
        link = links.nth(i)
        c = sentence["citations"][0]
        assert link.inner_text() == sentence["text"]
        assert link.get_attribute("data-facet") == sentence["facet"]
        link.click()
        mark = page.locator("#filing mark#hl")
        assert mark.text_content() == text[c["start"]:c["end"]]
        assert page.inner_text("#where") == f"{c['item'] or 'no item'} · characters {c['start']}–{c['end']}"
        box, pane = mark.bounding_box(), page.locator("#filing").bounding_box()
        assert pane["y"] <= box["y"] and box["y"] + min(box["height"], 40) <= pane["y"] + pane["height"]  # scrolled into view
    # the strip: one tick per sentence, at how far into the filing its passage lies
    ticks = page.locator("#strip a.tick")
    assert ticks.count() == len(cited)
    first = cited[0]["citations"][0]
    top = float(ticks.nth(0).evaluate("t => parseFloat(t.style.top)"))
    assert abs(top - 100 * first["start"] / len(text)) < 0.01
    bands = page.locator("#strip a.band").evaluate_all("bs => bs.map(b => b.title)")
    assert {"Item 1", "Item 1A", "Item 7", "Item 8"} <= set(bands)
    states = page.locator("#facets li").evaluate_all("ls => ls.map(l => [l.dataset.facet, l.dataset.source])")
    assert states == [[f, "embedded"] for f in ["revenue", "customers", "products", "distribution", "financing"]]


@pytest.mark.browser
def test_a_question_over_two_filings_cites_passages_that_open_beside_it(page, site):
    page.goto(site.base + "/")
    for box in page.locator("input.ask-doc").all():  # exactly the two filings the reference answer asked
        box.set_checked(box.get_attribute("value") in (site.sample, site.hostile))
    page.fill("#question", QUESTION)
    page.click("#ask-form button")
    page.wait_for_selector("#answer a.cite")
    cites = page.locator("#answer a.cite")
    expected = site.answer["citations"]
    assert site.answer["answered"] and cites.count() == len(expected) > 1
    assert {c["doc"] for c in expected} == {site.sample, site.hostile}  # answered from both filings
    for i, c in enumerate(expected):
        link = cites.nth(i)
        assert [link.get_attribute(k) for k in ("data-doc", "data-start", "data-end")] == [c["doc"], str(c["start"]), str(c["end"])]
        link.click()
        page.wait_for_selector(f"#reader[data-doc='{c['doc']}'] mark#hl")
        span = site.texts[c["doc"]][c["start"]:c["end"]]
        assert page.locator("#filing mark#hl").text_content() == span
        sentence = link.evaluate("a => a.previousElementSibling.textContent")
        assert sentence in span


@pytest.mark.browser
@pytest.mark.parametrize("name, data, message", [
    ("chart.txt", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "chart.txt is a PNG image, not text"),
    ("annual.pdf", b"%PDF-1.7\n" + b"x" * 64, "annual.pdf is a PDF file and PDF is not supported yet"),
    ("empty.txt", b"", "empty.txt is empty"),
    ("big.txt", b"Item 1. Business\n" + b"We sell anvils. " * 80_000, "big.txt is 1.2 MB, over the 1 MB limit"),
    ("notes.docx", b"Item 1. Business\nWe sell anvils.\n", "has the unsupported extension '.docx'"),
])
def test_a_bad_upload_says_why_in_one_line_and_changes_nothing(page, site, name, data, message):
    before = _docs(site)
    kept = sorted(p.name for p in site.uploads.iterdir()) if site.uploads.exists() else []
    page.goto(site.base + "/")
    page.set_input_files("#upload-file", files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])
    page.click("#upload-button")
    error = page.locator("#upload-error")
    error.wait_for(state="visible")
    line = error.inner_text()
    assert message in line and "\n" not in line and "/" not in line.split(";")[0]  # names the file, not a path on the server
    assert _docs(site) == before
    assert (sorted(p.name for p in site.uploads.iterdir()) if site.uploads.exists() else []) == kept


@pytest.mark.browser
def test_an_uploaded_filing_is_embedded_with_progress_and_listed(page, site):
    from playwright.sync_api import expect

    before = {d["id"] for d in _docs(site)}
    data = SAMPLE.read_bytes().replace(b"Harborview Provisions, Inc.", b"Harborview Provisions Holdings, Inc.")
    states: list[dict] = []
    page.on("response", lambda r: states.append(r.json()) if "/jobs/" in r.url else None)
    page.goto(site.base + "/")
    page.set_input_files("#upload-file", files=[{"name": "harborview_holdings.txt", "mimeType": "text/plain", "buffer": data}])
    page.click("#upload-button")
    expect(page.locator("#upload-state")).to_have_text(re.compile("^Indexed "), timeout=300_000)
    # The page's script reads the finished job before Playwright hands its response to this test, and the
    # documents table is fetched again after the message: wait for both rather than read them at once.
    for _ in range(200):
        if states and states[-1]["state"] == "done":
            break
        page.wait_for_timeout(50)
    done = states[-1]
    assert done["state"] == "done" and done["result"]["status"] == "added"
    new_id = done["result"]["id"]
    assert any(s["state"] == "embedding" and s["total"] == done["result"]["chunks"] and s["done"] < s["total"] for s in states)
    expect(page.locator(f"#docs tr[data-doc='{new_id}']")).to_have_count(1)
    cells = page.locator(f"#docs tr[data-doc='{new_id}'] td").all_inner_texts()
    assert cells[1:] == [f"Harborview Provisions Holdings, Inc.\n{new_id}", "10-K", "2025", "23", str(done["result"]["chunks"]),
                         "harborview_holdings.txt"]
    assert {d["id"] for d in _docs(site)} == before | {new_id}
    kept = site.uploads / new_id.rsplit("-", 1)[1] / "harborview_holdings.txt"
    assert kept.read_bytes() == data  # the source stays readable, as for a file given to `rag ingest`


@pytest.mark.browser
def test_script_in_a_filing_shows_as_text_and_never_runs(page, site, seen):
    page.goto(site.base + "/")
    assert f"Anvil {SCRIPT} Works, Inc." in page.locator(f"#docs tr[data-doc='{site.hostile}']").inner_text()
    page.goto(f"{site.base}/doc/{site.hostile}")
    page.wait_for_selector("#paragraph")
    assert SCRIPT in page.locator("#filing").text_content()
    assert "<img src=x onerror=alert(2)>" in page.locator("#filing").text_content()
    assert SCRIPT in page.locator("h1").inner_text()
    assert page.locator("#filing script, #filing img, h1 script, #paragraph script").count() == 0
    assert page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))") == ["/static/app.js"]
    page.fill("#question", "Who is the largest customer?")
    page.click("#ask-form button")
    page.wait_for_selector("#answer a.cite")
    page.locator("#answer a.cite").first.click()
    assert SCRIPT in page.locator("#filing mark#hl").text_content()
    page.wait_for_timeout(300)
    assert seen.dialogs == []


# --------------------------------------------------------------------------- over HTTP


def test_filing_text_is_escaped_in_the_page_itself(site):
    status, body, headers = http(f"{site.base}/doc/{site.hostile}")
    assert status == 200
    assert SCRIPT not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "script-src 'self'" in headers["content-security-policy"]


def _listening(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port`` (from the kernel's own tables)."""
    out = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hexport = fields[1].split(":")
            if fields[3] == "0A" and int(hexport, 16) == port:
                raw = bytes.fromhex(address)
                if width == 8:
                    out.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    out.append(socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))))
    return out


def test_without_host_it_listens_on_loopback_only_and_needs_no_token(site):
    assert _listening(site.server.port) == ["127.0.0.1"]
    assert site.server.url == f"http://127.0.0.1:{site.server.port}/"
    assert http(site.base + "/")[0] == 200


def test_another_host_needs_the_token_it_printed(site):
    server = Served("--store", str(site.store), "--port", "0", "--host", "127.0.0.2")
    try:
        assert _listening(server.port) == ["127.0.0.2"]
        token = server.url.split("?token=")[1]
        assert len(token) >= 30
        status, body, _ = http(server.base + "/api/docs")
        assert status == 403 and body.count("\n") == 0 and "needs its token" in body
        assert http(server.base + "/api/docs?token=wrong" + token[5:])[0] == 403
        status, body, headers = http(server.url)
        assert status == 200 and "rag_token=" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
        assert http(server.base + "/api/docs", headers={"Cookie": f"rag_token={token}"})[0] == 200
        assert http(server.base + "/api/docs", headers={"Authorization": f"Bearer {token}"})[0] == 200
    finally:
        server.stop()
    assert "needs the token" in server.proc.stderr.read()


# (name, method, path, body, headers) -> (status, message fragment)
REFUSED = {
    "another site's name (DNS rebinding)": ("GET", "/api/docs", None, {"Host": "evil.example"}, (403, "answers only at 127.0.0.1")),
    "a post from another origin": ("POST", "/ask", b'{"question": "x"}', {"Origin": "http://evil.example"}, (403, "another site")),
    "a path for a document id": ("GET", "/doc/..%2F..%2Fetc%2Fpasswd", None, {}, (404, "No page at this address")),
    "a document id with odd characters": ("GET", "/doc/Bad_ID!", None, {}, (400, "is not a document id")),
    "a file beside the static assets": ("GET", "/static/../app.py", None, {}, (404, "No page at this address")),
    "an unknown document": ("GET", "/doc/no-such-doc-123", None, {}, (404, "No document with id 'no-such-doc-123'")),
    "a span past the end": ("GET", "/api/doc/{sample}/span?start=10&end=999999999", None, {}, (400, "are not in")),
    "a negative span": ("GET", "/doc/{sample}?start=-5&end=10", None, {}, (400, "are not in")),
    "an empty span": ("GET", "/api/doc/{sample}/span?start=10&end=10", None, {}, (400, "are not in")),
    "a span that is not a number": ("GET", "/doc/{sample}/reader?start=a&end=9", None, {}, (400, "whole numbers")),
    "an upload over the limit": ("POST", "/upload?name=big.txt", b"x" * (1_100_000), {}, (400, "over the 1 MB limit")),
    "an upload without a name": ("POST", "/upload?name=", b"Item 1. Business", {}, (400, "no file name")),
    "an empty question": ("POST", "/ask", b'{"question": "  "}', {}, (400, "Type a question")),
    "a question about an unknown document": ("POST", "/ask", b'{"question": "x", "docs": ["nope-1"]}', {}, (404, "No document")),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_requests_it_refuses_get_one_line_and_change_nothing(site, case):
    method, path, body, headers, (status, fragment) = REFUSED[case]
    before = _docs(site)
    got, text, _ = http(site.base + path.format(sample=site.sample), data=body, headers=headers, method=method)
    line = json.loads(text)["error"] if text.startswith("{") else text
    if 'role="alert">' in line:  # an HTML page or fragment: the one line is its error paragraph
        line = html.unescape(line.split('role="alert">')[1].split("</p>")[0])
    assert got == status and fragment in line, line
    assert "\n" not in line.strip()
    assert _docs(site) == before


@pytest.mark.parametrize("args, fragment", [
    (["--host", "203.0.113.7"], "is not an address of this machine"),
    (["--port", "PORT_IN_USE"], "is in use; pass another with --port"),
    (["--store", "NOT_A_STORE"], "not a Chroma store"),
])
def test_serve_cli_errors_are_one_line(tmp_path, args, fragment):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("not a store")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        args = [str(busy.getsockname()[1]) if a == "PORT_IN_USE" else str(notes) if a == "NOT_A_STORE" else a for a in args]
        if "--store" not in args:
            args += ["--store", str(tmp_path / "store")]
        proc = subprocess.run(RAG + ["serve", *args], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.startswith("Error: ") and proc.stderr.count("\n") == 1 and fragment in proc.stderr, proc.stderr


def test_with_a_model_each_facet_shows_where_its_sentences_came_from(site):
    from tests.openai_stub import OpenAIStub
    from tests.test_llm_backend import FacetWriter

    # revenue, customers and distribution: the model copies its first evidence line; products and financing: empty replies
    with OpenAIStub(FacetWriter({"products": "", "financing": ""})) as stub:
        server = Served("--store", str(site.store), "--port", "0", "--llm", f"stub-model@{stub.base_url}")
        try:
            status, page, _ = http(f"{server.base}/doc/{site.sample}")
            assert status == 200 and "written with stub-model" in page
            status, fragment, _ = http(f"{server.base}/doc/{site.sample}/summary")
            report = json.loads(http(f"{server.base}/api/doc/{site.sample}/summary")[1])["llm"]
        finally:
            server.stop()
    assert status == 200 and len(stub.requests) == 5
    shown = re.findall(r'data-facet="(\w+)" data-source="([\w+]+)" data-reply="([\w ]*)"', fragment)
    assert shown == [(f["facet"], f["source"], f["reply"]) for f in report["facets"]]
    replies = {facet: reply for facet, _, reply in shown}
    assert replies == {"revenue": "complete", "customers": "complete", "products": "empty", "distribution": "complete", "financing": "empty"}
    assert {facet: source for facet, source, _ in shown}["financing"] == "embedded"
    assert "embedded · reply empty" in fragment


# --------------------------------------------------------------------------- units


class _Store:
    def __init__(self, chunks):
        self.chunks = chunks

    def get_chunks(self, doc_id):
        return list(self.chunks)


def _record(source: Path, chunks, sha: str):
    from vectorstore.chroma import DocumentRecord

    return DocumentRecord("sample-1", str(source), len(chunks), sha, {})


def test_filing_text_keeps_every_offset_with_or_without_the_source(tmp_path, fake_embedder):
    import hashlib

    from ingest.chunking import chunk_document
    from ingest.sections import detect_sections
    from rag.web.reading import filing_text, rebuild

    source = tmp_path / "harborview_10k.txt"
    source.write_bytes(SAMPLE.read_bytes())
    doc = load_document(source)
    from dataclasses import replace

    chunks = chunk_document(replace(doc, sections=detect_sections(doc.text)), "sample-1", lambda ts: [len(t.split()) for t in ts])
    record = _record(source, chunks, hashlib.sha256(source.read_bytes()).hexdigest())
    assert rebuild(chunks)[1], "the chunking leaves gaps between some chunks, which the source file fills"
    exact = filing_text(_Store(chunks), record)
    assert exact.exact and exact.text == doc.text[: len(exact.text)] and len(exact.text) >= chunks[-1].end
    source.write_text("changed")  # the source is no longer the file that was indexed: rebuilt from the chunks
    rebuilt = filing_text(_Store(chunks), record)
    assert not rebuilt.exact and len(rebuilt.text) == chunks[-1].end
    assert all(rebuilt.text[c.start:c.end] == c.text for c in chunks)
    assert [b.item for b in rebuilt.bands][:1] == [None] and "Item 7" in {b.item for b in rebuilt.bands}
    assert rebuilt.item_at(chunks[-1].start) == chunks[-1].item


def test_summary_pieces_cover_the_text_in_order():
    from rag.types import Sentence, Summary
    from rag.web.app import summary_pieces

    a, b = Sentence("Revenue grew 5%.", "revenue", ("d#1",)), Sentence("It sells online.", "distribution", ("d#2",))
    summary = Summary(text="Revenue grew 5%. It sells online. And a cut-off ta", tokens=12, document="d", backend="extractive",
                      max_tokens=512, facets={}, sentences=(a, b))
    pieces = summary_pieces(summary)
    assert "".join(t for t, _ in pieces) == summary.text
    assert [s for _, s in pieces] == [a, None, b, None]


@pytest.mark.parametrize("given, kept", [
    ("harborview_10k.txt", "harborview_10k.txt"),
    ("../../etc/passwd", "passwd"),
    ("C:\\filings\\nike.json", "nike.json"),
    ("<img src=x onerror=alert(1)>.txt", "_img src_x onerror_alert_1_.txt"),
])
def test_upload_names_lose_their_directories_and_markup(given, kept):
    from rag.web.jobs import safe_name

    assert safe_name(given) == kept


def test_rag_help_does_not_import_the_web_libraries():
    code = "import sys; from rag.cli import main; print(any(m in sys.modules for m in ('starlette', 'uvicorn', 'jinja2')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip() == "False"
