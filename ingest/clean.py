"""Turn extracted filing text into clean, line-structured text.

Filings reach us as text pulled out of HTML or inline XBRL, and that extraction leaves three
kinds of damage that hurt retrieval: odd whitespace, a preamble of XBRL tokens (thousands of
lines such as ``us-gaap:CommonClassAMember``), and tables flattened to one cell per line, so
``Footwear`` and ``$29,510`` end up far apart in different chunks. Each step below repairs one
kind; ``clean`` runs them in the order that works. Lines are kept meaningful throughout:
a table row is one line, a paragraph is one line.

No step ever edits the characters of a number: cells are only joined, with a space or (for a
lone ``$``, ``(``, ``%``, ``)``) with nothing in between, so every number token in the output
is also in the input.
"""

from __future__ import annotations

import re

__all__ = ["clean", "clean_text", "join_cell_lines", "strip_xbrl_preamble"]

# --------------------------------------------------------------------------- clean_text

# Horizontal whitespace that HTML and Word exports leave behind; all become a plain space.
_SPACE_CHARS = "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u202f\u205f\u3000"
# Vertical separators other than LF; a form feed is a page break in old EDGAR text files.
_BREAK_CHARS = "\r\x0b\x0c\x85\u2028\u2029"
_TRANSLATE = {ord(ch): " " for ch in _SPACE_CHARS} | {ord(ch): "\n" for ch in _BREAK_CHARS}
_TRANSLATE |= {0xFEFF: None, 0x00AD: None}  # stray BOM, soft hyphen: invisible, drop them

_SPACE_RUN = re.compile(r" {2,}")
_LINE_EDGE_SPACE = re.compile(r"^ +| +$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalize whitespace but keep line structure, since table rows and headings are lines.

    Unicode spaces (NBSP, thin space, zero-width space, tabs) become spaces, CRLF and other
    line breaks become LF, runs of spaces collapse, each line is stripped and runs of blank
    lines collapse to one blank line.
    """
    text = text.replace("\r\n", "\n").translate(_TRANSLATE)
    text = _SPACE_RUN.sub(" ", text)
    text = _LINE_EDGE_SPACE.sub("", text)
    return _BLANK_RUN.sub("\n\n", text).strip()


# --------------------------------------------------------------------------- XBRL preamble

# One whitespace-separated token of the hidden inline-XBRL header (ix:header) that text
# extraction dumps before the cover page: context ids, booleans, CIKs, dates, durations,
# taxonomy URLs and ``prefix:Name`` QNames.
_XBRL_TOKEN = re.compile(
    r"""(?:
        https?://\S+                     # http://fasb.org/us-gaap/2024#Assets
      | [A-Za-z][\w.\-]*:[\w.\-]+        # us-gaap:CommonClassAMember, iso4217:USD, utr:M
      | \d{4}-\d{2}-\d{2}                # 2024-06-01
      | [-+]?\d+(?:\.\d+)?               # 0000320187, 2025, 491
      | P(?:\d+[YMWD])+ | PT\d+[HMS]     # P3Y durations
      | true | false | FY | Q[1-4] | H[12]
      | [a-z]{1,8}-\d{8}                 # nke-20250531
      | 10-K(?:/A)? | 10-Q | 20-F | 40-F
    )""",
    re.VERBOSE | re.IGNORECASE,
)
# A line that is XBRL wherever it appears: only taxonomy URLs, or a bare ``prefix:XxxMember``
# or a QName in a standard XBRL namespace. Prose never looks like this.
_STRAY_XBRL_LINE = re.compile(
    r"""^[ \t]*(?:
        https?://\S+\#\w+(?:[ \t]+https?://\S+\#\w+)*
      | [a-z][a-z0-9\-]{0,15}:[A-Za-z][\w.\-]*Member
      | (?:us-gaap|dei|srt|ifrs-full|iso4217|xbrli|utr|country|stpr|currency|exch|naics|sic|ecd):[\w.\-]+
    )[ \t\r]*(?:\n|$)""",
    re.VERBOSE | re.MULTILINE,
)
# Three real lines in a row mean the document proper has begun; no XBRL header has them.
_REAL_LINES_TO_END_PREAMBLE = 3
# A header shorter than this is not worth the risk of cutting ordinary text.
_MIN_PREAMBLE_LINES = 10


def _is_xbrl_line(line: str) -> bool:
    """True when every token of the line is XBRL header noise (``false``, a CIK, a QName...)."""
    tokens = line.split()
    return bool(tokens) and all(_XBRL_TOKEN.fullmatch(tok) for tok in tokens)


def _preamble_end(text: str) -> int:
    """Character offset where the document proper begins, or 0 when there is no XBRL preamble.

    The preamble must start at the first line and hold at least ``_MIN_PREAMBLE_LINES``
    XBRL-like lines; it ends at the first run of ``_REAL_LINES_TO_END_PREAMBLE`` ordinary
    lines (in practice ``Table of Contents`` / ``UNITED STATES`` / ``SECURITIES AND ...``).
    """
    offset = 0
    xbrl_lines = 0
    run_start = None
    run_length = 0
    for line in text.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        if not line.strip():
            continue
        if _is_xbrl_line(line):
            xbrl_lines += 1
            run_start, run_length = None, 0
            continue
        if xbrl_lines == 0:
            return 0  # the text does not open with XBRL noise: ordinary text
        if run_start is None:
            run_start = line_start
        run_length += 1
        if run_length >= _REAL_LINES_TO_END_PREAMBLE:
            return run_start if xbrl_lines >= _MIN_PREAMBLE_LINES else 0
    return 0


def strip_xbrl_preamble(text: str) -> str:
    """Drop the inline-XBRL header that precedes recent 10-K texts, and stray XBRL lines.

    The header is pure noise for retrieval (and can be 60,000 characters), so it would
    otherwise fill the first chunks. Text that does not start with XBRL tokens is returned
    unchanged, apart from lines that can only be XBRL (a taxonomy URL, ``us-gaap:...``).
    """
    text = text[_preamble_end(text):]
    if ":" not in text:
        return text
    return _STRAY_XBRL_LINE.sub("", text)


# --------------------------------------------------------------------------- table cells

# A cell that is a number: $29,510  -12%  (107)  $(1.5)  42.7%  $ 3,599.1  .5
_NUMBER_CELL = re.compile(
    r"[$€£¥]?\s*\(?\s*[$€£¥]?\s*[-–+]?\s*(?:\d[\d,]*(?:\.\d+)?|\.\d+)\s*\)?\s*%?\s*\)?"
)
# A cell that stands for "nothing" or "not meaningful".
_EMPTY_CELL = re.compile(r"[$€£¥]?\s*[-–—]+\s*%?|N/?A|NM|n/?a|nm|\*{1,3}|†")
# A footnote marker: (1)  (a)  (iv)
_FOOTNOTE = re.compile(r"\((?:\d{1,2}|[a-z]|[ivx]{1,4})\)")
# A column header cell: FISCAL 2025, 2024, % CHANGE, % CHANGE EXCLUDING CURRENCY CHANGES (1)
_HEADER_CELL = re.compile(
    r"(?:(?:fiscal(?:\s+year)?|fy|year|q[1-4])\s+)?(?:19|20)\d{2}"
    r"|%\s*(?:change|of\s+\w+)\b[^.]{0,50}",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?:19|20)\d{2}")
_FORM_TYPE = re.compile(r"10-K(?:/A)?|10-Q(?:/A)?|20-F|40-F|8-K", re.IGNORECASE)
_AREA_CODE = re.compile(r"\(\d{3}\)")
_PHONE_REST = re.compile(r"\d{3}-\d{4}")
_OPENERS = frozenset({"$", "(", "$(", "€", "£", "¥"})
_CLOSERS = frozenset({"%", ")", "%)", ")%"})
# Longer lines are prose (or already-flattened rows) and are never joined to anything.
_MAX_LABEL = 100
# A sentence this long that ends with a period is prose, even if it is short.
_MIN_SENTENCE = 60


def _is_cell(line: str) -> bool:
    """True for a line that is one numeric or empty table cell, or a footnote marker."""
    return bool(
        _NUMBER_CELL.fullmatch(line) or _EMPTY_CELL.fullmatch(line) or _FOOTNOTE.fullmatch(line)
    )


def _is_prose(line: str) -> bool:
    """True for a line that must stay exactly as it is: long, or a whole sentence."""
    return len(line) > _MAX_LABEL or (len(line) >= _MIN_SENTENCE and line.endswith("."))


def _ends_with_digit(line: str) -> bool:
    return bool(line) and line[-1].isdigit()


def _closes_paren(line: str) -> bool:
    """True when ``line`` has an unclosed ``(`` that a lone ``)`` line belongs to."""
    return line.count("(") > line.count(")")


def _join_fragments(lines: list[str]) -> list[str]:
    """Glue the pieces of one cell back together: ``$``+``29,510``, ``-12``+``%``, ``, 2025``.

    HTML extraction puts each inline element on its own line, so a currency sign, a percent
    sign, a parenthesis or a comma can be alone on a line. Joins only happen where the
    neighbour fits (a ``%`` only after a number), so a header line of ``%`` stays.
    """
    out: list[str] = []
    prefix = ""
    glue_next = False
    for index, line in enumerate(lines):
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
        if prefix:
            line, prefix = prefix + line, ""
        elif glue_next and line and out:
            out[-1] = f"{out[-1]} {line}"
            glue_next = False
            continue
        glue_next = False
        if line in _OPENERS and nxt and not _is_prose(nxt):
            if line != "$" or nxt[0].isdigit() or nxt[0] in "(-–—.":
                prefix = line
                continue
        if out and out[-1] and _joins_previous(line, out[-1]):
            out[-1] += line
            # A lone comma also takes the next line ("WAY, REDMOND"); so does "(503)".
            glue_next = line == "," or _leads_next(out[-1], nxt)
            continue
        if _leads_next(line, nxt):
            prefix = line + " "
            continue
        out.append(line)
    if prefix:
        out.append(prefix.rstrip())
    return out


def _joins_previous(line: str, previous: str) -> bool:
    """True when ``line`` is a fragment that ends the previous line (``%``, ``)``, ``, 2025``)."""
    if line == ")":
        return _closes_paren(previous)
    if line in _CLOSERS:
        return _ends_with_digit(previous) or previous.endswith(")")
    if line.startswith(","):
        # ",5" after "1" would forge the number "1,5"; leave that alone.
        forges_number = len(line) > 1 and line[1].isdigit() and _ends_with_digit(previous)
        return len(line) <= 40 and not forges_number and not _is_prose(previous)
    return False


def _leads_next(line: str, nxt: str) -> bool:
    """True when ``line`` is the first half of what follows: ``FORM`` / ``10-K``, ``(503)`` /
    ``671-6453``, or a footnote marker ``(1)`` over its footnote sentence."""
    if line.upper() == "FORM":
        return bool(_FORM_TYPE.fullmatch(nxt))
    if _AREA_CODE.fullmatch(line):
        return bool(_PHONE_REST.fullmatch(nxt))
    return bool(_FOOTNOTE.fullmatch(line)) and _is_footnote_text(nxt)


def _is_footnote_text(line: str) -> bool:
    """True for the sentence a footnote marker introduces (not a table label)."""
    return bool(line) and not _is_cell(line) and (len(line) > 80 or line.endswith("."))


def _build_rows(lines: list[str]) -> list[str]:
    """Join a label and the numeric cells after it into one row line.

    A row is a short label line followed by cell lines; a new row starts at the next label.
    A run of column headers (``FISCAL 2025``, ``% CHANGE``) becomes one header line.
    Prose and blank lines end a row and are passed through untouched.
    """
    out: list[str] = []
    row: list[str] = []
    kind = ""  # "label", "cells" or "header": what the open row holds so far
    for index, line in enumerate(lines):
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
        if not line or _is_prose(line):
            kind = _flush(row, out)
            out.append(line)
        elif _starts_header(line, nxt, kind):
            if kind != "header":
                _flush(row, out)
            row.append(line)
            kind = "header"
        elif _is_cell(line):
            row.append(line)
            kind = kind if kind == "header" else "cells"
        else:
            _flush(row, out)
            row.append(line)
            kind = "label"
    _flush(row, out)
    return out


def _starts_header(line: str, nxt: str, kind: str) -> bool:
    """True when ``line`` is a column header cell rather than a value in a row.

    A bare year is a value when it follows numbers in the same row; it is a header when it
    opens a run of headers (``2025`` / ``2024`` / ``2023`` under a table caption).
    """
    if not _HEADER_CELL.fullmatch(line):
        return False
    if kind == "header":
        return True
    if not _YEAR.fullmatch(line):
        return True
    return kind != "cells" and bool(_HEADER_CELL.fullmatch(nxt))


def _flush(row: list[str], out: list[str]) -> str:
    """Emit the open row as one line and clear it; returns the new (empty) row kind."""
    if row:
        out.append(" ".join(row))
        row.clear()
    return ""


def join_cell_lines(text: str) -> str:
    """Rejoin tables that HTML extraction flattened to one cell per line.

    ``Footwear\\n$\\n29,510\\n$\\n33,427\\n-12\\n%`` becomes ``Footwear $29,510 $33,427 -12%``,
    so a row's label and its numbers land in the same chunk. Prose (long lines) and
    already-flattened rows (``Net sales $ 3,599.1 $ 4,107.3``) pass through unchanged.
    """
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(_build_rows(_join_fragments(lines)))


# --------------------------------------------------------------------------- entry point


def clean(text: str) -> str:
    """Clean extracted filing text: drop XBRL noise, normalize whitespace, rejoin table rows.

    XBRL goes first so ``clean_text`` also settles the blank lines left where XBRL lines
    were dropped; whitespace goes before the table step so it sees stripped, single-spaced
    lines. Joining only puts single spaces between stripped lines, so the result is still
    clean (``clean_text(clean(t)) == clean(t)``).
    """
    text = strip_xbrl_preamble(text)
    text = clean_text(text)
    return join_cell_lines(text)
