"""SEC annual-report forms and their items: what a 10-K, a 10-K405, a 10-KSB or a 20-F calls each part.

The item numbers mean different things per form: a 10-K's financial statements are Item 8, a
10-KSB's Item 7, a 20-F's Item 18 (or 17); a 20-F's Item 4 (Information on the Company) and Item 5
(Operating and Financial Review) play the parts of a 10-K's Items 1 and 7. ``ITEMS`` lists each
form's items in filing order; ``STATEMENTS_ITEM`` names where the financial statements and their
notes belong, so text that follows the last item (the F-pages after Item 15 or 16) is labelled there.
"""

from __future__ import annotations

import re

__all__ = ["ITEMS", "STATEMENTS_ITEM", "family", "form_from_cover", "items_of", "normalize_form"]

_TEN_K = (
    "1", "1A", "1B", "1C", "2", "3", "4", "5", "6", "7", "7A",
    "8", "9", "9A", "9B", "9C", "10", "11", "12", "13", "14", "15", "16",
)  # fmt: skip
ITEMS: dict[str, tuple[str, ...]] = {
    "10-K": _TEN_K,
    # Form 10-KSB (small business, until 2009): Item 6 is MD&A (or plan of operation), Item 7 the statements
    "10-KSB": ("1", "2", "3", "4", "5", "6", "7", "8", "8A", "8B", "9", "10", "11", "12", "13", "14"),
    # Form 20-F (foreign private issuers): Items 1-19, with 4A and 16A-16J
    "20-F": (
        "1", "2", "3", "4", "4A", "5", "6", "7", "8", "9", "10", "11", "12", "12A", "13", "14", "15",
        "16", "16A", "16B", "16C", "16D", "16E", "16F", "16G", "16H", "16I", "16J", "17", "18", "19",
    ),  # fmt: skip
}
STATEMENTS_ITEM = {"10-K": "Item 8", "10-KSB": "Item 7", "20-F": "Item 18"}
# Names a form goes by in SEC headers and dei:DocumentType, and the family whose items it uses.
_FAMILIES = {
    "10-K": "10-K", "10-K405": "10-K", "10-KT": "10-K", "10-KSB": "10-KSB", "10-KSB40": "10-KSB", "10-KT405": "10-K",
    "20-F": "20-F",
}  # fmt: skip


def normalize_form(raw: str | None) -> str | None:
    """``10KSB`` -> ``10-KSB``, ``10-k405`` -> ``10-K405``, ``20-F/A`` stays; None when it names no form."""
    if not raw:
        return None
    s = re.sub(r"\s+", "", raw.strip().upper())
    s = re.sub(r"^FORM", "", s)
    m = re.fullmatch(r"(10|20|40)-?([A-Z]+\d*)(/A)?", s)
    if not m:
        return s or None
    return f"{m.group(1)}-{m.group(2)}{m.group(3) or ''}"


def family(form: str | None) -> str | None:
    """The form whose item map applies: ``10-K405`` and ``10-K/A`` read as ``10-K``; None when unknown."""
    if not form:
        return None
    return _FAMILIES.get(form.upper().removesuffix("/A"))


def items_of(form: str | None) -> tuple[str, ...]:
    """The form's item numbers in filing order (a 10-K's when the form is unknown)."""
    return ITEMS.get(family(form) or "10-K", _TEN_K)


# The cover: "FORM 10-K", "FORM 10-K405", "Form 10-KSB", "FORM 20-F" (also split over lines, "FORM\n10-K").
_COVER_FORM = re.compile(r"\bFORM\s+(10-?K(?:SB40|SB|405|T)?|20-F|40-F)\b(?!-)", re.I)


def form_from_cover(text: str) -> str | None:
    """The form a cover page names in its first few thousand characters, if any."""
    m = _COVER_FORM.search(text[:6000])
    return normalize_form(m.group(1)) if m else None
