"""The whole filing as candidates, the trained scorer, and the choice under the ceiling (unit tests with fakes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ingest.types import Chunk
from queries.profile import load_profile
from rag.candidates import document_sentences
from rag.features import SENTENCE_FEATURES, as_ten_k, featurize, headings_of
from rag.scorer import GENERIC, Scorer, fit_model, load_scorer
from rag.select import SelectionParams, choose, select_summary
from rag.text import RULES
from rag.tokens import count_tokens

PROFILE = load_profile()


def _vector(text: str, dim: int = 32) -> np.ndarray:
    """A bag of hashed words: similar sentences get similar vectors."""
    v = np.zeros(dim, dtype=np.float32)
    for w in text.lower().split():
        v[sum(map(ord, w)) % dim] += 1.0
    return v / (np.linalg.norm(v) or 1.0)


def features_of(text: str, metadata: dict | None = None):
    chunk = Chunk("d#00000", "d", text, 0, 0, len(text), "Item 7")
    units = document_sentences("d", [chunk])
    vectors = np.stack([_vector(u.text) for u in units]) if units else np.zeros((0, 32), np.float32)
    queries = {f.name: np.stack([_vector(q) for q in f.queries]) for f in PROFILE.facets}
    return featurize(units, vectors, [chunk], _vector(text)[None, :], metadata or {"fiscal_year": "2025"}, PROFILE, queries)


FILING = (
    "Net sales increased 10.4% to $797.7 million in fiscal 2025.\n"
    "Net sales rose 10.4% to $797.7 million, led by frozen meals.\n"
    "Our largest customer, Cartwright Markets, accounted for 18% of net sales in fiscal 2025.\n"
    "We sell through a direct sales force and 38 independent food brokers across the country.\n"
    "We have a $150.0 million revolving credit facility with Keystone Bank that matures in 2029.\n"
    "The company operates plants in Boise and Salina. These plants run three shifts a day.\n"
)


def test_every_sentence_is_a_candidate_with_its_span_and_chunk():
    fs = features_of(FILING)
    assert len(fs.texts) == 7
    for u in fs.units:
        assert FILING[u.start : u.end] == u.text and u.chunk_id == "d#00000"
    x, names = fs.matrix("revenue")
    assert x.shape == (7, len(names)) and names[: len(SENTENCE_FEATURES)] == SENTENCE_FEATURES
    leaning = fs.texts.index("These plants run three shifts a day.")
    assert fs.texts[fs.antecedent[leaning]] == "The company operates plants in Boise and Salina."
    assert all(a < 0 for i, a in enumerate(fs.antecedent) if i != leaning)


def test_a_sentence_that_leans_on_a_sentence_that_cannot_be_stated_is_not_a_candidate():
    fs = features_of("Plants\nThese plants run three shifts a day and employ 400 people.\n")
    assert fs.texts == []  # "Plants" is a heading, not a sentence to lean on


def test_a_footnote_that_points_at_its_table_is_not_a_candidate_alone():
    """Amazon 2024's properties table ends "(1) For leased properties, represents the total leased space excluding
    sub-leased space. (2) This includes 618 North America and 27 International stores as of December 31, 2024." The
    second footnote's "This" is the table's row, so it cannot stand in a summary; its marker does not hide that."""
    fs = features_of("(1) For leased properties, represents the total leased space excluding sub-leased space.\n"
                     "(2) This includes 618 North America and 27 International stores as of December 31, 2024.\n"
                     "(a) These stores sell groceries.\n")
    assert not any("618" in t or "groceries" in t for t in fs.texts)


def _probabilities(fs, **likely):
    """facet -> {sentence prefix: probability}; everything else 0.01."""
    out = {f.name: np.full(len(fs.texts), 0.01) for f in PROFILE.facets}
    for facet, table in likely.items():
        for prefix, p in table.items():
            out[facet][next(i for i, t in enumerate(fs.texts) if t.startswith(prefix))] = p
    return out


def test_facets_take_turns_and_a_restatement_is_passed_over():
    fs = features_of(FILING)
    probs = _probabilities(fs, revenue={"Net sales increased": 0.9, "Net sales rose": 0.85},
                           customers={"Its largest customer": 0.6}, financing={"It has a $150.0": 0.5})
    picks = choose(fs, probs, 512, SelectionParams(rounds=1, floor=0.05), order=[f.name for f in PROFILE.facets])
    chosen = [(p.facet, fs.texts[p.units[-1]]) for p in picks]
    assert chosen[:3] == [("revenue", fs.texts[0]), ("customers", fs.texts[2]), ("financing", fs.texts[4])]
    assert all(not t.startswith("Net sales rose") for _, t in chosen)  # the same figures again: one is enough


def test_a_total_stated_again_in_other_words_and_units_is_passed_over():
    text = ("Revenue was $78,508 million in 1997, compared with $75,947 million in 1996.\n"
            "IBM's revenue of $78.5 billion in 1997 grew 3 percent from the year before.\n"
            "Long-term debt stood at $78.6 billion at year end.\n")
    fs = features_of(text, {"fiscal_year": "1997"})
    probs = _probabilities(fs, revenue={"Revenue was": 0.9, "IBM's revenue": 0.8, "Long-term debt": 0.7})
    chosen = [fs.texts[p.units[-1]] for p in choose(fs, probs, 512, SelectionParams(rounds=3, floor=0.05), order=["revenue"])]
    assert chosen[0].startswith("Revenue was $78,508 million")
    assert not any("78.5 billion" in t for t in chosen)  # the same total rounded: one is enough
    assert any("78.6 billion" in t for t in chosen)  # a figure it does not round to is another fact


def test_a_leaning_sentence_comes_with_the_one_it_leans_on():
    fs = features_of(FILING)
    probs = _probabilities(fs, products={"These plants": 0.9})
    [pick] = choose(fs, probs, 512, SelectionParams(floor=0.05), order=["products"])
    assert [fs.texts[i] for i in pick.units] == ["The company operates plants in Boise and Salina.", "These plants run three shifts a day."]


def test_a_leaning_sentence_another_facet_chose_is_written_right_after_its_antecedent():
    fs = features_of(FILING)
    # products takes the plants first (facets take turns in profile order); distribution then takes
    # "These plants ..." alone, its antecedent being taken
    probs = _probabilities(fs, products={"The company operates plants": 0.9}, distribution={"These plants": 0.9, "It sells through": 0.5},
                           revenue={"Net sales increased": 0.9})
    chosen = select_summary(PROFILE, fs, probs, 512, "", SelectionParams(floor=0.05))
    text = " ".join(c.text for cs in chosen.values() for c in cs)
    assert "The company operates plants in Boise and Salina. These plants run three shifts a day." in text
    assert text.count("These plants") == 1
    assert not any(c.text.startswith("These plants") for c in chosen.get("distribution", []))  # it went with its antecedent


def test_the_budget_is_never_crossed_and_an_unlikely_facet_says_it_is_not_disclosed():
    fs = features_of(FILING)
    probs = _probabilities(fs, revenue={"Net sales increased": 0.9}, customers={"Its largest customer": 0.8},
                           distribution={"It sells through": 0.7}, financing={"It has a $150.0": 0.6})
    probs["products"][:] = 0.0
    for ceiling in (60, 90, 512):
        chosen = select_summary(PROFILE, fs, probs, ceiling, "Harborview", SelectionParams(floor=0.05))
        from rag.select import assemble_sentences

        text = " ".join(s.text for s in assemble_sentences(PROFILE, chosen, "Harborview"))
        assert count_tokens(text) <= ceiling
        assert PROFILE.facets[2].missing in text  # products: nothing likely enough
    assert "Harborview" in text  # the first "It" names the company


def test_the_scorer_is_data_that_round_trips_and_trains_the_same_twice():
    fs = features_of(FILING)
    y = np.asarray([1.0 if t.startswith("Net sales") else 0.0 for t in fs.texts])
    rows = [(fs, "revenue", y, np.ones(len(y)))]
    names = fs.matrix("revenue")[1]
    a = fit_model(rows, names, use_grams=True, min_documents=1)
    b = fit_model(rows, names, use_grams=True, min_documents=1)
    scorer = Scorer({"revenue": a, GENERIC: fit_model(rows, names[:10], use_grams=False)}, {"alpha": 1.0}, "abc", ("x",))
    again = Scorer({"revenue": b, GENERIC: fit_model(rows, names[:10], use_grams=False)}, {"alpha": 1.0}, "abc", ("x",))
    assert scorer.as_json() == again.as_json()  # deterministic, rounded: byte for byte
    loaded = Scorer.from_json(scorer.as_json())
    assert loaded.as_json() == scorer.as_json()
    p = loaded.probabilities(fs, ["revenue"])
    assert p["revenue"][0] > p["revenue"][2]  # learned: the sales sentences first
    assert loaded.model("my-own-facet") is loaded.facets[GENERIC]  # a facet of the user's own profile gets the generic model
    mixed = Scorer.from_json(Scorer(scorer.facets, {}, "abc", ("x",), blend=0.25).as_json())
    assert mixed.blend == 0.25
    want = 0.25 * mixed.facets["revenue"].logits(fs, "revenue") + 0.75 * mixed.facets[GENERIC].logits(fs, "revenue")
    assert np.allclose(mixed.logits(fs, "revenue"), want)  # a facet's own model and the generic one, weighed
    assert "pickle" not in json.dumps(json.loads(scorer.as_json()))


def test_a_broken_scorer_file_is_a_one_line_error(tmp_path):
    from ingest.errors import InputError

    bad = tmp_path / "scorer.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="rag train"):
        load_scorer(str(bad))


def test_the_shipped_scorer_has_a_model_per_facet_and_tuned_selection():
    scorer = load_scorer()
    assert {f.name for f in PROFILE.facets} | {GENERIC} <= set(scorer.facets)
    assert set(scorer.selection) <= {f for f in SelectionParams.__dataclass_fields__}
    assert len(scorer.labels_sha256) == 64 and len(scorer.cases) >= 50


def test_the_shipped_scorer_was_trained_on_the_labels_in_the_repository():
    from rag.evaluate import load_cases
    from rag.train import label_digest

    root = __import__("pathlib").Path(__file__).resolve().parents[1] / "eval"
    try:
        cases = load_cases(root / "cases") + load_cases(root / "holdout")
    except Exception as exc:  # the filings live in ../shared
        pytest.skip(f"labelled filings not available: {exc}")
    assert load_scorer().labels_sha256 == label_digest(cases), "labels changed: run `rag train eval/cases eval/holdout`"


def test_folds_hold_out_whole_companies():
    from rag.train import Example, company_of, folds

    names = ["tyson-2019", "tyson-2022", "home-health-corp-1997", "home-health-corp-1998", "fedex-2023", "nike-2025", "zurn-1994"]
    items = [Example(n, company_of(n), None, {}, {}) for n in names]
    for fold in folds(items, 3):
        companies = {items[j].company for j in fold}
        assert all(items[j].company in companies for j in range(len(items)) if items[j].company in companies) and fold
        for c in companies:
            assert {j for j in range(len(items)) if items[j].company == c} <= set(fold)


@pytest.mark.parametrize("item, form, ten_k", [("Item 4", "20-F", "Item 1"), ("Item 5", "20-F", "Item 7"), ("Item 18", "20-F", "Item 8"),
                                               ("Item 1", "20-F", "other"), ("Exhibit 13", "10-K405", "Item 7"),
                                               ("Item 6", "10-KSB", "Item 7"), ("Item 7", "10-K", "Item 7"), (None, "10-K", None)])
def test_items_are_read_as_the_10k_item_they_stand_for(item, form, ten_k):
    assert as_ten_k(item, form) == ten_k


def test_a_sentence_knows_the_heading_it_stands_under():
    text = "Customers\nWe sell to grocery chains across the country.\nSales and Distribution\nWe use 38 food brokers.\n"
    lines, pos = [], 0
    for line in text.split("\n"):
        lines.append((pos, line, "Item 1"))
        pos += len(line) + 1
    assert headings_of(lines, [text.index("We sell"), text.index("We use")]) == ["customers", "sales and distribution"]


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_each_rule_matches_its_example_and_not_a_plain_fact(rule):
    assert rule.search(rule.example) and rule.reason
    assert not rule.search("Net sales increased 10.4% to $797.7 million in fiscal 2025.")


def test_the_sentence_table_kept_at_ingest_gives_the_features_made_anew():
    from rag.features import SentenceTable, sentence_table

    chunk = Chunk("d#00000", "d", FILING, 0, 0, len(FILING), "Item 7")
    units = document_sentences("d", [chunk])
    vectors = np.stack([_vector(u.text) for u in units])
    queries = {f.name: np.stack([_vector(q) for q in f.queries]) for f in PROFILE.facets}
    meta = {"fiscal_year": "2025"}
    kept = SentenceTable.from_metadata([sentence_table(units, [chunk], meta).metadata(i) for i in range(len(units))])
    fresh = featurize(units, vectors, [chunk], _vector(FILING)[None, :], meta, PROFILE, queries)
    stored = featurize(units, vectors, [chunk], _vector(FILING)[None, :], meta, PROFILE, queries, kept)
    assert fresh.texts == stored.texts and len(fresh.texts) >= 6
    assert np.array_equal(fresh.tokens, stored.tokens)
    assert np.array_equal(fresh.sentence, stored.sentence)
    for f in PROFILE.facets:
        assert np.array_equal(fresh.matrix(f.name)[0], stored.matrix(f.name)[0])


def test_a_store_keeps_the_table_and_one_of_another_features_version_is_made_again(tmp_path, fake_embedder):
    from rag.api import ingest_file, sentences_of
    from rag.features import features_version
    from vectorstore.chroma import ChromaStore

    path = tmp_path / "f.txt"
    path.write_text("ITEM 1. BUSINESS\n" + FILING * 3)
    store = ChromaStore.open(tmp_path / "store")
    result = ingest_file(store, path, fake_embedder)
    record = store.get_document(result.id)
    assert record.metadata["features"] == features_version()
    units, _, table = sentences_of(store, record, lambda: fake_embedder)
    assert len(table.printed) == len(units) and any(r is not None for r in table.rows)
    store.add_sentences(record, units, sentences_of(store, record, None)[1], [{} for _ in units], {"features": "0:old"})
    stale = store.get_document(record.id)
    assert stale.metadata["features"] == "0:old"
    again = sentences_of(store, stale, lambda: pytest.fail("an older table is made from the text, not embedded again"))[2]
    assert again.printed == table.printed and again.rows == table.rows
    kept = store.get_document(record.id)  # and kept: the next summary reads it instead of making it again
    assert kept.metadata["features"] == features_version()
    assert sentences_of(store, kept, None)[2].rows == table.rows


def test_the_revenue_facet_opens_with_the_filings_total_revenue_of_its_own_year():
    text = ("Europe net sales increased 12% during 2025 on strong demand.\n"
            "Total net sales were $391.0 million in 2025 and $383.3 million in 2024.\n"
            "Total net sales were $383.3 million in 2024 and $394.3 million in 2023.\n")
    fs = features_of(text)
    probs = _probabilities(fs, revenue={"Europe net sales": 0.9, "Total net sales were $391.0": 0.05, "Total net sales were $383.3": 0.3})
    chosen = select_summary(PROFILE, fs, probs, 110, "", SelectionParams(floor=0.02, rounds=1, cap=1))
    assert [c.text for c in chosen["revenue"]] == ["Total net sales were $391.0 million in 2025 and $383.3 million in 2024."]


def test_the_headline_is_the_totals_own_amount_not_a_segments():
    from rag.select import headline_revenue

    text = ("International had net sales of $121.9 billion for fiscal 2025, representing 18% of its fiscal 2025 consolidated net sales.\n"
            "Software: Revenue was $12,844 million in 2025 and $13,052 million in 2024.\n"
            "The company generated total revenues of $681.0 billion in fiscal 2025, up 5%.\n")
    fs = features_of(text)
    p = np.asarray([0.9 if "International" in t else 0.8 if "Software" in t else 0.1 for t in fs.texts])
    assert fs.texts[headline_revenue(fs, p)].startswith("The company generated total revenues of $681.0 billion")
    fs = features_of(text.split("\n", 2)[1])  # a segment's caption alone is no headline
    assert headline_revenue(fs, np.ones(len(fs.texts))) == -1
    # a railroad's total is its operating revenues; its freight revenues' share is not the total
    fs = features_of("Premium shipments generated 31% of Union Pacific's total freight revenues in 2025.\n"
                     "Consolidated Statements of Income: Total operating revenues were $24,250 million in 2025 and $24,119 million in 2024.\n")
    top = headline_revenue(fs, np.asarray([0.9, 0.1]))
    assert top >= 0 and fs.texts[top].startswith("Consolidated Statements of Income: Total operating revenues")
    # a table whose caption is the revenue itself: its row "Total" is the total, a segment's caption is not
    fs = features_of("Operating Revenues: Freight revenues were $22,811 in 2025 and $22,571 in 2024.\n"
                     "Operating Revenues: Total was $24,250 in 2025 and $24,119 in 2024.\n"
                     "Europe net sales: Total was $3,100 in 2025 and $2,900 in 2024.\n")
    top = headline_revenue(fs, np.asarray([0.9, 0.1, 0.8]))
    assert top >= 0 and fs.texts[top].startswith("Operating Revenues: Total was $24,250")


def test_sentences_of_an_older_candidates_version_are_made_again_once(tmp_path, fake_embedder):
    from rag.api import ingest_file, sentences_of
    from rag.candidates import CANDIDATES_VERSION
    from vectorstore.chroma import ChromaStore

    path = tmp_path / "f.txt"
    path.write_text("ITEM 1. BUSINESS\n" + FILING * 3 + "\nThe company opened its fourth distribution center, in Reno, in fiscal 2025.\n")
    store = ChromaStore.open(tmp_path / "store")
    record = store.get_document(ingest_file(store, path, fake_embedder).id)
    assert record.metadata["candidates"] == CANDIDATES_VERSION
    units = sentences_of(store, record, lambda: pytest.fail("current sentences are read, not made"))[0]
    store._docs.update(ids=[record.id], metadatas=[{**store._docs.get(ids=[record.id])["metadatas"][0], "candidates": "1"}])
    gone = next(u for u in units if "Reno" in u.text)
    store._sentences.delete(ids=[gone.id])  # what the older version made differs
    stale = store.get_document(record.id)
    embedded: list[str] = []

    class Counting:
        def embed(self, texts, **kw):
            embedded.extend(texts)
            return fake_embedder.embed(texts, **kw)

    old_vectors = dict(zip((u.id for u in units), store.get_sentences(record.id)[1]))
    again, vectors, _ = sentences_of(store, stale, Counting)
    assert [u.id for u in again] == [u.id for u in units]
    assert embedded == [gone.text]  # only what the older version did not hold is embedded; the rest keep their vectors
    assert all(np.allclose(v, old_vectors[u.id]) for u, v in zip(again, vectors) if u.id != gone.id)
    now = store.get_document(record.id)
    assert now.metadata["candidates"] == CANDIDATES_VERSION and now.sentences == len(units) == store.count_sentences(record.id)
    sentences_of(store, now, lambda: pytest.fail("made once, then kept"))


def test_lexical_scores_are_bm25_with_prefix_terms_and_phrases():
    """BM25 (k1=1.2, b=0.75) over chunks, computed here the plain way: a prefix term counts every word it
    begins, a phrase counts its occurrences, a word no chunk holds adds nothing."""
    import math

    from rag.retrieve import LexicalIndex
    from rag.text import words

    texts = ["Our distributors and distribution centers ship products.", "The company sells through brokers.",
             "Distributors accounted for 40% of net sales; distributors are paid on commission.", "Nothing here."]
    chunks = [Chunk(f"c{i}", "d", t, i, i * 100, i * 100 + len(t)) for i, t in enumerate(texts)]
    terms = ["distribut", "broker", "net sales", "warehouse"]
    bags = [words(t) for t in texts]
    avg = sum(len(b) for b in bags) / len(bags)

    def bm25(f: int, i: int, df: int) -> float:
        idf = math.log(1 + (len(texts) - df + 0.5) / (df + 0.5))
        return idf * (f * 2.2) / (f + 1.2 * (0.25 + 0.75 * len(bags[i]) / avg))

    expected = [0.0] * len(texts)
    for term in terms:
        if " " in term:
            hits = [t.lower().count(term) for t in texts]
            matches = [hits]
        else:
            vocab = sorted({w for b in bags for w in b if w.startswith(term)})
            matches = [[b.count(w) for b in bags] for w in vocab]
        for hits in matches:
            df = sum(1 for h in hits if h)
            for i, h in enumerate(hits):
                if h:
                    expected[i] += bm25(h, i, df)
    got = LexicalIndex(chunks).scores(terms)
    assert got == pytest.approx(expected)
    assert got[3] == 0.0 and got[2] > got[1] > 0.0


def test_features_kept_beside_the_store_are_the_features_made_anew_and_go_with_the_document(tmp_path, fake_embedder):
    """A warm summary reads its facet features from the store's derived folder instead of computing them:
    the same numbers, a damaged entry is made again, another profile has its own entry, and `rag rm` takes
    the document's entries with it."""
    from rag.api import document_inputs, ingest_file
    from rag.scorer import load_scorer
    from vectorstore.chroma import ChromaStore

    path = tmp_path / "f.txt"
    path.write_text("ITEM 1. BUSINESS\n" + FILING * 3)
    store = ChromaStore.open(tmp_path / "store")
    record = store.get_document(ingest_file(store, path, fake_embedder).id)
    folder = store.derived_dir() / record.id
    assert not folder.exists()
    fresh = document_inputs(store, record, PROFILE, lambda: fake_embedder)
    kept = list(folder.glob("*.npz"))
    assert len(kept) == 1
    warm = document_inputs(store, record, PROFILE, lambda: fake_embedder)
    names = [f.name for f in PROFILE.facets]
    assert warm.texts == fresh.texts and warm.grams == fresh.grams and len(warm.texts) >= 6
    for f in names:
        assert fresh.matrix(f)[1] == warm.matrix(f)[1]
        assert np.array_equal(fresh.matrix(f)[0], warm.matrix(f)[0])
    a, b = load_scorer().probabilities(fresh, names), load_scorer().probabilities(warm, names)
    assert all(np.array_equal(a[f], b[f]) for f in names)

    # the record's bookkeeping (a version its sentences were kept under) is not an input: the same entry serves
    relabelled = record.__class__(record.id, record.source, record.chunks, record.content_sha, {**record.metadata, "features": "0:old"})
    document_inputs(store, relabelled, PROFILE, lambda: fake_embedder)
    assert list(folder.glob("*.npz")) == kept

    kept[0].write_bytes(b"not an npz")  # damaged: made again, and replaced
    again = document_inputs(store, record, PROFILE, lambda: fake_embedder)
    assert all(np.array_equal(fresh.matrix(f)[0], again.matrix(f)[0]) for f in names)
    assert kept[0].read_bytes()[:2] == b"PK"

    other = PROFILE.model_copy(update={"facets": [PROFILE.facets[0].model_copy(update={"key_terms": ["revenue"]}), *PROFILE.facets[1:]]})
    document_inputs(store, record, other, lambda: fake_embedder)
    assert len(list(folder.glob("*.npz"))) == 2

    store.delete_document(record.id)
    assert not folder.exists()
