"""The settings object is the only door: the README's configuration table names exactly the variables that
feed it, with its defaults, and no module but rag/settings.py reads a RAG_* variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.errors import InputError
from rag.settings import LLMSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
_VAR = re.compile(r"\bRAG_[A-Z_]+")


def _sections():
    for name, field in Settings.model_fields.items():
        kind = LLMSettings if name == "llm" else field.annotation
        yield name, kind


def _settings_vars() -> dict[str, tuple[type, str]]:
    """RAG_* variable -> (section class, field name)."""
    out = {}
    for _, section in _sections():
        for field, var in section.env_names().items():
            assert var not in out, f"{var} feeds two fields"
            out[var] = (section, field)
    return out


def _table_rows() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    part = text.split("\n## Configuration\n", 1)[1].split("\n### ", 1)[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in part.splitlines()
            if line.startswith("|") and not line.startswith("|---")][1:]


def test_the_readme_table_names_every_variable_of_the_settings_and_no_other():
    documented = {v for row in _table_rows() for v in _VAR.findall(row[1])}
    assert documented == set(_settings_vars())


def test_the_readme_defaults_are_the_settings_defaults():
    """A row with one variable and a number as its default: the field's default is that number."""
    fields = _settings_vars()
    checked = 0
    for what, how, default in _table_rows():
        names = set(_VAR.findall(how))
        number = re.match(r"^(\d+(?:\.\d+)?)(?:;|$)", default)
        if len(names) != 1 or not number:
            continue
        section, field = fields[names.pop()]
        assert float(section.model_fields[field].default) == float(number.group(1)), what
        checked += 1
    assert checked >= 6  # timeout, deadline, file size, retries, read-only copy, context


def test_k_is_the_evidence_size(monkeypatch):
    assert Settings().retrieval.per_facet == 40
    assert Settings.from_env(k=12).retrieval.per_facet == 12


def test_every_variable_is_read_when_asked_for_not_at_import(monkeypatch):
    monkeypatch.setenv("RAG_CHROMA_RETRIES", "7")
    monkeypatch.setenv("RAG_MAX_FILE_MB", "3")
    monkeypatch.setenv("RAG_LLM_TIMEOUT", "33")
    settings = Settings.from_env(store="/tmp/x")
    assert settings.store.retries == 7 and settings.files.max_bytes == 3 * 2**20
    from rag.llm import llm_from_env

    assert llm_from_env("gpt-x@http://127.0.0.1:9/v1").timeout == 33


@pytest.mark.parametrize("var, value, message", [
    ("RAG_CHROMA_RETRIES", "many", "RAG_CHROMA_RETRIES='many' is not valid"),
    ("RAG_MAX_FILE_MB", "-1", "RAG_MAX_FILE_MB='-1' is not valid"),
    ("RAG_EMBEDDER", "gpu", "RAG_EMBEDDER='gpu' is not valid"),
])
def test_a_bad_variable_is_one_line_naming_it(monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    with pytest.raises(InputError, match=re.escape(message)):
        Settings.from_env()


def test_only_the_settings_module_reads_rag_variables():
    readers = []
    for path in sorted([*ROOT.glob("rag/**/*.py"), *ROOT.glob("ingest/*.py"), *ROOT.glob("vectorstore/*.py"), *ROOT.glob("queries/*.py")]):
        if path == ROOT / "rag" / "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"(?:environ(?:\.get)?\s*[\[(]|getenv\()\s*[\"']RAG_", text):
            readers.append(str(path.relative_to(ROOT)))
    assert readers == []
