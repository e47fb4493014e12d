"""Find 10-K items ("Item 1. Business", "Item 7. Management's Discussion...") in plain text."""

from __future__ import annotations

import bisect
import re

from ingest.forms import family, items_of
from ingest.types import Section

# A heading is a short line that starts with "Item 7A." (optionally after "PART II"), e.g.
# "Item 1. Business", "ITEM 7. MANAGEMENT'S DISCUSSION ...", "Item 1A - Risk Factors".
_HEADING = re.compile(
    r"^[ \t]*(?:PART\s+[IV]+[\s,.\-–—]*)?ITEM[ \t]+(\d{1,2}[A-C]?)\b[ \t]*[.:\-–—]?[ \t]*(.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_MAX_HEADING_CHARS = 160


def detect_sections(text: str, form: str | None = None) -> tuple[Section, ...]:
    """Item sections of a filing, in order, each spanning to the next heading.

    A table of contents lists every item too; those entries become tiny sections and the real
    item, later in the text, gets the body. Every chunk takes the item of the nearest heading
    before it, which is right either way.

    With ``form`` known, only that form's items count as headings (a 10-K has no Item 18), and the
    management's discussion and the financial statements that follow the last item (an annual
    report's pages after Item 14 or 16) are labelled with the form's items for them (a 10-K's
    Items 7 and 8, a 20-F's Items 5 and 18), not with the last item before them.
    """
    valid = set(items_of(form)) if form else None
    heads: list[tuple[int, str, str]] = []
    for m in _HEADING.finditer(text):
        line = m.group(0)
        if len(line.strip()) > _MAX_HEADING_CHARS:
            continue  # prose that happens to start with "Item 7 ..." is not a heading
        number = m.group(1).upper()
        title = m.group(2).strip(" .:-–—")
        if not title:  # "ITEM 1." on its own line, title on the next
            nxt = text[m.end() + 1 : text.find("\n", m.end() + 1) if "\n" in text[m.end() + 1 :] else len(text)]
            title = nxt.strip()[:120]
        if title and title[0].isdigit():  # "Item 5 2" in a table of contents page column
            continue
        if valid is not None and number not in valid:
            continue
        heads.append((m.start(), f"Item {number}", title[:120]))
    if form and heads:
        heads.extend(_after_last_item(text, heads, form))
        heads.sort()
    sections = []
    for i, (start, item, title) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        sections.append(Section(item=item, title=title, start=start, end=end))
    return tuple(sections)


# Headings of an annual report's own parts, which a filing can put after its last item, and the
# item of each form they belong to.
_REPORT_PARTS = (
    (re.compile(r"(?:management['’]?s? discussion|operating and financial review)\b", re.I),
     {"10-K": "Item 7", "10-KSB": "Item 6", "20-F": "Item 5"}),
    (re.compile(r"(?:index to |the )?(?:consolidated |combined )?(?:financial statements\b|statements? of (?:consolidated )?"
                r"(?:operations|income|earnings|financial position|cash flows)\b|balance sheets?\b)"
                r"|report of independent (?:registered )?(?:public )?(?:accounting firm|auditors|accountants)"
                r"|notes to (?:the )?(?:consolidated |combined )?financial statements", re.I),
     {"10-K": "Item 8", "10-KSB": "Item 7", "20-F": "Item 18"}),
    (re.compile(r"exhibit index\b|index to exhibits\b", re.I), {"10-K": "Item 15", "10-KSB": "Item 13", "20-F": "Item 19"}),
)
_AMOUNT = re.compile(r"\$?\(?\d{1,3}(?:,\d{3})+")


def _after_last_item(text: str, heads: list[tuple[int, str, str]], form: str) -> list[tuple[int, str, str]]:
    """Sections for the discussion and the statements printed after the form's last item heading.

    A heading counts when text of substance follows it within a few lines (a paragraph, or a row
    of amounts): the list of statements inside Item 15 or 14, one title per line, does not.
    """
    fam = family(form) or "10-K"
    last_start, last_item, _ = max(heads)
    out: list[tuple[int, str, str]] = []
    current = last_item
    lines = text[last_start:].split("\n")
    offset = last_start + len(lines[0]) + 1
    exhibits = next((item for _, item, title in reversed(heads) if "exhibit" in title.lower()), None)
    for i, line in enumerate(lines[1:], start=1):
        start, offset = offset, offset + len(line) + 1
        s = line.strip()
        if not s or len(s) > 100 or s.endswith("."):
            continue
        for pattern, items in _REPORT_PARTS:
            item = items.get(fam)
            if item == items.get("10-K") == "Item 15" and exhibits:
                item = exhibits  # the exhibits item of this filing (Item 14 before 2003)
            exhibit_index = item == exhibits or items.get("10-K") == "Item 15"
            if item and item != current and pattern.match(s) and (exhibit_index or _substance_follows(lines[i + 1 : i + 12])):
                out.append((start, item, s[:120]))
                current = item
                break
    return out


def _substance_follows(lines: list[str]) -> bool:
    filled = [ln.strip() for ln in lines if ln.strip()]
    return any(len(ln) > 150 or len(_AMOUNT.findall(ln)) >= 2 for ln in filled[:8])


def item_at(sections: tuple[Section, ...], offset: int) -> str | None:
    """The item whose section contains ``offset`` (None before the first heading)."""
    starts = [s.start for s in sections]
    i = bisect.bisect_right(starts, offset) - 1
    return sections[i].item if i >= 0 else None


# "Fiscal 2011 as Compared with Fiscal 2010", "2013 vs. 2012", "YEAR ENDED ... 2003 COMPARED TO ... 2002":
# a line that opens a discussion of one year against another.
_COMPARISON = re.compile(
    r"^[^\n]{0,60}?\b((?:19|20)\d\d)\b[^\n]{0,60}?\b(?:compared (?:to|with)|vs\.?|versus)\s[^\n]{0,40}?\b((?:19|20)\d\d)\b", re.I
)
# Headings that end a year-against-year discussion.
_PERIOD_END = re.compile(r"^\W*(?:liquidity|capital resources|financial condition|critical accounting|quarterly|market risk)\b", re.I)


def prior_period_spans(lines: list[tuple[int, str, str | None]], fiscal_year: int | None) -> list[tuple[int, int]]:
    """Character spans that discuss an earlier year than the filing's own.

    ``lines`` are (offset, text, item) of the document's lines in order. Management's discussion
    often compares the latest year with the one before and then that year with the one before
    it; a figure from the second comparison ("net sales increased 13% to $8,810.0 million") reads
    like the current one once it is lifted out of its section. A span starts at a comparison
    line whose later year is before ``fiscal_year`` (or before the latest compared year, when
    the fiscal year is unknown) and ends at the next comparison line, a liquidity or
    financial-condition heading, or a new item.
    """
    marks: list[tuple[int, int | None]] = []  # (offset, later year compared) ; None ends a span
    prev_item: object = object()
    for offset, text, item in lines:
        if item != prev_item:
            marks.append((offset, None))
            prev_item = item
        m = _COMPARISON.match(text)
        if m and len(text) < 100:
            marks.append((offset, max(int(m.group(1)), int(m.group(2)))))
        elif len(text) < 90 and _PERIOD_END.match(text):
            marks.append((offset, None))
    years = [y for _, y in marks if y]
    if not years:
        return []
    # the latest compared year is the filing's own unless the fiscal year says otherwise (a filing dated a
    # year after its data must not mark its own year as "earlier")
    current = min(fiscal_year, max(years)) if fiscal_year else max(years)
    end = lines[-1][0] + len(lines[-1][1]) + 1
    spans, open_at = [], None
    for offset, year in marks + [(end, None)]:
        if open_at is not None:
            spans.append((open_at, offset))
            open_at = None
        if year is not None and year < current:
            open_at = offset
    return spans


def chunk_lines(chunks) -> list[tuple[int, str, str | None]]:
    """(offset, text, item) of each line of a document rebuilt from its overlapping chunks;
    stretches no chunk covers read as blank lines."""
    parts: list[str] = []
    items: list[tuple[int, str | None]] = []
    covered = 0
    for chunk in sorted(chunks, key=lambda c: c.start):
        if chunk.end <= covered:
            continue
        if chunk.start > covered:
            parts.append("\n" * (chunk.start - covered))
            covered = chunk.start
        parts.append(chunk.text[covered - chunk.start :])
        items.append((covered, chunk.item))
        covered = chunk.end
    text = "".join(parts)
    starts = [a for a, _ in items]
    out, pos = [], 0
    for line in text.split("\n"):
        i = bisect.bisect_right(starts, pos) - 1
        out.append((pos, line, items[i][1] if i >= 0 else None))
        pos += len(line) + 1
    return out
