"""Find 10-K items ("Item 1. Business", "Item 7. Management's Discussion...") in plain text."""

from __future__ import annotations

import bisect
import re

from ingest.types import Section

# A heading is a short line that starts with "Item 7A." (optionally after "PART II"), e.g.
# "Item 1. Business", "ITEM 7. MANAGEMENT'S DISCUSSION ...", "Item 1A - Risk Factors".
_HEADING = re.compile(
    r"^[ \t]*(?:PART\s+[IV]+[\s,.\-–—]*)?ITEM[ \t]+(\d{1,2}[A-C]?)\b[ \t]*[.:\-–—]?[ \t]*(.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_MAX_HEADING_CHARS = 160


def detect_sections(text: str) -> tuple[Section, ...]:
    """Item sections of a filing, in order, each spanning to the next heading.

    A table of contents lists every item too; those entries become tiny sections and the real
    item, later in the text, gets the body. Every chunk takes the item of the nearest heading
    before it, which is right either way.
    """
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
        heads.append((m.start(), f"Item {number}", title[:120]))
    sections = []
    for i, (start, item, title) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        sections.append(Section(item=item, title=title, start=start, end=end))
    return tuple(sections)


def item_at(sections: tuple[Section, ...], offset: int) -> str | None:
    """The item whose section contains ``offset`` (None before the first heading)."""
    starts = [s.start for s in sections]
    i = bisect.bisect_right(starts, offset) - 1
    return sections[i].item if i >= 0 else None
