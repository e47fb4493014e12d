"""Answers from the filing's candidate sentences: ranking, what is never an answer, declining, a model's
refusal, attribution, and questions over several filings (the fake embedder: unit tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import rag.ask as ask_module
from ingest.types import SentenceUnit
from rag.api import ingest_file
from rag.ask import NEEDS, NO_ANSWER, ask, make_query, stands_alone
from rag.grounding import attribution_lost
from rag.text import stem
from vectorstore.chroma import ChromaStore

BATTERY = """Item 1. Business
Voltaic Cells Inc. designs and manufactures lithium-ion battery cells for electric scooters and energy storage.
We sell our battery cells to manufacturers of electric scooters in China and Europe.
Urgent orders are shipped to customers by aircraft.
Item 1A. Risk Factors
We depend on a small number of customers. Loss of any of them could harm our results.
Item 7. Management's Discussion and Analysis
Net revenues were $204.4 million in fiscal 2024, compared with $176.6 million in fiscal 2023.
Sales to Lumen Mobility accounted for 23.5% of our net revenues in fiscal 2024.
Sales to Lumen Mobility accounted for 31.2% of our net revenues in fiscal 2023.
We value our customers and work closely with them on new battery designs.
Our revolving credit facility with Harbor State Bank provides up to $30.0 million and matures in 2027.
"""
ORCHARD = """Item 1. Business
Orchard Juice Co. presses apple and pear juice sold to grocery chains in Oregon.
No single customer accounted for more than 10% of net sales in fiscal 2024.
Item 7. Management's Discussion and Analysis
Net sales were $41.2 million in fiscal 2024.
We fund our operations with a $5.0 million line of credit and cash from operations.
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from tests.conftest import FakeEmbedder

    root = tmp_path_factory.mktemp("sentences")
    (root / "voltaic.txt").write_text(BATTERY)
    (root / "orchard.txt").write_text(ORCHARD)
    db = ChromaStore.open(root / "store")
    embedder = FakeEmbedder()
    ids = {name: ingest_file(db, root / f"{name}.txt", embedder).id for name in ("voltaic", "orchard")}
    return db, ids


def _unit(text: str, kind: str = "sentence") -> SentenceUnit:
    return SentenceUnit("d#s00000", "d", text, "d#00000", "Item 7", 0, len(text), kind)


@pytest.mark.parametrize(
    ("text", "kind", "stands"),
    [
        ("Sales to Lumen Mobility accounted for 23.5% of our net revenues in fiscal 2024.", "sentence", True),
        ("(in thousands, except revenue per membership and percentages) [1]", "sentence", False),  # a unit line
        ("Sales and marketing | $2,917,554 | $2,657,883 | 10%", "sentence", False),  # a row without its headers
        ("The following table shows net sales by category:", "sentence", False),  # a lead-in
        ("* Less than 10% of total revenue.", "sentence", False),  # a footnote fragment, no verb
        ("Damage or disruption to its distribution logistics.", "sentence", False),  # the verb gone
        ("(excluding the 1% excise tax on stock repurchases.", "sentence", False),  # the parenthesis never closed
        ("(1) Represents sales to customers in Europe and Asia.", "sentence", False),  # a footnote without its row
        ("(1) Walmart Inc. accounted for 16.9% of consolidated sales.", "sentence", True),  # a footnote naming its subject
        ("Net sales by category: iPhone was $201,183 million in 2024 and $200,583 million in 2023.", "table", True),
        ("Refer to page 78 of IBM's 1997 Annual Report to Stockholders which is incorporated herein by reference.", "sentence", False),
        ("The table below presents details of its reportable segments.", "sentence", False),  # points at what it does not hold
        ("Film library properties are described in Item 1 under the caption Studio Entertainment.", "sentence", False),  # says where
        ("Revenue recognition is described in Note 2, where revenue of $5.1 million is deferred.", "sentence", True),  # and states a figure
        ("In addition to its direct sales force, the Company utilizes over 35 external sales organizations and one stocking "
         "distributor, Richardson Electronics, Ltd., to service the needs of low volume customers.", "sentence", True),
    ],
)
def test_what_can_stand_alone_as_an_answer(text, kind, stands):
    assert stands_alone(_unit(text, kind)) is stands


@pytest.mark.parametrize(
    ("question", "concentration"),
    [
        ("Who is the largest customer?", True),
        ("Who are the biggest distributors?", True),
        ("Which customers account for more than 10% of revenue?", True),
        ("How dependent is the company on a few customers?", True),
        ("Does it rely on a single customer?", True),
        ("How dependent is its defense and space side on the U.S. Government as a customer?", True),
        ("What does the company sell?", False),
        ("How large is the revolving credit facility?", False),
    ],
)
def test_the_concentration_need_is_found_however_it_is_asked(question, concentration):
    assert bool(NEEDS[0].question.search(question)) is concentration


def test_a_need_matches_the_words_filings_use():
    need = NEEDS[0]
    assert need.answer.search("Walmart Inc. accounted for 16.9% of our fiscal 2019 consolidated sales.")
    assert need.answer.search("No single customer accounted for more than 10% of net sales in fiscal 2024.")
    assert need.answer.search("Customers A, B and C represented 12%, 11% and 11% of total revenue, respectively.")
    assert need.answer.search("IDS derives over 85% of its revenue from sales to the U.S. Government.")
    assert need.answer.search("The segment derived 40% of its sales from Walmart in 2003.")
    assert not need.answer.search("The company derives about sixty percent of its revenues from outside the U.S.")
    assert not need.answer.search("We value our customers and work closely with them on new battery designs.")


@pytest.mark.parametrize("question", ["Who is the largest customer?", "Which customer accounts for the biggest share of revenue?",
                                      "Do any customers account for over 10% of revenue?"])
def test_the_concentration_sentence_answers_every_phrasing(store, fake_embedder, question):
    db, ids = store
    answer = ask(db, question, fake_embedder, doc_ids=[ids["voltaic"]])
    assert answer.answered
    assert "Lumen Mobility accounted for 23.5%" in answer.answer, answer.answer


def test_the_latest_year_outranks_the_same_statement_for_an_earlier_one(store, fake_embedder):
    db, ids = store
    record = db.get_document(ids["voltaic"])
    pool = ask_module.sentence_pool(db, record, fake_embedder)
    query = make_query("q", "What share of net revenues did Lumen Mobility account for?", fake_embedder.embed(["What share of net revenues did Lumen Mobility account for?"])[0])
    ranked = [s.unit.text for s in ask_module.score_pool(query, pool)]
    assert ranked.index(next(t for t in ranked if "23.5%" in t)) < ranked.index(next(t for t in ranked if "31.2%" in t))


@pytest.mark.parametrize("question", ["What was the company's revenue from selling aircraft engines in 2017?",
                                      "How many restaurants does the company operate?"])
def test_a_question_on_what_the_filing_never_mentions_is_declined(store, fake_embedder, question):
    db, ids = store
    answer = ask(db, question, fake_embedder, doc_ids=[ids["voltaic"]])
    assert not answer.answered and answer.answer == NO_ANSWER and answer.citations == []
    # declined for the subject the filing never names, however close its sentences
    pool = ask_module.sentence_pool(db, db.get_document(ids["voltaic"]), fake_embedder)
    query = make_query(question, question, fake_embedder.embed([question])[0])
    assert ask_module.rare_subject(query, pool) and ask_module.answering(query, pool, ask_module.score_pool(query, pool), min_score=-1.0) == []


@pytest.mark.parametrize(("question", "things"), [
    ("What was the company's revenue from selling aircraft engines in 2017?", {"aircraft", "engin", "revenu"}),
    ("Which of these companies rely on commercial paper?", {"commercial", "paper"}),  # "rely" asks how, names nothing
    ("How much revenue did its restaurants generate?", {"revenu", "restaurant"}),
])
def test_the_things_a_question_names(question, things):
    assert things <= ask_module._things(question) and "rely" not in ask_module._things(question)


def test_a_subject_the_filing_names_only_in_passing_must_be_in_the_answer(store, fake_embedder):
    """"aircraft" is in the filing once (orders go by aircraft): revenue sentences do not answer a question on aircraft revenue."""
    db, ids = store
    pool = ask_module.sentence_pool(db, db.get_document(ids["voltaic"]), fake_embedder)

    def answering(question):  # every sentence is close enough: only the subject can decline
        query = make_query(question, question, fake_embedder.embed([question])[0])
        return ask_module.answering(query, pool, ask_module.score_pool(query, pool), min_score=-1.0)

    assert pool.df[stem("aircraft")] == 1  # named once, in passing
    assert answering("How much revenue did the company make from aircraft in fiscal 2024?") == []
    assert "$204.4 million" in answering("How much revenue did the company make in fiscal 2024?")[0].unit.text


@dataclass
class _Reply:
    text: str


class FakeLLM:
    """Replies with a fixed text and records the prompts it was sent."""

    def __init__(self, text: str):
        self.text, self.prompts = text, []

    def complete(self, messages, max_tokens):
        self.prompts.append(messages[-1]["content"])
        return _Reply(self.text)


def test_a_models_refusal_stands_when_the_filing_does_not_answer(store, fake_embedder):
    db, ids = store
    llm = FakeLLM(NO_ANSWER)
    answer = ask(db, "What was the company's revenue from selling aircraft engines in 2017?", fake_embedder, doc_ids=[ids["voltaic"]], llm=llm)
    assert not answer.answered and answer.answer == NO_ANSWER and answer.fallback is None and answer.backend == "llm"


def test_a_models_refusal_gives_way_when_the_filing_answers(store, fake_embedder):
    db, ids = store
    answer = ask(db, "How large is the revolving credit facility?", fake_embedder, doc_ids=[ids["voltaic"]], llm=FakeLLM(NO_ANSWER))
    assert answer.answered and answer.fallback == "the model declined" and "$30.0 million" in answer.answer


def test_a_model_sentence_that_moves_a_figure_to_another_year_is_dropped(store, fake_embedder):
    db, ids = store

    class Citing(FakeLLM):
        def complete(self, messages, max_tokens):
            prompt = messages[-1]["content"]
            n = next(line.split("]")[0][1:] for line in prompt.splitlines() if "31.2%" in line)
            self.text = f"Lumen Mobility accounts for 31.2% of net revenues [{n}]."
            return super().complete(messages, max_tokens)

    answer = ask(db, "What share of net revenues did Lumen Mobility account for?", fake_embedder, doc_ids=[ids["voltaic"]], llm=Citing(""))
    assert [d["reason"] for d in answer.dropped] == ["31.2% is given without its year (2023)"]
    assert "31.2% of net revenues [" not in answer.answer


@pytest.mark.parametrize(
    ("sentence", "evidence", "lost"),
    [
        ("Harris accounted for 17% of net revenues.", "In fiscal 1997, sales to Harris and IBM accounted for approximately 17% and 14%, respectively, of the Company's net revenues.", "without its year"),
        ("In fiscal 1997, Harris accounted for 17% of net revenues.", "In fiscal 1997, sales to Harris and IBM accounted for approximately 17% and 14%, respectively, of the Company's net revenues.", ""),
        ("The largest customer accounted for 11.9% of net sales in fiscal 2023.", "Building Products generated approximately 11.9% of our consolidated net sales in fiscal 2023.", "without whose it is"),
        ("Net operating revenues were $18,868 million.", "Coca-Cola Enterprises, an equity method investee, reported net operating revenues of $18,868 million.", "without whose it is"),
        ("Walmart accounted for 16.9% of sales.", "Walmart Inc. accounted for 16.9% of our fiscal 2024 consolidated sales.", ""),
        ("The company has a $500 million commercial paper program.", "We fund the fleet with a commercial paper program of up to $500 million and notes due 2030.", ""),
    ],
)
def test_attribution(sentence, evidence, lost):
    reason = attribution_lost(sentence, [evidence], ["Acme Holdings Inc."], fiscal_year="2024")
    assert (lost in reason if lost else reason == ""), reason


def test_each_document_of_a_corpus_question_answers_as_it_would_alone(store, fake_embedder):
    db, ids = store
    question = "Does the company have a line of credit?"
    together = ask(db, question, fake_embedder)
    alone = {name: ask(db, question, fake_embedder, doc_ids=[doc]).answered for name, doc in ids.items()}
    assert {p.doc_id for p in together.parts} == {ids[n] for n, a in alone.items() if a}
    assert alone["orchard"]  # "$5.0 million line of credit"


def test_a_document_indexed_without_sentences_gets_them_at_its_first_question(tmp_path, fake_embedder):
    (tmp_path / "orchard.txt").write_text(ORCHARD)
    db = ChromaStore.open(tmp_path / "store")
    doc = ingest_file(db, tmp_path / "orchard.txt", fake_embedder).id
    # what an older version wrote: no sentences, and no count of them in the record
    db._sentences.delete(where={"doc_id": doc})
    got = db._docs.get(ids=[doc], include=["metadatas", "documents"])
    meta = {k: v for k, v in got["metadatas"][0].items() if k != "sentences"}
    db._docs.delete(ids=[doc])
    db._docs.add(ids=[doc], embeddings=[[1.0]], metadatas=[meta], documents=got["documents"])
    assert db.get_document(doc).sentences is None
    answer = ask(db, "How much were net sales?", fake_embedder, doc_ids=[doc])
    assert answer.answered and "$41.2 million" in answer.answer
    assert db.get_document(doc).sentences == db.count_sentences(doc) > 0


def test_a_question_reads_the_candidates_of_this_version_as_a_summary_does(tmp_path, fake_embedder):
    from rag.candidates import CANDIDATES_VERSION

    (tmp_path / "orchard.txt").write_text(ORCHARD)
    db = ChromaStore.open(tmp_path / "store")
    doc = ingest_file(db, tmp_path / "orchard.txt", fake_embedder).id
    # an older version's sentences: one of them differs from what this version makes
    db._docs.update(ids=[doc], metadatas=[{**db._docs.get(ids=[doc])["metadatas"][0], "candidates": "1"}])
    kept = db.get_sentences(doc)[0]
    db._sentences.delete(ids=[kept[0].id])
    answer = ask(db, "How much were net sales?", fake_embedder, doc_ids=[doc])
    assert answer.answered and "$41.2 million" in answer.answer
    now = db.get_document(doc)
    assert now.metadata["candidates"] == CANDIDATES_VERSION and now.sentences == db.count_sentences(doc) == len(kept)


def test_citations_point_at_the_sentence(store, fake_embedder):
    db, ids = store
    answer = ask(db, "How large is the revolving credit facility?", fake_embedder, doc_ids=[ids["voltaic"]])
    text = Path(db.get_document(ids["voltaic"]).source).read_text()
    for part in answer.parts:
        for s in part.sentences:
            assert " ".join(text[s.citation.start : s.citation.end].split()) == s.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which of these companies rely on commercial paper?", (("commercial", "paper"),)),
        ("What was the company's revenue from selling aircraft engines in 2017?", (("aircraft", "engin"),)),
        ("Do any customers account for over 10% of revenue?", ()),  # a noun and its verb are no phrase
    ],
)
def test_phrases_of_a_question(question, expected):
    assert ask_module.phrases(question) == expected


@pytest.mark.parametrize(
    ("text", "splits"),
    [
        ("We issue commercial paper to fund working capital.", False),
        ("Bleached uncoated free sheet offset and business papers are sold to commercial printers.", True),  # both words, never together
        ("The customer is developing applications for the paper industry.", True),  # one word, in another sense
        ("Net sales rose 6% in fiscal 2024.", False),  # neither word: nothing to mark down
    ],
)
def test_one_word_of_a_phrase_is_not_the_phrase(text, splits):
    assert ask_module._splits((("commercial", "paper"),), ask_module.stems_of(text), text) is splits


@pytest.mark.parametrize(
    ("question", "text", "none"),
    [
        ("How much revenue did the company make in 2007?", "For the year ended December 31, 2007, the issuer had no revenues.", True),
        ("Who is the largest customer?", "All customers were individually less than 10% of our total revenues in fiscal 2010.", True),
        ("Who is the largest customer?", "No single customer accounted for more than 10% of net sales.", True),
        ("What were consolidated revenues in 1993?", 'No "similar" class of products approached 10% of consolidated revenues.', False),
    ],
)
def test_a_statement_that_there_is_none_answers(fake_embedder, question, text, none):
    query = make_query(question, question, fake_embedder.embed([question])[0])
    assert ask_module._says_none(query, text) is none


@pytest.mark.parametrize("question, wants_name", [
    ("Which major customers account for 10% of sales?", True),
    ("Which banks provide the credit facility?", True),
    ("Which companies sell through distributors?", False),  # which filers: the answer is how they sell, not a name
    ("Which sell through distributors?", False),  # the same after the scope word is taken out
])
def test_a_party_after_a_verb_is_not_what_the_question_asks_for(question, wants_name):
    from rag.ask import _ASKS_NAME

    assert bool(_ASKS_NAME.search(question)) is wants_name


def test_words_and_figures_of_a_sentence():
    from rag.text import has_figure, words

    assert words("Net sales were $25.7 million for fiscal 2001, compared with 3,327,000 tons in 2000. Up 4.1%.") == [
        "net", "sales", "were", "25.7", "million", "for", "fiscal", "2001", "compared", "with", "3,327,000", "tons", "in", "2000", "up", "4.1%"]
    # a table sentence states money when its caption declares the unit
    assert has_figure("Results of Operations, fiscal 2025 ($ millions; change from fiscal 2024): Revenues 46,309 (-10%)", "money")
    assert not has_figure("Stores by region, fiscal 2025: Utah 12, Idaho 3", "money")


def test_a_question_on_revenue_is_answered_by_the_filings_net_sales(fake_embedder):
    from rag.ask import SentencePool, score_pool, stems_of

    texts = ["Our research and development expenditures were $6.8 million for fiscal 2001.",
             "Our consolidated net sales were $25.7 million for fiscal 2001, compared with $28.8 million for fiscal 2000.",
             "Our consolidated revenues were $25.7 million for fiscal 2001, compared with $28.8 million for fiscal 2000."]
    units = [SentenceUnit(f"d#s{i:05d}", "d", t, "d#00000", "Item 7", 0, len(t), "sentence") for i, t in enumerate(texts)]
    vectors = np.zeros((3, 4), dtype=np.float32)  # no help from the embedding: the words decide
    bags = [stems_of(t) for t in texts]
    from collections import Counter
    pool = SentencePool("d", units, vectors, bags, Counter(s for b in bags for s in b), [True] * 3, 2001)
    question = "How much revenue did the company have in fiscal 2001?"
    query = make_query(question, question, np.zeros(4, dtype=np.float32))
    scored = {next(w for w in ("research", "net", "revenues") if w in s.unit.text): s for s in score_pool(query, pool)}
    # the filing's word for the measure holds the question's ("revenue" asked, "net sales" said), and "2001," is 2001
    assert scored["net"].lexical == pytest.approx(scored["revenues"].lexical) == pytest.approx(1.0)
    assert scored["net"].score > scored["research"].score


@pytest.mark.parametrize(
    ("question", "wants"),
    [
        ("Where does the company operate?", "place"),
        ("In which states does it have stores?", "place"),
        ("Who is the largest customer?", "name"),
        ("How much revenue did the company have?", "money"),
    ],
)
def test_a_where_question_wants_a_place(question, wants):
    assert make_query(question, question, np.ones(4, dtype=np.float32)).wants == wants


def test_a_where_question_is_answered_by_a_sentence_naming_places(store, fake_embedder):
    db, ids = store
    answer = ask(db, "Where does Voltaic sell its battery cells?", fake_embedder, doc_ids=[ids["voltaic"]])
    assert answer.answered and "China and Europe" in answer.answer


def test_forms_of_one_word_meet_and_unrelated_words_stay_apart():
    assert len({stem(w) for w in ("operate", "operates", "operated", "operating", "operations")}) == 1
    assert stem("information") == stem("informed") != stem("operations")
    assert stem("general") != stem("generate") and stem("rate") != stem("state")


@pytest.mark.parametrize(
    ("question", "answer", "other"),
    [
        ("How much did the theme parks bring in?",
         "Parks and Resorts revenues increased 10% to $20.3 billion in fiscal 2018.",
         "The theme parks spent $1.2 billion on new attractions in fiscal 2018."),
        ("How many branches does the bank have?",
         "The Bank's operations are conducted through 19 full-service office facilities in four counties.",
         "The Bank serves individuals and businesses through its branch network."),
        ("Who makes Pericom's chips?",
         "Its integrated circuits are manufactured by Chartered Semiconductor Manufacturing and TSMC.",
         "Pericom sells its chips through Avnet and Arrow."),
        ("How will the company pay for the deal?",
         "It has obtained a bridge commitment of up to $35.7 billion to finance a portion of the cash consideration for the acquisition.",
         "The company will pay the deal's advisers a fee of $40 million."),
    ],
)
def test_a_question_in_users_words_finds_the_sentence_in_the_filings_words(fake_embedder, question, answer, other):
    """Users say "bring in", "branches", "who makes ... chips", "pay for the deal"; filings say revenues, offices,
    foundries and integrated circuits, financing an acquisition."""
    from collections import Counter

    from rag.ask import SentencePool, question_text, score_pool, stems_of

    texts = [answer, other]
    units = [SentenceUnit(f"d#s{i:05d}", "d", t, "d#00000", "Item 7", 0, len(t), "sentence") for i, t in enumerate(texts)]
    bags = [stems_of(t) for t in texts]
    pool = SentencePool("d", units, np.zeros((2, 4), dtype=np.float32), bags, Counter(s for b in bags for s in b), [True] * 2, 2018)
    text, explained = question_text(question, [])
    query = make_query(question, text, np.zeros(4, dtype=np.float32), explained)
    ranked = [s.unit.text for s in score_pool(query, pool)]
    assert ranked[0] == answer


def _ranked(question: str, texts: list[str], records=()) -> tuple[list[str], object, object]:
    """The sentences ``texts`` of one filing ranked for ``question`` (zero vectors: words alone decide), with the
    query and the pool."""
    from collections import Counter

    from rag.ask import SentencePool, _with_aliases, question_text, score_pool, stems_of

    units = [SentenceUnit(f"d#s{i:05d}", "d", t, "d#00000", "Item 7", 0, len(t), "sentence") for i, t in enumerate(texts)]
    bags = _with_aliases(units, [stems_of(t) for t in texts])  # as sentence_pool makes them
    pool = SentencePool("d", units, np.zeros((len(texts), 4), dtype=np.float32), bags, Counter(s for b in bags for s in b),
                        [True] * len(texts), 2003)
    text, explained = question_text(question, list(records))
    query = make_query(question, text, np.zeros(4, dtype=np.float32), explained)
    return [s.unit.text for s in score_pool(query, pool)], query, pool


def test_an_idioms_own_words_are_not_looked_for_in_the_filing():
    """"Top line" is revenue: the words "top" and "line" in "top five customers" and "product line" answer nothing,
    and "What was its top line?" wants an amount as "What was its revenue?" does."""
    ranked, query, _ = _ranked("What was Pericom's top line for fiscal 2003?", [
        "Sales to our top five direct customers accounted for approximately 45% of net revenues in fiscal 2003.",
        "Net revenues decreased 5.5% from $47.6 million in fiscal 2002 to $45.0 million in fiscal 2003.",
        "Our top product line in fiscal 2003 was the PI74 family.",
    ])
    assert query.wants == "money" and not {stem("top"), stem("line")} & set(query.terms)
    assert ranked[0].startswith("Net revenues decreased")


@pytest.mark.parametrize(
    ("question", "wants"),
    [
        ("What did the AdvancePierre deal cost Tyson?", "money"),
        ("What did Nuance pull in, revenue-wise, in fiscal 2011?", "money"),
        ("What dividend did Disney shareholders collect during fiscal 2013?", "money"),
        ("Who were its biggest accounts, and how much of the business did they make up?", "name"),
        ("Is Nuance borrowing a lot?", "figure"),
        ("Is Tyson leaning heavily on any one retailer for sales?", "figure"),
        ("Which studio labels does it put its movies out under?", "name"),
        ("Which stores sell the Dragon dictation software?", "name"),
    ],
)
def test_what_a_colloquial_question_asks_for(question, wants):
    from rag.ask import question_text

    text, explained = question_text(question, [])
    assert make_query(question, text, np.ones(4, dtype=np.float32), explained).wants == wants


def test_a_name_the_filing_never_mentions_is_not_answered_by_another_customer():
    """"What percentage of sales go to McDonald's?" of a filing that names only Walmart is declined: the name is the
    question's subject, wherever it stands in the question."""
    from rag.ask import answering

    ranked, query, pool = _ranked("What percentage of Tyson's sales go to McDonald's?", [
        "Our largest customer, Wal-Mart Stores, Inc., accounted for 17.3% of consolidated sales in fiscal 2017.",
        "Sales increased 4% in fiscal 2017 over fiscal 2016, primarily due to increased sales volumes.",
    ])
    assert stem("mcdonald's") in query.topic
    from rag.ask import score_pool

    assert answering(query, pool, score_pool(query, pool), min_score=0.0) == []


def test_the_filings_words_a_saying_offers_are_alternatives_not_the_subject():
    """"Middlemen" are distributors or resellers: a filing that says "distributors" and never "resellers" answers."""
    from rag.ask import answering, rare_subject, score_pool

    from vectorstore.chroma import DocumentRecord

    record = DocumentRecord("d", "pericom.json", 1, "x", {"company": "PERICOM SEMICONDUCTOR CORP"})
    ranked, query, pool = _ranked("Does Pericom mostly sell direct, or does a lot of it go through middlemen?", [
        "Approximately 59% of our sales are to distributors.",
        "Our direct sales are billings directly to a customer who may in turn sell through to an end-user customer.",
        "We compete with other companies that sell products to certain segments of our markets.",
        "We sell direct to a few large manufacturers of personal computers.",
        "Direct customers receive volume discounts.",
    ], [record])
    assert stem("resellers") not in rare_subject(query, pool)
    chosen = answering(query, pool, score_pool(query, pool), min_score=0.0)
    assert chosen and chosen[0].unit.text.startswith("Approximately 59%")


def test_the_companys_own_name_opening_a_question_is_dropped():
    from rag.ask import question_text
    from vectorstore.chroma import DocumentRecord

    record = DocumentRecord("d", "pericom.json", 1, "x", {"company": "PERICOM SEMICONDUCTOR CORP"})
    text, _ = question_text("Pericom has no fab of its own, so who actually makes its wafers?", [record])
    assert "Pericom" not in text and "manufactur" in text


def test_a_question_typed_in_lower_case_still_drops_the_company_name_but_keeps_its_ordinary_words():
    from rag.ask import question_text
    from vectorstore.chroma import DocumentRecord

    intel = DocumentRecord("d", "intel.htm", 1, "x", {"company": "INTEL CORP"})
    tyson = DocumentRecord("t", "tyson.htm", 1, "x", {"company": "TYSON FOODS INC"})
    assert "intel" not in question_text("how many shares did intel buy back in 2002", [intel])[0].split()
    text = question_text("what foods does tyson sell", [tyson])[0].split()
    assert "tyson" not in text and "foods" in text
    # with capitals, they alone decide: "Intel" is the name, a lower-case word is a word
    assert "Intel" not in question_text("How many shares did Intel buy back?", [intel])[0]
    assert "foods" in question_text("Which foods does Tyson sell?", [tyson])[0]


def test_an_amount_asked_by_name_is_answered_only_by_a_sentence_that_names_it():
    """"What were its fiscal 1997 net earnings?" of a filing whose items never state them: its net loans and an
    assessment are amounts of that year, not the answer; a sentence on net income is."""
    from rag.ask import answering, score_pool

    texts = ["At June 30, 1997, the Bank had net loans of $45.5 million.",
             "The Bank's OTS assessment for the fiscal year ended June 30, 1997 was approximately $52,000.",
             "The Bank operates four offices.", "Its earnings depend on interest rates.", "The Bank is regulated by the OTS.",
             "Earnings are reported each quarter.", "Its earnings are taxed.", "Earnings vary with the season."]
    _, query, pool = _ranked("What were its fiscal 1997 net earnings?", texts)
    assert query.wants == "money" and answering(query, pool, score_pool(query, pool), min_score=0.0) == []
    _, query, pool = _ranked("What were its fiscal 1997 net earnings?", [*texts, "Net income for fiscal 1997 was $1.2 million, up from the year before."])
    chosen = answering(query, pool, score_pool(query, pool), min_score=0.0)
    assert chosen and "$1.2 million" in chosen[0].unit.text


def test_a_name_the_question_gives_must_be_written_in_the_answer():
    """"How much did it bring in from China?" is not answered by the total revenue of a filing that mentions China
    elsewhere; "What did it pay for Recorded Future?" finds the sentence that writes the name ("recorded" is no name)."""
    from rag.ask import answering, score_pool

    texts = ["In fiscal year 2018, our revenue was $2.1 billion.",
             "The Company recorded an accrual of $93 million in connection with this matter.",
             "In 2024 the Company acquired businesses for total cash consideration of $2.8 billion.",
             "In December 2024, it acquired Recorded Future, a threat intelligence company, for cash consideration of $2.7 billion.",
             "Our products are sold to hospitals and clinics by our own sales force.",
             "We sell to hospitals in China and Japan through distributors.",  # past the opening that names the filer
             "Our research center in China employs 300 engineers.",
             "Rules on data in China may change.",
             "Competitors in China include local speech companies."]
    from vectorstore.chroma import DocumentRecord

    nuance = DocumentRecord("d", "nuance.json", 1, "x", {"company": "Nuance Communications, Inc."})
    _, query, pool = _ranked("How much did Nuance bring in from China in fiscal 2018?", texts, [nuance])
    assert query.names == ("China",) and answering(query, pool, score_pool(query, pool), min_score=0.0) == []
    mastercard = DocumentRecord("d", "ma.html", 1, "x", {"company": "Mastercard Incorporated"})
    _, query, pool = _ranked("What did Mastercard pay for Recorded Future?", texts, [mastercard])
    chosen = answering(query, pool, score_pool(query, pool), min_score=0.0)
    assert chosen and "$2.7 billion" in chosen[0].unit.text


def test_a_sentence_about_these_customers_comes_with_the_one_that_names_them():
    from rag.ask import answering, score_pool

    texts = ["Our technology serves banks and merchants in over 200 countries.",
             "A significant portion of our net revenue is concentrated among our five largest customers.",
             "In 2024, the net revenue from these customers was approximately $6.3 billion, or 22%, of total net revenue."]
    from vectorstore.chroma import DocumentRecord

    mastercard = DocumentRecord("d", "ma.html", 1, "x", {"company": "Mastercard Incorporated"})
    _, query, pool = _ranked("How reliant is Mastercard on its five biggest customers?", texts, [mastercard])
    pool.units[2] = SentenceUnit(*pool.units[2].as_tuple()[:-1], True)  # the same paragraph as the sentence before
    chosen = [s.unit.text for s in answering(query, pool, score_pool(query, pool), min_score=0.0)]
    assert texts[2] in chosen and texts[1] in chosen


@pytest.mark.parametrize(
    ("question", "answer", "other"),
    [
        ("How much did Disney sink into capex in FY2015?",
         "Investments in parks, resorts and other property were $4.3 billion in fiscal 2015, as capital expenditures rose.",
         "Disney invested in new attractions at its parks in fiscal 2014."),
        ("What did Nuance shell out for Tegic?",
         "It acquired Tegic for a purchase price of $265.0 million, paid in cash.",
         "Tegic's software ships on mobile devices out of the box."),
    ],
)
def test_more_of_what_users_say_for_money(question, answer, other):
    ranked, query, _ = _ranked(question, [other, answer])
    assert query.wants == "money" and ranked[0] == answer


def test_the_short_name_a_filing_defines_counts_as_the_name_asked():
    from rag.ask import answering, score_pool

    texts = ["Westell designs broadband access products for telephone companies.",
             "Its revenues were $93.2 million in fiscal 1999.",
             "Training costs rose in fiscal 1999.",
             "Hiring slowed in the second half of fiscal 1999.",
             "Facilities were expanded in Aurora, Illinois.",
             "The Company owns 91.5% of Conference Plus, Inc. (“CPI”), a provider of conferencing services.",
             "CPI's revenues were $10.1 million in fiscal 1999, an increase of 37.1%."]
    _, query, pool = _ranked("How much revenue did Conference Plus generate?", texts)
    chosen = [s.unit.text for s in answering(query, pool, score_pool(query, pool), min_score=0.0)]
    assert texts[6] in chosen


@pytest.mark.parametrize(
    ("question", "owed"),
    [("Is Nuance borrowing a lot?", True), ("How big is the debt pile?", True),
     ("How much can it borrow under its bank lines?", False), ("How much can FedEx borrow under its credit agreements?", False)],
)
def test_how_much_it_owes_is_not_how_much_it_may_borrow(question, owed):
    from rag.ask import question_text

    assert ("debt outstanding" in question_text(question, [])[0]) is owed


# sentences past which a name is no longer the filer's own (``rag.ask.OPENING``)
FILLER = ["Our software runs on phones.", "We employ engineers.", "Our offices are leased.", "We hold patents.", "We have two segments."]


def _same_paragraph(pool, *at):
    for i in at:
        pool.units[i] = SentenceUnit(*pool.units[i].as_tuple()[:-1], True)


def test_a_price_stated_of_this_transaction_answers_for_the_name_its_paragraph_wrote():
    """"What did Nuance shell out to buy TouchCommerce?": the paragraph names it, then speaks of "this transaction";
    the answer gives both sentences, and the price of another acquisition is no answer."""
    from rag.ask import answering, score_pool
    from vectorstore.chroma import DocumentRecord

    texts = ["Nuance Communications, Inc. provides voice recognition software.", *FILLER,
             "In August 2016, we acquired all of the outstanding stock of TouchCommerce.",
             "We expect this acquisition to expand our customer care solutions.",
             "The aggregate consideration for this transaction was $218.1 million, and included $113.0 million paid in cash.",
             "The purchase price of Bluestar was $36.1 million, paid in cash at closing."]
    nuance = DocumentRecord("d", "nuance.json", 1, "x", {"company": "Nuance Communications, Inc."})
    _, query, pool = _ranked("What did Nuance shell out to buy TouchCommerce?", texts, [nuance])
    at = len(FILLER) + 1
    _same_paragraph(pool, at + 1, at + 2)
    chosen = [s.unit.text for s in answering(query, pool, score_pool(query, pool), min_score=0.0)]
    assert chosen[:2] == [texts[at], texts[at + 2]] and texts[at + 3] not in chosen
    # without the paragraph, the price sentence speaks of nothing named: no answer rather than Bluestar's price
    _, query, pool = _ranked("What did Nuance shell out to buy TouchCommerce?", texts, [nuance])
    assert [s.unit.text for s in answering(query, pool, score_pool(query, pool), min_score=0.0)] == []


@pytest.mark.parametrize(
    ("question", "verb"),
    [("How many Disney Store shops does the company run, and where?", "run"),
     ("How many visitors did the Disney theme parks draw in fiscal 2015?", "draw"),
     ("What percentage of sales does Walmart account for?", "account"),
     ("Did the company pay dividends?", None),  # no object asked first: "dividends" stays the subject
     ("How much revenue came from China?", None)],
)
def test_the_verb_closing_a_question_is_not_its_subject(question, verb):
    from rag.ask import asked_verb

    assert asked_verb(question) == (stem(verb) if verb else None)
    topic = make_query(question, question, np.ones(4)).topic
    assert verb is None or stem(verb) not in topic


def test_whats_is_not_a_possessive_and_idioms_take_their_ing_forms():
    query = make_query("What's Disney forking over to get Lucasfilm?", "What's forking over to get Lucasfilm? (paid, purchase price, consideration)",
                       np.ones(4))
    assert query.topic == (stem("lucasfilm"),)
    assert _ranked("What did Disney end up paying for Pixar?", ["Pixar makes films."])[1].wants == "money"
    rivals = make_query("Who are its main rivals on the healthcare side?", "Who are its main rivals on the healthcare side?", np.ones(4))
    assert rivals.wants == "name" and stem("side") not in rivals.topic


def test_a_capitalized_word_the_filing_uses_as_an_ordinary_one_is_not_a_name_and_names_keep_their_other_endings():
    from rag.ask import answering, score_pool
    from vectorstore.chroma import DocumentRecord

    texts = ["The Walt Disney Company is an entertainment company.",
             "The Company markets merchandise through retail stores operated under the Disney Store name.",
             "The stores are generally located in leading shopping malls.",
             "Each store carries Disney merchandise.", "A store opened in Shanghai.",
             "The Company currently owns and operates 216 stores in North America, 106 stores in Europe, and 47 stores in Japan."]
    disney = DocumentRecord("d", "disney.json", 1, "x", {"company": "Walt Disney Co"})
    _, query, pool = _ranked("How many Disney Store shops does the company run, and where?", texts, [disney])
    assert pool.common_word("Store") and not pool.common_word("Japan")
    chosen = [s.unit.text for s in answering(query, pool, score_pool(query, pool), min_score=0.0)]
    assert chosen and chosen[0] == texts[-1]
    texts = ["First American Scientific Corp. sells grinding machines.",
             "Canadian manufacturing of the KDS machine is sub-contracted to Mainland Machinery Limited in Abbotsford.",
             "We have sold systems in the United States, Poland and Malaysia."]
    _, query, pool = _ranked("Who manufactures the machines in Canada?", texts)
    chosen = [s.unit.text for s in answering(query, pool, score_pool(query, pool), min_score=0.0)]
    assert chosen and chosen[0] == texts[1]


def _answer(question: str, texts: list[str], records=()) -> list[str]:
    from rag.ask import answering, score_pool

    _, query, pool = _ranked(question, texts, records)
    return [s.unit.text for s in answering(query, pool, score_pool(query, pool), min_score=0.0)]


def test_how_many_is_answered_by_a_count_not_by_money_or_a_share():
    """"How many people pay for a membership?": fee revenue in dollars and shares of a cost are no count."""
    texts = [*FILLER, "Membership fee revenue was $3.8 billion for fiscal 2003.",
             "Feed represented roughly 64% of our cost of growing a live chicken in fiscal 2003."]
    assert _answer("How many people pay for a membership?", texts) == []
    assert _answer("How many contract growers raise chickens for the company?", texts) == []
    # a count of something else is no answer either: "30 animal nutrition operations" for growers
    texts += ["We also have 30 animal nutrition operations, nine of which are at rendering plants.",
              "Contract growers raise the chickens.", "Contract growers are paid by weight.", "We advise contract growers.",
              "Chickens are processed in our plants.", "We sell chickens to retailers.", "Farmers raise hogs.", "Ranchers raise cattle."]
    assert _answer("How many contract growers raise chickens for the company?", texts) == []
    counted = "Approximately 4,000 contract growers raise chickens for us."
    assert _answer("How many contract growers raise chickens for the company?", [*texts, counted])[:1] == [counted]
    headcount = "As of December 31, 2003, our employee headcount worldwide was 125,665."  # the number after what it counts
    assert _answer("How many people work at the company?", [*texts, headcount])[:1] == [headcount]


def test_a_rare_word_of_the_users_is_no_bar_when_the_sentence_holds_the_rest_of_the_question():
    """"How many spots can shoppers use for pickup?" of a filing that says "8,000 pickup and delivery locations"
    (and never "spots"); "breakup fee" or "aircraft engines" name the thing itself and still decline."""
    pickup = "We now have over 8,000 pickup and delivery locations globally."
    texts = [*FILLER, "Pickup is free.", "Pickup orders grew.", "Members like pickup.", pickup, "Net sales were $674.5 billion in fiscal 2003."]
    assert _answer("Across the globe, how many spots can shoppers use for pickup?", texts)[:1] == [pickup]
    fee = "If the merger agreement is terminated, we will be required to pay Microsoft a termination fee of $515.0 million."
    usual = ["Microsoft may terminate the merger agreement.", "The merger requires a filing fee.", "Microsoft pays each fee in cash.",
             "The merger is expected to close in 2022."]
    assert _answer("How big is the breakup fee Microsoft would pay if the merger is terminated?", [*FILLER, *usual, fee]) == []
    assert _answer("How big is the termination fee Microsoft would pay if the merger is terminated?", [*FILLER, *usual, fee])[:1] == [fee]
    revenue = "Revenues were $58.4 million in 2003."
    usual = ["Revenue grew in 2002.", "Revenue comes from battery sales.", "We recognize revenue on shipment."]
    assert _answer("What was the revenue from selling aircraft engines in 2003?", [*FILLER, *usual, revenue]) == []


def test_what_a_how_many_question_counts_is_not_its_subject():
    """"How many people went through the gates at its theme parks?" is about the gates, not about people: the count of
    its employees does not answer it, a count of visitors at the gates would."""
    staff = "The Company employed approximately 180,000 people as of September 27, 2014."
    texts = [*FILLER, "All of the theme parks are operated on a year-round basis.", "Theme park revenue grew 9%.",
             "The theme parks sell annual passes.", "Our parks host events.", staff]
    question = "How many people went through the gates at its theme parks in fiscal 2014?"
    assert _answer(question, texts) == []
    gates = "Approximately 130 million people went through the gates of the theme parks in fiscal 2014."
    assert _answer(question, [*texts, gates])[:1] == [gates]


@pytest.mark.parametrize(
    ("question", "saying"),
    [("Does it have a revolving credit line, and how large is it?", "credit facility"),
     ("How many people were on its payroll at the end of 2024?", "employ"),
     ("Across the globe, how many stores are there?", "globally"),
     ("Which stores sell the Dragon dictation software?", "retailers")],
)
def test_more_of_what_users_say(question, saying):
    from rag.ask import question_text

    text, explained = question_text(question, [])
    assert saying in text
    assert not {"line", "payrol", "globe"} & set(make_query(question, text, np.ones(4), explained).topic)


def test_a_questions_asides_and_parentheses_are_not_its_subject():
    topic = make_query("Apart from the Tyson name itself, which brands does the company sell under?",
                       "Apart from the name itself, which brands does the company sell under?", np.ones(4)).topic
    assert "name" not in topic and "itself" not in topic
    topic = make_query("What portion of freight revenue comes from its Premium business (autos and intermodal)?",
                       "What portion of freight revenue comes from its Premium business (autos and intermodal)?", np.ones(4)).topic
    assert "auto" not in topic and "premium" in topic


def test_the_companys_name_inside_a_longer_name_stays():
    """"Walmart U.S." is a segment and "Walt Disney World" a resort: the question keeps them; "Tyson" alone goes."""
    from rag.ask import question_text
    from vectorstore.chroma import DocumentRecord

    walmart = DocumentRecord("d", "wmt.html", 1, "x", {"company": "WALMART INC."})
    assert "Walmart U.S." in question_text("How much did the Walmart U.S. business sell?", [walmart])[0]
    assert "Walmart" not in question_text("How much did Walmart's stores sell?", [walmart])[0]
    disney = DocumentRecord("d", "dis.json", 1, "x", {"company": "WALT DISNEY CO/"})
    assert "Walt Disney World" in question_text("How many rooms are at Walt Disney World?", [disney])[0]
    tyson = DocumentRecord("d", "tsn.json", 1, "x", {"company": "TYSON FOODS INC"})
    assert "Tyson" not in question_text("Does Tyson Foods have a revolver?", [tyson])[0]


def test_a_who_question_is_not_answered_by_a_caption_or_a_line_item():
    """"Who is the biggest customer?" of a filing that names none: "Operating Revenues grew 1%" and "Revenue
    Recognition – Freight revenues are derived from contracts with customers" name nobody."""
    texts = [*FILLER, "Revenue Recognition – Freight revenues are derived from contracts with customers.",
             "Operating Revenues grew 1% driven by volume gains and strong core pricing."]
    assert _answer("Who is the single biggest customer, and what share of revenue does it bring in?", texts) == []
    named = "Sales to Walmart Inc. accounted for 17.7% of our consolidated sales."
    assert _answer("Who is the single biggest customer, and what share of revenue does it bring in?", [*texts, named])[:1] == [named]


def test_a_rare_word_may_be_written_by_the_answers_paragraph_in_any_ending():
    """"How much did it pay for its stake in the Russian channel Seven TV?": the price sentence names Seven TV, the next
    one of its paragraph says "in Russia"."""
    price = "Seven TV - In 2011, the Company acquired a 49% interest in Seven TV for $300 million."
    texts = [*FILLER, "Channel revenue grew.", "Our channel reaches homes.", "Each channel is licensed.", "Seven TV airs films.",
             "Seven TV airs sports.", price,
             "Seven TV is a broadcast network that was converted to a free-to-air channel in Russia."]
    question = "How much did it pay for its stake in the Russian channel Seven TV?"
    _, query, pool = _ranked(question, texts)
    _same_paragraph(pool, len(texts) - 1)
    from rag.ask import answering, score_pool

    assert [s.unit.text for s in answering(query, pool, score_pool(query, pool), min_score=0.0)][:1] == [price]
    # apart, the price sentence says nothing of Russia
    _, query, pool = _ranked(question, texts)
    assert [s.unit.text for s in answering(query, pool, score_pool(query, pool), min_score=0.0)] == []


@pytest.mark.parametrize(
    ("question", "text", "wants"),
    [("Roughly how much of its revenue comes from outside the US?",
      "The company derives about sixty percent of its revenues from outside the U.S.", True),
     ("Roughly how much of its revenue comes from outside the US?", "The company derives most of its revenues from outside the U.S.", False)],
)
def test_a_share_in_words_is_a_share(question, text, wants):
    from rag.ask import _gives

    assert _gives(make_query(question, question, np.ones(4)).wants, text) is wants


@pytest.mark.parametrize(
    ("question", "filing_words"),
    [("How much undrawn bank credit does it have?", "available"),
     ("How dependent is it on Uncle Sam as a customer?", "U.S. Government"),
     ("What did it pay for its stake in Hulu?", "interest"),
     ("What was its headcount at the end of 2003?", "workforce")],
)
def test_users_words_for_unused_credit_the_government_a_stake_and_headcount(question, filing_words):
    from rag.ask import question_text

    text, _ = question_text(question, [])
    assert filing_words in text and "end of" not in text


def test_a_company_is_asked_about_by_its_initials_and_as_the_head_of_a_hyphenated_word():
    from rag.ask import question_text
    from vectorstore.chroma import DocumentRecord

    reac = DocumentRecord("d", "reac.htm", 1, "x", {"company": "Renewable Energy Acquisition Corp."})
    text, _ = question_text("How much does REAC owe its stockholders in loans?", [reac])
    assert "REAC" not in text
    darden = DocumentRecord("d", "dri.json", 1, "x", {"company": "Darden Restaurants, Inc."})
    text, _ = question_text("How many Darden-brand restaurants are run by franchisees rather than the company?", [darden])
    assert "Darden" not in text and "brand restaurants" in text
    assert "rath" not in make_query(text, text, np.ones(4)).topic  # "rather" frames, it names nothing


def test_a_hyphenated_word_meets_its_parts():
    """"backing its commercial paper" and "a back-up for our commercial paper program"; "at year-end" and "at the end of
    the year"."""
    from rag.ask import stems_of

    assert {"back", "back-up"} <= stems_of("It will serve as a back-up for our commercial paper program.")
    terms = make_query("What was its headcount at year-end 2002?", "What was its headcount at year-end 2002?", np.ones(4)).terms
    assert "year" in terms and "end" in terms and "year-end" not in terms


@pytest.mark.parametrize(
    ("question", "topic_word", "kept"),
    [("What was its worldwide headcount at year-end 2002 after the layoffs?", "layoff", False),  # when, not what about
     ("How much did it pay for the layoffs?", "layoff", True)],
)
def test_a_closing_after_the_clause_says_when(question, topic_word, kept):
    assert (topic_word in make_query(question, question, np.ones(4)).topic) is kept


@pytest.mark.parametrize(
    ("question", "filing_words"),
    [("How many Xbox 360 consoles went out the door in fiscal 2013?", "shipped"),
     ("What did it cost just to keep the lights on in 2015?", "general and administrative"),
     ("What share of Windows revenue comes from PC makers preloading it on machines they sell?", "original equipment manufacturers"),
     ("How much does it owe its shareholders?", "stockholders"),
     ("How much does it owe its insiders?", "related parties")],
)
def test_still_more_of_what_users_say(question, filing_words):
    from rag.ask import question_text

    assert filing_words in question_text(question, [])[0]


def test_what_worldwide_headcount_was_asks_for_a_figure():
    from rag.ask import _wants

    assert _wants("What was its worldwide headcount at year-end 2002?") == "figure"


@pytest.mark.parametrize("question", ["What was 2024 revenue?", "what were its fiscal 1997 net earnings?", "What were its FY97 net earnings?"])
def test_a_year_before_the_measure_still_asks_for_an_amount(question):
    from rag.ask import _wants, question_text

    assert _wants(question_text(question, [])[0]) == "money"


@pytest.mark.parametrize(
    ("said", "written"),
    [("How much did it pull in from ad sales in '93?", "in 1993?"), ("After the revolver was upsized in Dec 93", "in December 1993"),
     ("at the June '97 year end", "June 1997 year end"), ("Turner headcount at YE 1993", "at year end 1993"),
     ("MBS portfolio as of FYE 1997", "as of fiscal year end 1997"),
     # a day of the month, a modal verb and "Maybe" are no years
     ("on May 15, 2023", "on May 15, 2023"), ("due Dec 15", "due Dec 15"), ("Maybe 44 people", "Maybe 44 people"), ("it may 99 times", "it may 99 times")],
)
def test_years_as_users_shorten_them_are_the_years_filings_write(said, written):
    from rag.ask import short_years

    assert written in short_years(said)


def test_the_trades_abbreviations_are_asked_as_filings_spell_them():
    from rag.ask import question_text

    assert "mortgage-backed securities" in question_text("what's the size of the thrift's MBS portfolio?", [])[0]
    assert "subordinated" in question_text("how much of the 12% senior sub notes is still out there?", [])[0]
    assert "net operating loss carryforwards" in question_text("How big are its NOLs?", [])[0]
