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

_UNIT = re.compile(
    r"^\W*\(?\s*(?:dollars|amounts|\$)?\s*in\s+(thousands|millions|billions)\b(?:\s+of\s+(?:u\.s\.\s+)?dollars)?[^)]{0,40}\)?\s*$"
    r"|^\W*\(\s*(?:dollars\s|amounts\s|\$\s?)?in\s+(thousands|millions|billions)\b[^)]{0,40}\)\s*(?P<header>.*\d{4}.*)$",  # "(in thousands) 2025 2024 % Change"
    re.I,
)
_YEAR = r"(?:19[5-9]\d|20\d\d)"
_COLUMN = re.compile(r"\b(" + _YEAR + r")\b|%\s*change|\bchange\b", re.I)
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
        text = " ".join(w.lower() if w in small else w if len(w) <= 3 else w.capitalize() for w in text.split())
    return re.sub(r"^the (?:breakdown|components|summary) of (.+?) (?:is|are) as follows$", r"\1", text, flags=re.I)


def table_sentences(lines: list[tuple[int, str, str | None]]) -> list[TableSentence]:
    """Sentences for the tables in a document's lines ((offset, text, item), as from ``chunk_lines``)."""
    out: list[TableSentence] = []
    i = 0
    while i < len(lines):
        unit_match = _UNIT.match(lines[i][1].strip())
        if not unit_match:
            i += 1
            continue
        unit = (unit_match.group(1) or unit_match.group(2)).lower()
        title, head = _heading(lines, i)
        if not title:  # whose figures these are cannot be told: a segment's table reads like the company's
            i += 1
            continue
        # the header is on the unit line or follows it within a few lines
        cols, h = (_columns(unit_match.group("header")), i) if unit_match.group("header") else (None, i + 1)
        while not cols and h < min(len(lines), i + 4):
            cols = _columns(lines[h][1].strip())
            if cols:
                break
            h += 1
        if not cols:
            i += 1
            continue
        years = [c for c in cols if c != "%"]
        latest = max(years, key=int)
        col = cols.index(latest)
        previous = next((c for c in cols[col + 1 :] if c != "%"), None)
        # the change of the latest year is the first "%" column after the year it is compared with
        after = cols.index(previous) + 1 if previous else col + 1
        pct_col = after if after < len(cols) and cols[after] == "%" else None
        compared = previous if pct_col is not None else None
        dollars = bool(re.search(r"dollars|\$", lines[i][1], re.I))
        group: list[tuple[str, str, str | None, int, int]] = []
        group_title = None

        def flush() -> None:
            out.extend(_emit(group, title, group_title, unit, dollars, latest, compared, head))
            group.clear()

        misses = 0
        j = h + 1
        while j < len(lines) and misses < 3 and j < h + 60:
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
            if len(cells) in (len(cols), len(years)) and not _NOT_MONEY.search(label):
                full = len(cells) == len(cols)
                value = cells[col if full else years.index(latest)]
                pct = cells[pct_col] if pct_col is not None and full else None
                dollars = dollars or value.startswith("$")
                if re.match(r"\$?\s?\d", value) and not value.endswith("%"):
                    group.append((label, value.lstrip("$ "), pct if pct and pct.endswith("%") else None, offset, offset + len(text)))
            if label.lower().startswith("total"):
                flush()
                group_title = None
            j += 1
        flush()
        i = j
    return out


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
