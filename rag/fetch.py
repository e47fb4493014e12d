"""Getting filings from EDGAR: ``rag fetch TICKER|CIK [--form 10-K] [--year Y]``.

Plain HTTP (the standard library's ``urllib``) to the three places EDGAR serves what is needed:

- ``https://www.sec.gov/files/company_tickers.json``: ticker -> CIK (only when a ticker is given);
- ``https://data.sec.gov/submissions/CIK##########.json``: the company's filings, newest first, with
  form, accession number, report date and primary document;
- ``https://www.sec.gov/Archives/edgar/data/CIK/ACCESSION/PRIMARY``: the primary document itself.

The SEC's fair-access policy asks every client to name itself and a contact in its User-Agent and to
send at most 10 requests a second: the User-Agent comes from ``RAG_SEC_USER_AGENT`` (refused without
an e-mail address in it) and requests are spaced at least 0.1 s apart. Documents are kept in a cache
(``RAG_EDGAR_CACHE``, default a per-user cache directory) with an index, so ``rag summarize TICKER
--year Y`` reads the filing from there and a second fetch asks EDGAR nothing. ``RAG_EDGAR_URL`` points
all three at another server (the tests replay recorded-shape responses from one on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from ingest.errors import InputError, RagError
from rag.errors import FetchError
from rag.settings import EdgarSettings

__all__ = ["Cached", "EdgarClient", "cache_dir", "fetch", "find_cached"]

WWW = "https://www.sec.gov"
DATA = "https://data.sec.gov"
MIN_INTERVAL = 0.1  # seconds between requests: the SEC's limit is 10 a second
RETRIES = 3
_CONTACT = re.compile(r"\S+@\S+\.\w+")


def cache_dir() -> Path:
    """``RAG_EDGAR_CACHE``, else a per-user cache directory (e.g. ~/.cache/rag-filings/edgar)."""
    cache = EdgarSettings.from_env().cache
    if cache:
        return Path(cache).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("rag-filings")) / "edgar"


def user_agent() -> str:
    """The User-Agent EDGAR asks for: who is asking, with a contact (``RAG_SEC_USER_AGENT``)."""
    agent = " ".join((EdgarSettings.from_env().user_agent or "").split())
    if not _CONTACT.search(agent):
        raise InputError("EDGAR asks every client to name itself with a contact: set RAG_SEC_USER_AGENT to "
                         "'Your Name your.name@example.com' and run again.")
    return agent


class EdgarClient:
    """GET requests to EDGAR: the User-Agent on each, at most one every ``MIN_INTERVAL`` seconds, retries on 429 and 5xx."""

    def __init__(self, agent: str, base: str | None = None, timeout: float = 30.0):
        self.agent = agent
        self.www = (base or WWW).rstrip("/")
        self.data = (base or DATA).rstrip("/")
        self.timeout = timeout
        self._lock = threading.Lock()
        self._last = 0.0
        self.requests = 0

    def _wait_turn(self) -> None:
        with self._lock:
            delay = self._last + MIN_INTERVAL - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._last = time.monotonic()

    def get(self, url: str) -> bytes:
        for attempt in range(RETRIES + 1):
            self._wait_turn()
            self.requests += 1
            request = urllib.request.Request(url, headers={"User-Agent": self.agent, "Accept-Encoding": "identity"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as err:
                if err.code == 404:
                    raise FetchError(f"EDGAR has nothing at {url} (404); check the ticker or CIK.") from None
                if err.code == 403:
                    raise FetchError(f"EDGAR refused {url} (403); it refuses clients without a real contact in "
                                     "RAG_SEC_USER_AGENT, or that send too many requests.") from None
                if err.code in (429, 500, 502, 503, 504) and attempt < RETRIES:
                    time.sleep(_retry_after(err.headers.get("Retry-After"), attempt))
                    continue
                raise FetchError(f"EDGAR answered {err.code} for {url}; try again later.") from None
            except (urllib.error.URLError, TimeoutError, OSError) as err:
                if attempt < RETRIES:
                    time.sleep(_retry_after(None, attempt))
                    continue
                reason = getattr(err, "reason", err)
                raise FetchError(f"EDGAR could not be reached at {url} ({reason}); check the network and try again.") from None
        raise FetchError(f"EDGAR did not answer {url}; try again later.")  # pragma: no cover

    def json(self, url: str):
        try:
            return json.loads(self.get(url))
        except ValueError:
            raise FetchError(f"EDGAR's answer from {url} is not JSON; try again later.") from None


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        return min(30.0, float(header)) if header else 0.5 * 2**attempt
    except ValueError:
        return 0.5 * 2**attempt


@dataclass(frozen=True)
class Cached:
    """A primary document in the cache, with what EDGAR's index says of it."""

    cik: str
    ticker: str
    company: str
    form: str
    accession: str
    filing_date: str
    report_date: str
    fiscal_year: str
    path: str


def _index_path(root: Path) -> Path:
    return root / "index.json"


def _read_index(root: Path) -> list[Cached]:
    try:
        rows = json.loads(_index_path(root).read_text(encoding="utf-8"))
        return [Cached(**row) for row in rows]
    except (OSError, ValueError, TypeError):
        return []


def _write_index(root: Path, rows: list[Cached]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".json", dir=root)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump([asdict(r) for r in rows], fh, indent=1)
    os.replace(tmp, _index_path(root))


def _matches(row: Cached, who: str) -> bool:
    who = who.strip().upper()
    return who == row.ticker.upper() or (who.isdigit() and int(who) == int(row.cik))


def find_cached(who: str, form: str | None = None, year: int | None = None, root: Path | None = None) -> list[Cached]:
    """Cached filings of a ticker or CIK (newest first), of ``form`` and fiscal ``year`` when given."""
    rows = [r for r in _read_index(root or cache_dir()) if _matches(r, who) and Path(r.path).is_file()]
    if form:
        rows = [r for r in rows if r.form.upper() == form.upper()]
    if year:
        rows = [r for r in rows if r.fiscal_year == str(year)]
    return sorted(rows, key=lambda r: r.filing_date, reverse=True)


def _cik_of(client: EdgarClient, who: str) -> tuple[str, str]:
    """(CIK as 10 digits, ticker) for a ticker or a CIK."""
    who = who.strip()
    if who.isdigit():
        return f"{int(who):010d}", ""
    table = client.json(f"{client.www}/files/company_tickers.json")
    rows = table.values() if isinstance(table, dict) else table
    for row in rows:
        if isinstance(row, dict) and str(row.get("ticker", "")).upper() == who.upper():
            return f"{int(row['cik_str']):010d}", who.upper()
    raise InputError(f"EDGAR knows no ticker {who!r}; check it, or pass the company's CIK (a number).")


def _filings(submissions: dict) -> list[dict]:
    """The recent filings of a submissions index as one dict each."""
    recent = (submissions.get("filings") or {}).get("recent") or {}
    keys = ("accessionNumber", "filingDate", "reportDate", "form", "primaryDocument")
    columns = [recent.get(k) or [] for k in keys]
    return [dict(zip(keys, values)) for values in zip(*columns)]


def _candidates(filings: list[dict], form: str, year: int | None) -> list[dict]:
    """Filings of ``form`` (its amendments aside), newest first; for a fiscal ``year``, those whose period
    ends in it, or early in the next year (a retailer's fiscal 2024 can end on February 1, 2025)."""
    same = [f for f in filings if f["form"].upper() == form.upper() and f.get("primaryDocument")]
    if year is None:
        return same[:1]
    out = []
    for f in same:
        report = f.get("reportDate") or f.get("filingDate") or ""
        if report[:4] == str(year) or (report[:4] == str(year + 1) and report[5:7] in ("01", "02", "03")):
            out.append(f)
    return out


def fetch(who: str, form: str = "10-K", year: int | None = None, progress=None) -> list[Cached]:
    """Download (or find in the cache) the primary document of ``who``'s ``form`` for fiscal ``year``
    (the latest when None). Returns the cached filings; a second call asks EDGAR nothing."""
    root = cache_dir()
    found = find_cached(who, form, year, root) if year is not None else []
    if found:
        return found  # the latest filing (no year) is looked up in EDGAR's index each time
    client = EdgarClient(user_agent(), EdgarSettings.from_env().url)
    cik, ticker = _cik_of(client, who)
    submissions = client.json(f"{client.data}/submissions/CIK{cik}.json")
    company = str(submissions.get("name") or "")
    ticker = ticker or next(iter(submissions.get("tickers") or []), "")
    filings = _filings(submissions)
    chosen = _candidates(filings, form, year)
    if not chosen:
        years = sorted({(f.get("reportDate") or "")[:4] for f in filings if f["form"].upper() == form.upper()} - {""})
        have = f"; its {form} filings in EDGAR's recent index cover {', '.join(years)}" if years else f"; it has no {form} in EDGAR's recent index"
        raise InputError(f"No {form} of {company or who} for fiscal {year}{have}." if year else f"No {form} of {company or who}{have}.")
    rows = [r for r in _read_index(root)]
    got: list[Cached] = []
    for filing in chosen:
        accession = filing["accessionNumber"]
        folder = root / cik / accession.replace("-", "")
        path = folder / Path(filing["primaryDocument"]).name
        if not path.is_file():
            url = f"{client.www}/Archives/edgar/data/{int(cik)}/{accession.replace('-', '')}/{filing['primaryDocument']}"
            if progress:
                progress(f"fetching {url}")
            data = client.get(url)
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".part-", dir=folder)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)  # whole or absent
        entry = Cached(cik, ticker, company, filing["form"], accession, filing.get("filingDate", ""),
                       filing.get("reportDate", ""), _fiscal_year(path, filing), str(path))
        rows = [r for r in rows if r.accession != accession] + [entry]
        got.append(entry)
    _write_index(root, rows)
    if year is not None:
        named = [g for g in got if g.fiscal_year == str(year)]
        return named or got[:1]
    return got


def _fiscal_year(path: Path, filing: dict) -> str:
    """The fiscal year the document names (its dei: facts or cover), else the report date's year."""
    from ingest.loaders import load_document

    try:
        year = load_document(path).metadata.get("fiscal_year")
    except RagError:
        year = None
    return year or (filing.get("reportDate") or filing.get("filingDate") or "")[:4]
