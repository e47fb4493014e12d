"""The visible text of an HTML filing, and what its inline-XBRL cover facts (``dei:``) state.

One pass of the standard library's ``HTMLParser`` over the page (see ``_TextExtractor``): block
elements become line breaks, a table row one line of `` | ``-joined cells, hidden content
(``display:none``, inline XBRL's ``ix:header``, scripts) is skipped, and each printed page break
(``page-break-before/after``, ``<!-- PAGEBREAK -->``, ``<a name="page_...">``) is marked with a form
feed, so page headers and footers can be told from text (``ingest.pages.strip_furniture``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from ingest.pages import PAGE_BREAK

__all__ = ["DEI_FACTS", "html_document", "html_to_text"]

# The cover facts of inline XBRL we read, and the metadata key each one fills.
DEI_FACTS = {
    "dei:documenttype": "form",
    "dei:entityregistrantname": "company",
    "dei:documentfiscalyearfocus": "fiscal_year",
    "dei:documentperiodenddate": "period",
    "dei:entitycentralindexkey": "cik",
    "dei:tradingsymbol": "ticker",
}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.I)
_BREAK_BEFORE = re.compile(r"page-break-before\s*:\s*always|break-before\s*:\s*page", re.I)
_BREAK_AFTER = re.compile(r"page-break-after\s*:\s*always|break-after\s*:\s*page", re.I)


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
        self.facts: dict[str, str] = {}
        # [tag, depth] of an open element whose end matters: a hidden one, a fact, a break after it
        self._hidden: list[Any] | None = None
        self._fact: list[Any] | None = None  # [tag, depth, key, pieces]
        self._breaks_after: list[list[Any]] = []

    # -- tags
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        void = tag in self.VOID
        for open_ in filter(None, (self._hidden, self._fact, *self._breaks_after)):
            if open_[0] == tag and not void:
                open_[1] += 1
        if self._fact is None and tag.startswith("ix:nonnumeric"):
            name = (dict(attrs).get("name") or "").lower()
            if name in DEI_FACTS:
                self._fact = [tag, 1, DEI_FACTS[name], []]
        style = dict(attrs).get("style") or ""
        if self._hidden is None and not void and _HIDDEN_STYLE.search(style):
            self._hidden = [tag, 1]
        if self._hidden is not None:
            return
        if style and _BREAK_BEFORE.search(style):
            self._page_break()
        width = (dict(attrs).get("width") or "100%").strip()
        if tag == "hr" and width in ("100%", "") and not (style and _BREAK_AFTER.search(style)):
            self._page_break()  # a rule between pages in older filings; inside a table it only underlines
        if style and _BREAK_AFTER.search(style):
            if void:
                self._page_break()
            else:
                self._breaks_after.append([tag, 1])
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
        if self._fact is not None and self._fact[0] == tag:
            self._fact[1] -= 1
            if not self._fact[1]:
                value = " ".join("".join(self._fact[3]).split())
                if value:
                    self.facts.setdefault(self._fact[2], value)
                self._fact = None
        if self._hidden is not None:
            if self._hidden[0] == tag:
                self._hidden[1] -= 1
                if not self._hidden[1]:
                    self._hidden = None
            return
        for open_ in list(self._breaks_after):
            if open_[0] == tag:
                open_[1] -= 1
                if not open_[1]:
                    self._breaks_after.remove(open_)
                    self.handle_endtag_inner(tag)
                    self._page_break()
                    return
        self.handle_endtag_inner(tag)

    def handle_comment(self, data: str) -> None:
        if "PAGEBREAK" in data.upper().replace(" ", "") and self._hidden is None:
            self._page_break()

    def _page_break(self) -> None:
        """A printed page ends here (ignored inside a table cell, where it would split a row)."""
        if self._skip_depth or self._in_head or self._open_cell() is not None or (self._tables and self._tables[-1]["row"]):
            return
        self._newline()
        self.parts.append(PAGE_BREAK + "\n")

    def handle_endtag_inner(self, tag: str) -> None:
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
        if self._fact is not None:
            self._fact[3].append(data)
        if self._skip_depth or self._in_head or self._hidden is not None:
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


def html_document(html: str) -> tuple[str, dict[str, str]]:
    """The visible text (page breaks marked with ``PAGE_BREAK``) and the ``dei:`` cover facts found."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts), parser.facts


def html_to_text(html: str) -> str:
    """Visible text of an HTML page, one block or table row per line, without page-break marks."""
    return html_document(html)[0].replace(PAGE_BREAK, "\n")
