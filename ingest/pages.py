"""Printed-page layout in filing text: page furniture, hard-wrapped lines, plain-text tables.

Filings were written for paper. What text extraction keeps of that is noise for retrieval and
breaks sentences:

- **Page furniture.** Running headers and footers ("Apple Inc. | 2024 Form 10-K | 22", "Table of
  Contents", "Fiscal 2024 Form 10-K | 1") and page numbers ("41", "(21)", "-1-", "F-12") at the top
  and bottom of every page. The loaders mark each page break with a form feed (``PAGE_BREAK``);
  ``strip_furniture`` drops such lines next to a break, and joins a paragraph that a page break
  cut in two ("... we had" / "$2.6 billion outstanding").
- **Hard wraps.** A plain-text submission wraps its lines at about 70 characters, so a paragraph
  is ten lines and a sentence can start in the middle of one. ``unwrap`` rejoins the lines of a
  paragraph into one line and leaves headings, list items and table rows alone.
- **Plain-text tables.** ``<TABLE>`` blocks lay out columns with spaces and mark them with
  ``<S>``/``<C>``; ``text_table`` turns each line into the `` | ``-joined row the HTML path makes.
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["PAGE_BREAK", "is_hard_wrapped", "join_split_lines", "strip_furniture", "text_table", "unwrap"]

PAGE_BREAK = "\f"
_EDGE_LINES = 2  # lines at the top and at the bottom of a page that can be furniture
_MAX_FURNITURE = 90  # characters; longer lines are text
# A page number alone: 41, (21), -1-, - 7 -, F-12, A-3, Page 5, ii
_PAGE_NUMBER = re.compile(r"(?:page\s+)?[-–—(\[]?\s*(?:[A-Z]{1,2}\s?-\s?)?\d{1,3}\s*[-–—)\]]?|[ivxlc]{1,7}|[IVXLC]{1,7}", re.I)
_RULE_ONLY = re.compile(r"[-=_*\s]{3,}")  # "- ------------" under a running header
_UNIT_LINE = re.compile(r"\bin (?:thousands|millions|billions)\b|\bexcept\b", re.I)
_SENTENCE_END = re.compile(r"[.!?:;\"”’)\]]$")


def _key(line: str) -> str:
    """A furniture line with its page number and its spacing taken out: the same on every page."""
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line.lower())).strip(" |")


def _edges(lines: list[str]) -> list[int]:
    """Indexes of the first and last ``_EDGE_LINES`` non-blank lines of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]))


def _could_be_furniture(line: str) -> bool:
    s = line.strip()
    if s.startswith("<"):
        return False  # <TABLE>, <CAPTION>: markup of a plain-text filing, read later
    return 0 < len(s) <= _MAX_FURNITURE and not _UNIT_LINE.search(s) and not s.endswith((".", ":")) or bool(_PAGE_NUMBER.fullmatch(s))


def strip_furniture(text: str) -> str:
    """Drop page numbers and running headers/footers next to page breaks; join paragraphs cut by a break.

    A line at a page's edge is furniture when it is a page number, or when the same line (digits
    aside) stands at the edge of at least 3 pages ("PART II", "ITEM 8. FINANCIAL STATEMENTS ..." over
    each page of an item). Lines anywhere else are
    never touched, so a table header repeated inside pages stays.
    """
    if PAGE_BREAK not in text:
        return text
    pages = [page.split("\n") for page in text.split(PAGE_BREAK)]
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_key(lines[i]) for i in _edges(lines) if _could_be_furniture(lines[i])})
    repeated = {k for k, n in counts.items() if n >= 3 and re.search(r"[a-z]", k)}
    kept_pages: list[list[str]] = []
    for n, lines in enumerate(pages):
        drop = {i for i in _edges(lines) if _PAGE_NUMBER.fullmatch(lines[i].strip()) or _RULE_ONLY.fullmatch(lines[i].strip()) or
                (n > 0 and _could_be_furniture(lines[i]) and _key(lines[i]) in repeated)}  # the cover names the company once
        kept_pages.append([line for i, line in enumerate(lines) if i not in drop])
    out: list[str] = []
    for lines in kept_pages:
        body = [line for line in lines]
        while body and not body[0].strip():
            body.pop(0)
        while body and not body[-1].strip():
            body.pop()
        if not body:
            continue
        if out and _continues(out[-1], body[0]):
            out[-1] = _join(out[-1], body[0])  # a paragraph the page break cut in two
            body = body[1:]
        elif out:
            out.append("")
        out.extend(body)
    return "\n".join(out)


def _join(previous: str, line: str) -> str:
    previous, line = previous.rstrip(), line.strip()
    if previous.endswith("-") and line[:1].islower() and not previous.endswith(" -"):
        return previous + line  # "By-" / "laws": a word hyphenated at the wrap
    return f"{previous} {line}"


def _continues(previous: str, line: str) -> bool:
    """True when ``line`` goes on with the sentence ``previous`` left open: a lower-case word after a
    line without final punctuation (``"... the average reported"`` / ``"retail price of ..."``)."""
    p, s = previous.strip(), line.strip()
    if not p or not s or " | " in p or " | " in s or p.startswith("<") or s.startswith("<"):
        return False
    if _SENTENCE_END.search(p):
        return False
    last = p.split()[-1]
    return s[0].islower() or ((s[0] in "$(" or s[0].isdigit()) and last.isalpha() and last.islower())


def join_split_lines(text: str) -> str:
    """Join a paragraph that HTML set as two blocks ("... supported by everyday low" / "costs. Our net
    sales ..."): a line of prose left open, then a line that goes on in lower case."""
    out: list[str] = []
    for line in text.split("\n"):
        if out and len(out[-1].strip()) >= 40 and _continues(out[-1], line):
            out[-1] = _join(out[-1], line)
        else:
            out.append(line)
    return "\n".join(out)


# --------------------------------------------------------------------------- hard wraps

# A column gap or dot leaders: a line laid out as a table or a table of contents, never joined.
_TABULAR = re.compile(r"\S {4,}\S|\.{4,}|(?:\. ){3,}|\t")
# The start of a list item or a heading of its own: (a) (iv) 1. * • - Item 7 PART II
_LIST_START = re.compile(r"(?:\d{1,2}\.\d{1,2}|\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})\)(?:\(?\w{1,3}[.)])?|\d{1,2}\.|[•*·▪\-–—.]{1,2}|item\s+\d{1,2}[a-c]?\.?|part\s+[ivx]+\b|note\s+\d)(?:\s|$)", re.I)


_LIST_MARK = re.compile(r"(?i)^(?:(?:item|part|note)\s+\w{1,4}\.?|\d{1,2}\.\d{1,2}|[•*·▪\-–—.]{1,2}|\(?\w{1,4}\)(?:\(?\w{1,3}[.)])?|\d{1,2}\.)\s+")


def is_hard_wrapped(text: str) -> bool:
    """True for text whose lines were wrapped at a fixed width (most lines 55-85 characters, few longer)."""
    lengths = [len(line.rstrip()) for line in text.split("\n") if line.strip()]
    if len(lengths) < 20:
        return False
    long = sum(n > 100 for n in lengths)
    band = sum(55 <= n <= 90 for n in lengths)
    return long <= len(lengths) * 0.05 and band >= len(lengths) * 0.4


def _width(lines: list[str]) -> int:
    """The wrap width: the 90th percentile of line lengths (about 70-80 in EDGAR text)."""
    lengths = sorted(len(line.rstrip()) for line in lines if line.strip() and not _TABULAR.search(line.strip()))
    return lengths[int(len(lengths) * 0.9)] if lengths else 80


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_heading(line: str) -> bool:
    letters = [ch for ch in line if ch.isalpha()]
    return bool(letters) and sum(ch.isupper() for ch in letters) >= 0.8 * len(letters)


def unwrap(text: str) -> str:
    """Rejoin the hard-wrapped lines of each paragraph into one line.

    A line is joined to the one before when both are text (not blank, not a table row or a line laid
    out in columns), the line does not open a list item or a heading, is not indented deeper than the
    line before (a new paragraph's first line), and either the line before was full (at least 70% of
    the wrap width) or the sentence is plainly open (a lower-case start after no final punctuation).
    An upper-case heading is not joined to the text under it.
    """
    lines = text.split("\n")
    width = _width(lines)
    out: list[str] = []
    prev_raw = ""
    for raw in lines:
        s = raw.strip()
        p = out[-1] if out else ""
        if s and p and _wraps(prev_raw, raw, p, width):
            out[-1] = _join(p, s)
        else:
            out.append(raw.rstrip() if not s or _laid_out(s) or " | " in s else s)
        prev_raw = raw
    return "\n".join(out)


def _laid_out(line: str) -> bool:
    """True for a line in columns; the gap after a list marker ("*     Consumer services") does not count."""
    return bool(_TABULAR.search(_LIST_MARK.sub("", line)))


def _wraps(prev_raw: str, raw: str, joined_prev: str, width: int) -> bool:
    p, s = prev_raw.strip(), raw.strip()
    if not p or " | " in joined_prev or " | " in s or _laid_out(p):
        return False
    if _laid_out(s):  # a line in columns goes on a sentence only when it plainly does ("(as" / "defined in ...   Yes [X]")
        return s[0].islower() and not _SENTENCE_END.search(p) and not _LIST_START.match(s)
    if _LIST_START.match(s):
        return False
    if _indent(raw) > _indent(prev_raw) + 1 and not _LIST_START.match(p):
        return False  # a new paragraph's first line; under a list item or "Item 5." it is the hanging indent
    if _is_heading(p) != _is_heading(s) and not s[0].islower():
        return False  # "ITEM 1. BUSINESS" over the first sentence of the item
    full = len(prev_raw.rstrip()) >= 0.7 * width
    open_sentence = s[0].islower() and not _SENTENCE_END.search(p)
    return full or open_sentence


# --------------------------------------------------------------------------- <TABLE> blocks

_TABLE_TAG = re.compile(r"</?(?:CAPTION|S|C|FN|F\d{1,2}|TABLE)>", re.I)
_RULE = re.compile(r"[\s\-=_*]*")
_CELL_GAP = re.compile(r"\s{2,}")
_OPENERS = frozenset({"$", "(", "$(", "€", "£"})
_CLOSERS = frozenset({"%", ")", "%)", ")%"})


def _cells(line: str) -> list[str]:
    """Cells of one table line: runs of text two or more spaces apart, with ``$``/``%`` glued on."""
    cells: list[str] = []
    prefix = ""
    for cell in _CELL_GAP.split(line.strip()):
        if not cell:
            continue
        if cell in _OPENERS:
            prefix += cell
            continue
        cell, prefix = prefix + cell, ""
        if cell in _CLOSERS and cells:
            cells[-1] += cell
        else:
            cells.append(cell)
    if prefix:
        cells.append(prefix)
    return cells


def _is_number_cell(cell: str) -> bool:
    return bool(re.fullmatch(r"[$(\-–—\s]*[\d.,]+[\s)%]*|[-–—]+|\$\s?[-–—]|n/?a|nm", cell, re.I))


def text_table(block: str) -> list[str]:
    """The rows of a plain-text ``<TABLE>`` block, each as cells joined by `` | ``.

    Column markup (``<S>``, ``<C>``, ``<CAPTION>``) and rules (``-----``, ``=====``) go; a label
    wrapped onto a second line ("Statement of earnings for the years" / "ended December 31, 1993")
    is joined to it; figures are never changed.
    """
    lines = [_TABLE_TAG.sub("", line).rstrip() for line in block.split("\n")]
    rows: list[list[str]] = []
    pending: list[str] | None = None  # a label alone on its line, which the next line may continue
    for line in lines:
        if _RULE.fullmatch(line):
            if pending is not None:
                rows.append(pending)
                pending = None
            continue
        cells = _cells(line)
        if pending is not None:
            if cells and cells[0][:1].islower():
                cells = [f"{pending[0]} {cells[0]}"] + cells[1:]
            else:
                rows.append(pending)
            pending = None
        if len(cells) == 1 and not _is_number_cell(cells[0]) and not cells[0].endswith(":"):
            pending = cells
            continue
        rows.append(cells)
    if pending is not None:
        rows.append(pending)
    return [" | ".join(cells) for cells in rows if cells]
