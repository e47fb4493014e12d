import json

import pytest

from ingest.errors import InputError
from queries.profile import load_profile
from rag.evaluate import evaluate_case, load_cases, overall
from rag.settings import Settings
from vectorstore.chroma import ChromaStore

FILING = (
    "Item 1. Business\n"
    "Acme Foods sells frozen meals to grocery chains and club stores. Net sales were $120.5 million in 2025, up 6.1%.\n"
    "Our largest customer, Cartwright Markets, accounted for 18% of net sales.\n"
    "Our brands include Harbor Kitchen and Tidewater Table, made at plants in Boise and Salina.\n"
    "We sell through a direct sales force of 40 people and 12 independent food brokers.\n"
    "Item 7. Management's Discussion\n"
    "We have a $50.0 million revolving credit facility with Keystone Bank that matures in 2029.\n"
)


def _case(tmp_path, facts):
    doc = tmp_path / "acme.txt"
    doc.write_text(FILING)
    case = tmp_path / "acme.json"
    case.write_text(json.dumps({"name": "acme", "document": str(doc), "max_tokens": 512, "facets": facts}))
    return case


FACTS = {
    "revenue": [{"fact": "Net sales $120.5 million, up 6.1%", "evidence": "Net sales were $120.5 million in 2025, up 6.1%.", "patterns": ["120\\.5 million"]}],
    "customers": [{"fact": "Cartwright Markets 18%", "evidence": "Cartwright Markets, accounted for 18% of net sales", "patterns": ["Cartwright.{0,60}18%"]}],
    "products": [{"fact": "A brand nobody mentions", "evidence": "Our brands include Harbor Kitchen", "patterns": ["Zebra Crunch"]}],
    "distribution": [{"fact": "40 sales people and 12 brokers", "evidence": "direct sales force of 40 people and 12 independent food brokers", "patterns": ["12 independent food brokers"]}],
    "financing": [],
}


def test_the_harness_measures_a_small_case(tmp_path, fake_embedder):
    [case] = load_cases(_case(tmp_path, FACTS))
    store = ChromaStore.open(tmp_path / "store")
    result = evaluate_case(case, store, Settings(store=tmp_path / "store"), load_profile(), lambda: fake_embedder)
    assert result.coverage["revenue"] == 1.0 and result.coverage["customers"] == 1.0
    assert result.coverage["products"] == 0.0  # the pattern is absent from the summary: a miss is counted
    assert "financing" not in result.coverage and set(result.undisclosed_stated) == {"financing"}
    assert result.tokens <= 512 and result.continuous
    assert result.ungrounded_numbers == [] and result.ungrounded_names == []
    assert result.evidence_recall == 1.0  # a tiny filing: every chunk is retrieved
    totals = overall([result], [f.name for f in load_profile().facets])
    assert totals["within_ceiling"] == 1 and totals["facet_coverage"]["products"] == 0.0


def test_evidence_must_come_from_the_filing(tmp_path, fake_embedder):
    bad = dict(FACTS, revenue=[{"fact": "x", "evidence": "Net sales were $999 million.", "patterns": ["999"]}])
    [case] = load_cases(_case(tmp_path, bad))
    with pytest.raises(InputError, match="evidence not found"):
        evaluate_case(case, ChromaStore.open(tmp_path / "store"), Settings(store=tmp_path / "store"), load_profile(), lambda: fake_embedder)


@pytest.mark.parametrize("folder, least", [("cases", 10), ("holdout", 16)])
def test_shipped_cases_are_well_formed(corpus, folder, least):
    from pathlib import Path

    import re

    from ingest.loaders import load_document

    cases = load_cases(Path(__file__).resolve().parents[1] / "eval" / folder)
    assert len(cases) >= least
    assert all(set(c.facets) == {"revenue", "customers", "products", "distribution", "financing"} for c in cases)
    generic = "The company sells products to customers through distributors and had revenue, debt and a credit facility."
    for case in cases:
        text = re.sub(r"\s+", " ", load_document(case.document).text)
        for facts in case.facets.values():
            for fact in facts:
                assert re.sub(r"\s+", " ", fact.evidence) in text, (case.name, fact.evidence)
                assert fact.found_in(fact.evidence) or fact.found_in(fact.fact), (case.name, fact.fact)
                assert not fact.found_in(generic), (case.name, fact.patterns)
