"""Table rows that carry their meaning: caption, row label, columns and unit in every table sentence."""

from __future__ import annotations

import pytest

from rag.tables import balanced, is_debris, keeps_meaning, row_sentences


def _lines(text: str):
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line, "Item 7"))
        pos += len(line) + 1
    return out


APPLE_LIKE = """Products and Services Performance
The following table shows net sales by category for 2024, 2023 and 2022 (dollars in millions):
2024 | Change | 2023 | Change | 2022
iPhone | $201,183 | —% | $200,583 | (2)% | $205,489
Services (1) | 96,169 | 13% | 85,200 | 9% | 78,129
Total net sales | $391,035 | 2% | $383,285 | (3)% | $394,328
iPhone net sales were relatively flat during 2024 compared to 2023."""

RETAILER_LIKE = """Consolidated Results of Operations
Fiscal Years Ended January 31,
(Dollar amounts in millions) | 2025 | 2024 | 2023
Net sales | $674,538 | $642,637 | $605,881
Percentage change from comparable period | 5.0% | 6.1% | 6.7%
Earnings per share | $2.42 | $1.91 | $1.42"""

TEXT_SUBMISSION_LIKE = """Software
(Dollars in millions)
1997 | 1996 | 1995
Revenue | $12,844 | $13,052 | $12,657
Cost | 3,784 | 4,082 | 4,428"""


def test_a_row_names_its_caption_label_columns_and_unit():
    found = row_sentences(_lines(APPLE_LIKE))
    assert [t.text for t in found] == [
        "Net sales by category: iPhone was $201,183 million in 2024 and $200,583 million in 2023.",
        "Net sales by category: Services were $96,169 million in 2024 and $85,200 million in 2023.",
        "Net sales by category: Total net sales were $391,035 million in 2024 and $383,285 million in 2023.",
    ]
    assert APPLE_LIKE[found[0].start:].startswith("iPhone | $201,183")
    assert APPLE_LIKE[found[0].head:].startswith("The following table")  # the caption and unit are its evidence


def test_fiscal_years_and_rows_that_are_not_money():
    assert [t.text for t in row_sentences(_lines(RETAILER_LIKE))] == [
        "Consolidated Results of Operations: Net sales were $674,538 million in fiscal 2025 and $642,637 million in fiscal 2024."]
    assert [t.text for t in row_sentences(_lines(TEXT_SUBMISSION_LIKE))] == [
        "Software: Revenue was $12,844 million in 1997 and $13,052 million in 1996.",
        "Software: Cost was $3,784 million in 1997 and $4,082 million in 1996.",
    ]


RAILROAD_LIKE = """RESULTS OF OPERATIONS
Operating Revenues
Millions | 2024 | 2023 | 2022 | % Change 2024 v 2023 | % Change 2023 v 2022
Freight revenues | $22,811 | $22,571 | $23,159 | 1% | (3)%
Total | $24,250 | $24,119 | $24,875 | 1% | (3)%"""


def test_a_header_whose_first_cell_is_the_scale_gives_the_unit():
    assert [t.text for t in row_sentences(_lines(RAILROAD_LIKE))] == [
        "Operating Revenues: Freight revenues were $22,811 million in 2024 and $22,571 million in 2023.",
        "Operating Revenues: Total was $24,250 million in 2024 and $24,119 million in 2023.",
    ]
    statement = "Consolidated Statements of Income\nMillions, Except Per Share Amounts, for the Years Ended December 31, | 2024 | 2023\n" \
                "Freight revenues | $22,811 | $22,571\nDiluted EPS | $11.09 | $10.45"
    assert [t.text for t in row_sentences(_lines(statement))] == [
        "Consolidated Statements of Income: Freight revenues were $22,811 million in 2024 and $22,571 million in 2023."]


OLDEST_FIRST = """AMAZON.COM, INC.
CONSOLIDATED STATEMENTS OF OPERATIONS
(in millions, except per share data)
Year Ended December 31,
2022 | 2023 | 2024
Net product sales | $242,901 | $255,887 | $272,311
Total net sales | 513,983 | 574,785 | 637,959"""


def test_columns_oldest_first_state_the_latest_year_first():
    assert [t.text for t in row_sentences(_lines(OLDEST_FIRST))][-1] == (
        "Consolidated Statements of Operations: Total net sales were $637,959 million in 2024 and $574,785 million in 2023.")


@pytest.mark.parametrize("text", [
    "(Dollars in millions)\n2024 | 2023\nNet sales | $5 | $4",  # no caption above the unit
    "Sales and marketing | $2,917,554 | $2,657,883 | $2,479,342",  # a row without its header
    "We grew.\nThe company had many products in many markets, which it sold to many customers in 2024 and before that. More.\n2024 | 2023\nNet sales | $5 | $4",
])
def test_no_sentence_without_caption_or_header(text):
    assert row_sentences(_lines(text)) == []


@pytest.mark.parametrize("text, debris", [
    ("Sales and marketing | $2,917,554 | $2,657,883 | ...", True),
    ("(in thousands, except revenue per membership and percentages) [1]", True),
    ("The following table sets forth revenue by customer:", True),
    ("Liquidity and Capital Resources", True),
    ("Customers A, B and C represented 12%, 11% and 11% of total revenue, respectively, for fiscal year 2025.", False),
    ("Net sales by category: iPhone was $201,183 million in 2024 and $200,583 million in 2023.", False),
])
def test_debris_is_never_a_sentence(text, debris):
    assert is_debris(text) is debris


@pytest.mark.parametrize("text, ok", [
    ("It repurchased $3.0 billion of stock (excluding the 1% excise tax on stock repurchases.", False),
    ("Damage or disruption to its distribution logistics.", False),
    ("It repurchased $3.0 billion of stock (excluding the 1% excise tax).", True),
    ("Walmart Inc. accounted for 17.7% of its fiscal 2022 consolidated sales.", True),
])
def test_a_shortened_sentence_keeps_its_parentheses_and_its_verb(text, ok):
    assert keeps_meaning(text) is ok


def test_balanced():
    assert balanced("a (b [c] “d”) e") and not balanced("a (b") and not balanced("a) (b") and not balanced('say "x')


@pytest.mark.parametrize("lead_in, caption", [
    ("The following table disaggregates our revenue by major source (in millions):", "Revenue by major source"),
    ("The table below sets forth a summary of our revenue by segment (in millions):", "Revenue by segment"),
])
def test_a_caption_that_points_at_its_table_is_read_as_the_table_title(lead_in, caption):
    # a table sentence never opens by pointing at a table the summary does not hold
    [first, *_] = row_sentences(_lines(APPLE_LIKE.replace(APPLE_LIKE.split("\n")[1], lead_in)))
    assert first.text.startswith(f"{caption}: iPhone was $201,183 million in 2024")
