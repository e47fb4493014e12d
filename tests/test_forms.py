"""Items that match the form: item maps per form, statements after the last item, item priors per form."""

from __future__ import annotations

import pytest

from ingest.forms import family, form_from_cover, normalize_form
from ingest.sections import detect_sections
from queries.profile import load_profile
from rag.ask import normalize_item
from rag.retrieve import item_prior


@pytest.mark.parametrize("raw, form, fam", [
    ("10-K", "10-K", "10-K"), ("10-k405", "10-K405", "10-K"), ("10KSB", "10-KSB", "10-KSB"), ("10-K/A", "10-K/A", "10-K"),
    ("20-F", "20-F", "20-F"), ("FORM 20-F", "20-F", "20-F"), ("8-K", "8-K", None),
])
def test_form_names(raw, form, fam):
    assert normalize_form(raw) == form
    assert family(form) == fam


def test_the_cover_names_the_form():
    assert form_from_cover("UNITED STATES\nFORM 10-K405\nANNUAL REPORT") == "10-K405"
    assert form_from_cover("FORM 20-F\n(Mark One)") == "20-F"
    assert form_from_cover("FORM 10-KSB\nANNUAL REPORT") == "10-KSB"
    assert form_from_cover("Form 10-Q for the quarter") is None


STATEMENT_ROWS = "\n".join(f"Line {i} | $1,{i:03d} | $2,{i:03d}" for i in range(6))
TEN_K = f"""PART I
Item 1. Business
We make anvils and sell them to farriers through dealers in 40 states.
Item 7. Management's Discussion and Analysis
Net sales rose 8% to $12.4 million.
Item 15. Exhibits and Financial Statement Schedules
(a) Financial statements: Consolidated Balance Sheets
Consolidated Statements of Operations
Item 16. Form 10-K Summary
None.
SIGNATURES
Pursuant to the requirements of the Securities Exchange Act of 1934, the registrant has duly caused this report to be signed.
Consolidated Statements of Operations
(in thousands) | 2024 | 2023
{STATEMENT_ROWS}
Notes to Consolidated Financial Statements
Note 1. Summary of significant accounting policies. {'The company recognizes revenue when control passes. ' * 6}
EXHIBIT INDEX
3.1 | Restated Certificate of Incorporation of the company, incorporated by reference to the annual report of 2019 and its amendments
"""


def test_statements_after_the_last_item_are_item_8_not_item_16():
    sections = detect_sections(TEN_K, "10-K")
    labels = [(s.item, s.title) for s in sections]
    assert labels[-2:] == [("Item 8", "Consolidated Statements of Operations"), ("Item 15", "EXHIBIT INDEX")]
    notes = TEN_K.index("Notes to Consolidated")
    assert next(s for s in sections if s.start <= notes < s.end).item == "Item 8"
    # the list of statements inside Item 15 is not where the statements start
    assert [s.item for s in sections if s.start < TEN_K.index("SIGNATURES")] == ["Item 1", "Item 7", "Item 15", "Item 16"]
    # without the form, the old reading: no mapping after the last item
    assert [s.item for s in detect_sections(TEN_K)][-1] == "Item 16"


def test_a_20f_has_items_a_10k_does_not():
    text = "Item 4. Information on the Company\nWe insure.\nItem 5. Operating and Financial Review\nPremiums rose.\n" \
           "Item 18. Financial Statements\nSee pages F-1.\nItem 19. Exhibits\n1.1 Articles\n"
    assert [s.item for s in detect_sections(text, "20-F")] == ["Item 4", "Item 5", "Item 18", "Item 19"]
    assert [s.item for s in detect_sections(text, "10-K")] == ["Item 4", "Item 5"]  # a 10-K has no Item 18 or 19


def test_profile_items_per_form_leave_10k_weights_unchanged():
    profile = load_profile()
    revenue = next(f for f in profile.facets if f.name == "revenue")
    assert revenue.items == ["Item 7", "Item 1", "Item 8"]
    ten_k = next(f for f in profile.for_form("10-K405").facets if f.name == "revenue")
    for item in ("Item 7", "Item 1", "Item 8", "Item 1A", "Item 9", None):
        assert item_prior(item, ten_k) == item_prior(item, revenue), item
    assert item_prior("Exhibit 13", ten_k) == item_prior("Item 7", revenue)  # a 1990s annual report exhibit
    assert profile.for_form(None) is profile and profile.for_form("8-K") is profile

    twenty_f = next(f for f in profile.for_form("20-F").facets if f.name == "revenue")
    assert twenty_f.items == ["Item 5", "Item 4", "Item 18", "Item 17", "Item 8"]
    assert item_prior("Item 5", twenty_f) == item_prior("Item 7", revenue)
    assert item_prior("Item 4", twenty_f) == item_prior("Item 1", revenue)
    assert item_prior("Item 3", twenty_f) < 0 and item_prior("Item 7", twenty_f) == 0  # risk factors; a 20-F's Item 7 is shareholders
    ksb = next(f for f in profile.for_form("10-KSB").facets if f.name == "revenue")
    assert ksb.items[:2] == ["Item 6", "Exhibit 13"] and item_prior("Item 7", ksb) == item_prior("Item 8", revenue)


def test_a_profile_can_give_its_own_map(tmp_path):
    base = (load_profile.__globals__["DEFAULT_PROFILE"]).read_text()
    path = tmp_path / "p.toml"
    path.write_text(base + '\n[forms."20-F"]\n"Item 1" = ["Item 4B"]\n')
    profile = load_profile(path)
    products = next(f for f in profile.for_form("20-F").facets if f.name == "products")
    assert products.items[0] == "Item 4B"
    assert "10-KSB" in profile.forms  # the other forms keep the default map


@pytest.mark.parametrize("given, item", [("7", "Item 7"), ("1a", "Item 1A"), ("Item 18", "Item 18"), ("16c", "Item 16C"),
                                         ("Exhibit 13", "Exhibit 13"), ("EX-13", "Exhibit 13"), ("ex-99.1", "Exhibit 99")])
def test_item_filters(given, item):
    assert normalize_item(given) == item
