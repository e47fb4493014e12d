"""A filing's sentence as the summary prints it: rewritten without computing; tables as sentences; the text rules."""

from __future__ import annotations

import pytest

from ingest.errors import InputError
from ingest.sections import chunk_lines, prior_period_spans
from ingest.types import Chunk
from queries.profile import load_profile
from rag.candidates import clause_spans
from rag.rewrite import _as_written, compress, latest_only, name_first, short_company_name, third_person, trim
from rag.select import Candidate, aspects_of, fact_keys, redundant
from rag.text import BOILERPLATE, CONDITIONAL, HEDGE, NUMBER
from rag.text import words
from rag.tokens import count_tokens
from rag.types import Sentence


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("Net cash provided by operating activities was $1,126.7 million, $1,027.0 million and $956.7 million in fiscal 2012, 2011 and 2010, respectively.",
         "Net cash provided by operating activities was $1,126.7 million in fiscal 2012."),
        ("Managed care accounted for 37.8% and 38.7% of net revenues in fiscal 1996 and 1997, respectively.",
         "Managed care accounted for 38.7% of net revenues in fiscal 1997."),
        ("For the years ended September 30, 2002, 2003 and 2004, revenues were $35.8 million, $34.9 million and $51.2 million respectively.",
         "For the year ended September 30, 2004, revenues were $51.2 million."),
        # three figures for two years: no safe pairing, left as written
        ("Sales were $5 million, $6 million and $7 million in 2001 and 2002, respectively.",
         "Sales were $5 million, $6 million and $7 million in 2001 and 2002, respectively."),
    ],
)
def test_latest_only_keeps_the_latest_year_figure_as_written(sentence, expected):
    assert latest_only(sentence) == expected


@pytest.mark.parametrize(
    "sentence, year, expected",
    [
        ("At June 30, 2012, it had cash and cash equivalents of $1,347.7 million compared with $1,253.0 million at June 30, 2011.", 2012,
         "At June 30, 2012, it had cash and cash equivalents of $1,347.7 million."),
        ("LPG cylinders, which hold fuel for barbeque grills and camping stoves, are also sold through cylinder exchangers.", 2023,
         "LPG cylinders are also sold through cylinder exchangers."),
        # a "who" clause holding a list is not cut at the list's first comma
        ("It uses 38 food brokers, who represent its products to grocers, convenience store wholesalers and natural food retailers.", 2025,
         "It uses 38 food brokers, who represent its products to grocers, convenience store wholesalers and natural food retailers."),
        ("Revenue comes from fees charged to cable operators (multichannel video distributors) and from advertisers.", 2014,
         "Revenue comes from fees charged to cable operators and from advertisers."),
        ("During fiscal 2023, Steel Processing served approximately 1,300 customers in North America.", 2023,
         "Steel Processing served approximately 1,300 customers in North America."),
        ("Software revenues totaled $1,636 million, representing 55% of product revenues, in fiscal 2021, compared to $1,454 million, "
         "representing 49% of product revenues, in fiscal 2020.", 2021,
         "Software revenues totaled $1,636 million, representing 55% of product revenues, in fiscal 2021."),
        # another year's qualifier stays; asides with figures stay
        ("During fiscal 2022, Steel Processing served approximately 1,200 customers in North America.", 2023,
         "During fiscal 2022, Steel Processing served approximately 1,200 customers in North America."),
        ("Disneyland Paris (51% owned) and Hong Kong Disneyland Resort (48% owned) opened new attractions.", 2014,
         "Disneyland Paris (51% owned) and Hong Kong Disneyland Resort (48% owned) opened new attractions."),
    ],
)
def test_trim_drops_qualifiers_and_keeps_every_figure(sentence, year, expected):
    assert trim(sentence, year) == expected


def test_clauses_joined_by_semicolons_are_candidates_of_their_own():
    text = "Revenues for fiscal 2014 increased 8% to $48.8 billion; net income increased 22% to $7.5 billion. Next one here now."
    spans = clause_spans(text)
    assert [text[a:b] for a, b, _ in spans] == [
        "Revenues for fiscal 2014 increased 8% to $48.8 billion;",
        "net income increased 22% to $7.5 billion.",
        "Next one here now.",
    ]
    assert [i for _, _, i in spans] == [0, 1, -1]


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("We continually seek new ways to grow.", "It continually seeks new ways to grow."),
        ("We supply products to retailers.", "It supplies products to retailers."),
        ("We rely heavily on one customer.", "It relies heavily on one customer."),
        ("Our largest customer is Acme Stores.", "Its largest customer is Acme Stores."),
        ("We design, manufacture and market footwear.", "It designs, manufactures and markets footwear."),
        ("We own or lease facilities in 12 states.", "It owns or leases facilities in 12 states."),
        ("We have plants in Ohio and usually source steel.", "It has plants in Ohio and usually sources steel."),
        ("We sell shoes and apparel to retailers.", "It sells shoes and apparel to retailers."),
        ("We offer products and services.", "It offers products and services."),
        ("Revenues rose and typically peak in May.", "Revenues rose and typically peak in May."),
    ],
)
def test_third_person_handles_adverbs_and_lists_of_verbs(sentence, expected):
    assert third_person(sentence) == expected


def test_the_first_it_sentence_names_the_company_and_later_ones_do_not():
    sentences = [
        Sentence("Revenues rose 8% to $48.8 billion.", "revenue", ("c1",)),
        Sentence("Its largest customer accounted for 12% of net sales.", "customers", ("c2",)),
        Sentence("It sells through distributors.", "distribution", ("c3",)),
    ]
    out = name_first(sentences, "Acme")
    assert [s.text for s in out] == [
        "Revenues rose 8% to $48.8 billion.",
        "Acme's largest customer accounted for 12% of net sales.",
        "It sells through distributors.",
    ]
    assert out[1].chunk_ids == ("c2",)
    assert name_first(sentences, "") == sentences
    # "THE BOEING COMPANY" shortens to "The Boeing", which is printed as Boeing
    assert name_first(sentences[2:], short_company_name("THE BOEING COMPANY"))[0].text == "Boeing sells through distributors."
    assert name_first(sentences[2:], "The company")[0].text == "The company sells through distributors."


def test_a_semicolon_splits_clauses_even_when_the_sentence_has_parentheses():
    text = ("Revenues for fiscal 2014 increased 8%, or $3.8 billion, to $48.8 billion; net income attributable to Disney "
            "increased 22% to $7.5 billion; and diluted earnings per share (EPS) increased 26% to $4.26.")
    pieces = [text[a:b] for a, b, _ in clause_spans(text)]
    assert pieces[0] == "Revenues for fiscal 2014 increased 8%, or $3.8 billion, to $48.8 billion;"
    assert pieces[2].startswith("diluted earnings per share (EPS)")  # the clause without its "and"
    # a semicolon inside parentheses is not a clause boundary
    inner = "Net sales were $5.0 million (of which $1.0 million came from Europe; the rest from Asia) in fiscal 2014."
    assert len(clause_spans(inner)) == 1


def test_attributable_to_a_name_is_not_an_explanation_to_cut():
    kept = "Net income attributable to Disney increased 22%, or $1.4 billion, to $7.5 billion."
    assert compress(kept) == kept
    assert compress("Net sales increased 5% to $120.0 million, primarily attributable to higher volume.") == (
        "Net sales increased 5% to $120.0 million.")


def test_an_offset_with_a_figure_is_part_of_the_sum_and_stays():
    kept = ("Net cash used in financing activities was $3.0 million in fiscal 2025, consisting of dividends of $18.2 million "
            "and share repurchases of $18.5 million, largely offset by net borrowings of $42.0 million.")
    assert compress(kept) == kept  # without the offset the parts would not add up to the total
    assert compress("Net sales increased 5% to $120.0 million, partially offset by lower prices.") == (
        "Net sales increased 5% to $120.0 million.")


@pytest.mark.parametrize("company, short", [("WALT DISNEY CO/", "Walt Disney"), ("NIKE, Inc.", "Nike"), ("ACME CORP /DE/", "Acme")])
def test_short_company_name_drops_edgar_suffixes(company, short):
    assert short_company_name(company) == short


def test_prior_period_spans_cover_last_years_comparison_only():
    text = (
        "Item 7. Management's Discussion\n"
        "Fiscal 2012 as Compared with Fiscal 2011\n"
        "Net sales increased 10% to $9,713.6 million.\n"
        "Fiscal 2011 as Compared with Fiscal 2010\n"
        "Net sales increased 13% to $8,810.0 million.\n"
        "Liquidity and Capital Resources\n"
        "Cash was $1,347.7 million.\n"
    )
    chunks = [Chunk("d#0", "d", text[:150], 0, 0, 150, "Item 7"), Chunk("d#1", "d", text[120:], 1, 120, len(text), "Item 7")]
    spans = prior_period_spans(chunk_lines(chunks), 2012)
    inside = lambda s: any(a <= text.index(s) < b for a, b in spans)  # noqa: E731
    assert inside("Net sales increased 13%")
    assert not inside("Net sales increased 10%") and not inside("Cash was")
    assert prior_period_spans(chunk_lines(chunks), None) == spans  # the latest compared year stands in for it
    assert prior_period_spans(chunk_lines(chunks), 2013) == spans  # a fiscal year a year late does not mark 2012 as earlier


def _candidate(text: str, facet: str, score: float, profile) -> Candidate:
    f = next(x for x in profile.facets if x.name == facet)
    return Candidate(text, facet, f"c{len(text)}", 0, len(text), "Item 7", score, count_tokens(text),
                     frozenset(words(text)), frozenset(NUMBER.findall(text)), fact_keys(text), aspects_of(text, f), 0, score)


def test_profile_aspects_must_be_valid_patterns(tmp_path):
    bad = tmp_path / "bad.toml"
    lines = ['name = "x"', 'instructions = "Summarize."', "[[facets]]", 'name = "revenue"', 'title = "Revenue"', 'covers = "c"',
             'missing = "m"', 'queries = ["q"]', "[facets.aspects]", "total = ['(unclosed']"]
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="aspects"):
        load_profile(bad)


NIKE_LIKE = """CONSOLIDATED OPERATING RESULTS
REVENUES
(Dollars in millions)
FISCAL 2025 FISCAL 2024 % CHANGE % CHANGE EXCLUDING CURRENCY CHANGES (1) FISCAL 2023 % CHANGE % CHANGE EXCLUDING CURRENCY CHANGES (1)
NIKE Brand Revenues by:
Footwear $29,510 $33,427 -12% -11% $33,135 1% 1%
Apparel 12,965 13,775 -6% -5% 13,843 0% 0%
Global Brand Divisions (2) 48 45 7% 10% 58 -22% -25%
TOTAL NIKE BRAND REVENUES $44,714 $49,322 -9% -9% $48,763 1% 1%
Corporate (3) (97) (42) — — 27 — —
Weighted average shares 1,484.9 1,517.6 -2% -2% 1,552.3 0% 0%
The text goes on.
NORTH AMERICA
(In thousands)
2025 2024
Footwear 12,684 14,537
Apparel 5,837 5,953
"""


def _lines(text):
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line, "Item 7"))
        pos += len(line) + 1
    return out


def test_tables_become_sentences_with_their_unit_and_the_latest_year():
    from rag.tables import table_sentences

    found = table_sentences(_lines(NIKE_LIKE))
    assert [t.text for t in found] == [
        "NIKE Brand Revenues, fiscal 2025 ($ millions; change from fiscal 2024): Footwear 29,510 (-12%), Apparel 12,965 (-6%), "
        "Global Brand Divisions 48 (7%), TOTAL NIKE BRAND REVENUES 44,714 (-9%).",
        # thousands stay thousands, and a segment's table carries the segment's name
        "North America, fiscal 2025 (thousands): Footwear 12,684, Apparel 5,837.",
    ]
    assert NIKE_LIKE[found[0].start:].startswith("Footwear $29,510")
    # negative cells and share counts are never stated as money
    assert "Corporate" not in found[0].text and "shares" not in found[0].text


def test_a_table_without_a_title_gives_no_sentence():
    from rag.tables import table_sentences

    untitled = "(Dollars in millions)\n2025 2024\nFootwear $29,510 $33,427\nApparel 12,965 13,775\n"
    assert table_sentences(_lines(untitled)) == []


def test_a_unit_line_can_carry_the_header():
    from rag.tables import table_sentences

    text = "Net Sales by Segment\n(in thousands) 2025 2024 % Change\nFrozen Meals $ 412,306 $ 380,115 8.5%\nFoodservice 148,520 143,962 3.2%\n"
    assert [t.text for t in table_sentences(_lines(text))] == [
        "Net Sales by Segment, fiscal 2025 ($ thousands; change from fiscal 2024): Frozen Meals 412,306 (8.5%), Foodservice 148,520 (3.2%)."
    ]


def test_a_segments_sales_are_part_of_the_split_not_the_total():
    revenue = load_profile().facets[0]
    assert "mix" in aspects_of("Plant-Based Snacks net sales increased 19.4% to $236.8 million.", revenue)
    assert "mix" in aspects_of("Building Products - Net sales increased 8.2% to $586.1 million.", revenue)
    assert "mix" not in aspects_of("Net sales increased 10.4% to $797.7 million.", revenue)
    assert "total" in aspects_of("Net sales increased 10.4% to $797.7 million.", revenue)


def test_sentence_ends_are_not_doubled():
    from rag.rewrite import compress, tidy

    assert tidy("Moody’s assigned a ratings outlook of “stable.”") == "Moody’s assigned a ratings outlook of “stable.”"
    assert compress("Logistics runs through FedEx Supply Chain Distribution System, Inc., primarily due to demand.") == (
        "Logistics runs through FedEx Supply Chain Distribution System, Inc.")


def test_mmr_matches_the_textbook_definition():
    import random

    from rag.retrieve import MMR_LAMBDA, mmr

    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(60)]
    chunks = {f"c{i}": Chunk(f"c{i}", "d", " ".join(rng.sample(vocab, rng.randint(8, 30))), i, i * 10, i * 10 + 9) for i in range(50)}
    scores = {cid: rng.random() for cid in chunks}

    def naive(k, pool=60):
        ranked = sorted(scores, key=lambda c: -scores[c])[:pool]
        top, low = scores[ranked[0]], scores[ranked[-1]]
        bags = {c: set(chunks[c].text.split()) for c in ranked}
        picked = []
        while ranked and len(picked) < k:
            best, value = None, -1e9
            for c in ranked:
                sim = max((len(bags[c] & bags[p]) / min(len(bags[c]), len(bags[p])) for p in picked), default=0.0)
                v = MMR_LAMBDA * (scores[c] - low) / (top - low) - (1 - MMR_LAMBDA) * sim
                if sim <= 0.8 and v > value:
                    best, value = c, v
            if best is None:
                break
            picked.append(best)
            ranked.remove(best)
        return picked

    for k in (1, 5, 20, 50):
        assert [sc.chunk.id for sc in mmr(scores, chunks, k)] == naive(k)


@pytest.mark.parametrize("sentence", [
    "The Company allocates revenue to each element based on its relative selling price.",
    "It generally relies on patent, copyright, trademark, trade secret and contract laws to protect its products.",
    "The cost of shipping products to customers is included in cost of product revenues.",
    "When products are sold through distributors, title and risk of loss generally passes upon shipment.",
    "The ending unamortized deferred debt issuance costs for the 5.375% Senior Notes were $11.1 million.",
])
def test_accounting_policy_and_legal_protection_are_boilerplate(sentence):
    assert BOILERPLATE.search(sentence)


def test_a_business_sentence_is_not_boilerplate():
    assert not BOILERPLATE.search("Its embedded products include its iNAND embedded flash product line, with capacities up to 64 gigabytes.")


def test_an_explanation_inside_a_subordinate_clause_is_not_cut_away_with_the_main_clause():
    text = ("As revenues from financial services fluctuate over time due to varying performance of the commodities markets, "
            "its other operations are expected to be stable.")
    assert compress(text) == text


def test_a_comparison_is_not_cut_at_a_decimal_point():
    text = ("In fiscal year 2002, approximately 69.7% of sales were derived from U.S. customers, while approximately 30.3% were "
            "derived from international customers compared to fiscal year 2001 when approximately 67.0% of sales were derived "
            "from the U.S. and approximately 33.0% were from international customers.")
    assert trim(text, 2002) == ("Approximately 69.7% of sales were derived from U.S. customers, while "
                                "approximately 30.3% were derived from international customers.")
    cut_short = "Sales were 40.2% of the total compared to 2001 and 38.5% in 2000, with the rest from the U.S. and Canada."
    assert "38.5%" in trim(cut_short, 2002)  # a comparison that would stop at "38.5" is left whole


@pytest.mark.parametrize("sentence, hypothetical", [
    ("If the Company is unable to satisfy such cash requirements, it will reduce capital expenditures.", True),
    ("It estimates that it would incur capital expenditures of approximately $200,000.", True),
    ("It has a $5.0 million revolving credit facility.", False),
])
def test_hypotheticals_are_recognized(sentence, hypothetical):
    assert bool(CONDITIONAL.search(sentence)) is hypothetical


@pytest.mark.parametrize("sentence", [
    "In accordance with industry practice, its contracts are generally terminable at will by clients without penalty.",
    "The RBOCs are significantly larger than the Company and are able to exert a high degree of influence over it.",
])
def test_risk_factor_language_counts_as_hedged(sentence):
    assert HEDGE.search(sentence)


@pytest.mark.parametrize("sentence", ["The slight increase can be attributed to research and development.", "This includes retail stores.",
                                      "These customers are typically homeowners.", "It contributes to the group's results."])
def test_a_sentence_leaning_on_the_one_before_is_recognized(sentence):
    from ingest.types import SentenceUnit
    from rag.features import leans

    assert leans(SentenceUnit("s", "d", sentence, "c", None, 0, len(sentence)))
    assert not leans(SentenceUnit("s", "d", "We sell frozen meals to grocery chains.", "c", None, 0, 10))


def test_a_comparison_naming_last_years_sales_is_cut():
    text = ("Sales for fiscal year 2002 were $251.2 million compared to sales of $272.5 million in fiscal year 2001, "
            "a decrease of $21.3 million or 7.8%.")
    assert trim(text, 2002) == "Sales for fiscal year 2002 were $251.2 million, a decrease of $21.3 million or 7.8%."


def test_the_same_statement_for_an_earlier_year_is_redundant():
    profile = load_profile()
    this = _candidate("Net cash used in financing activities in fiscal 2025 included dividend payments of $658.5 million, "
                      "share repurchases of $418.2 million and repayment of commercial paper of $86.8 million.", "financing", 2.0, profile)
    last = _candidate("Net cash used in financing activities in fiscal 2024 included dividend payments of $628.4 million "
                      "and share repurchases of $453.9 million.", "financing", 1.5, profile)
    other_segment = _candidate("Building Products net sales increased 8.2% to $586.1 million.", "revenue", 1.0, profile)
    segment = _candidate("Consumer Products net sales increased 7.8% to $686.3 million.", "revenue", 1.0, profile)
    assert redundant(last, [this])
    assert not redundant(other_segment, [segment])
    total = _candidate("Net sales increased 10%, or $903.6 million, to $9,713.6 million.", "revenue", 1.0, profile)
    region = _candidate("In Europe, the Middle East & Africa, net sales increased 11%, or $345.6 million, to $3,603.2 million.",
                        "revenue", 1.0, profile)
    assert not redundant(total, [region])  # the company's total is not a region's, though its words are a subset


def _units(text: str):
    from rag.candidates import document_sentences

    return document_sentences("d1", [Chunk("d1#00000", "d1", text, 0, 0, len(text), "Item 7")])


def test_page_headers_and_biographies_are_not_evidence():
    text = ("Index to Financial Statements circuits which was a result of decreased revenues of $2.1 million. "
            "Index to Financial Statements Total revenue decreased by $8.0 million, or 31.4%, to $17.5 million. "
            "Mr. Allard previously was employed by Primedia, where he managed products to increase revenue by $40 million.")
    found = [u.text for u in _units(text)]
    assert not any("circuits which" in t for t in found)  # the rest of a sentence from the page before
    assert any(t.endswith("Total revenue decreased by $8.0 million, or 31.4%, to $17.5 million.") for t in found)
    assert BOILERPLATE.search(text.split(". ")[-1])


def test_the_company_is_named_as_its_prose_writes_it():
    texts = ["SPACEHAB’s revenue grew. Visit www.spacehab.com or www.spacehab.com/store or spacehab.com."]
    assert _as_written("Spacehab", texts) == "SPACEHAB"  # the web address is lower case, the prose is not
    assert _as_written("Nike", ["NIKE, Inc. designs footwear. NIKE sells apparel. NIKE DIRECT"]) == "NIKE"
    assert _as_written("Darden", ["DARDEN RESTAURANTS. Darden owns Olive Garden. Darden's brands. DARDEN"]) == "Darden"


def test_the_tail_of_a_sentence_broken_over_lines_is_not_a_sentence():
    text = ("The Revolving Credit Agreement of $1,250 million matures on October 23, 2028.\n"
            "On September 16, 2024, it entered into a senior unsecured $\n600\nmillion\n2-year\n"
            "Term Loan Credit Agreement with BOA, as administrative agent, the lenders and other agents party thereto, the "
            "material terms of which were consistent with the Revolving Credit Agreement of $1,250 million.\n"
            "Liquidity\nIt had $2.1 billion of borrowing capacity under its credit facilities.\n"
            "Fiscal 2025\nIts revolving credit facility of $1,250 million was undrawn at year end.")
    found = {u.text for u in _units(text)}
    assert not any(t.startswith("Term Loan") for t in found)
    assert "It had $2.1 billion of borrowing capacity under its credit facilities." in found  # after a heading
    assert "Its revolving credit facility of $1,250 million was undrawn at year end." in found  # a year heading too


def test_a_sentence_of_the_filing_that_says_it_comes_with_the_one_it_leans_on():
    """The filing's "It" is something said before; in a summary "It" is the company. Such a sentence is a
    candidate only together with the sentence before it, and the choice takes both or neither."""
    from rag.candidates import printed

    text = ("Its supply chain is run by a subsidiary. It ships food to 2,000 restaurants from 12 distribution centers.\n"
            "We ship food to 1,900 restaurants from 12 distribution centers.")
    units = _units(text)
    assert [u.follows for u in units] == [False, True, False]
    assert printed(units[2], None) == "It ships food to 1,900 restaurants from 12 distribution centers."  # from "We ship"


def test_run_in_headings_and_verbless_list_items_are_not_sentences():
    text = ("Net sales by channel and geography. Retail grocery chains accounted for 51% of net sales in fiscal 2025.\n"
            "Our competitors include (1) physical and online retailers; (2) companies that sell grocery products online; "
            "and (3) providers of virtual or in-person healthcare services. Our fixed costs include the costs to build "
            "and run our technology infrastructure; and to build and optimize our fulfillment network.\n"
            "We direct customers to our stores primarily through a number of marketing channels.")
    found = [u.text for u in _units(text)]
    assert not any("channel and geography" in t for t in found)
    assert any(t.startswith("Retail grocery chains accounted for 51%") for t in found)
    assert not any("healthcare services" in t and "providers" in t.split()[0].lower() for t in found)
    assert not any(t.lower().startswith("to build and optimize") for t in found)
    # a whole sentence whose verb the lexicon does not know still stands
    assert "We direct customers to our stores primarily through a number of marketing channels." in found


def test_someones_quoted_words_are_not_the_filings_sentences():
    """A filing that quotes an industry association's chief ("we are hearing ...") must not print the speaker's "we"
    as the company: the quotation, to its paragraph's end, gives no candidate; the filing's own sentences around it do."""
    text = ("The index showed new business volume of $12.5 billion for December.\n"
            "ELFA President Ralph Petta, said, \"With another strong year end, participants managed to grow. "
            "We expect rates to rise in 2016.\n"
            "The Partnership had 95 active operating leases that generated lease revenue of approximately $888,000 during 2015.")
    found = [u.text for u in _units(text)]
    assert found == ["The index showed new business volume of $12.5 billion for December.",
                     "The Partnership had 95 active operating leases that generated lease revenue of approximately $888,000 during 2015."]
    notes = "It issued $500 million of 3.5% senior notes, \"the 2030 Notes\", in March 2020. The notes pay interest twice a year."
    assert [u.text for u in _units(notes)] == ["It issued $500 million of 3.5% senior notes, \"the 2030 Notes\", in March 2020.",
                                              "The notes pay interest twice a year."]  # a noun before a quotation mark quotes nobody


@pytest.mark.parametrize(
    ("sentence", "inside"),
    [
        ("Tier 1 vendors may be both manufacturers and value-added resellers) information technology equipment.", True),
        ("Circuit) affirmed the decision of U.S. District Court for the District of Columbia.", True),
        ("%) of the outstanding shares of all classes of common stock on the last day of the fiscal year.", True),
        ("There are three major customer groups; 1) grocery, 2) gasoline convenience stores, and 3) independent retailers.", False),
        ("(iii) pursuant to the plan, a) cash and b) shares are paid.", False),
        ("Net sales (excluding fuel) rose 4% to $20.1 billion.", False),
    ],
)
def test_the_tail_of_a_parenthesis_the_split_cut_is_not_a_sentence(sentence, inside):
    from rag.candidates import opens_inside_parentheses

    assert opens_inside_parentheses(sentence) is inside
    found = [u.text for u in _units("Its focus is on Tier 1 (Tier 1 is defined as a large and well-known vendor. " + sentence)] \
        if inside else []
    assert sentence not in found


def test_an_item_of_a_bulleted_list_that_ends_at_its_semicolon_is_a_sentence():
    """MD&A often lists its key figures as bullets ending in ";": each item is a statement, the richest of the filing
    ("Total revenue increased by $199.8 million to $1,318.7 million;"); a line that is not a list item still needs its
    period, and an item without a verb, or one that continues a lead-in in lower case, is still no sentence."""
    from rag.rewrite import tidy

    text = ("A summary of our key financial metrics for fiscal 2011 is as follows:\n•\n"
            "Total revenue increased by $199.8 million to $1,318.7 million;\n•\n"
            "Net income improved by $57.3 million to $38.2 million; and\n"
            "• Operating margins of 7.6% in fiscal 2011;\n"
            "•\nworking with customers to improve their service levels;\n"
            "Total revenue by segment for the three fiscal years ended;\n")
    found = [u.text for u in _units(text)]
    assert found == ["Total revenue increased by $199.8 million to $1,318.7 million;",
                     "Net income improved by $57.3 million to $38.2 million;"]
    assert tidy(found[1]) == "Net income improved by $57.3 million to $38.2 million."
