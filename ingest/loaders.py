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
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ingest.clean import clean
from ingest.errors import InputError
from ingest.files import MAX_FILE_MB, max_file_bytes, not_regular, read_regular_file  # noqa: F401  (re-exported)
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
_COVER_FORM_CHARS = 3_000
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


def load_document(path: str | os.PathLike[str]) -> Document:
    """Read a filing and return it cleaned, with its metadata and (for edgar JSON) sections.

    The loader is chosen by extension, after checks on the content that catch the usual
    mistakes (a PDF renamed ``.txt``, a Word file, an empty export) before any parsing.
    """
    file = _existing_file(Path(path).expanduser())
    suffix = file.suffix.lower()
    _check_suffix(file, suffix)
    data = read_regular_file(file)  # bounded as it reads; a FIFO or a device is refused
    _check_content(file, data)
    if suffix in JSON_SUFFIXES:
        document = _load_json(file, data)
    elif suffix in HTML_SUFFIXES:
        document = _load_markup(file, html_to_text(_decode(file, data)))
    else:
        document = _load_markup(file, _decode(file, data))
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


def _load_markup(file: Path, raw: str) -> Document:
    """Plain text, Markdown or HTML text: clean it and read what the cover page says."""
    text = clean(raw)
    return Document(source=str(file), text=text, metadata=cover_metadata(text))


_FORM_10K = re.compile(r"\bFORM\s+10-K\b", re.IGNORECASE)
_FISCAL_YEAR = re.compile(
    r"fiscal\s+year\s+ended[\s:]*(?:[A-Za-z]+\.?\s*\d{1,2}\s*,?\s*)?((?:19|20)\d{2})\b",
    re.IGNORECASE,
)
_REGISTRANT = re.compile(r"^\(exact name of registrant as specified in its charter\)$", re.I | re.M)
_RULE_LINE = re.compile(r"[\W_]*")  # ______ or ------ separators between cover fields


def cover_metadata(text: str) -> dict[str, str]:
    """Form, fiscal year and company as the 10-K cover page states them; absent means unknown."""
    metadata: dict[str, str] = {}
    if _FORM_10K.search(text[:_COVER_FORM_CHARS]):
        metadata["form"] = "10-K"
    year = fiscal_year_from_cover(text)
    if year:
        metadata["fiscal_year"] = year
    company = _registrant_name(text[:_REGISTRANT_CHARS])
    if company:
        metadata["company"] = company
    return metadata


def fiscal_year_from_cover(text: str) -> str | None:
    """The year in ``For the fiscal year ended December 31, 2023`` near the start, if any."""
    match = _FISCAL_YEAR.search(text[:_COVER_CHARS])
    return match.group(1) if match else None


def _registrant_name(text: str) -> str | None:
    """The line above ``(Exact name of registrant as specified in its charter)``."""
    match = _REGISTRANT.search(text)
    if not match:
        return None
    for line in reversed(text[: match.start()].splitlines()[-3:]):
        if not _RULE_LINE.fullmatch(line):
            return line.strip()
    return None


class _TextExtractor(HTMLParser):
    """Collect the visible text of an HTML page as lines, one table row per line.

    Block elements become line breaks so headings and paragraphs stay separate lines;
    a ``<tr>`` becomes one line of cells joined by `` | `` so a row's label and numbers
    stay together. Inline XBRL's hidden ``ix:header`` is skipped like scripts are.
    """

    SKIP = frozenset({"script", "style", "noscript", "template", "ix:header"})
    BLOCK = frozenset(
        {
            "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
            "table", "section", "article", "header", "footer", "blockquote", "pre",
            "hr", "dl", "dt", "dd", "caption", "form", "nav", "aside", "main", "body",
        }
    )  # fmt: skip
    VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._in_head = False
        self._pre_depth = 0
        # One entry per open <table>: its open row (list of cells) and open cell (text pieces).
        self._tables: list[dict[str, Any]] = []

    # -- tags
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip_depth += 1
            return
        if tag == "head":
            self._in_head = True
            return
        if tag in self.BLOCK:
            self._in_head = False  # a page that forgets </head> still has a body
        if self._skip_depth or self._in_head:
            return
        if tag == "pre":
            self._pre_depth += 1
        if tag == "table":
            self._break()
            self._tables.append({"row": None, "cell": None})
        elif tag == "tr":
            self._end_row()
            self._table()["row"] = []
        elif tag in ("td", "th"):
            self._end_cell()
            table = self._table()
            if table["row"] is None:
                table["row"] = []
            table["cell"] = []
        elif tag in self.BLOCK:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "head":
            self._in_head = False
            return
        if self._skip_depth or self._in_head:
            return
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag in ("td", "th"):
            self._end_cell()
        elif tag == "tr":
            self._end_row()
        elif tag == "table" and self._tables:
            self._end_row()
            self._tables.pop()
            self._break()
        elif tag in self.BLOCK:
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """``<br/>`` is one break, not an open and a close (which would make a blank line)."""
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._skip_depth or self._in_head:
            return
        if not self._pre_depth:
            data = re.sub(r"[ \t\r\n\f]+", " ", data)  # source newlines are just spaces in HTML
        self._write(data)

    def close(self) -> None:
        super().close()
        while self._tables:
            self._end_row()
            self._tables.pop()

    # -- output
    def _open_cell(self) -> list[str] | None:
        return self._tables[-1]["cell"] if self._tables else None

    def _write(self, text: str) -> None:
        """Add text to the open table cell if there is one, else to the page."""
        cell = self._open_cell()
        if cell is not None:
            cell.append(text)
        elif not (self._tables and self._tables[-1]["row"] is not None and not text.strip()):
            self.parts.append(text)  # whitespace between cells is layout, not content

    def _break(self) -> None:
        """A block boundary: a new line on the page, a space inside a table cell."""
        if self._open_cell() is not None:
            self._write(" ")
        else:
            self._newline()

    def _newline(self) -> None:
        """End the current page line, once: ``</p><p>`` is one break, not a blank line."""
        for part in reversed(self.parts):
            if part.strip(" "):
                if not part.endswith("\n"):
                    self.parts.append("\n")
                return

    def _table(self) -> dict[str, Any]:
        """The innermost open table; a stray ``<tr>``/``<td>`` opens an implicit one."""
        if not self._tables:
            self._tables.append({"row": None, "cell": None})
        return self._tables[-1]

    def _end_cell(self) -> None:
        if not self._tables or self._tables[-1]["cell"] is None:
            return
        table = self._tables[-1]
        text = " ".join("".join(table["cell"]).split())
        table["cell"] = None
        if table["row"] is None:
            table["row"] = []
        table["row"].append(text)

    def _end_row(self) -> None:
        """Emit the open row as one line of `` | ``-joined cells (into the outer cell if nested)."""
        self._end_cell()
        if not self._tables or self._tables[-1]["row"] is None:
            return
        line = " | ".join(_merge_cell_fragments(self._tables[-1]["row"]))
        self._tables[-1]["row"] = None
        outer_cell = self._tables[-2]["cell"] if len(self._tables) > 1 else None
        if not line:
            return
        if outer_cell is not None:
            outer_cell.append(f" {line} ")
        else:
            self._newline()
            self.parts.append(line)
            self._newline()


def _merge_cell_fragments(cells: list[str]) -> list[str]:
    """Drop empty cells and glue ``$`` to the number after it, ``%``/``)`` to the one before.

    SEC HTML puts the currency sign, the number and the percent sign in separate cells,
    which would otherwise read ``$ | 29,510 | %``.
    """
    merged: list[str] = []
    prefix = ""
    for cell in cells:
        if not cell:
            continue
        if cell in ("$", "(", "$(", "€", "£"):
            prefix += cell
            continue
        cell, prefix = prefix + cell, ""
        if cell in ("%", ")", "%)", ")%") and merged:
            merged[-1] += cell
        else:
            merged.append(cell)
    if prefix:
        merged.append(prefix)
    return merged


def html_to_text(html: str) -> str:
    """Visible text of an HTML page, one block or table row per line (see ``_TextExtractor``)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


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
