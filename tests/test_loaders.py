"""Tests for ingest.clean and ingest.loaders: small inline inputs, then the shared corpus."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from ingest.clean import clean, clean_text, join_cell_lines, strip_xbrl_preamble
from ingest.errors import InputError
from ingest.loaders import SUPPORTED_SUFFIXES, html_to_text, load_document
from ingest.types import Document

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
NKE = CORPUS / "long-10k" / "NKE.json"
EDGAR = CORPUS / "edgar-10k" / "1001039_10K_2016_0001001039-16-000516.json"
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

XBRL_PREAMBLE = "\n".join(
    [
        "abc-20250531",
        "false",
        "2025",
        "FY",
        "0000320187",
        "http://fasb.org/us-gaap/2024#Assets",
        "http://fasb.org/us-gaap/2024#AccountsPayableCurrent http://fasb.org/us-gaap/2024#Assets",
        "iso4217:USD",
        "xbrli:shares",
        "P3Y",
        "0000320187",
        "2024-06-01",
        "2025-05-31",
        "us-gaap:CommonClassAMember",
        "abc:JohnO.DoeMember",
        "2014 2015 2016",
    ]
    * 5
)
COVER = "\n".join(
    [
        "UNITED STATES",
        "SECURITIES AND EXCHANGE COMMISSION",
        "Washington, D.C. 20549",
        "FORM",
        "10-K",
        "FOR THE FISCAL YEAR ENDED",
        "MAY 31",
        ", 2025",
        "ACME, Inc.",
        "(Exact name of Registrant as specified in its charter)",
    ]
)


def numbers(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def is_one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and not re.search(r"\.\s+[A-Z]", message)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- clean_text


def test_clean_text_normalizes_unicode_whitespace_and_keeps_lines() -> None:
    raw = "A\u00a0b\u2009c\u200bd\te\r\nsecond   line  \r\n\n\n\n\n  third\n"
    assert clean_text(raw) == "A b c d e\nsecond line\n\nthird"


def test_clean_text_keeps_single_blank_lines() -> None:
    assert clean_text("one\n\ntwo\nthree") == "one\n\ntwo\nthree"


# --------------------------------------------------------------------------- XBRL preamble


def test_strip_xbrl_preamble_cuts_at_document_start() -> None:
    stripped = strip_xbrl_preamble(XBRL_PREAMBLE + "\n" + COVER)
    assert stripped.startswith("UNITED STATES\nSECURITIES AND EXCHANGE COMMISSION")


@pytest.mark.parametrize(
    "text",
    [
        "Annual report\nWe sell shoes.\n2025\nFY results were good.",
        "2023\nFY\nfalse\nThis starts with tokens but only three of them.\nMore text.\nEnd.",
        "Item 7. Management's Discussion\nRevenue rose 10%.\nSee http://example.com/ir for more.",
        "",
    ],
)
def test_strip_xbrl_preamble_is_noop_for_ordinary_text(text: str) -> None:
    assert strip_xbrl_preamble(text) == text


def test_strip_xbrl_preamble_drops_stray_xbrl_lines() -> None:
    text = "Revenue\nus-gaap:CommonClassAMember\r\nhttp://fasb.org/us-gaap/2024#Assets\nrose: a lot"
    assert strip_xbrl_preamble(text) == "Revenue\nrose: a lot"


def test_strip_xbrl_preamble_is_fast_on_one_megabyte() -> None:
    body = ("This is an ordinary paragraph of the annual report, long enough to be prose.\n") * 13_000
    text = XBRL_PREAMBLE * 20 + "\n" + COVER + "\n" + body
    assert len(text) > 1_000_000
    started = time.perf_counter()
    stripped = strip_xbrl_preamble(text)
    assert time.perf_counter() - started < 0.2
    assert stripped.startswith("UNITED STATES")


# --------------------------------------------------------------------------- table cells


NKE_TABLE = "\n".join(
    [
        "(Dollars in millions)",
        "FISCAL 2025",
        "FISCAL 2024",
        "% CHANGE",
        "% CHANGE EXCLUDING CURRENCY CHANGES",
        "(1)",
        "NIKE Brand Revenues by:",
        "Footwear",
        "$",
        "29,510",
        "$",
        "33,427",
        "-12",
        "%",
        "-11",
        "%",
        "Global Brand Divisions",
        "(2)",
        "48",
        "45",
        "Interest expense (income), net",
        "(",
        "107",
        ")",
        "—",
        "TOTAL NIKE BRAND REVENUES",
        "$",
        "44,714",
        "$",
        "49,322",
        "-9",
        "%",
        "(1)",
        "The percent change excluding currency changes represents a non-GAAP financial measure.",
    ]
)


def test_join_cell_lines_rebuilds_rows() -> None:
    assert join_cell_lines(NKE_TABLE).split("\n") == [
        "(Dollars in millions)",
        "FISCAL 2025 FISCAL 2024 % CHANGE % CHANGE EXCLUDING CURRENCY CHANGES (1)",
        "NIKE Brand Revenues by:",
        "Footwear $29,510 $33,427 -12% -11%",
        "Global Brand Divisions (2) 48 45",
        "Interest expense (income), net (107) —",
        "TOTAL NIKE BRAND REVENUES $44,714 $49,322 -9%",
        "(1) The percent change excluding currency changes represents a non-GAAP financial measure.",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("FOR THE FISCAL YEAR ENDED\nMAY 31\n, 2025", "FOR THE FISCAL YEAR ENDED\nMAY 31, 2025"),
        ("ONE MICROSOFT WAY\n,\nREDMOND\n,\nWashington", "ONE MICROSOFT WAY, REDMOND, Washington"),
        ("FORM\n10-K", "FORM 10-K"),
        ("(\n503\n)\n671-6453", "(503) 671-6453"),
        ("Shares\n1\n,234", "Shares 1\n,234"),  # never forge the number 1,234
        # a percent sign under a caption is a header cell, not the end of the caption
        ("Revenue as a share of sales:\n%\n%\nChange", "Revenue as a share of sales:\n%\n%\nChange"),
    ],
)
def test_join_cell_lines_fragments(raw: str, expected: str) -> None:
    assert join_cell_lines(raw) == expected


def test_join_cell_lines_leaves_prose_and_flattened_rows_alone() -> None:
    text = (
        "Net sales $ 3,599.1 $ 4,107.3\n"
        "Cost of sales $ 2,000.0 $ 2,100.5\n"
        "Revenues for fiscal 2016 increased 6%, or $3.2 billion, to $55.6 billion, driven by higher "
        "theatrical distribution revenues and growth at our parks.\n"
        "2016\n"
        "Short heading\n\nAnother paragraph that ends with a period and is long enough to be prose."
    )
    assert join_cell_lines(text) == text


# --------------------------------------------------------------------------- clean


def test_clean_runs_all_steps() -> None:
    raw = XBRL_PREAMBLE + "\n" + COVER + "\nFootwear\n$\n29,510\n-12\n%\nNext\u00a0 paragraph.\n"
    assert clean(raw) == (
        "UNITED STATES\nSECURITIES AND EXCHANGE COMMISSION\nWashington, D.C. 20549\nFORM 10-K\n"
        "FOR THE FISCAL YEAR ENDED\nMAY 31, 2025\nACME, Inc.\n"
        "(Exact name of Registrant as specified in its charter)\n"
        "Footwear $29,510 -12%\nNext paragraph."
    )


# --------------------------------------------------------------------------- loaders: formats


def test_suffixes_are_lowercase_with_dot() -> None:
    assert all(s.startswith(".") and s == s.lower() for s in SUPPORTED_SUFFIXES)
    assert {".txt", ".md", ".html", ".json"} <= set(SUPPORTED_SUFFIXES)


@pytest.mark.parametrize("name", ["filing.txt", "filing.md", "filing.text", "FILING", "up.TXT"])
def test_load_plain_text(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, "# Title\r\n\r\nSome\u00a0text.\n")
    doc = load_document(path)
    assert isinstance(doc, Document)
    assert doc.text == "# Title\n\nSome text."
    assert doc.source == str(path.resolve())
    assert doc.metadata == {}
    assert doc.sections == ()


def test_load_text_accepts_bom_and_str_path(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.txt", b"\xef\xbb\xbfHello")
    assert load_document(str(path)).text == "Hello"


def test_load_text_falls_back_to_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path, "old.txt", "\u201cQuoted\u201d caf\u00e9 text.".encode("cp1252"))
    assert load_document(path).text == "\u201cQuoted\u201d caf\u00e9 text."


def test_load_text_reads_cover_metadata(tmp_path: Path) -> None:
    cover = (
        "UNITED STATES\nFORM 10-K\nFor the fiscal year ended December 31, 2023\n"
        "ACME Widgets, Inc.\n(Exact name of registrant as specified in its charter)\nDelaware\n"
    )
    doc = load_document(write(tmp_path, "acme.txt", cover))
    assert doc.metadata == {"form": "10-K", "fiscal_year": "2023", "company": "ACME Widgets, Inc."}


HTML = """<!DOCTYPE html><html><head><title>Ignored title</title>
<style>p { color: red; }</style><script>var x = "<p>no</p>";</script></head>
<body><h1>Item 7. Management&#8217;s Discussion &amp; Analysis</h1>
<p>Revenue
rose&nbsp;10%.<br>Second line</p><noscript>enable js</noscript>
<div>Block<ul><li>one</li><li>two</li></ul></div>
<table><tr><th>Segment</th><th>2025</th><th></th></tr>
<tr><td>Footwear</td><td>$</td><td>29,510</td><td>(12</td><td>)%</td></tr></table>
<h2>Item 8</h2>tail</body></html>"""


@pytest.mark.parametrize("suffix", [".html", ".htm", ".xhtml"])
def test_load_html(tmp_path: Path, suffix: str) -> None:
    doc = load_document(write(tmp_path, "page" + suffix, HTML))
    assert doc.text.split("\n") == [
        "Item 7. Management\u2019s Discussion & Analysis",
        "Revenue rose 10%.",
        "Second line",
        "Block",
        "one",
        "two",
        "Segment | 2025",
        "Footwear | $29,510 | (12)%",
        "Item 8",
        "tail",
    ]


def test_html_to_text_handles_unclosed_cells_and_nested_tables() -> None:
    text = html_to_text("<table><tr><td>a<td>b<tr><td>c<table><tr><td>x<td>y</table></table>")
    assert [line for line in text.split("\n") if line] == ["a | b", "c x | y"]


def edgar_record(**items: str) -> dict[str, str]:
    record = {
        "cik": "123",
        "company": "ACME CORP",
        "filing_type": "10-K",
        "filing_date": "2021-03-01",
        "period_of_report": "2020-12-31",
        "item_1": "",
    }
    return record | {f"item_{key}": value for key, value in items.items()}


def test_load_edgar_json_joins_items_in_order_with_exact_spans(tmp_path: Path) -> None:
    record = edgar_record(
        **{
            "7": "Item 7. MD&A\nRevenue\n$\n10\n",
            "1A": "  ITEM 1A. Risk Factors\r\nWe face risks.",
            "9B": "   ",
            "1": "Item 1. Business\n\n\n\nWe make widgets.",
        }
    )
    doc = load_document(write(tmp_path, "edgar.json", json.dumps(record)))
    assert doc.text == (
        "Item 1. Business\n\nWe make widgets.\n\n"
        "ITEM 1A. Risk Factors\nWe face risks.\n\n"
        "Item 7. MD&A\nRevenue $10"
    )
    assert [(s.item, s.title) for s in doc.sections] == [
        ("Item 1", "Item 1. Business"),
        ("Item 1A", "ITEM 1A. Risk Factors"),
        ("Item 7", "Item 7. MD&A"),
    ]
    assert [doc.text[s.start : s.end] for s in doc.sections] == [
        "Item 1. Business\n\nWe make widgets.",
        "ITEM 1A. Risk Factors\nWe face risks.",
        "Item 7. MD&A\nRevenue $10",
    ]
    assert doc.metadata == {
        "company": "ACME CORP",
        "form": "10-K",
        "filing_date": "2021-03-01",
        "cik": "123",
        "fiscal_year": "2020",
    }


def test_load_edgar_json_trims_long_titles(tmp_path: Path) -> None:
    record = edgar_record(**{"2": "Item 2. " + "Properties " * 30 + "\nWe own land."})
    (section,) = load_document(write(tmp_path, "e.json", json.dumps(record))).sections
    assert len(section.title) <= 120 and section.title.startswith("Item 2. Properties")


def long_10k_record(full_text: str, filing_date: str = "2025-07-17") -> dict[str, object]:
    return {
        "ticker": "ACME",
        "company_name": "ACME, Inc.",
        "cik": 320187,
        "filing_date": filing_date,
        "sections": {"full_text": full_text, "item_1_business": "ignored"},
    }


def test_load_long_10k_json(tmp_path: Path) -> None:
    record = long_10k_record(XBRL_PREAMBLE + "\n" + COVER + "\nItem 1. Business\nWe sell.")
    doc = load_document(write(tmp_path, "ACME.json", json.dumps(record)))
    assert doc.text.startswith("UNITED STATES\n")
    assert "us-gaap:" not in doc.text
    assert doc.sections == ()
    assert doc.metadata == {
        "company": "ACME, Inc.",
        "filing_date": "2025-07-17",
        "cik": "320187",
        "ticker": "ACME",
        "form": "10-K",
        "fiscal_year": "2025",
    }


def test_load_long_10k_fiscal_year_falls_back_to_filing_date(tmp_path: Path) -> None:
    record = long_10k_record("Annual report without a cover page.", filing_date="2024-02-20")
    assert load_document(write(tmp_path, "x.json", json.dumps(record))).metadata["fiscal_year"] == "2024"


# --------------------------------------------------------------------------- loaders: bad input


BAD_INPUTS = [
    ("missing.txt", None, "does not exist"),
    ("empty.txt", b"", "is empty"),
    ("blank.md", b"  \n\t\r\n ", "is empty"),
    ("only-xbrl.txt", ("us-gaap:CommonClassAMember\n" * 3).encode(), "no text left"),
    ("nul.txt", b"some text\x00\x01\x02 more", "binary"),
    ("report.pdf", b"%PDF-1.7\n...", "PDF is not supported yet"),
    ("report.txt", b"%PDF-1.7\n...", "PDF"),
    ("filing.docx", b"PK\x03\x04rest", "unsupported extension '.docx'"),
    ("sheet.xlsx", b"PK\x03\x04rest", ".txt, .md"),
    ("zip.txt", b"PK\x03\x04rest", "ZIP archive"),
    ("image.html", b"\x89PNG\r\n\x1a\nrest", "PNG image"),
    ("utf16.txt", "hello".encode("utf-16"), "UTF-16"),
    ("latin.txt", b"abc \x81\x8d\x8f undefined in cp1252", "not UTF-8"),
    ("noise.txt", bytes(range(1, 32)) * 10 + b"\xe9\xe8" * 50, "not UTF-8"),
    ("bad.json", b'{"item_1": "x",', "not valid JSON"),
    ("list.json", b"[1, 2, 3]", "unknown layout"),
    ("other.json", b'{"title": "x", "body": "y"}', "supported are edgar-crawler"),
    ("empty-items.json", json.dumps(edgar_record()).encode(), "no text left"),
]


@pytest.mark.parametrize(("name", "content", "expected"), BAD_INPUTS)
def test_bad_input_raises_one_clear_sentence(
    tmp_path: Path, name: str, content: bytes | None, expected: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        load_document(path)
    message = str(caught.value)
    assert expected in message
    assert name in message
    assert is_one_sentence(message), message


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory; pass the files inside it"):
        load_document(tmp_path)


# --------------------------------------------------------------------------- real corpus


needs_corpus = pytest.mark.skipif(
    not (NKE.is_file() and EDGAR.is_file()),
    reason=f"shared corpus not found at {CORPUS} (it sits beside the checkout in CI)",
)


@pytest.fixture(scope="module")
def nke() -> tuple[str, Document]:
    raw = json.loads(NKE.read_text(encoding="utf-8"))["sections"]["full_text"]
    return raw, load_document(NKE)


@pytest.fixture(scope="module")
def edgar() -> tuple[dict[str, str], Document]:
    return json.loads(EDGAR.read_text(encoding="utf-8")), load_document(EDGAR)


@needs_corpus
def test_nke_preamble_is_gone(nke: tuple[str, Document]) -> None:
    _, doc = nke
    assert "UNITED STATES" in doc.text[:100]
    assert "FORM 10-K" in doc.text[:200]
    assert not re.search(r"(?m)^\S*(?:us-gaap|iso4217|xbrli):", doc.text)
    assert "http://fasb.org" not in doc.text
    assert doc.metadata["fiscal_year"] == "2025"
    assert doc.metadata["company"] == "NIKE, Inc."


@needs_corpus
def test_nke_revenue_table_row_is_one_line(nke: tuple[str, Document]) -> None:
    _, doc = nke
    lines = doc.text.split("\n")
    assert "Footwear $29,510 $33,427 -12% -11% $33,135 1% 1%" in lines
    assert "TOTAL NIKE BRAND REVENUES $44,714 $49,322 -9% -9% $48,763 1% 1%" in lines


@needs_corpus
def test_nke_number_tokens_are_preserved(nke: tuple[str, Document]) -> None:
    raw, doc = nke
    assert numbers(doc.text) <= numbers(raw)


@needs_corpus
def test_nke_clean_output_is_already_clean(nke: tuple[str, Document]) -> None:
    _, doc = nke
    assert clean_text(doc.text) == doc.text


@needs_corpus
def test_edgar_number_tokens_are_preserved(edgar: tuple[dict[str, str], Document]) -> None:
    record, doc = edgar
    raw = "\n".join(v for k, v in record.items() if k.startswith("item_"))
    assert numbers(doc.text) <= numbers(raw)


@needs_corpus
def test_edgar_prose_is_unchanged(edgar: tuple[dict[str, str], Document]) -> None:
    record, doc = edgar
    # A footnote marker on the line above its sentence is joined to it: "(2) EPS is net...".
    lines = {re.sub(r"^\(\w{1,4}\) ", "", line) for line in doc.text.split("\n")}
    prose = [line for line in clean_text(record["item_7"]).split("\n") if len(line) > 120]
    assert prose and all(line in lines for line in prose)


@needs_corpus
def test_edgar_section_spans_are_exact(edgar: tuple[dict[str, str], Document]) -> None:
    record, doc = edgar
    assert [s.item for s in doc.sections][:4] == ["Item 1", "Item 1A", "Item 1B", "Item 2"]
    for section in doc.sections:
        number = section.item.removeprefix("Item ")
        span = doc.text[section.start : section.end]
        assert re.match(rf"item\s*{number}\b", span, re.IGNORECASE), section
        assert span == clean(record[f"item_{number}"])
        assert span.startswith(section.title)
    assert doc.metadata["fiscal_year"] == "2016"
