"""Load one filing from disk into a cleaned ``Document``, whatever form it came in.

A filing arrives as plain text, Markdown, HTML or one of two JSON layouts (see the shared
corpus README): edgar-crawler files with one field per 10-K item, and long-10k files with the
whole filing in ``sections.full_text``. Everything ends up as the same thing: cleaned text
(``ingest.clean.clean``), what is known of the filing as string metadata, and, when the input
says where each item is, exact ``Section`` spans into that text.

Every input a user can get wrong (missing, a directory, empty, binary, PDF, unsupported
extension, undecodable, bad JSON, unknown JSON layout) raises ``InputError`` with one sentence
that names the path and says what to do.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import re
from pathlib import Path
from typing import Any

from ingest.clean import clean
from ingest.edgar import Part, exhibit_label, is_submission, is_text_in_html, parts, read_header, text_body
from ingest.errors import InputError
from ingest.files import MAX_FILE_MB, max_file_bytes, not_regular, read_regular_file  # noqa: F401  (re-exported)
from ingest.forms import form_from_cover, normalize_form
from ingest.markup import html_document, html_to_text  # noqa: F401  (html_to_text is re-exported)
from ingest.pages import PAGE_BREAK, is_hard_wrapped, join_split_lines, strip_furniture
from ingest.sections import detect_sections
from ingest.types import Document, Section

__all__ = ["SUPPORTED_SUFFIXES", "cover_metadata", "html_to_text", "load_document"]

TEXT_SUFFIXES = (".txt", ".md", ".text")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
JSON_SUFFIXES = (".json",)
# A file without any extension is read as plain text as well.
SUPPORTED_SUFFIXES: tuple[str, ...] = TEXT_SUFFIXES + HTML_SUFFIXES + JSON_SUFFIXES

# 10-K items in filing order; edgar-crawler names its fields ``item_<number>``.
ITEM_ORDER = (
    "1", "1A", "1B", "1C", "2", "3", "4", "5", "6", "7", "7A",
    "8", "9", "9A", "9B", "9C", "10", "11", "12", "13", "14", "15", "16",
)  # fmt: skip
_MAX_TITLE = 120
# How far into the text the cover page (form type, fiscal year, registrant name) can be.
_COVER_CHARS = 5_000
_REGISTRANT_CHARS = 20_000
_SNIFF_BYTES = 8_192

# Magic numbers of formats people pass by mistake, with how to name them in the message.
_BINARY_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file (.doc/.xls)"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)


# --------------------------------------------------------------------------- entry point


def load_document(path: str | os.PathLike[str], limit: int | None = None) -> Document:
    """Read a filing (at most ``limit`` bytes, default ``max_file_bytes()``) and return it cleaned, with its
    metadata and (for edgar JSON) sections.

    The loader is chosen by extension, after checks on the content that catch the usual
    mistakes (a PDF renamed ``.txt``, a Word file, an empty export) before any parsing.
    """
    file = _existing_file(Path(path).expanduser())
    suffix = file.suffix.lower()
    _check_suffix(file, suffix)
    data = read_regular_file(file, limit)  # bounded as it reads; a FIFO or a device is refused
    _check_content(file, data)
    if suffix in JSON_SUFFIXES:
        document = _load_json(file, data)
    else:
        document = _load_filing(file, _decode(file, data), html=suffix in HTML_SUFFIXES)
    if not document.text:
        raise InputError(f"{file} has no text left after cleaning; pass a file with content.")
    return document


def _existing_file(path: Path) -> Path:
    """Resolve ``path`` to an absolute path of a regular file, or say why it cannot be read."""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        if err.errno == errno.ENOENT:
            raise InputError(f"{path} does not exist; check the path and try again.") from None
        raise InputError(f"{path} cannot be read ({err.strerror}); check its permissions.") from None
    if (error := not_regular(path, mode)) is not None:
        raise error
    return path.resolve()


def _check_suffix(file: Path, suffix: str) -> None:
    """Reject extensions we cannot read, with the list of those we can."""
    if suffix == ".pdf":
        raise _pdf_error(file)
    if suffix and suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(SUPPORTED_SUFFIXES)
        raise InputError(
            f"{file} has the unsupported extension '{suffix}'; "
            f"convert it to one of {supported} (or a file with no extension)."
        )


def _pdf_error(file: Path) -> InputError:
    return InputError(
        f"{file} is a PDF file and PDF is not supported yet; convert it to text or HTML "
        "(for example with pdftotext) and pass that file."
    )


def _check_content(file: Path, data: bytes) -> None:
    """Refuse empty and binary files before decoding, so the message says what they are."""
    if not data.strip():
        raise InputError(f"{file} is empty; pass a file that contains the filing text.")
    head = data[:_SNIFF_BYTES]
    if head.startswith(b"%PDF"):
        raise _pdf_error(file)
    if head.startswith(b"PK\x03\x04"):
        raise InputError(
            f"{file} is a ZIP archive (such as .docx or .xlsx), which is not supported; "
            "save it as text or HTML and pass that file."
        )
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            raise InputError(f"{file} is {kind}, not text; pass a text, HTML or JSON filing.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{file} is UTF-16 text; re-save it as UTF-8 and try again.")
    if b"\x00" in head:
        raise InputError(f"{file} is a binary file, not text; pass a text, HTML or JSON filing.")


# --------------------------------------------------------------------------- decoding


def _decode(file: Path, data: bytes) -> str:
    """Decode UTF-8 (with or without BOM); accept Windows-1252 only when it reads as text.

    Old EDGAR exports are often cp1252 (curly quotes as 0x93/0x94), but cp1252 maps almost
    any byte to some character, so a decode that "works" is not proof of text.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = ""
    if text and _looks_like_text(text):
        return text
    raise InputError(f"{file} is not UTF-8 text (nor clean Windows-1252); re-save it as UTF-8.")


def _looks_like_text(text: str) -> bool:
    """True when control characters are rare and most characters are ASCII, as in prose."""
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return controls <= len(text) * 0.001 and non_ascii <= len(text) * 0.2


# --------------------------------------------------------------------------- text and HTML


def _load_filing(file: Path, raw: str, html: bool) -> Document:
    """Plain text, Markdown, HTML, or an EDGAR submission holding either: one cleaned text, its
    metadata (SEC header, then inline XBRL's ``dei:`` facts, then the cover page) and its parts (the
    form's items in the main document, each exhibit labelled ``Exhibit N``)."""
    if is_submission(raw):
        header = read_header(raw)
        found = parts(raw)
        if found:
            return _load_parts(file, found, header)
    else:
        header = {}
    text, facts = _markup_text(raw, html)
    return _assemble(file, [(None, "", text)], header, facts)


def _markup_text(raw: str, html: bool) -> tuple[str, dict[str, str]]:
    """One document's text with page furniture gone (and its ``dei:`` facts when it is HTML)."""
    facts: dict[str, str] = {}
    if html and not is_text_in_html(raw):
        raw, facts = html_document(raw)
        return clean(join_split_lines(strip_furniture(raw))), facts
    if html or "<TABLE>" in raw.upper() or PAGE_BREAK in raw or "<PAGE>" in raw.upper() or is_hard_wrapped(raw):
        raw = text_body(raw)
    return clean(strip_furniture(raw)), facts


def _load_parts(file: Path, found: list[Part], header: dict[str, str]) -> Document:
    """A submission: the main document first, then each text exhibit as a part of its own."""
    pieces: list[tuple[str | None, str, str]] = []
    facts: dict[str, str] = {}
    for i, part in enumerate(found):
        text, part_facts = _markup_text(part.body, part.is_html)
        if i == 0:
            facts = part_facts
        label = exhibit_label(part.type) if i else None
        if text:
            pieces.append((label, part.description or part.type, text))
    return _assemble(file, pieces, header, facts)


def _assemble(file: Path, pieces: list[tuple[str | None, str, str]], header: dict[str, str], facts: dict[str, str]) -> Document:
    """Join the parts with blank lines; items are found in the main document, exhibits span their part."""
    main = next((text for label, _, text in pieces if label is None), pieces[0][2] if pieces else "")
    metadata = filing_metadata(main, facts, header)
    form = metadata.get("form")
    sections: list[Section] = []
    texts: list[str] = []
    offset = 0
    for label, title, text in pieces:
        if texts:
            offset += 2  # the blank line between parts
        if label is None:
            found = detect_sections(text, form) if form else ()
            sections.extend(Section(s.item, s.title, s.start + offset, s.end + offset) for s in found)
        else:
            sections.append(Section(label, title[:_MAX_TITLE], offset, offset + len(text)))
        texts.append(text)
        offset += len(text)
    return Document(source=str(file), text="\n\n".join(texts), metadata=metadata, sections=tuple(sections))


_FISCAL_YEAR = re.compile(
    r"fiscal\s+year\s+ended[\s:]*(?:([A-Za-z]+)\.?\s*\d{1,2}\s*,?\s*)?((?:19|20)\d{2})\b",
    re.IGNORECASE,
)
_REGISTRANT = re.compile(r"^\(exact name of (?:the )?registrant as specified in\s+(?:its\s+|the\s+)?charter\)$", re.I | re.M)
_RULE_LINE = re.compile(r"[\W_]*")  # ______ or ------ separators between cover fields
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def cover_metadata(text: str) -> dict[str, str]:
    """Form, fiscal year and company as the cover page states them; absent means unknown."""
    return filing_metadata(text)


def filing_metadata(text: str, facts: dict[str, str] | None = None, header: dict[str, str] | None = None) -> dict[str, str]:
    """What the filing states about itself: form, company, fiscal year, period end, CIK, ticker.

    Inline XBRL's ``dei:`` facts come first (they are the filing's own tags), then the cover page,
    then the SEC header. The fiscal year is the one the filing names: ``dei:DocumentFiscalYearFocus``,
    else the year the cover's "fiscal year ended" date falls in, unless the period ends in the first
    months of a year and the filing calls that year "fiscal" one less more often (a retailer's
    "fiscal 2024" that ended on February 1, 2025).
    """
    facts, header = facts or {}, header or {}
    metadata: dict[str, str] = {}
    form = normalize_form(facts.get("form")) or normalize_form(header.get("form")) or form_from_cover(text)
    if form:
        metadata["form"] = form
    company = (_name(facts.get("company")) or _registrant_name(text[:_REGISTRANT_CHARS]) or _name(header.get("company"))
               or _cover_company(text[:_COVER_CHARS]))
    if company:
        metadata["company"] = company
    period = _iso_date(facts.get("period")) or header.get("period")
    if period:
        metadata["period"] = period
    year = facts.get("fiscal_year") if re.fullmatch(r"(?:19|20)\d\d", facts.get("fiscal_year", "")) else None
    if not year:
        year = _named_fiscal_year(text, period)
    if year:
        metadata["fiscal_year"] = year
    for key in ("cik", "ticker", "filing_date"):
        value = facts.get(key) or header.get(key)
        if value:
            metadata[key] = value.strip()
    return metadata


def _named_fiscal_year(text: str, period: str | None) -> str | None:
    """The cover's fiscal year (or the period's year), moved back one when the filing names it so."""
    m = _FISCAL_YEAR.search(text[:_COVER_CHARS])
    if m:
        year, month = int(m.group(2)), _MONTHS.get((m.group(1) or "")[:3].lower())
    elif period and re.match(r"\d{4}-\d\d", period):
        year, month = int(period[:4]), int(period[5:7])
    else:
        return None
    if month and month <= 3:
        named = {y: len(re.findall(rf"\bfiscal(?:\s+year)?\s+{y}\b", text, re.I)) for y in (year, year - 1)}
        if named[year - 1] > named[year]:
            return str(year - 1)
    return str(year)


def _iso_date(value: str | None) -> str | None:
    """``2024-09-28`` or ``September 28, 2024`` as ``2024-09-28``."""
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\d", value.strip()):
        return value.strip()
    m = re.fullmatch(r"([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})", value.strip())
    if m and _MONTHS.get(m.group(1)[:3].lower()):
        return f"{m.group(3)}-{_MONTHS[m.group(1)[:3].lower()]:02d}-{int(m.group(2)):02d}"
    return None


# A cover without the "(Exact name of registrant ...)" caption: the first line that is a company's name.
_COMPANY_LINE = re.compile(
    r"^[A-Z0-9][\w.,&'’ -]{1,80}?\b(?:CORPORATION|CORP\.?|INC\.?|INCORPORATED|COMPANY|CO\.|LTD\.?|LIMITED|N\.V\.|PLC|"
    r"LLC|L\.P\.|S\.A\.|HOLDINGS|GROUP|TRUST|FUND(?: [IVX]+)?)$", re.M)


def _cover_company(text: str) -> str | None:
    """The first line of the cover, before the securities it registers, that reads as an upper-case company name."""
    cover = re.split(r"securities registered", text, maxsplit=1, flags=re.I)[0]
    m = _COMPANY_LINE.search(cover)
    return _name(m.group(0)) if m else None


def _name(value: str | None) -> str | None:
    """A registrant's name without the rules and blanks around it."""
    if not value:
        return None
    name = re.sub(r"^[\s\-_=*]+|[\s\-_=*]+$", "", " ".join(value.split()))
    return name or None


def fiscal_year_from_cover(text: str) -> str | None:
    """The year in ``For the fiscal year ended December 31, 2023`` near the start, if any."""
    match = _FISCAL_YEAR.search(text[:_COVER_CHARS])
    return match.group(2) if match else None


def _registrant_name(text: str) -> str | None:
    """The line above ``(Exact name of registrant as specified in its charter)``."""
    match = _REGISTRANT.search(text)
    if not match:
        return None
    for line in reversed(text[: match.start()].splitlines()[-3:]):
        if not _RULE_LINE.fullmatch(line):
            return _name(line)
    return None


# --------------------------------------------------------------------------- JSON


def _load_json(file: Path, data: bytes) -> Document:
    """Parse a JSON filing and dispatch on its layout (edgar-crawler or long-10k)."""
    try:
        record = json.loads(_decode(file, data))
    except json.JSONDecodeError as err:
        raise InputError(
            f"{file} is not valid JSON ({err.msg} at line {err.lineno}); fix or re-export the file."
        ) from None
    if isinstance(record, dict) and _is_edgar_layout(record):
        return _load_edgar(file, record)
    if isinstance(record, dict) and _is_long_10k_layout(record):
        return _load_long_10k(file, record)
    raise InputError(
        f"{file} is JSON in an unknown layout; supported are edgar-crawler filings "
        "(item_1, item_7, ... fields) and long-10k filings (sections.full_text)."
    )


def _is_edgar_layout(record: dict[str, Any]) -> bool:
    return any(isinstance(record.get(f"item_{item}"), str) for item in ITEM_ORDER)


def _is_long_10k_layout(record: dict[str, Any]) -> bool:
    sections = record.get("sections")
    return isinstance(sections, dict) and isinstance(sections.get("full_text"), str)


def _load_edgar(file: Path, record: dict[str, Any]) -> Document:
    """Join the non-empty items in 10-K order and record each one's exact span.

    Each item is cleaned on its own before joining, so the spans computed here are spans
    of the final text (cleaning after joining would shift them).
    """
    pieces: list[str] = []
    sections: list[Section] = []
    offset = 0
    for item, body in _edgar_items(record):
        if pieces:
            offset += 2  # the blank line between items
        sections.append(Section(f"Item {item}", _title(body), offset, offset + len(body)))
        pieces.append(body)
        offset += len(body)
    metadata = _string_fields(
        record,
        company="company",
        form="filing_type",
        filing_date="filing_date",
        cik="cik",
        ticker="ticker",
    )
    period = str(record.get("period_of_report") or "")
    if re.match(r"\d{4}", period):
        metadata["fiscal_year"] = period[:4]
    return Document(
        source=str(file), text="\n\n".join(pieces), metadata=metadata, sections=tuple(sections)
    )


def _edgar_items(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(item number, cleaned text) for every item field with text, in 10-K order."""
    items = []
    for item in ITEM_ORDER:
        value = record.get(f"item_{item}")
        body = clean(value) if isinstance(value, str) else ""
        if body:
            items.append((item, body))
    return items


def _title(body: str) -> str:
    """The item's first line (its heading), cut to ``_MAX_TITLE`` characters."""
    return body.split("\n", 1)[0][:_MAX_TITLE].rstrip()


def _load_long_10k(file: Path, record: dict[str, Any]) -> Document:
    """The whole filing from ``sections.full_text``; items are detected later, in the text."""
    text = clean(record["sections"]["full_text"])
    metadata = _string_fields(
        record,
        company="company_name",
        form="filing_type",
        filing_date="filing_date",
        cik="cik",
        ticker="ticker",
    )
    metadata.setdefault("form", "10-K")
    year = fiscal_year_from_cover(text) or metadata.get("filing_date", "")[:4]
    if re.fullmatch(r"\d{4}", year):
        metadata["fiscal_year"] = year
    return Document(source=str(file), text=text, metadata=metadata)


def _string_fields(record: dict[str, Any], **fields: str) -> dict[str, str]:
    """``{our_name: str(record[their_name])}`` for the fields that are present and non-empty."""
    found = {}
    for ours, theirs in fields.items():
        value = record.get(theirs)
        if value is not None and str(value).strip():
            found[ours] = str(value).strip()
    return found
