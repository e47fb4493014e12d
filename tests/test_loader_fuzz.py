"""Property-based tests of the loaders: whatever the bytes, a Document or a one-line InputError.

Bounded (examples and time per test) so CI stays fast; the seed is derandomized, so a failure repeats.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="pip install -e '.[test]' installs hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ingest.errors import InputError  # noqa: E402
from ingest.loaders import load_document  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SUFFIXES = [".txt", ".md", ".html", ".htm", ".json", ".xml", ""]
EDGAR = {"cik": "123", "company": "Acme Foods, Inc.", "filing_type": "10-K", "filing_date": "2024-03-01", "period_of_report": "2023-12-31",
         "item_1": "Item 1. Business\nAcme sells frozen seafood to grocery chains. Net sales were $1.2 billion.",
         "item_7": "Item 7. MD&A\nNet sales rose 6% to $1.2 billion. The revolving credit facility is $50.0 million."}


def outcome(tmp_path: Path, name: str, data: bytes):
    """Load ``data`` as the file ``name``: the Document, or the InputError's message. Anything else fails the test."""
    path = tmp_path / name
    path.write_bytes(data)
    try:
        doc = load_document(path)
    except InputError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 400, message
        return message
    assert doc.text.strip()
    assert "\x00" not in doc.text
    return doc


@FUZZ
@given(data=st.binary(max_size=4000), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(tmp_path: Path, data: bytes, suffix: str) -> None:
    outcome(tmp_path, f"f{suffix}", data)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=len(json.dumps(EDGAR))))
def test_truncated_json(tmp_path: Path, cut: int) -> None:
    whole = json.dumps(EDGAR).encode()
    got = outcome(tmp_path, "filing.json", whole[:cut])
    if cut < len(whole):
        assert isinstance(got, str)  # a truncated record is refused, not half-read


@FUZZ
@given(depth=st.integers(min_value=1, max_value=20000), tag=st.sampled_from(["div", "span", "table", "b", "p"]))
@example(depth=20000, tag="div")
@example(depth=5000, tag="table")
def test_deeply_nested_html(tmp_path: Path, depth: int, tag: str) -> None:
    html = f"<{tag}>" * depth + "Net sales rose 6% to $1.2 billion in 2023." + f"</{tag}>" * depth
    got = outcome(tmp_path, "deep.html", f"<html><body>{html}</body></html>".encode())
    if not isinstance(got, str):
        assert "Net sales rose 6%" in got.text


@FUZZ
@given(st.data())
def test_mixed_encodings_and_nul_bytes(tmp_path: Path, data) -> None:
    parts = data.draw(st.lists(st.sampled_from([
        "Net sales rose 6% to $1.2 billion. ".encode(),
        "Café Société — “quoted” ".encode("utf-8"),
        "Café Société ".encode("latin-1"),
        "\x00", b"\x00\x00", b"\xff\xfe", b"\r\n", "naïve ".encode("cp1252"), "日本語 ".encode("utf-8"),
    ]), min_size=1, max_size=40))
    suffix = data.draw(st.sampled_from([".txt", ".html", ".md"]))
    outcome(tmp_path, f"mixed{suffix}", b"".join(p if isinstance(p, bytes) else p.encode() for p in parts))


@FUZZ
@given(length=st.integers(min_value=1, max_value=2_000_000), suffix=st.sampled_from([".txt", ".html", ".json"]))
@example(length=2_000_000, suffix=".txt")
@example(length=2_000_000, suffix=".html")
def test_one_enormous_line(tmp_path: Path, length: int, suffix: str) -> None:
    body = ("Net sales rose 6% to $1.2 billion " * (length // 34 + 1))[:length]
    data = json.dumps({**EDGAR, "item_1": body}).encode() if suffix == ".json" else body.encode()
    outcome(tmp_path, f"line{suffix}", data)


@FUZZ
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=50),
                          lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
                          max_leaves=40))
def test_json_of_any_shape(tmp_path: Path, value) -> None:
    outcome(tmp_path, "any.json", json.dumps(value).encode())
    if isinstance(value, dict):
        outcome(tmp_path, "edgarish.json", json.dumps({**EDGAR, **{k: v for k, v in value.items() if k.startswith("item_")}}).encode())
