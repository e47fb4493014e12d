"""Real filings from ../shared/corpus, end to end with the real model and store (slow)."""

from __future__ import annotations

import re

import pytest

from ingest.loaders import load_document
from queries.profile import load_profile
from rag.api import ingest_file, summarize_document
from rag.settings import Settings
from rag.tokens import count_tokens
from vectorstore.chroma import ChromaStore

FILINGS = [
    "edgar-10k/108516_10K_2023_0000950170-23-035904.json",  # Worthington Industries, steel processing, 2023
    "edgar-10k/104169_10K_1995_0000104169-95-000004.json",  # Wal-Mart 1995: short and old
    "long-10k/NKE.json",  # full text with inline-XBRL noise and one-cell-per-line tables
]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}


@pytest.mark.slow
@pytest.mark.parametrize("relpath", FILINGS)
def test_summary_of_a_real_filing(relpath, corpus, tmp_path, real_embedder):
    path = corpus / relpath
    store = ChromaStore.open(tmp_path / "store")
    result = ingest_file(store, path, real_embedder)
    record = store.get_document(result.id)
    profile = load_profile()
    summary = summarize_document(store, record, profile, Settings(store=tmp_path / "store"), lambda: real_embedder)
    assert summary.tokens == count_tokens(summary.text) <= 512
    assert "\n" not in summary.text
    text = load_document(path).text
    assert _numbers(summary.text) <= _numbers(text), "a number in the summary is not in the filing"
    for facet in profile.facets:  # each facet: evidence from the filing, or the plain "does not disclose"
        assert summary.facets[facet.name] or facet.missing in summary.text
    assert len(summary.missing) <= 1
    assert ingest_file(store, path, real_embedder).chunks_added == 0
