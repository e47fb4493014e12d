"""End to end with the real parts: the bundled sample filing, the packaged embedding model,
a persistent Chroma store on disk, tiktoken's real encoding, and the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from rag.tokens import count_tokens

RAG = [sys.executable, "-m", "rag.cli"]
FACETS = ["revenue", "customers", "products", "distribution", "financing"]


def rag(*args, store):
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    proc = subprocess.run(RAG + list(args) + ["--store", str(store)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


def numbers_in(text: str) -> set[str]:
    return set(re.findall(r"\d[\d,]*(?:\.\d+)?", text))


def normalize(num: str) -> str:
    return num.replace(",", "").rstrip(".")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    from tests.conftest import SAMPLE

    store = tmp_path_factory.mktemp("store")
    first = json.loads(rag("ingest", str(SAMPLE), "--json", store=store).stdout)
    return store, first


def test_ingest_reports_and_is_idempotent(indexed):
    from tests.conftest import SAMPLE

    store, first = indexed
    assert len(first) == 1 and first[0]["chunks_added"] > 50 and first[0]["source"] == str(SAMPLE)
    again = json.loads(rag("ingest", str(SAMPLE), "--json", store=store).stdout)
    assert again[0]["id"] == first[0]["id"] and again[0]["chunks_added"] == 0
    docs = json.loads(rag("docs", "--json", store=store).stdout)
    assert [(d["id"], d["chunks"]) for d in docs] == [(first[0]["id"], first[0]["chunks_added"])]
    assert docs[0]["company"] == "Harborview Provisions, Inc." and docs[0]["form"] == "10-K"


def test_summary_is_faithful_complete_and_under_the_ceiling(indexed):
    from tests.conftest import SAMPLE

    store, first = indexed
    out = json.loads(rag("summarize", first[0]["id"], "--json", store=store).stdout)
    text = out["summary"]
    assert out["document"] == first[0]["id"]
    assert out["tokens"] == count_tokens(text) <= 512
    assert "\n" not in text and not re.search(r"(^|\s)[•*\-]\s|#", text)  # one continuous text
    assert set(out["facets"]) == set(FACETS)
    for facet in FACETS:  # every facet is addressed by evidence from the store
        assert out["facets"][facet], f"no evidence for {facet}"
        assert all(cid.startswith(first[0]["id"] + "#") for cid in out["facets"][facet])
    filing = SAMPLE.read_text()
    filing_numbers = {normalize(n) for n in numbers_in(filing)}
    assert {normalize(n) for n in numbers_in(text)} <= filing_numbers  # no number that is not in the filing
    # facts a reader needs, one or more per facet, from the gold list
    gold = json.loads((SAMPLE.parent.parent / "tests" / "data" / "harborview_facts.json").read_text())
    covered = {f: sum(bool(re.search("|".join(x["patterns"]), text, re.I)) for x in facts) for f, facts in gold["facets"].items()}
    assert all(covered[f] >= 1 for f in FACETS), covered
    assert sum(covered.values()) >= 10, covered
    # every sentence cites where it stands in the filing: a reader can check each figure there
    from ingest.loaders import load_document

    doc = load_document(SAMPLE).text
    for sentence in out["sentences"]:
        [cite] = sentence["citations"][:1]
        assert cite["chunk"] in sentence["chunks"] and cite["item"] and 0 <= cite["start"] < cite["end"] <= len(doc)
        cited = doc[cite["start"]:cite["end"]]
        for n in numbers_in(sentence["text"]):
            assert normalize(n) in {normalize(m) for m in numbers_in(cited)} or re.fullmatch(r"(19|20)\d\d", normalize(n)), (n, sentence["text"])


def test_plain_output_is_the_summary_alone_and_a_path_reuses_the_index(indexed):
    from tests.conftest import SAMPLE

    store, first = indexed
    by_path = rag("summarize", str(SAMPLE), store=store)
    by_id = rag("summarize", first[0]["id"], store=store)
    assert by_path.stdout == by_id.stdout and by_path.stdout.count("\n") == 1
    assert "indexed" not in by_path.stderr  # already in the store: not ingested again


def test_smaller_ceiling_and_a_facet_the_filing_does_not_cover(indexed, tmp_path):
    store, first = indexed
    out = json.loads(rag("summarize", first[0]["id"], "--max-tokens", "150", "--json", store=store).stdout)
    assert out["tokens"] <= 150
    profile = __import__("queries.profile", fromlist=["DEFAULT_PROFILE"]).DEFAULT_PROFILE.read_text()
    profile += '''
[[facets]]
name = "mining"
title = "Mining operations"
covers = "Mines, ore reserves and mineral extraction."
missing = "The filing does not disclose any mining operations."
queries = ["gold mine ore reserves and tonnes of mineral extracted"]
key_terms = ["ore reserve", "tonnes of ore", "mine site"]
'''
    custom = tmp_path / "profile.toml"
    custom.write_text(profile)
    out = json.loads(rag("summarize", first[0]["id"], "--profile", str(custom), "--json", store=store).stdout)
    assert out["summary"].endswith("The filing does not disclose any mining operations.")
    assert out["missing"] == ["mining"] and out["facets"]["mining"] == []
    assert out["tokens"] <= 512


def test_eval_command_on_the_sample_case(indexed):
    from tests.conftest import ROOT

    store, _ = indexed
    out = json.loads(rag("eval", str(ROOT / "tests" / "data" / "harborview_facts.json"), "--json", store=store).stdout)
    case = out["cases"][0]
    assert out["overall"]["cases"] == 1 and case["tokens"] <= 512 and case["continuous"]
    assert case["ungrounded_numbers"] == [] and out["overall"]["mean_coverage"] >= 0.3
    assert 0.0 < case["evidence_recall"] <= 1.0
