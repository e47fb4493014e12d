"""Profiles: what a summary must cover, as data a user can copy and edit.

A profile is a TOML file with a name, a token ceiling and an ordered list of facets. Each facet says
how to look for it (several retrieval phrasings and key terms), which 10-K items it prefers, the kinds
of fact it should hold, and the one sentence to write when the filing is silent.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.errors import InputError
from ingest.files import read_regular_file

PROFILE_DIR = Path(__file__).parent / "profiles"
DEFAULT_PROFILE = PROFILE_DIR / "business_model.toml"


class Facet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Short identifier, used as the key in --json output.")
    title: str = Field(description="Human name of the facet.")
    missing: str = Field(description="The sentence written when the filing has no evidence for this facet.")
    queries: list[str] = Field(min_length=1, description="Retrieval phrasings; each runs its own vector query.")
    key_terms: list[str] = Field(default_factory=list, description="Lower-case terms (or prefixes) that mark relevant sentences.")
    core_terms: list[str] = Field(default_factory=list, description="Terms that mark the facet's central facts; such sentences are preferred.")
    avoid_terms: list[str] = Field(default_factory=list, description="Terms that mark another topic (e.g. costs for revenue); such sentences are marked down.")
    items: list[str] = Field(default_factory=list, description="Preferred 10-K items, most likely first, e.g. ['Item 7']; "
                             "another form reads them through the profile's `forms` map.")
    avoid_items: list[str] = Field(default_factory=lambda: ["Item 1A"], description="10-K items whose sentences are "
                                   "speculative for this facet (risk factors), marked down in retrieval.")
    item_ranks: dict[str, int] = Field(default_factory=dict, description="Set by Profile.for_form: the rank in `items` "
                                       "of the 10-K item each of the form's items stands for. Empty: the position in `items`.")
    fact_weight: float = Field(1.0, ge=0, le=2, description="How much figures count against key terms when choosing sentences: 1 for figure-driven facets (revenue, financing), lower for descriptive ones (products, channels).")
    aspects: dict[str, list[str]] = Field(
        default_factory=dict,
        description="The kinds of fact the facet should hold (e.g. total revenue, split by segment, by region), each as "
        "case-insensitive regular expressions. Sentences that add an aspect not yet covered are preferred, so the "
        "budget buys different facts rather than five variations of one.",
    )

    @model_validator(mode="before")
    @classmethod
    def _without_covers(cls, data):
        """Profiles written for earlier versions describe each facet in ``covers``; nothing reads it (a comment now)."""
        return {k: v for k, v in data.items() if k != "covers"} if isinstance(data, dict) else data

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


# Where each form keeps what a 10-K keeps under an item: facets name 10-K items, and a filing of
# another form is read through this map. A 20-F's Item 4 (Information on the Company) and Item 5
# (Operating and Financial Review) play the parts of a 10-K's Items 1 and 7, its statements are
# Item 18 (or 17); a 10-KSB's discussion is Item 6 and its statements Item 7. A 1990s 10-K often
# keeps its discussion and statements in the annual report, Exhibit 13. An item not listed keeps
# its name; a 10-K405 or 10-K/A reads as a 10-K.
FORM_ITEMS: dict[str, dict[str, list[str]]] = {
    "10-K": {"Item 7": ["Item 7", "Exhibit 13"], "Item 8": ["Item 8", "Exhibit 13"]},
    "10-KSB": {"Item 1A": [], "Item 7": ["Item 6", "Exhibit 13"], "Item 7A": [], "Item 8": ["Item 7", "Exhibit 13"]},
    "20-F": {"Item 1": ["Item 4"], "Item 1A": ["Item 3"], "Item 2": ["Item 4"], "Item 7": ["Item 5"], "Item 7A": ["Item 11"],
             "Item 8": ["Item 18", "Item 17", "Item 8"], "Item 10": ["Item 6"]},
}


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    max_tokens: int = Field(512, gt=0, description="Ceiling for the summary, in tiktoken tokens.")
    facets: list[Facet] = Field(min_length=1)
    forms: dict[str, dict[str, list[str]]] = Field(
        default_factory=lambda: {form: {k: list(v) for k, v in m.items()} for form, m in FORM_ITEMS.items()},
        description="Per form (10-K, 10-KSB, 20-F), the form's items for each 10-K item the facets name; "
        "a profile's own table replaces the default one for that form.",
    )

    @model_validator(mode="before")
    @classmethod
    def _without_instructions(cls, data):
        """Profiles written for earlier versions state the task in ``instructions``; nothing reads it (a comment now)."""
        return {k: v for k, v in data.items() if k != "instructions"} if isinstance(data, dict) else data

    @field_validator("forms", mode="before")
    @classmethod
    def _defaults_for_other_forms(cls, forms: dict) -> dict:
        return {**{f: {k: list(v) for k, v in m.items()} for f, m in FORM_ITEMS.items()}, **(forms or {})}

    def for_form(self, form: str | None) -> Profile:
        """The profile with each facet's items read for ``form`` (the profile itself when nothing changes).

        Ranks follow the 10-K item each stands for, so the items a 10-K has weigh exactly as before:
        ``["Item 7", "Item 1", "Item 8"]`` on a 20-F becomes ``["Item 5", "Item 4", "Item 18", "Item 17",
        "Item 8"]`` ranked 0, 1, 2, 2, 2.
        """
        from ingest.forms import family

        mapping = self.forms.get(family(form) or "")
        if not mapping:
            return self
        facets = []
        for facet in self.facets:
            ranks: dict[str, int] = {}
            for rank, item in enumerate(facet.items):
                for mapped in mapping.get(item, [item]):
                    ranks.setdefault(mapped, rank)
            avoid = list(dict.fromkeys(m for item in facet.avoid_items for m in mapping.get(item, [item])))
            facets.append(facet.model_copy(update={"items": list(ranks), "item_ranks": ranks, "avoid_items": avoid}))
        return self.model_copy(update={"facets": facets})

    @field_validator("facets")
    @classmethod
    def _unique(cls, facets: list[Facet]) -> list[Facet]:
        names = [f.name for f in facets]
        if len(set(names)) != len(names):
            raise ValueError(f"facet names must be unique, got {names}")
        return facets


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
