"""Real EDGAR documents in: the 18 primary documents of ../shared/corpus/edgar-html as EDGAR serves them.

Each one is loaded and chunked as `rag ingest` does (the real word-piece counter, no vectors needed)
and checked against what the document itself states: the form, the registrant, the fiscal year the
filing names, and the items it has; no SGML, HTML or XBRL markup and no page furniture in any chunk;
no sentence that starts in the middle of a hard-wrapped line. The slow tests index them all into a
Chroma store (the real tokenizer, hashed vectors) and summarize the 1994 plain-text submission with the real
embedding model.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.loaders import load_document

EDGAR_HTML = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "edgar-html"

# file -> (form, company as the filing names it, fiscal year the filing names, items that must be found)
STATED = {
    "0000928385-01-500187.html": ("20-F", "AEGON N.V.", "2000", {"Item 3", "Item 4", "Item 5", "Item 18"}),
    "0000950153-99-001234.html": ("10-K", "MEDICIS PHARMACEUTICAL CORPORATION", "1999", {"Item 1", "Item 7", "Item 14"}),
    "0001062993-16-008650.html": ("20-F", "LONCOR RESOURCES INC.", "2015", {"Item 3", "Item 4", "Item 5", "Item 18"}),
    "0001376474-16-000635.html": ("10-K", "COMMONWEALTH INCOME & GROWTH FUND V", "2015", {"Item 1", "Item 7", "Item 8"}),
    "aapl-10-k-2024-11-01.html": ("10-K", "Apple Inc.", "2024", {"Item 1", "Item 1A", "Item 7", "Item 8"}),
    "amzn-10-k-2025-02-07.html": ("10-K", "AMAZON.COM, INC.", "2024", {"Item 1", "Item 1A", "Item 7", "Item 8"}),
    "ba-2003.htm": ("10-K", "THE BOEING COMPANY", "2003", {"Item 1", "Item 7", "Item 8"}),
    "ge-1994.txt": ("10-K", "GENERAL ELECTRIC COMPANY", "1993", {"Item 1", "Item 7", "Item 8", "Item 14", "Exhibit 10"}),
    "ibm-10-k-2025-02-25.html": ("10-K", "INTERNATIONAL BUSINESS MACHINES CORPORATION", "2024", {"Item 1", "Item 1A", "Item 7", "Item 8"}),
    "ibm-1997.txt": ("10-K405", "INTERNATIONAL BUSINESS MACHINES CORPORATION", "1997", {"Item 1", "Item 14", "Exhibit 13"}),
    "intc-2002.htm": ("10-K", "INTEL CORPORATION", "2002", {"Item 1", "Item 7", "Item 8"}),
    "ksb-2007.txt": ("10-KSB", "24HOLDINGS INC.", "2007", {"Item 1", "Item 6", "Item 7", "Exhibit 31"}),
    "ma-10-k-2025-02-12.html": ("10-K", "Mastercard Incorporated", "2024", {"Item 1", "Item 1A", "Item 7", "Item 8"}),
    "msft-2013.htm": ("10-K", "MICROSOFT CORPORATION", "2013", {"Item 1", "Item 1A", "Item 7", "Item 8"}),
    "reac-2015.htm": ("10-K", "Renewable Energy Acquisition Corp.", "2015", {"Item 1", "Item 7", "Item 8"}),
    "tsla-10-k-2025-01-30.html": ("10-K", "Tesla, Inc.", "2024", {"Item 1", "Item 1A", "Item 7", "Item 8"}),
    "unp-10-k-2025-02-07.html": ("10-K", "UNION PACIFIC CORP", "2024", {"Item 1", "Item 1A", "Item 7", "Item 8"}),
    "wmt-10-k-2025-03-14.html": ("10-K", "WALMART INC.", "2025", {"Item 1", "Item 1A", "Item 7", "Item 8"}),
}
PLAIN_TEXT = {"ge-1994.txt", "ibm-1997.txt", "ksb-2007.txt", "0000928385-01-500187.html"}

MARKUP = re.compile(
    r"</?(?:PAGE|S|C|TABLE|CAPTION|DOCUMENT|TYPE|TEXT|SEC-HEADER|IMS-HEADER|FN|DESCRIPTION|SEQUENCE|FILENAME)>"
    r"|<(?:div|span|td|tr|p|font|br|hr|table|html|body|ix:\w+)\b[^>]*>"
    r"|\b(?:ix|xbrli|us-gaap|dei|iso4217):[A-Za-z]|&(?:nbsp|amp|lt|gt|#\d+);", re.I)
# Page furniture: running heads and footers, page numbers set apart ("-12-", "Page 5", "F-31", "41 Table of Contents")
FURNITURE = re.compile(
    r"^(?:-\s?\d{1,3}\s?-|page \d{1,3}|f-\d{1,3}|\d{1,3} \|? ?table of contents|annual report page \d+|.{0,40}form 10-k\s*\|?\s*\d{1,3}"
    r"|\d{1,3}\s*\|?\s*.{0,30}form 10-k)$", re.I)
# A line that goes on a sentence the line before left open: lower-case start after prose with no final punctuation.
_END = re.compile(r"[.!?:;\"”’)\]*]$")
_LIST_ITEM = re.compile(r"^(?:\(?[a-z0-9]{1,3}\)|[a-z]\.)\s")


def _counter():
    from ingest.embed import PackagedModelEmbedder

    class WordPieces(PackagedModelEmbedder):  # the real tokenizer; vectors are not needed to chunk
        def embed_batch(self, texts):  # pragma: no cover
            raise AssertionError("chunking does not embed")

    return WordPieces().count_tokens_batch


def mid_wrap_starts(text: str) -> list[tuple[str, str]]:
    out, prev = [], ""
    for line in text.split("\n"):
        s = line.strip()
        if not s:
            continue
        if (s[0].islower() and len(prev) >= 50 and " | " not in prev and " | " not in s and "...." not in prev
                and not _END.search(prev) and re.search(r"[a-z]$", prev) and not _LIST_ITEM.match(s)):
            out.append((prev[-60:], s[:60]))
        prev = s
    return out


@pytest.fixture(scope="module")
def counter():
    if not EDGAR_HTML.is_dir():
        pytest.skip(f"../shared/corpus/edgar-html not found at {EDGAR_HTML}; put ../shared beside the checkout")
    return _counter()


@pytest.mark.parametrize("name", sorted(STATED))
def test_what_each_document_states(name: str, counter) -> None:
    form, company, year, items = STATED[name]
    doc = load_document(EDGAR_HTML / name)
    assert (doc.metadata.get("form"), doc.metadata.get("company"), doc.metadata.get("fiscal_year")) == (form, company, year)
    chunks = chunk_document(doc, "doc", counter)
    found = {c.item for c in chunks if c.item}
    assert items <= found, f"missing {items - found}; found {sorted(found)}"
    for chunk in chunks:
        assert not MARKUP.search(chunk.text), (chunk.id, MARKUP.search(chunk.text).group(0), chunk.text[:200])
        furniture = [ln for ln in chunk.text.split("\n") if FURNITURE.match(ln.strip())]
        assert not furniture, (chunk.id, furniture)
    # a running head repeated over the pages would show as the same short line many times
    short = [ln.strip().lower() for ln in doc.text.split("\n") if 0 < len(ln.strip()) <= 60 and re.search(r"form 10-k|table of contents", ln, re.I)]
    assert max((short.count(s) for s in set(short)), default=0) <= 2, sorted(set(short))[:5]
    starts = mid_wrap_starts(doc.text)
    if name in PLAIN_TEXT:
        # hard-wrapped text: what is left is two-column layout without table markup (a benefits schedule in an exhibit)
        assert len(starts) <= len(doc.text.split("\n")) // 400, starts
    else:
        assert starts == []


def test_statements_and_exhibits_carry_their_own_labels(counter) -> None:
    ge = load_document(EDGAR_HTML / "ge-1994.txt")
    chunks = chunk_document(ge, "ge", counter)
    notes = next(c for c in chunks if "NOTES TO CONSOLIDATED FINANCIAL STATEMENTS" in c.text)
    assert notes.item == "Item 8"  # printed after Item 14 and the signatures, in the annual report's pages
    ibm = load_document(EDGAR_HTML / "ibm-1997.txt")
    ex13 = next(s for s in ibm.sections if s.item == "Exhibit 13")
    assert "Management Discussion" in ibm.text[ex13.start:ex13.end]
    assert all(s.item != "Item 14" or s.end <= ex13.start for s in ibm.sections)  # never the last item before it
    text = ibm.text[ex13.start:ex13.end]
    assert "Revenue | $12,844 | $13,052 | $12,657" in text  # the software table, as the HTML path makes rows


def _word_piece_hasher():
    """The real tokenizer (so chunks and sentences are cut as `rag ingest` cuts them) with the tests' hashed
    bag-of-words vectors (``FakeEmbedder``): what the store records of a document does not depend on its vectors, and
    embedding every chunk and sentence of all 18 documents with the real model was most of this file's time in CI, for
    no check that needs it."""
    from ingest.embed import PackagedModelEmbedder
    from tests.conftest import FakeEmbedder

    class WordPieceHasher(FakeEmbedder, PackagedModelEmbedder):  # FakeEmbedder's vectors, the real model's count_tokens
        def __init__(self):
            PackagedModelEmbedder.__init__(self)
            FakeEmbedder.__init__(self)
            self.name = "word-pieces-hashed-64"

    return WordPieceHasher()


@pytest.mark.slow
def test_all_18_indexed(tmp_path: Path, counter) -> None:
    from rag.api import ingest_file
    from vectorstore.chroma import ChromaStore

    store = ChromaStore.open(tmp_path / "store")
    embedder = _word_piece_hasher()
    ids = {name: ingest_file(store, EDGAR_HTML / name, embedder).id for name in sorted(STATED)}
    records = {r.id: r for r in store.list_documents()}
    assert len(records) == len(STATED)
    for name, (form, company, year, items) in STATED.items():
        meta = records[ids[name]].metadata
        assert (meta["form"], meta["company"], meta["fiscal_year"]) == (form, company, year)
        assert items <= set(meta["items"].split(","))
    assert all(ingest_file(store, EDGAR_HTML / name, embedder).chunks_added == 0 for name in ("ge-1994.txt", "aapl-10-k-2024-11-01.html"))


@pytest.mark.slow
def test_a_plain_text_submission_summarized(tmp_path: Path, counter, real_embedder) -> None:
    from queries.profile import load_profile
    from rag.api import ingest_file, summarize_document
    from rag.settings import Settings
    from vectorstore.chroma import ChromaStore

    store = ChromaStore.open(tmp_path / "store")
    record = store.get_document(ingest_file(store, EDGAR_HTML / "ge-1994.txt", real_embedder).id)
    summary = summarize_document(store, record, load_profile(), Settings(store=tmp_path / "store"), lambda: real_embedder)
    assert "does not disclose how the company earns its revenue" not in summary.text
    assert not MARKUP.search(summary.text)
