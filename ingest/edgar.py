"""EDGAR's own formats: the full submission (SEC header and ``<DOCUMENT>`` parts) and plain-text bodies.

A full submission as EDGAR serves it (``0000040545-94-000003.txt``) is::

    <SEC-HEADER> ... CONFORMED SUBMISSION TYPE: 10-K ... COMPANY CONFORMED NAME: GENERAL ELECTRIC CO ...
    <DOCUMENT> <TYPE>10-K <SEQUENCE>1 <DESCRIPTION>FORM 10-K <TEXT> ... </TEXT> </DOCUMENT>
    <DOCUMENT> <TYPE>EX-13 ... the annual report to shareholders ... </DOCUMENT>
    <DOCUMENT> <TYPE>EX-27 ... a financial data schedule (tags, no prose) ... </DOCUMENT>

``read_header`` takes what the header states (form, company, CIK, period, filing date); ``parts``
splits the documents and says which are text worth indexing (the main document and its text
exhibits; not data schedules, XBRL, images or uuencoded files). ``text_body`` turns one plain-text
body into the line structure the rest of the pipeline expects: page breaks marked, ``<TABLE>``
blocks as `` | `` rows, paragraphs on one line.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from ingest.pages import PAGE_BREAK, strip_furniture, text_table, unwrap

__all__ = ["Part", "exhibit_label", "is_submission", "is_text_in_html", "parts", "read_header", "text_body"]

_SUBMISSION = re.compile(r"<(?:SEC|IMS)-(?:HEADER|DOCUMENT)>|^\s*<DOCUMENT>\s*<TYPE>", re.I | re.M)
_HEADER_END = re.compile(r"</(?:SEC|IMS)-HEADER>|<DOCUMENT>", re.I)
_HEADER_FIELDS = {
    "CONFORMED SUBMISSION TYPE": "form",
    "COMPANY CONFORMED NAME": "company",
    "CENTRAL INDEX KEY": "cik",
    "CONFORMED PERIOD OF REPORT": "period",
    "FILED AS OF DATE": "filing_date",
    "FISCAL YEAR END": "fiscal_year_end",
}
_HEADER_LINE = re.compile(r"^\s*(" + "|".join(_HEADER_FIELDS) + r"):\s*(.+?)\s*$", re.M)
_DOCUMENT = re.compile(r"<DOCUMENT>(.*?)(?:</DOCUMENT>|(?=<DOCUMENT>)|\Z)", re.I | re.S)
_TAG_VALUE = {name: re.compile(rf"<{name}>[ \t]*([^\n<]*)", re.I) for name in ("TYPE", "DESCRIPTION", "FILENAME")}
_TEXT = re.compile(r"<TEXT>(.*?)(?:</TEXT>|\Z)", re.I | re.S)
# Parts that hold no prose: data schedules, XBRL, images, archives, uuencoded files.
_NOT_TEXT_TYPES = re.compile(r"EX-27|EX-101|GRAPHIC|ZIP|EXCEL|XML|JSON|PDF|COVER|XBRL", re.I)
_NOT_TEXT_BODY = re.compile(r"^\s*(?:<XBRL>|<\?xml|begin \d{3} |<PDF>)", re.I)


@dataclass(frozen=True)
class Part:
    """One ``<DOCUMENT>`` of a submission: its type (``10-K``, ``EX-13``), description, file name and body."""

    type: str
    description: str
    filename: str
    body: str

    @property
    def is_html(self) -> bool:
        return bool(re.search(r"<(?:html|body|p|div|table|font)\b", self.body[:5000], re.I)) and not is_text_in_html(self.body)


def is_submission(text: str) -> bool:
    """True for EDGAR's SGML wrapper: an SEC header, or ``<DOCUMENT>`` followed by ``<TYPE>``."""
    return bool(_SUBMISSION.search(text[:50_000]))


def read_header(text: str) -> dict[str, str]:
    """What the SEC header states, as metadata: form, company, cik, period (YYYY-MM-DD), filing_date."""
    end = _HEADER_END.search(text)
    head = text[: end.start()] if end else text[:20_000]
    found: dict[str, str] = {}
    for m in _HEADER_LINE.finditer(head):
        found.setdefault(_HEADER_FIELDS[m.group(1)], m.group(2))
    for key in ("period", "filing_date"):
        if re.fullmatch(r"\d{8}", found.get(key, "")):
            v = found[key]
            found[key] = f"{v[:4]}-{v[4:6]}-{v[6:]}"
    return found


def parts(text: str) -> list[Part]:
    """The submission's documents that hold text, in order (the main document first, as EDGAR lists it)."""
    out = []
    for m in _DOCUMENT.finditer(text):
        chunk = m.group(1)
        values = {name: (rx.search(chunk).group(1).strip() if rx.search(chunk) else "") for name, rx in _TAG_VALUE.items()}
        body_match = _TEXT.search(chunk)
        body = body_match.group(1) if body_match else ""
        if not body.strip() or _NOT_TEXT_TYPES.match(values["TYPE"]) or _NOT_TEXT_BODY.match(body):
            continue
        out.append(Part(values["TYPE"].upper(), values["DESCRIPTION"], values["FILENAME"], body))
    return out


def exhibit_label(part_type: str) -> str | None:
    """``EX-13`` -> ``Exhibit 13``, ``EX-10.E`` -> ``Exhibit 10``, ``EX-99.A`` -> ``Exhibit 99``; None for a main document."""
    m = re.match(r"EX-0*(\d+)", part_type, re.I)
    return f"Exhibit {m.group(1)}" if m else None


# --------------------------------------------------------------------------- plain-text bodies

_PAGE_TAG = re.compile(r"^\s*<PAGE>\s*$", re.I | re.M)
_DASHED_PAGE_NUMBER = re.compile(r"^[ \t]*-[ \t]?\d{1,3}[ \t]?-[ \t]*$", re.M)
_TABLE_BLOCK = re.compile(r"<TABLE>(.*?)(?:</TABLE>|\Z)", re.I | re.S)
_STRAY_TAG = re.compile(r"</?(?:S|C|CAPTION|FN|F\d{1,2}|PAGE|TEXT|PRE|HTML|BODY|DIV|HEAD|TITLE)>", re.I)


def is_text_in_html(markup: str) -> bool:
    """True for a plain-text filing dressed as HTML: ``<html><body><div>`` around lines laid out with
    spaces and SGML column marks (``<S>``, ``<C>``), and no HTML cells or paragraphs of its own."""
    head = markup[:2_000_000]
    sgml_marks = len(re.findall(r"<C>", head))
    html_blocks = len(re.findall(r"<(?:td|p|tr|li)\b", head, re.I))
    return sgml_marks > 0 and html_blocks == 0


def text_body(body: str) -> str:
    """One plain-text document as lines: page breaks marked, tables as rows, paragraphs joined.

    The order matters: page numbers and running heads go first, while the page breaks are known (a
    table can run over a page); tables are rows before unwrapping, so columns are never joined as prose.
    """
    body = html.unescape(body) if re.search(r"&(?:#\d+|[a-z]+);", body[:200_000]) else body
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    body = _PAGE_TAG.sub(PAGE_BREAK, body)
    if PAGE_BREAK not in body:  # no <PAGE> marks: a page number set as "-12-" ends a page
        body = _DASHED_PAGE_NUMBER.sub(lambda m: m.group(0) + PAGE_BREAK, body)
    body = strip_furniture(body)  # page numbers and running heads go while the page breaks are known
    pieces: list[str] = []
    pos = 0
    for m in _TABLE_BLOCK.finditer(body):
        pieces.append(_prose(body[pos : m.start()]))
        pieces.append("\n" + "\n".join(text_table(m.group(1))) + "\n")
        pos = m.end()
    pieces.append(_prose(body[pos:]))
    return "".join(pieces)


_BAR_HEADING = re.compile(r"^\|\s*(?=[A-Z])", re.M)  # "| FINANCIAL SECTION": a bar some filers set before headings


def _prose(text: str) -> str:
    return unwrap(_BAR_HEADING.sub("", _STRAY_TAG.sub("", text)))
