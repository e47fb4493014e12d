"""Financial tables as sentences: the split of revenue by segment often exists only as a table.

A filing's text keeps a table as lines: a unit line ("(Dollars in millions)"), a header with the
years as columns ("FISCAL 2025 FISCAL 2024 % CHANGE ..."), then rows ("Footwear $29,510 $33,427
-12% ..."). For each group of rows (rows between two sub-headings), one sentence states the
latest year's column with its change, in the table's own unit:

    NIKE Brand Revenues, fiscal 2025 ($ millions; change from fiscal 2024): Footwear 29,510 (-12%),
    Apparel 12,965 (-6%), Equipment 2,191 (6%).

Every figure is copied from its cell; none is converted, summed or rounded. Tables whose unit or
columns cannot be read with certainty give no sentence.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace

from rag.text import SCALES_PLURAL, TABLE_UNIT, YEAR_DIGITS, has_verb, table_unit

# a line that only declares the table's unit ("(Dollars in millions)"), or does so before the header's years
_UNIT = re.compile(
    r"^\W*\(?\s*(?:dollars|amounts|\$)?\s*in\s+(" + SCALES_PLURAL + r")\b(?:\s+of\s+(?:u\.s\.\s+)?dollars)?[^)]{0,40}\)?\s*$"
    r"|^\W*\(\s*(?:dollars\s|amounts\s|\$\s?)?in\s+(" + SCALES_PLURAL + r")\b[^)]{0,40}\)\s*(?P<header>.*\d{4}.*)$",  # "(in thousands) 2025 2024 % Change"
    re.I,
)
_COLUMN = re.compile(r"\b(" + YEAR_DIGITS + r")\b|%\s*change|\bchange\b", re.I)
_CELL = r"(?:\$\s?)?\(?-?\d[\d,]*(?:\.\d+)?%?\)?|—|–|-"
_ROW = re.compile(r"^(?P<label>[A-Za-z][^$\d]{1,80}?)(?:\s\(\d\))?\s+(?P<cells>(?:" + _CELL + r")(?:\s+(?:" + _CELL + r"))+)\s*$")
_MAX_ROWS = 8
_NOT_MONEY = re.compile(r"per (?:common )?share|\bshares\b|\bbasic\b|\bdiluted\b|employees|\bunits\b|\btons\b|\bstores\b|square feet", re.I)


@dataclass(frozen=True)
class TableSentence:
    text: str
    start: int  # offset of the group's first row in the document
    end: int  # end of its last row
    chunk_id: str | None = None  # the chunk holding the first row, for citations
    item: str | None = None
    scale: float = 0.0  # the largest figure in the group: a company's totals outweigh a segment's
    head: int = -1  # offset of the table's title line: its unit and years are part of the evidence
    also: tuple[str, ...] = ()  # further chunks from the title to the last row


def locate(tables: list[TableSentence], chunks) -> list[TableSentence]:
    """Give each table sentence the chunk (and item) that holds its first row."""
    ordered = sorted(chunks, key=lambda c: c.start)
    starts = [c.start for c in ordered]
    out = []
    for t in tables:
        i = bisect.bisect_right(starts, t.start) - 1
        if i >= 0 and ordered[i].start <= t.start < ordered[i].end:
            head = t.head if t.head >= 0 else t.start
            also = tuple(c.id for c in ordered if c.start < t.end and c.end > head and c.id != ordered[i].id)
            out.append(replace(t, chunk_id=ordered[i].id, item=ordered[i].item, also=also))
    return out


def _columns(header: str) -> list[str] | None:
    """['2025', '2024', '%', '%', '2023', ...] from a header line, or None if it is not one."""
    if "$" in header or len(header) > 300:
        return None
    cols = []
    for m in _COLUMN.finditer(header):
        cols.append(m.group(1) or "%")
    years = [c for c in cols if c != "%"]
    rest = re.sub(_COLUMN.pattern, " ", header, flags=re.I)
    if len(years) < 2 or re.search(r"\d", re.sub(r"\(\d\)", "", rest)):
        return None
    return cols


def _heading(lines: list[tuple[int, str, str | None]], i: int) -> tuple[str | None, int]:
    """The nearest short text line above line ``i`` that can title a table, and its offset."""
    for j in range(i - 1, max(0, i - 6) - 1, -1):
        text = lines[j][1].strip()
        if not text or _UNIT.match(text) or _columns(text):
            continue
        if len(text) <= 80 and not re.search(r"\d{2,}", text) and not text.endswith("."):
            return _title(text), lines[j][0]
        return None, -1
    return None, -1


def _title(text: str) -> str:
    text = re.sub(r"\s+by:?$|:$", "", text.strip()).strip()
    if text.isupper():
        small = {"OF", "AND", "THE", "TO", "IN", "FOR", "BY", "ON", "AT", "FROM", "WITH"}
        text = " ".join(w.lower() if w in small else w if len(re.sub(r"['’]S$", "", w)) <= 3 else w.capitalize() for w in text.split())
    return re.sub(r"^the (?:breakdown|components|summary) of (.+?) (?:is|are) as follows$", r"\1", text, flags=re.I)


def table_sentences(lines: list[tuple[int, str, str | None]]) -> list[TableSentence]:
    """Sentences for the tables in a document's lines ((offset, text, item), as from ``chunk_lines``):
    tables laid out with spaces (one sentence per group of rows) and `` | `` rows (one per row)."""
    return _spaced_table_sentences(lines) + row_sentences(lines)


def _spaced_table_sentences(lines: list[tuple[int, str, str | None]]) -> list[TableSentence]:
    out: list[TableSentence] = []
    i = 0
    while i < len(lines):
        table = _spaced_table(lines, i)
        if table is None:
            i += 1
            continue
        sentences, i = _spaced_rows(lines, table)
        out.extend(sentences)
    return out


@dataclass(frozen=True)
class _SpacedTable:
    """A table under a unit line: its unit, title, heading, year columns, and which column is the latest
    year, which the change compared with the year before (if any)."""

    unit: str
    title: str
    head: int
    dollars: bool
    cols: list[str]
    header_at: int
    years: list[str]
    latest: str
    col: int
    pct_col: int | None
    compared: str | None


def _spaced_table(lines: list[tuple[int, str, str | None]], i: int) -> _SpacedTable | None:
    """The table whose unit line is line ``i``, or None (no unit line, no title, or no year columns)."""
    unit_match = _UNIT.match(lines[i][1].strip())
    if not unit_match:
        return None
    unit = (unit_match.group(1) or unit_match.group(2)).lower()
    title, head = _heading(lines, i)
    if not title:  # whose figures these are cannot be told: a segment's table reads like the company's
        return None
    # the header is on the unit line or follows it within a few lines
    cols, h = (_columns(unit_match.group("header")), i) if unit_match.group("header") else (None, i + 1)
    while not cols and h < min(len(lines), i + 4):
        cols = _columns(lines[h][1].strip())
        if cols:
            break
        h += 1
    if not cols:
        return None
    years = [c for c in cols if c != "%"]
    latest = max(years, key=int)
    col = cols.index(latest)
    previous = next((c for c in cols[col + 1 :] if c != "%"), None)
    # the change of the latest year is the first "%" column after the year it is compared with
    after = cols.index(previous) + 1 if previous else col + 1
    pct_col = after if after < len(cols) and cols[after] == "%" else None
    compared = previous if pct_col is not None else None
    dollars = bool(re.search(r"dollars|\$", lines[i][1], re.I))
    return _SpacedTable(unit, title, head, dollars, cols, h, years, latest, col, pct_col, compared)


def _spaced_rows(lines: list[tuple[int, str, str | None]], t: _SpacedTable) -> tuple[list[TableSentence], int]:
    """The sentences of the table's rows, a group at a time (a total or a sub-heading ends one), and the line after it."""
    out: list[TableSentence] = []
    dollars = t.dollars
    group: list[tuple[str, str, str | None, int, int]] = []
    group_title = None

    def flush() -> None:
        out.extend(_emit(group, t.title, group_title, t.unit, dollars, t.latest, t.compared, t.head))
        group.clear()

    misses = 0
    j = t.header_at + 1
    while j < len(lines) and misses < 3 and j < t.header_at + 60:
        offset, text, _ = lines[j]
        text = text.strip()
        if _UNIT.match(text) or _columns(text):
            break
        m = _ROW.match(text)
        if not m:
            if text:  # a sub-heading ("NIKE Brand Revenues by:") or prose: the group ends
                misses += 1
                flush()
                group_title = _title(text) if len(text) <= 80 and not text.endswith(".") and not re.search(r"\d", text) else None
            j += 1
            continue
        misses = 0
        label = m.group("label").strip(" .:")
        cells = re.findall(_CELL, m.group("cells"))
        if len(cells) in (len(t.cols), len(t.years)) and not _NOT_MONEY.search(label):
            full = len(cells) == len(t.cols)
            value = cells[t.col if full else t.years.index(t.latest)]
            pct = cells[t.pct_col] if t.pct_col is not None and full else None
            dollars = dollars or value.startswith("$")
            if re.match(r"\$?\s?\d", value) and not value.endswith("%"):
                group.append((label, value.lstrip("$ "), pct if pct and pct.endswith("%") else None, offset, offset + len(text)))
        if label.lower().startswith("total"):
            flush()
            group_title = None
        j += 1
    flush()
    return out, j


def _emit(group, table_title, group_title, unit, dollars, year, previous, head=-1) -> list[TableSentence]:
    if len(group) < 2:
        return []
    if not group_title:
        title = table_title
    elif table_title.lower() in group_title.lower():
        title = group_title
    elif group_title.lower() in table_title.lower():
        title = table_title
    else:
        title = f"{group_title} of {table_title}"
    rows = group[:_MAX_ROWS]
    parts = [f"{label} {value}" + (f" ({pct})" if pct else "") for label, value, pct, _, _ in rows]
    unit = f"$ {unit}" if dollars else unit
    detail = f"{unit}; change from fiscal {previous}" if previous and any(p for _, _, p, _, _ in rows) else unit
    lead = f"{title}, fiscal {year} ({detail})"
    scale = max(float(v.replace(",", "")) for _, v, _, _, _ in rows)
    return [TableSentence(f"{lead}: " + ", ".join(parts) + ".", rows[0][3], rows[-1][4], scale=scale, head=head)]


# --------------------------------------------------------------------------- `` | `` rows

# The HTML loader writes a table row as cells joined by " | ", and so does the plain-text loader for a
# <TABLE> block. Above the header row stand the caption ("The following table shows net sales by
# category for 2024, 2023 and 2022 (dollars in millions):", "Software") and the unit ("(Dollars in
# millions)", or the header's own first cell). A row becomes one sentence that names all of them:
#
#     Net sales by category: iPhone was $201,183 million in 2024 and $200,583 million in 2023.
#
# A row under no readable caption or header gives no sentence: a row's figures without their columns
# are debris, not a fact.

_SEP = " | "
_YEAR_HEAD = re.compile(r"(?:(?:fiscal(?:\s+year)?|fy|year(?:s)?(?:\s+ended)?)\s+)?(" + YEAR_DIGITS + r")|"
                        r"(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2},?\s+)(" + YEAR_DIGITS + r")", re.I)
_CHANGE_HEAD = re.compile(r"(?:%|percent(?:age)?)?\s*change\b.*|%|\$\s*change.*|increase\s*/?\s*\(?decrease\)?", re.I)
_VALUE = re.compile(r"\$?\s?\(?-?\$?\s?\d[\d,]*(?:\.\d+)?\)?%?")
# "The following table disaggregates our revenue by major source:", "The table below sets forth ..."
_LEAD_IN = re.compile(r"^(?:the\s+)?(?:following\s+tables?|tables?\s+below)\s+(?:sets\s+forth|breaks\s+down|[a-z]+s)\s+"
                      r"(?:(?:the|our|its|a\s+summary\s+of|information\s+(?:on|about))\s+)*", re.I)
_CAPTION_TAIL = re.compile(r"\s*(?:\((?:[^()]*\bin\s+(?:" + SCALES_PLURAL + r")[^()]*)\)|"
                           r"\bfor\s+(?:the\s+)?(?:years?|fiscal|periods?|" + YEAR_DIGITS + r")[^()]*?)\s*[:.]?\s*$", re.I)
_PLURAL_LABEL = re.compile(r"(?<!s)s$")
_MAX_ROW_SENTENCES = 12  # rows per table


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split(_SEP)]


def _head_of(cell: str) -> str | None:
    """A column header as it is written ("2024", "Fiscal 2024", "September 28, 2024"), or None."""
    m = _YEAR_HEAD.fullmatch(cell.strip())
    return cell.strip() if m else None


def _header(cells: list[str]) -> tuple[list[str | None], int] | None:
    """(heading of each value column, None for a change column; cells before them) when ``cells`` is a header row."""
    heads: list[str | None] = []
    lead = 0
    for i, cell in enumerate(cells):
        if _head_of(cell):
            heads.append(_head_of(cell))
        elif _CHANGE_HEAD.fullmatch(cell.strip()):
            heads.append(None)
        elif i == 0 and not heads:
            lead = 1  # "(In millions)", "Years ended": the label column's header
        else:
            return None
    return (heads, lead) if sum(h is not None for h in heads) >= 1 and len(heads) >= 2 else None


def _caption(lines: list[tuple[int, str, str | None]], i: int) -> tuple[str | None, int, str, bool, bool]:
    """(caption, its offset, unit, in dollars, fiscal years) from the lines above header line ``i``."""
    unit, dollars, fiscal = "", False, False
    header = lines[i][1]
    for text in (header.split(_SEP)[0],):
        m = TABLE_UNIT.search(text)
        if m:
            unit, dollars = table_unit(m), bool(re.search(r"dollar|\$", text, re.I))
    for j in range(i - 1, max(-1, i - 5), -1):
        text = lines[j][1].strip()
        if not text:
            continue
        if _SEP in text:
            break
        m = TABLE_UNIT.search(text)
        if m and not unit:
            unit, dollars = table_unit(m), bool(re.search(r"dollar|\$", text, re.I))
        if re.search(r"\bfiscal\b", text, re.I):
            fiscal = True
        if _UNIT.match(text) or (m and len(text) < 60 and text.startswith("(")) or re.fullmatch(r"(?:fiscal\s+)?years?\s+ended[^|]{0,40}", text, re.I):
            continue
        caption = _clean_caption(text)
        return (caption, lines[j][0], unit, dollars, fiscal) if caption else (None, -1, unit, dollars, fiscal)
    return None, -1, unit, dollars, fiscal


def _clean_caption(text: str) -> str | None:
    """"The following table shows net sales by category for 2024, 2023 and 2022 (dollars in millions):"
    -> "Net sales by category"; None for prose that cannot title a table."""
    text = _LEAD_IN.sub("", text.strip())
    for _ in range(2):
        text = _CAPTION_TAIL.sub("", text).strip()
    text = text.rstrip(":;,. ").strip()
    if not text or len(text) > 120 or not re.search(r"[A-Za-z]{3}", text) or _VALUE.fullmatch(text) or re.search(r"[$*]|\d{3}", text):
        return None
    if text.endswith(".") or len(re.findall(r"\.\s", text)) > 0:
        return None  # prose, not a title
    text = _title(text)
    return text[0].upper() + text[1:]


def _amount(value: str, unit: str, dollars: bool) -> str | None:
    """The cell as written, with the table's unit after it ("$201,183 million"); None when not a figure."""
    value = re.sub(r"\$\s+", "$", value.strip())
    if not _VALUE.fullmatch(value) or not re.search(r"\d", value):
        return None
    if value.endswith("%"):
        return value
    if dollars and "$" not in value:
        value = "$" + value
    return f"{value} {unit[:-1]}" if unit else value


def _latest_first(said: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Values under year columns, the latest year first: a statement of operations laid out "2022 | 2023 |
    2024" states the fiscal year's figure in its last column, not its first."""
    years = [re.search(r"\b(" + YEAR_DIGITS + r")\b", h) for _, h in said]
    if len(said) < 2 or not all(years):
        return said
    return [v for _, v in sorted(zip(years, said), key=lambda p: -int(p[0].group(1)))]


def row_sentences(lines: list[tuple[int, str, str | None]]) -> list[TableSentence]:
    """One sentence per `` | `` row under a caption and a header: caption, row label, each value with its
    column and the table's unit. Figures are copied from their cells; the unit word is the table's."""
    out: list[TableSentence] = []
    i = 0
    while i < len(lines):
        cells = _cells(lines[i][1]) if _SEP in lines[i][1] else None
        found = _header(cells) if cells else None
        if not found:
            i += 1
            continue
        heads, lead = found
        caption, head_offset, unit, dollars, fiscal = _caption(lines, i)
        k = i + 1
        while k < len(lines) and _SEP in lines[k][1] and k < i + 80:
            dollars = dollars or "$" in lines[k][1]  # "$" on the first and total rows is the whole table's currency
            k += 1
        j, group, emitted = i + 1, None, 0
        while j < len(lines) and (_SEP in lines[j][1] or (lines[j][1].strip().endswith(":") and len(lines[j][1]) < 80)):
            row = _cells(lines[j][1]) if _SEP in lines[j][1] else [lines[j][1].strip()]
            offset, text = lines[j][0], lines[j][1]
            j += 1
            if _header(row):
                break  # the next table's header
            if len(row) == 1:
                group = row[0].rstrip(":")
                continue
            label, values = re.sub(r"\s*\(\d\)$|\(\d\)$", "", row[0]).strip(" :"), row[1:]
            if not caption or not re.search(r"[A-Za-z]{2}", label) or len(values) != len(heads) or emitted >= _MAX_ROW_SENTENCES:
                continue
            if dollars and _NOT_MONEY.search(label):
                continue  # shares and per-share figures are not in the table's millions
            said = []
            for head, value in zip(heads, values):
                amount = _amount(value, unit, dollars or "$" in value) if head else None
                if head and amount:
                    said.append((amount, head))
            if not said or any(v.endswith("%") for v, _ in said) and unit:
                continue
            said = _latest_first(said)[:2]
            name = f"{group}, {label[0].lower() + label[1:] if not label[:2].isupper() else label}" if group else label
            verb = "were" if _PLURAL_LABEL.search(label.split()[-1]) and not label.lower().endswith(("ss", "us")) else "was"
            when = [f"in fiscal {h}" if fiscal and re.fullmatch(r"\d{4}", h) else (f"in {h}" if re.fullmatch(r"(?:fiscal\s+)?\d{4}", h, re.I) else f"for {h}")
                    for _, h in said]
            stated = " and ".join(f"{v} {w}" for (v, _), w in zip(said, when))
            scale = max((float(re.sub(r"[^\d.]", "", v.split()[0]) or 0) for v, _ in said), default=0.0)
            out.append(TableSentence(f"{caption}: {name} {verb} {stated}.", offset, offset + len(text), scale=scale,
                                     head=head_offset if head_offset >= 0 else lines[i][0]))
            emitted += 1
        i = max(j, i + 1)
    return out


# --------------------------------------------------------------------------- what is not a sentence

_BARE_UNIT = re.compile(r"^\W*\(?\s*(?:dollars|amounts|\$|in)\b[^.]{0,120}\b(?:" + SCALES_PLURAL + r")\b[^.]{0,80}\)?"
                        r"\s*(?:\[\d+\]|\(\d\))?\W*$", re.I)


def is_debris(text: str) -> bool:
    """True for text that must never be an answer or a summary sentence: a table row without its
    header ("Sales and marketing | $2,917,554 | $2,657,883"), a caption or unit line alone ("(in
    thousands, except revenue per membership and percentages) [1]"), a lead-in ending in a colon."""
    s = text.strip()
    if not s or _SEP in s or s.count("|") >= 2:
        return True
    if _BARE_UNIT.match(s) or s.endswith(":"):
        return True
    from ingest.sentences import looks_like_heading

    return len(s.split()) <= 12 and looks_like_heading(s) and not re.search(r"\d", s)


def balanced(text: str) -> bool:
    """True when every parenthesis, bracket and quotation opened in ``text`` is closed, in order."""
    pairs = {")": "(", "]": "[", "”": "“"}
    stack: list[str] = []
    for ch in text:
        if ch in "([“":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack[-1] != pairs[ch]:
                return False
            stack.pop()
    return not stack and text.count('"') % 2 == 0


def keeps_meaning(shortened: str) -> bool:
    """True when a shortened sentence still stands on its own: its parentheses closed and a finite verb
    left ("Damage or disruption to its distribution logistics." has none). The verb rule is the one the
    model's sentences are checked with (``rag.text.has_verb``)."""
    return balanced(shortened) and has_verb(shortened) and not is_debris(shortened)
