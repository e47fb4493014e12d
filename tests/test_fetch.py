"""`rag fetch` against a local server that replays EDGAR's responses in their recorded shapes.

No network: a ThreadingHTTPServer on 127.0.0.1 answers the three URLs EDGAR serves (the ticker table,
the JSON submissions index, the primary documents) with small fixtures written here, and records
every request (path, User-Agent, time), so the test can assert what EDGAR would see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AGENT = "rag-filings tests test.user@example.com"


def _inline_xbrl(name: str, fy: str, period: str, body: str) -> str:
    return f"""<html xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"><body>
<div style="display:none"><ix:header><ix:hidden>
<ix:nonNumeric name="dei:DocumentType" contextRef="c1">10-K</ix:nonNumeric>
<ix:nonNumeric name="dei:DocumentFiscalYearFocus" contextRef="c1">{fy}</ix:nonNumeric>
<ix:nonNumeric name="dei:DocumentPeriodEndDate" contextRef="c1">{period}</ix:nonNumeric>
<ix:nonNumeric name="dei:EntityCentralIndexKey" contextRef="c1">0000123456</ix:nonNumeric>
</ix:hidden></ix:header></div>
<div>UNITED STATES SECURITIES AND EXCHANGE COMMISSION</div><div>FORM 10-K</div>
<div><ix:nonNumeric name="dei:EntityRegistrantName" contextRef="c1">{name}</ix:nonNumeric></div>
<div>(Exact name of registrant as specified in its charter)</div>
<div>Item 1. Business</div><div>{body}</div>
<div>Item 7. Management's Discussion and Analysis</div>
<div>Net sales were $1,240.5 million in fiscal {fy}, up 6% from the prior year, of which dealers accounted for 70%.</div>
<hr style="page-break-after:always"/>
</body></html>"""


SUBMISSIONS = {
    "cik": "123456", "name": "Anvil Works, Inc.", "tickers": ["ANVL"],
    "filings": {"recent": {
        "accessionNumber": ["0000123456-25-000010", "0000123456-24-000077", "0000123456-24-000009", "0000123456-23-000008"],
        "filingDate": ["2025-03-20", "2024-11-05", "2024-03-22", "2023-03-24"],
        "reportDate": ["2025-01-31", "2024-09-30", "2024-02-02", "2023-01-27"],
        "form": ["10-K", "10-Q", "10-K", "10-K"],
        "primaryDocument": ["anvl-20250131.htm", "anvl-20240930.htm", "anvl-20240202.htm", "anvl-20230127.htm"],
    }, "files": []},
}
# A retailer's year: the one ending February 2, 2024 is "fiscal 2023", the one ending January 31, 2025 "fiscal 2024".
DOCUMENTS = {
    "/Archives/edgar/data/123456/000012345625000010/anvl-20250131.htm":
        _inline_xbrl("Anvil Works, Inc.", "2024", "2025-01-31", "Anvil Works sells forged anvils to farriers through 40 dealers."),
    "/Archives/edgar/data/123456/000012345624000009/anvl-20240202.htm":
        _inline_xbrl("Anvil Works, Inc.", "2023", "2024-02-02", "Anvil Works sells forged anvils to farriers through 35 dealers."),
}
TICKERS = {"0": {"cik_str": 123456, "ticker": "ANVL", "title": "Anvil Works, Inc."}, "1": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."}}


class Replay(BaseHTTPRequestHandler):
    log: list[tuple[str, str, float]] = []

    def do_GET(self):  # noqa: N802
        Replay.log.append((self.path, self.headers.get("User-Agent", ""), time.monotonic()))
        if self.path == "/files/company_tickers.json":
            body, kind = json.dumps(TICKERS).encode(), "application/json"
        elif self.path == "/submissions/CIK0000123456.json":
            body, kind = json.dumps(SUBMISSIONS).encode(), "application/json"
        elif self.path in DOCUMENTS:
            body, kind = DOCUMENTS[self.path].encode(), "text/html"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def edgar():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Replay.log = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def rag(args, env):
    full = {**os.environ, "RAG_STORE": "", "HF_HUB_OFFLINE": "1", **env}
    full.pop("OPENAI_API_KEY", None)
    full.pop("OPENAI_BASE_URL", None)
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=full, cwd=ROOT, timeout=300)


def test_fetch_needs_a_contact_in_the_user_agent(edgar, tmp_path):
    for agent in ("", "rag-filings"):
        proc = rag(["fetch", "ANVL"], {"RAG_EDGAR_URL": edgar, "RAG_EDGAR_CACHE": str(tmp_path), "RAG_SEC_USER_AGENT": agent})
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines() == [
            "Error: EDGAR asks every client to name itself with a contact: set RAG_SEC_USER_AGENT to "
            "'Your Name your.name@example.com' and run again."]
    assert Replay.log == []  # nothing was asked of EDGAR


def test_fetch_by_ticker_and_fiscal_year_then_from_the_cache(edgar, tmp_path):
    env = {"RAG_EDGAR_URL": edgar, "RAG_EDGAR_CACHE": str(tmp_path / "cache"), "RAG_SEC_USER_AGENT": AGENT}
    proc = rag(["fetch", "anvl", "--year", "2024"], env)
    assert proc.returncode == 0, proc.stderr
    ticker, form, year, company, path = proc.stdout.strip().split("\t")
    assert (ticker, form, year, company) == ("ANVL", "10-K", "fiscal 2024", "Anvil Works, Inc.")
    assert Path(path).read_text() == DOCUMENTS["/Archives/edgar/data/123456/000012345625000010/anvl-20250131.htm"]
    paths = [p for p, _, _ in Replay.log]
    # fiscal 2024 ended January 31, 2025: both filings whose period could be it are read, the one that names 2024 kept
    assert paths[:2] == ["/files/company_tickers.json", "/submissions/CIK0000123456.json"]
    assert sorted(paths[2:]) == sorted(DOCUMENTS)
    assert {agent for _, agent, _ in Replay.log} == {AGENT}
    times = [t for _, _, t in Replay.log]
    # at most 10 requests a second: sent 0.1 s apart (the server's clock on a busy machine jitters by a few ms)
    assert all(b - a >= 0.08 for a, b in zip(times, times[1:])) and times[-1] - times[0] >= 0.1 * (len(times) - 1) - 0.02, times

    asked = len(Replay.log)
    again = rag(["fetch", "ANVL", "--year", "2024"], env)
    assert again.returncode == 0 and again.stdout == proc.stdout
    assert len(Replay.log) == asked  # from the cache: EDGAR is not asked again
    by_cik = rag(["fetch", "123456", "--year", "2023"], env)
    assert by_cik.returncode == 0 and "\tfiscal 2023\t" in by_cik.stdout
    assert len(Replay.log) == asked  # 2023's document came with the 2024 question


def test_unknown_ticker_and_missing_year_are_one_line(edgar, tmp_path):
    env = {"RAG_EDGAR_URL": edgar, "RAG_EDGAR_CACHE": str(tmp_path), "RAG_SEC_USER_AGENT": AGENT}
    proc = rag(["fetch", "ZZZZ"], env)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "Error: EDGAR knows no ticker 'ZZZZ'; check it, or pass the company's CIK (a number)."]
    proc = rag(["fetch", "ANVL", "--year", "2019"], env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "Error: No 10-K of Anvil Works, Inc. for fiscal 2019; its 10-K filings in EDGAR's recent index cover 2023, 2024, 2025."]
    down = rag(["fetch", "ANVL"], {**env, "RAG_EDGAR_URL": "http://127.0.0.1:9"})
    assert down.returncode == 2 and len(down.stderr.strip().splitlines()) == 1
    assert down.stderr.startswith("Error: EDGAR could not be reached at http://127.0.0.1:9/files/company_tickers.json")


def test_summarize_a_ticker_from_the_cache(edgar, tmp_path):
    env = {"RAG_EDGAR_URL": edgar, "RAG_EDGAR_CACHE": str(tmp_path / "cache"), "RAG_SEC_USER_AGENT": AGENT}
    assert rag(["fetch", "ANVL", "--year", "2024"], env).returncode == 0
    asked = len(Replay.log)
    store = str(tmp_path / "store")
    proc = rag(["summarize", "ANVL", "--year", "2024", "--store", store, "--json"], {**env, "RAG_EDGAR_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert "$1,240.5 million" in summary["summary"] and "40 dealers" in summary["summary"]
    assert len(Replay.log) == asked
    docs = json.loads(rag(["docs", "--store", store, "--json"], env).stdout)
    assert [(d["company"], d["form"], d["fiscal_year"]) for d in docs] == [("Anvil Works, Inc.", "10-K", "2024")]
    missing = rag(["summarize", "ANVL", "--year", "2020", "--store", store], env)
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        "Error: No filing of ANVL for fiscal 2020 is cached; fetch it with `rag fetch ANVL --year 2020`."]
