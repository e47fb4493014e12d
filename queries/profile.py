"""Profiles: what a summary must cover, as data a user can copy and edit.

A profile is a TOML file with a name, a token ceiling, the instructions, and an ordered list of
facets. Each facet says what it covers, how to look for it (several retrieval phrasings and key
terms), which 10-K items it prefers, and the one sentence to write when the filing is silent.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.errors import InputError
from ingest.files import read_regular_file

PROFILE_DIR = Path(__file__).parent / "profiles"
DEFAULT_PROFILE = PROFILE_DIR / "business_model.toml"


class Facet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Short identifier, used as the key in --json output.")
    title: str = Field(description="Human name of the facet.")
    covers: str = Field(description="What evidence belongs to this facet; shown to the LLM in the map prompt.")
    missing: str = Field(description="The sentence written when the filing has no evidence for this facet.")
    queries: list[str] = Field(min_length=1, description="Retrieval phrasings; each runs its own vector query.")
    key_terms: list[str] = Field(default_factory=list, description="Lower-case terms (or prefixes) that mark relevant sentences.")
    core_terms: list[str] = Field(default_factory=list, description="Terms that mark the facet's central facts; such sentences are preferred.")
    avoid_terms: list[str] = Field(default_factory=list, description="Terms that mark another topic (e.g. costs for revenue); such sentences are marked down.")
    items: list[str] = Field(default_factory=list, description="Preferred 10-K items, most likely first, e.g. ['Item 7'].")
    fact_weight: float = Field(1.0, ge=0, le=2, description="How much figures count against key terms when choosing sentences: 1 for figure-driven facets (revenue, financing), lower for descriptive ones (products, channels).")
    aspects: dict[str, list[str]] = Field(
        default_factory=dict,
        description="The kinds of fact the facet should hold (e.g. total revenue, split by segment, by region), each as "
        "case-insensitive regular expressions. Sentences that add an aspect not yet covered are preferred, so the "
        "budget buys different facts rather than five variations of one.",
    )

    @field_validator("aspects")
    @classmethod
    def _compiles(cls, aspects: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, patterns in aspects.items():
            for p in patterns:
                try:
                    re.compile(p)
                except re.error as exc:
                    raise ValueError(f"aspect {name!r}: {p!r} is not a valid regular expression ({exc})") from exc
        return aspects


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    max_tokens: int = Field(512, gt=0, description="Ceiling for the summary, in tiktoken tokens.")
    instructions: str = Field(description="The task, as the user would state it; {max_tokens} is filled in.")
    facets: list[Facet] = Field(min_length=1)

    @field_validator("facets")
    @classmethod
    def _unique(cls, facets: list[Facet]) -> list[Facet]:
        names = [f.name for f in facets]
        if len(set(names)) != len(names):
            raise ValueError(f"facet names must be unique, got {names}")
        return facets

    def task(self, max_tokens: int | None = None) -> str:
        return self.instructions.format(max_tokens=max_tokens or self.max_tokens)


def load_profile(path: str | Path | None = None) -> Profile:
    """Load a profile file (the business-model profile when ``path`` is None)."""
    path = Path(path) if path else DEFAULT_PROFILE
    if not path.exists():
        raise InputError(f"Profile {path} does not exist; copy {DEFAULT_PROFILE} and edit it.")
    try:
        data = tomllib.loads(read_regular_file(path, what="profile").decode("utf-8"))
        return Profile.model_validate(data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"Profile {path} is not valid TOML ({exc}); compare it with {DEFAULT_PROFILE}.") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"Profile {path} is invalid at {where}: {first['msg']}; compare it with {DEFAULT_PROFILE}.") from exc
