"""Questions over the index: answers only from indexed text, with citations.

Every sentence of a filing is a candidate answer: at ingest its sentences, clauses and tables read as
sentences are stored with their vectors (``rag.candidates``). A question is scored against all of a
document's candidates at once, wherever they stand (Item 1A included):

- meaning: the cosine of the question's vector and the sentence's;
- words: the share of the question's own words (stemmed, weighted by how rare they are in the filing)
  the sentence holds;
- what it asks for: a "how much" question wants a figure, a "who" question a name, and a need that
  filings state in words of their own ("the largest customer" is "Walmart accounted for 17% of
  sales") is recognised by its rule (``NEEDS``).

A document answers when its best sentence is a close enough match and the filing speaks of what is
asked: a question on aircraft engines is not answered by a battery maker's total revenue. A caption, a
bullet fragment or a table row without its headers is never given. Over several documents each is
judged as it would be alone, so a document whose own question answers is not left out.

The embedded backend answers with those sentences, in reading order, each cited. The LLM backend
writes from the numbered best sentences; each of its sentences is grounded, and a figure the
evidence gives to a year, a segment or an affiliate must keep it. A model that declines is believed
unless the filing's own sentences answer by the embedded backend's test.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from ingest.errors import InputError
from ingest.types import SentenceUnit
from rag.prompts import ASK_SYSTEM, ASK_TEMPLATE, LIST_HINT, NO_ANSWER
from rag.text import (
    DATE,
    FINITE,
    LENDER_NAME,
    NUMBER_WORDS,
    POINTER,
    PROPER_WORD,
    VERBS,
    YEAR,
    YEAR_DIGITS,
    Rule,
    has_figure,
    has_verb,
    stem,
    words,
)
from rag.settings import AskSettings
from rag.types import Citation
from vectorstore.chroma import ChromaStore, DocumentRecord

log = logging.getLogger(__name__)

_STOP = set(
    "a an and are as at be by can did do does for from had has have how in is it its of on or our than that the their "
    "them they this to was were what when where which who whom why will with would about any company companies these those "
    "filing filings does do much many itself themselves rather instead just".split()
)


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    citation: Citation
    doc_id: str
    score: float


@dataclass(frozen=True)
class DocumentAnswer:
    doc_id: str
    label: str  # "FedEx Corp, 10-K 2023"
    sentences: tuple[AnswerSentence, ...]


@dataclass
class Answer:
    question: str
    answered: bool
    parts: list[DocumentAnswer]
    backend: str = "extractive"
    text_override: str | None = None  # an LLM's prose, already grounded
    dropped: list[dict] = field(default_factory=list)
    fallback: str | None = None  # why the model's answer gave way to the filing's own sentences

    @property
    def citations(self) -> list[dict]:
        out = []
        for part in self.parts:
            for s in part.sentences:
                out.append({"doc": part.doc_id, **s.citation.as_dict()})
        return out

    @property
    def answer(self) -> str:
        if not self.answered:
            return NO_ANSWER
        if self.text_override is not None:
            return self.text_override
        n = 0
        blocks = []
        for part in self.parts:
            pieces = []
            for s in part.sentences:
                n += 1
                pieces.append(f"{s.text} [{n}]")
            body = " ".join(pieces)
            blocks.append(f"{part.label}: {body}" if len(self.parts) > 1 else body)
        return "\n".join(blocks)

    def references(self) -> str:
        lines = []
        for i, c in enumerate(self.citations, 1):
            lines.append(f"[{i}] {c['chunk']} ({c['item'] or 'no item'}, chars {c['start']}-{c['end']})")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "answered": self.answered,
            "backend": self.backend,
            "citations": self.citations,
            "documents": [
                {"doc": p.doc_id, "label": p.label, "sentences": [{"text": s.text, "chunk": s.citation.chunk, "score": round(s.score, 3)} for s in p.sentences]}
                for p in self.parts
            ],
            **({"dropped": self.dropped} if self.dropped else {}),
            **({"fallback": self.fallback} if self.fallback else {}),
        }


def label(record: DocumentRecord) -> str:
    m = record.metadata
    name = m.get("company") or record.id
    extra = " ".join(x for x in (m.get("form"), m.get("fiscal_year")) if x)
    return f"{name} ({extra})" if extra else name


def select_documents(store: ChromaStore | None, doc_ids: Sequence[str] = (), company: str | None = None, year: str | None = None) -> list[DocumentRecord]:
    """The documents a question is about: given ids, else filtered by company and fiscal year, else all."""
    records = store.list_documents() if store is not None else []
    if not records:
        raise InputError("The store has no documents yet; index filings first with `rag ingest FILE...`.")
    if doc_ids:
        by_id = {r.id: r for r in records}
        unknown = [d for d in doc_ids if d not in by_id]
        if unknown:
            raise InputError(f"No document with id {unknown[0]!r} in the store; run `rag docs` to list ids.")
        records = [by_id[d] for d in doc_ids]
    if company:  # "walmart" finds "WAL MART STORES INC": compare letters and digits only
        needle = re.sub(r"[^a-z0-9]", "", company.lower())
        records = [r for r in records if needle in re.sub(r"[^a-z0-9]", "", (r.metadata.get("company", "") + " " + r.id).lower())]
    if year:
        records = [r for r in records if r.metadata.get("fiscal_year") == str(year)]
    if not records:
        raise InputError("No indexed document matches --company/--year; run `rag docs` to see companies and fiscal years.")
    return records


def question_terms(question: str) -> list[str]:
    """The words a question is matched with; a hyphenated word as its parts ("year-end" as "year" and "end", so that
    "at the end of the year" holds it)."""
    split = [p for w in words(question) for p in (w.split("-") if "-" in w and not re.search(r"\d", w) else (w,))]
    return [w for w in split if w not in _STOP and len(w) > 2]


# -- a document's candidate sentences ---------------------------------------------------------
@dataclass
class SentencePool:
    """One document's candidate sentences with their vectors, stems and which of them may be an answer."""

    doc_id: str
    units: list[SentenceUnit]
    vectors: object  # numpy array (n, dim), L2-normalized rows
    stems: list[frozenset[str]]
    df: Counter  # stem -> how many sentences hold it
    answerable: list[bool]  # the sentence can stand alone as an answer
    fiscal_year: int | None = None

    def index_of(self, unit: SentenceUnit) -> int:
        if not hasattr(self, "_index"):
            self._index = {u.id: i for i, u in enumerate(self.units)}
        return self._index[unit.id]

    def defined(self) -> dict[str, str]:
        """The short names the filing defines, each with the words it stands for ("CPI": "Conference Plus, Inc.")."""
        if not hasattr(self, "_defined"):
            self._defined = {m.group(2): m.group(1) for u in self.units for m in _DEFINES.finditer(u.text)}
        return self._defined

    def common_word(self, name: str) -> bool:
        """Whether the filing writes a capitalized word of the question in lower case, as an ordinary word, in
        at least ``COMMON`` sentences: "Disney Store" names a brand, but "store" is not a name the answer must write."""
        if not hasattr(self, "_common"):
            self._common: dict[str, bool] = {}
        if name not in self._common:
            lower = re.compile(r"\b" + re.escape(name.lower()))
            self._common[name] = name[:1].isupper() and name.lower() != name and \
                sum(1 for u in self.units if lower.search(u.text)) >= COMMON
        return self._common[name]

    def __len__(self) -> int:
        return len(self.units)


COMMON = 3


def stems_of(text: str) -> frozenset[str]:
    """The stems of a text's words; a hyphenated word's parts too ("back-up" holds "back", "pre-install" "install")."""
    found = words(text)
    return frozenset(stem(w) for w in found) | frozenset(stem(p) for w in found if "-" in w for p in w.split("-") if len(p) > 2)


def stands_alone(unit: SentenceUnit) -> bool:
    """Whether a candidate can be given as an answer: never a caption, a unit line, a lead-in ending in a
    colon, a row without its headers, a clipped parenthesis or a fragment without a verb ("* Less than 10%
    of total revenue.", "Damage or disruption to its distribution logistics."). A table sentence names its
    caption and columns, so it stands without a verb."""
    from rag.tables import balanced, is_debris

    text = " ".join(unit.text.split())
    if is_debris(text) or not balanced(text):
        return False
    if unit.kind == "table":
        return True
    if ELSEWHERE.search(text) or POINTER.search(text) or not (has_verb(text) or FINITE.search(text)):
        return False
    return not re.match(r"^\W*(?:\(\d{1,2}\)|\[\d{1,2}\]|\*)\s", text) or _DEFINED.match(text) is not None


ELSEWHERE = Rule("elsewhere", re.compile(
    r"\bincorporated\s+(?:herein\s+)?by\s+reference\b|^\W*(?:refer to|see)\s+(?:page|pages|note|notes|item|part|the section|exhibit)\b"
    r"|^\W*(?:the\s+)?information\s+(?:required|called for|regarding|about|with respect to)\b.{0,120}\b(?:is|are)\s+(?:included|set forth|contained)\b"
    # "Film library properties are described in Item 1 under the caption Studio Entertainment." (a figure it states is kept)
    r"|^(?![^$%]*[$%])[^;]{0,80}\b(?:is|are)\s+(?:further\s+|more\s+fully\s+)?(?:described|discussed|included|set\s+forth|presented|summarized)\s+"
    r"(?:in|under)\s+(?:Item|Part|Note|the\s+caption|the\s+heading)\b(?![^$%]*[$%])", re.I),
    "a sentence that says where the answer is (another page, document, item or note) is not the answer",
    "Refer to page 78 of IBM's 1997 Annual Report to Stockholders which is incorporated herein by reference.")


# "(1) Represents sales to ..." is a footnote: it says something only beside the row it annotates;
# a footnote that names its own subject ("(1) Walmart accounted for ...") is kept.
_DEFINED = re.compile(r"^\W*(?:\(\d{1,2}\)|\[\d{1,2}\]|\*)\s+[A-Z][\w.&'-]+(?:\s[A-Z][\w.&'-]+)*\s(?:accounted|represented|was|were|is|are)\b")

_POOLS: OrderedDict = OrderedDict()
POOL_CACHE = 32  # documents whose sentences stay in memory between questions (a chat session, an eval run)


def sentence_pool(store: ChromaStore, record: DocumentRecord, embedder) -> SentencePool:
    """The document's candidate sentences and vectors from the store. A document indexed by an older
    version has none: they are made from its chunks, as at ingest, embedded once and kept in the store."""
    import numpy as np

    key = (store.location, record.id, record.sentences)
    if key in _POOLS:
        _POOLS.move_to_end(key)
        return _POOLS[key]
    from rag.stored import sentences_of

    # the summary's candidates: made (and kept) once when the store lacks them or holds an older version's
    units, vectors, _ = sentences_of(store, record, lambda: embedder, table=False)
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(units), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True) if len(units) else None
    if norms is not None:
        vectors = vectors / np.where(norms == 0, 1.0, norms)
    stems = _with_aliases(units, [stems_of(u.text) for u in units])
    df: Counter = Counter(s for bag in stems for s in bag)
    year = str(record.metadata.get("fiscal_year") or "")
    pool = SentencePool(record.id, list(units), vectors, stems, df, [stands_alone(u) for u in units], int(year) if year.isdigit() else None)
    _POOLS[key] = pool
    while len(_POOLS) > POOL_CACHE:
        _POOLS.popitem(last=False)
    return pool


def _with_aliases(units: Sequence[SentenceUnit], stems: list[frozenset[str]]) -> list[frozenset[str]]:
    """A sentence that says "CPI" also holds the words of the name the filing defined it for ("Conference Plus")."""
    aliases: dict[str, frozenset[str]] = {}
    for u in units:
        for m in _DEFINES.finditer(u.text):
            aliases.setdefault(m.group(2), stems_of(m.group(1)) - {stem(w) for w in _LEGAL_WORDS})
    if not aliases:
        return stems
    said = re.compile(r"\b(" + "|".join(map(re.escape, aliases)) + r")\b")
    out = []
    for u, bag in zip(units, stems):
        found = said.findall(u.text)
        out.append(bag.union(*(aliases[a] for a in found)) if found else bag)
    return out


# -- what a question asks for ------------------------------------------------------------------
@dataclass(frozen=True)
class Need:
    """A need users phrase one way and filings state another, as a named rule with an example.

    ``question`` finds the need in a question; ``answer`` finds a sentence that states it; ``terms``
    are the question's words such a sentence stands for (it answers "the largest customer" without
    either word)."""

    name: str
    question: re.Pattern
    answer: re.Pattern
    terms: frozenset[str]
    example: str


_BUYERS = r"(?:customers?|clients?|buyers?|distributors?|wholesalers?|retailers?|resellers?|accounts?|purchasers?|licensees?)"
_SHARE = r"\d+(?:\.\d+)?\s?(?:%|percent\b)"
_CLAUSE = r"(?:[^;.]|\.(?!\s)|\b(?:Inc|Corp|Co|Ltd|N\.A)\.\s)"  # within one clause ("Walmart Inc. accounted" is one)
# a buyer, or a name: inside the sentence any capitalized word; at its start only one that is plainly a name
# ("Walmart Inc. accounted", "McKesson and Cardinal", "USPS"), not "Prescription pharmaceuticals accounted"
_PARTY = (r"(?:\b(?i:" + _BUYERS + r")\b|(?<=\s)(?!Company\b|Company['’]s\b|Fiscal\b|United States\b|The\b|Our\b|Its\b)[A-Z][\w&'’-]*[A-Za-z]"
          r"|^[A-Z][\w&'’-]*[A-Za-z](?=\s(?:Inc|Corp|Co|Ltd)\.|\s(?:and\s|&\s)?[A-Z]|\s(?i:account|represent|comprise|constitute))|^[A-Z]{2,}[a-z]?\b)")
NEEDS = (
    Need(
        "concentration",
        re.compile(r"\b(?:largest|biggest|major|main|top|key|principal|significant|important|leading|single|dominant|any one)\b[\w\s'’,-]{0,30}\b" + _BUYERS
                   + r"|\b" + _BUYERS + r"\b[^?]{0,60}(?:\d+\s?%|percent|share|portion|concentrat|account(?:ed|s)? for|depend|rel(?:y|ies|iant))"
                   + r"|\b(?:depend\w*|rel(?:y|ies|iant)\w*)\b[^?]{0,60}\b(?:customers?|clients?|few|single)\b|\bconcentrat\w+\b", re.I),
        # a party (a buyer, or a name) with its share of sales; or the filing saying there is none
        re.compile(_PARTY + _CLAUSE + r"{0,100}?\b(?i:account(?:ed|s)?\s+for|represent(?:ed|s)?|comprised|constituted|made\s+up)\b"
                   + _CLAUSE + r"{0,80}?" + _SHARE + _CLAUSE + r"{0,60}?\b(?i:sales|revenues?|shipments|billings)\b"
                   + r"|(?i:\bderive[sd]?\b)" + _CLAUSE + r"{0,40}?" + _SHARE + _CLAUSE + r"{0,30}?\b(?i:sales|revenues?)\s+(?i:from\s+(?:sales\s+to\s+)?(?:the\s+)?)(?:U\.S\.\s+)?" + _PARTY
                   + r"|(?i:\bno\s+(?:single\s+|one\s+|other\s+)?(?:customers?|clients?)\b|\bindividually\s+less\s+than\b|\bthe\s+loss\s+of\s+which\b"
                   r"|\b(?:largest|biggest|principal|most\s+significant)\s+(?:single\s+)?customers?\b)"),
        frozenset(stem(w) for w in ("largest", "biggest", "major", "main", "top", "key", "principal", "single", "customer", "customers", "client",
                                     "buyer", "account", "concentration", "depend", "dependent", "rely", "share", "percent", "revenue", "sales")),
        "'Who is the largest customer?' is answered by 'Walmart Inc. accounted for 16.9% of our fiscal 2019 consolidated sales.'",
    ),
    Need(
        "business",
        re.compile(r"\bwhat (?:does|do) (?:the\s+|this\s+)?(?:company|firm|business|it|they|\w+)\s+(?:do|make|sell|produce|offer|manufacture)\b"
                   r"|\bwhat (?:is|are) (?:the\s+|its\s+|their\s+)?(?:\w+['’]s\s+)?(?:main\s+|core\s+|principal\s+)?business\b|\bwhat business\b"
                   r"|\bwhat kind of (?:company|business|firm)\b|\bdescribe (?:the|its|their) business\b|\bwhat (?:products|services) does\b", re.I),
        # the filing saying what it is or what it does: "X is a leading supplier of ...", "we design and sell ..."
        re.compile(r"\b(?:is|are)\s+(?:currently\s+|now\s+)?(?:considered\s+)?(?:a|an|one\s+of\s+the|the)\b[^.;]{0,80}?\b(?:company|corporation|provider|"
                   r"manufacturer|maker|producer|retailer|developer|supplier|operator|designer|distributor|leader|shell|vehicle|partnership|fund|bank)\b"
                   r"|\b(?:we|the company|it)\s+(?:design|develop|manufacture|make|produce|sell|market|provide|operate|offer|distribute)s?\b"
                   r"|\bour (?:purpose|business|principal business)\s+(?:is|has been)\b", re.I),
        frozenset(stem(w) for w in ("do", "does", "make", "sell", "produce", "offer", "manufacture", "business", "main", "core", "principal",
                                     "kind", "describe", "products", "services")),
        "'What does the company do?' is answered by 'SanDisk Corporation ... is the inventor and leading supplier of NAND flash data storage products.'",
    ),
)

# What users say for what filings call otherwise, as data: the filing's words are added to the question
# before it is matched ("How large is the revolver?" is about the "revolving credit facility"). An idiom's
# own words mean nothing in a filing ("top line" is not "top five customers" or a "product line"): a
# saying with a ``plain`` reading takes them out of the words matched and reads what is asked in it
# ("What was its top line?" asks for an amount, as "What was its revenue?" does).
@dataclass(frozen=True)
class Saying:
    pattern: re.Pattern
    filing_words: str
    plain: str | None = None  # the idiom in plain words; None: the user's words are kept beside the filing's


def _saying(pattern: str, filing_words: str, plain: str | None = None) -> Saying:
    return Saying(re.compile(pattern, re.I), filing_words, plain)


def _spelled_out(abbreviation: str, words: str) -> Saying:
    """An abbreviation ("MBS") asked as the filing spells it ("mortgage-backed securities")."""
    return _saying(r"\b" + abbreviation + r"(?!\w)", words, words)


SAYINGS = (
    _saying(r"\brevolver\b", "revolving credit facility", "revolving credit facility"),
    _saying(r"\b(?:undrawn|unused|untapped)\b", "available, unused"),
    _saying(r"\bstakes?\b", "interest, equity interest"),
    _saying(r"\bUncle Sam\b|\bthe feds\b", "U.S. Government, government", "the U.S. Government"),
    _saying(r"\b(?:credit|bank)\s+lines?\b", "credit facility, revolving credit facility"),  # filings say "line of credit" too
    _saying(r"\bon\s+(?:the\s+|its\s+|their\s+)?payrolls?\b", "employees, employed", "employed"),
    _saying(r"\b(?:across|around)\s+the\s+(?:globe|world)\b", "globally, worldwide", "globally"),
    _saying(r"\b(?:people|persons)\s+(?:work|are employed)|\bhead\s?count\b|\bworkforce\b|\bstaff\b", "employees, workforce", "employees"),
    # "how many people work there", not "how many people pay for a membership"
    _saying(r"\bhow many (?:people|persons)\b(?=\s*(?:[?,.]|$|(?:work|worked|are|were|is|was|did|does|do|has|have|had|on|at|in)\b))",
            "individuals, employees", "how many employees"),
    _saying(r"\btop[\s-]+line\b", "revenue", "revenue"),
    _saying(r"\bbuy\s?backs?\b|\b(?:buy|buys|buying|bought)\s+back\b", "share repurchases, repurchased", "repurchases"),
    _saying(r"\bhow much did\b.{1,40}\bsell\b", "net sales revenue"),
    _saying(r"\b(?:bring|brings|bringing|brought|take|takes|took|pull|pulls|pulled|rake|rakes|raked)\s+in\b", "revenues", "earn"),
    _saying(r"\bbranch(?:es)?\b", "offices"),
    _saying(r"\bwho\s+(?:\w+ly\s+)?(?:makes|made|builds|built|produces|produced)\b", "manufacturing, manufacturers", "who manufactures"),
    _saying(r"\bchips?\b", "integrated circuits, semiconductors"),
    # "What did it pay for Equitrac?" asks the price; "How will it pay for the deal?" asks how it is financed
    _saying(r"\b(?:what|how much)\b[^?]{0,40}\bpa(?:y|id|ys|ying)\s+for\b", "purchase price, consideration"),
    _saying(r"\bhow\s+(?:will|would|did|does|do|is|are|was|can|could)\b[^?]{0,40}\bpay(?:s|ing)?\s+for\b", "finance, financing", "finance"),
    _saying(r"\bdeal\b", "acquisition, merger", "acquisition"),
    _saying(r"\bmiddle\s?m[ae]n\b|\bintermediar(?:y|ies)\b|\bgo-betweens?\b", "distributors, resellers", "distributors"),
    # how much it owes, not how much it may borrow ("How much can it borrow under its bank lines?")
    _saying(r"\bborrow(?:s|ed|ing)?\s+(?:a\s+lot|much|heavily|money)\b|\bhow much (?:has|have|had|did)\b[^?]{0,30}\bborrowed\b|\bleverag(?:e|ed|ing)\b"
            r"|\bowe[sd]?\b|\bindebted\b", "debt outstanding, indebtedness"),
    _saying(r"\b(?:deal|acquisition|purchase|merger|takeover|buyout)\b[^?.]{0,40}\bcost\b|\bcost\b[^?.]{0,20}\bto (?:buy|acquire)\b|\bprice tag\b",
            "purchase price, consideration", "purchase price"),
    # money idioms: what is spent, paid, held, owed, lost
    _saying(r"\bcap[\s-]?ex\b", "capital expenditures", "capital expenditures"),
    _saying(r"\b(?:shell|fork|splash|cough)(?:s|ed|ing)?\s+(?:out|over|up)\b|\bhand(?:s|ed|ing)?\s+over\b", "paid, purchase price, consideration", "pay"),
    _saying(r"\b(?:sink|sank|sunk|pour|poured|plow|plowed|plough|ploughed)\s+into\b", "spent, invested", "spend on"),
    _saying(r"\bbottom[\s-]+line\b", "net income", "net income"),
    _saying(r"\b(?:war\s+chest|cash\s+pile|dry\s+powder)\b", "cash and cash equivalents", "cash"),
    _saying(r"\b(?:debt|borrowing)\s+(?:pile|load|burden)\b", "debt outstanding, indebtedness", "debt"),
    _saying(r"\bcash\s+burn\b|\bburn(?:ing|ed|s)?\s+(?:through\s+)?cash\b", "net cash used in operating activities", "cash used"),
    _saying(r"\b(?:lose|lost|losing)\s+money\b|\bin\s+the\s+red\b", "net loss", "net loss"),
    _saying(r"\bpay\s?outs?\b|\b(?:hand|hands|handed|give|gave|return|returned)\s+(?:back\s+)?(?:cash\s+)?to\s+(?:shareholders|stockholders|investors)\b",
            "dividends, share repurchases", "dividends"),
    _saying(r"\b(?:overseas|abroad|outside\s+(?:the\s+)?(?:US|U\.S\.|United\s+States|America))\b", "international, foreign", "international"),
    # the trade's abbreviations, as filings spell them out
    *(_spelled_out(short, long) for short, long in (
        ("MBS", "mortgage-backed securities"), ("ABS", "asset-backed securities"), ("NOLs?", "net operating loss carryforwards"),
        ("EPS", "earnings per share"), ("RCF", "revolving credit facility"), ("R&D", "research and development"),
        ("SG&A", "selling, general and administrative"), ("M&A", "acquisitions"))),
    _saying(r"\bsub(?:ord)?\.?\s+(?:notes|debt|debentures)\b", "subordinated", "subordinated notes"),
    # "Which stores sell Dragon?" asks for the retailers that resell it, not the company's own stores
    _saying(r"\b(?:which|what)\s+(?:\w+\s+)?(?:stores|shops|chains|outlets)\s+(?:sell|sells|carry|carries|stock|stocks|offer|offers)\b",
            "retailers, resellers"),
    _saying(r"\bshops?\b|\boutlets?\b", "stores"),
    _saying(r"\bshareholders?\b", "stockholders"),
    _saying(r"\bstockholders?\b", "shareholders"),
    _saying(r"\binsiders?\b", "officers, directors, related parties, stockholders"),
    _saying(r"\b(?:go|goes|went|gone|going|moved?|ship|shipped)\s+out\s+the\s+door\b", "shipped, sold", "shipped"),
    _saying(r"\bkeep(?:s|ing)?\s+the\s+lights\s+on\b", "general and administrative expenses, operating costs",
            "pay general and administrative expenses"),
    _saying(r"\b(?:PC|computer|device|car|auto|phone|hardware)\s+makers?\b", "original equipment manufacturers, OEMs, manufacturers"),
    _saying(r"\bpre-?load(?:s|ed|ing)?\b|\bpre-?install(?:s|ed|ing)?\b|\bbundl(?:e|es|ed|ing)\b", "pre-install, preinstalled, OEM"),
    _saying(r"\bfootprint\b", "locations, facilities", "locations"),
    _saying(r"\b(?:rivals?|rivalry|competing\s+firms)\b", "competitors, competes, competition", "competitors"),
    _saying(r"\b(?:buy|buys|bought|source|sources|sourced|get|gets|got)\b[^?]{1,40}\bfrom\b", "suppliers, purchases"),
)
# "Conference Plus, Inc. (“CPI”)": later sentences say "CPI" and mean Conference Plus
_DEFINES = re.compile(r"((?:[A-Z][\w&'’.-]*[\s,]+){1,6}?)\(\s*(?:the\s+)?[“\"]([A-Z]{2,6})[”\"]\s*\)")


# Words that frame a question without naming its topic: a sentence need not hold them to answer.
_FRAMING = frozenset(stem(w) for w in (
    "largest biggest main major top key principal total amount size big large small percentage percent share portion part "
    "come came comes generate generated make made get got use uses used have has company company's business firm "
    "year years fiscal annual current currently last recent level number more most less least few several some other "
    "net gross over under above below exceed exceeding exceeded single one any each "
    "go goes went gone do does did done take takes took give gives gave put say says said show shows tell tells end "
    "lot lots mostly mainly heavily actually really side end up".split()))
_MEASURES = (r"(?:revenues?|sales|income|earnings|profits?|loss(?:es)?|cash(?:\s+flows?)?|debt|borrowings|backlog|capital\s+expenditures|capex|"
             r"dividends?|margins?|assets|liabilities|equity|expenses?|costs?|prices?|employees|headcount|subscribers|members|stores|"
             r"shipments|orders|deliveries|volume|spending|investments?)")
_ASKS_FIGURE = re.compile(r"\bhow (?:much|many|big|large|high|low)\b|\bwhat (?:is|was|were|are)?\s*(?:the\s+)?(?:percentage|share|portion|proportion|amount|size|number|value|total)\b"
                          r"|\bwhat (?:percentage|share|portion|proportion|part|amount|size)\b"
                          r"|\bwhat did\b[^?]{0,60}\b(?:cost|earn|pay|spend|raise|generate|lose|collect)(?:s|ed|ing)?\b"
                          r"|\bwhat\s+(?:(?:total|net|annual|quarterly|cash|gross|operating)\s+)*" + _MEASURES + r"\s+(?:did|does|do|was|were|is|are|has|have)\b"
                          r"|\bwhat (?:is|was|were|are)\s+(?:the\s+|its\s+|their\s+)?(?:\w+['’]s\s+)?(?:(?:fiscal\s+)?(?:year\s+)?(?:19|20)\d\d\s+)?"
                          r"(?:total\s+|net\s+|annual\s+|consolidated\s+|gross\s+|operating\s+"
                          r"|worldwide\s+|global\s+|overall\s+|combined\s+|average\s+|year-end\s+)*" + _MEASURES + r"\b", re.I)
_ASKS_PERCENT = re.compile(r"\bwhat (?:percentage|percent|share|portion|proportion|part|fraction)\b|\bhow much of\b|\b(?:percentage|share) of\b|\bcontribut\w*\b", re.I)
_ASKS_MONEY = re.compile(r"\b(?:revenues?|sales|income|earnings|profits?|loss(?:es)?|cash|debt|borrow\w*|backlog|capital\s+expenditures|capex|dividends?|"
                         r"assets|liabilities|expenses?|costs?|spend\w*|invest\w*|credit|facility|revolver|loans?|notes|commercial paper|paid|pay|earn\w*|prices?|"
                         r"proceeds|consideration)\b", re.I)
# "how many ..." counts, and "how much did sales grow" is a change: neither needs an amount of money
_ASKS_COUNT_OR_CHANGE = re.compile(r"\bhow many\b|\bnumber of\b|\b(?:grow|grew|growth|increase[sd]?|decrease[sd]?|decline[sd]?|rise|rose|fall|fell|change[sd]?)\b", re.I)
# "who", or "which" of a kind of party: the answer names it ("Which of these companies ..." chooses filings, it asks for no name)
_PARTIES = r"(?:customers?|clients?|distributors?|wholesalers?|retailers?|resellers?|suppliers?|vendors?|banks?|lenders?|competitors?|partners?|auditors?|manufacturers?|foundr(?:y|ies)|licensees?|shareholders?|stockholders?|owners?|subsidiar(?:y|ies)|brands?|labels?|banners?|imprints?|stores|chains?|stockists?)"
# "Which major customers ...", not "Which [companies] sell through distributors?": the party is what is
# asked for only when the words between are its modifiers, not a verb or a preposition.
_NOT_A_MODIFIER = (r"(?!(?:sell|sells|sold|use|uses|rely|relies|depend|depends|through|to|from|via|by|with|of|for|on|in|at|"
                   r"did|does|do|is|are|was|were|has|have|had|will|would|can|could)\b)")
_ASKS_NAME = re.compile(r"^\s*(?:who|whom|where)\b|\bwho (?:is|are|was|were)\b|\bname (?:the|its|their)\b|\b(?:which|what)\s+"
                        r"(?:" + _NOT_A_MODIFIER + r"\w+\s+){0,2}" + _PARTIES + r"\b", re.I)


# "Where does the company operate?", "In which states ...?": the answer names a place (``PLACE``)
_ASKS_PLACE = re.compile(r"^\s*where\b|\bin (?:which|what) (?:states?|countries|country|regions?|cities|city|markets?|locations?|parts of)\b", re.I)
_STATES = ("Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho Illinois Indiana Iowa "
           "Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada "
           "Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah Vermont Virginia Washington Wisconsin Wyoming").split()
_PLACES = ("New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|Rhode Island|South Carolina|South Dakota|West Virginia|"
           "Puerto Rico|District of Columbia|United States|U\\.S\\.|Canada|Mexico|Europe|Asia|Africa|Latin America|South America|North America|"
           "Middle East|Asia Pacific|China|Japan|India|Germany|France|United Kingdom|Italy|Spain|Netherlands|Ireland|Israel|Brazil|"
           "Australia|Korea|Taiwan|Singapore|Hong Kong|Switzerland|Sweden|Belgium|Russia|Argentina|Chile|Philippines|Malaysia|Thailand|"
           "Vietnam|Indonesia|Poland|Turkey|Egypt|South Africa|Nigeria|Congo|Ghana")
# a place a filing names: a state, a country, a continent or region (a name, so capitalized as written)
PLACE = re.compile(r"\b(?:" + "|".join(_STATES) + "|" + _PLACES + r")\b")


def _topical(term: str) -> bool:
    return term not in _FRAMING and not re.fullmatch(r"[\d,.%]+", term)


@dataclass(frozen=True)
class Query:
    """A question as it is matched: its text (without the company's own name), vector, stemmed terms,
    the kind of statement that answers it and the needs it names."""

    question: str
    text: str
    vector: object
    terms: tuple[str, ...]
    wants: str | None  # "money", "percent", "figure" (any), "name", "place" or None
    needs: tuple[Need, ...]
    measure: frozenset[str] = frozenset()  # what a "how much" question measures ("revenue", "subscribers")
    explained: frozenset[str] = frozenset()  # words a saying puts in the filing's terms ("people work" is "employees")
    phrases: tuple[tuple[str, str], ...] = ()  # "commercial paper": two words that name one thing together
    named: frozenset[str] = frozenset()  # names the question gives ("McDonald's"): the subject, wherever they stand
    names: tuple[str, ...] = ()  # the same names as written ("McDonald", "Recorded Future" as "Recorded", "Future")
    offered: frozenset[str] = frozenset()  # the filing's words sayings added ("distributors, resellers"): alternatives

    @property
    def need_terms(self) -> frozenset[str]:
        return frozenset().union(*(n.terms for n in self.needs)) if self.needs else frozenset()

    @cached_property
    def topic(self) -> tuple[str, ...]:
        """The terms that say what the question is about: the things it names ("revenue from selling
        aircraft engines"), not how it is asked ("rely on", "goes to"), nor what a need or a saying explains."""
        things = _things(asked_part(self.text))
        verb = asked_verb(self.text)
        return tuple(t for t in self.terms if (t in things or t in self.named) and _topical(t) and t not in self.need_terms
                     and t not in self.explained and t != verb)


# What a question sets aside or explains in passing is not what it asks about: "Apart from the Tyson name
# itself, which brands ...", "its Premium business (autos and intermodal)"
_ASIDE = re.compile(r"\b(?:apart|aside)\s+from\b[^,?]*,?|\b(?:other\s+than|besides|except(?:\s+for)?|excluding)\b[^,?]*,"
                    # "... at year-end 2002 after the layoffs?": when, not what about
                    r"|\b(?:after|before|following)\s+(?:the|its|their|those|these)\s+\w+(?:\s+\w+)?\s*(?=[?.!]?\s*$)", re.I)


def without_saying(text: str) -> str:
    """The question as asked, without the filing's words a saying appended in parentheses (``question_text``)."""
    return re.sub(r"\s\([^()]*\)$", "", text)


def asked_part(text: str) -> str:
    """The question without its asides and its own parentheses; the filing's words a saying appended stay."""
    body = without_saying(text)
    return _ASIDE.sub(" ", re.sub(r"\([^()]*\)", " ", body)) + text[len(body):]


# "How many Disney Store shops does the company run?": the object asked for comes first, so the clause after
# "does" ends with its verb ("run"), which says how it is asked, not what about
_WH_OBJECT = re.compile(r"^\s*(?:how\s+(?:many|much)|what|which)\b[^?,;]*?\b(?:do|does|did|can|could|will|would)\s+([^?,;]+)", re.I)
_CLAUSE_ENDS = frozenset("in at on for to from with by during into across through over under per and or last this next now today "
                         "currently each every annually a an the".split())


def asked_verb(text: str) -> str | None:
    """The stem of the verb closing a question's clause when its object was asked first, else None."""
    m = _WH_OBJECT.search(text)
    if not m:
        return None
    clause: list[str] = []
    for i, w in enumerate(re.findall(r"[A-Za-z][\w'’-]*", m.group(1))):
        if i and w.lower() in _CLAUSE_ENDS:
            break
        clause.append(w)
    if len(clause) < 2 or not clause[-1].islower():
        return None
    return stem(clause[-1])


# A question names things after these words ("revenue from selling aircraft engines", "how many
# restaurants", "Apple's restaurants"); the words after a subject ("rely", "earn", "goes") ask how.
_OPENS_THING = frozenset("from of for about on in with by through via into across within per during between among under over as "
                         "after before against toward towards including like the a an its their our any many much several "
                         "sell sells selling produce produces deliver delivers own owns operate operates generate generated earn earns "
                         "make makes made buy buys".split())
_ENDS_THING = frozenset("is are was were be been do does did has have had can could will would should may might "
                        "at to than as and or but if when where which who that this these those there".split()) | _OPENS_THING


_IS_CONTRACTED = frozenset("what who where how when why that it there here this".split())


def _runs(text: str) -> list[list[str]]:
    """The runs of words a question names things with (stems): after a preposition, an article, a
    quantifier, a possessive or a verb of trade ("revenue from selling | aircraft engines")."""
    runs: list[list[str]] = []
    open_run = False
    for raw in re.findall(r"[A-Za-z][\w'’-]*", text):
        w = raw.lower()
        if w in _ENDS_THING:
            open_run = w in _OPENS_THING
            if open_run:
                runs.append([])
            continue
        if open_run:
            runs[-1].append(stem(w))
        if re.search(r"['’]s$", w) and w[:-2] not in _IS_CONTRACTED:
            open_run = True  # "Apple's restaurants" (not "What's", which is "what is")
            runs.append([])
    return [r for r in runs if r]


def _things(text: str) -> frozenset[str]:
    """Stems of the words a question names things with."""
    return frozenset(t for run in _runs(text) for t in run)


def phrases(text: str) -> tuple[tuple[str, str], ...]:
    """Two words naming one thing together, as the question ends a run of words with them ("rely on
    commercial paper", "selling aircraft engines in 2017"); not a noun and its verb ("customers account")."""
    out = []
    tokens = re.findall(r"[A-Za-z][\w'’-]*", text)
    for a, b in zip(tokens, tokens[1:]):
        la, lb = a.lower(), b.lower()
        if la in _STOP or lb in _STOP or la in _ENDS_THING or lb in _ENDS_THING or lb in VERBS or la in VERBS:
            continue
        pa, pb = stem(la), stem(lb)
        if _topical(pa) and _topical(pb) and pa in _things(text) and pb in _things(text):
            out.append((pa, pb))
    return tuple(dict.fromkeys(out))


_MEASURE = re.compile(r"\bhow (?:much|many)\s+(?:of\s+(?:the\s+|its\s+|their\s+)?)?((?:[a-z][\w'’-]*\s+){0,2}[a-z][\w'’-]*)"
                      r"|\bwhat (?:was|were|is|are)\s+(?:the\s+|its\s+|their\s+)?((?:[a-z][\w'’-]*\s+){0,2}[a-z][\w'’-]*)", re.I)
_AUXILIARY = frozenset("did does do is was were are can could has have had will would of in for from into onto to at by with on over per".split())


# "Is it borrowing a lot?", "Does it lean heavily on one retailer?": a quantity, of whatever kind
_ASKS_QUANTITY = re.compile(r"\ba lot\b|\bheavily\b|\bhow (?:reliant|dependent|concentrated|exposed|indebted|leveraged)\b", re.I)


def _wants(text: str) -> str | None:
    """The kind of statement that answers: a figure (of money, a percentage, any), a place or a name."""
    if re.match(r"^\s*(?:who|whom)\b", text, re.I):
        return "name"  # "Who were the biggest accounts, and how much of the business did they make up?" names them first
    if _ASKS_QUANTITY.search(text) and not _ASKS_FIGURE.search(text):
        return "figure"
    wants = "figure" if _ASKS_FIGURE.search(text) else "place" if _ASKS_PLACE.search(text) else "name" if _ASKS_NAME.search(text) else None
    if wants == "figure" and _ASKS_PERCENT.search(text):
        return "percent"
    if wants == "figure" and _ASKS_MONEY.search(text) and not _ASKS_COUNT_OR_CHANGE.search(text):
        return "money"
    return wants


def plain_reading(asked: str) -> tuple[str, frozenset[str]]:
    """The question with its idioms in plain words ("What was its top line?" -> "What was its revenue?"), and
    the stems of the idioms' own words, which a filing's sentence need not hold."""
    idiom: set[str] = set()
    for saying in SAYINGS:
        if saying.plain is None:
            continue
        for m in saying.pattern.finditer(asked):
            idiom |= {stem(w) for w in words(m.group(0))}
        asked = saying.pattern.sub(saying.plain, asked)
    return asked, frozenset(idiom - {stem(w) for w in words(asked)})


# Capitalized words that do not name anything a filing must mention
_NOT_NAMES = frozenset(stem(w) for w in "fiscal item items note notes form part annual report inc corp co ltd llc company i".split())


def make_query(question: str, text: str, vector, explained: frozenset[str] = frozenset()) -> Query:
    import numpy as np

    asked = without_saying(text)
    plain, idiom = plain_reading(asked)
    read = plain + text[len(asked):]  # in plain words, with the filing's
    terms = tuple(t for t in dict.fromkeys(stem(w) for w in question_terms(text)) if t not in idiom)
    wants = _wants(read) or _wants(text)
    needs = tuple(n for n in NEEDS if n.question.search(text) or n.question.search(read))
    measure: frozenset[str] = frozenset()
    m = _MEASURE.search(read)
    if m and wants in ("figure", "money", "percent"):
        said = []
        for w in (m.group(1) or m.group(2)).lower().split():
            if w in _AUXILIARY:
                break  # "how much did it sell": the measure is not named
            said.append(w)
        measure = frozenset(t for t in (stem(w) for w in said if w not in _STOP) if _topical(t))
    offered = words(text[len(asked):])
    if not measure and wants in ("figure", "money", "percent"):
        # "How much did the theme parks bring in?" measures what the saying names: revenues
        measure = frozenset(stem(w) for w in offered if re.fullmatch(_MEASURES, w))
    # a name the question gives ("McDonald's", "Equitrac") is what it is about, wherever it stands
    written = [re.sub(r"['’]s$", "", w) for w in re.findall(r"(?<=\s)[A-Z][\w'’-]*[A-Za-z]", " " + " ".join(asked.split()[1:]))]
    written = [w for w in written if w.lower() not in _STOP and stem(w.lower()) not in _NOT_NAMES | idiom and _topical(stem(w.lower()))]
    v = np.asarray(vector, dtype=np.float32)
    return Query(question, text, v / (np.linalg.norm(v) or 1.0), terms, wants, needs, measure, explained | idiom, phrases(plain),
                 frozenset(stem(w.lower()) for w in written), tuple(dict.fromkeys(written)), frozenset(stem(w) for w in offered))


# -- scoring ------------------------------------------------------------------------------------
LEXICAL_WEIGHT = 0.25  # the share of the question's words a sentence holds, against its cosine (0-1)
WANT_BONUS = 0.05  # a figure for "how much", a name for "who"
NEED_BONUS = 0.15  # a sentence in the words filings use for the need the question names
SUPERSEDED = 0.10  # the same statement for an earlier year, when the filing also makes it for a later one
# Below this the best sentence does not answer. Measured on eval/questions*.json: the best sentence of
# an answerable question scores 0.59-1.11, of an unanswerable one 0.28-0.66; the threshold declines the
# off-topic ones, the filing's silence on the question's subject (``rare_subject``) the rest.
MIN_SCORE = 0.50
MARGIN = 0.12  # further sentences of an answer lie within this of the best
PER_DOCUMENT = 3  # sentences per document in an embedded answer
RARE = 0.002  # a question's subject the filing names in at most this share of its sentences (or twice) must be in the answer
NAME_BONUS = 0.10  # a sentence that writes a name the question gives ("Recorded Future", "China")
OPENING = 5  # the sentences in which a filing says who it is


@dataclass(frozen=True)
class Scored:
    unit: SentenceUnit
    score: float
    dense: float
    lexical: float
    need: bool = False


# Words filings use for one measure: "revenue" is "net sales" in many of them.
SAME_MEASURE = (frozenset({stem("revenue"), stem("sales")}), frozenset({stem("employees"), stem("people"), stem("personnel"), stem("individuals")}))


def _measured(measure: frozenset[str], bag: frozenset[str]) -> bool:
    """Whether a sentence names what a question measures, in the question's word or the filing's."""
    return all(t in bag or any(t in same and same & bag for same in SAME_MEASURE) for t in measure)


def _counts(text: str, measure: frozenset[str]) -> bool:
    """Whether a figure in ``text`` counts the measure itself: "428 Sam's Clubs", "82,000 subscribers"."""
    for m in re.finditer(r"\b\d[\d,]*(?:\.\d+)?\s+((?:[\w'’-]+\s+){0,3}[\w'’-]+)", DATE.sub(" ", text)):
        if _measured(measure, frozenset(stem(w) for w in words(m.group(1)))):
            return True
    return False


# A sentence that leans on the one before it: "No other customer ...", "These customers ...", "Such sales ...".
ANAPHOR = re.compile(r"^\W*(?:No other|None of the other|These|Those|Such|This|They|The remaining|The rest|In addition|Additionally|Also)\b")
LEANS = 0.10


SPLIT = 0.10


def _splits(pairs: Sequence[tuple[str, str]], bag: frozenset[str], text: str) -> bool:
    """Whether a sentence holds one word of a phrase of the question but never the phrase itself."""
    for a, b in pairs:
        if (a in bag) != (b in bag):
            return True
        if a in bag and b in bag:
            seq = [stem(w) for w in words(text)]
            if not any(x == a and y == b for x, y in zip(seq, seq[1:])):
                return True
    return False


# a table sentence's caption or a run-in heading before what the sentence says: "Revenue Recognition – ..."
_CAPTION = re.compile(r"^[A-Z][^.:;–—]{0,80}?(?::\s|\s[–—-]\s)")


_WORD_PERCENT = re.compile(r"\b(?:ten|fifteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-]\w+)?\s+percent\b", re.I)


def _gives(wants: str | None, text: str) -> bool:
    """Whether a sentence states the kind of thing a question asks for."""
    if wants == "name":  # in the sentence, not its caption ("Operating Revenues: Other revenues were ...")
        return bool(PROPER_WORD.search(_CAPTION.sub("", text)))
    if wants == "place":
        return bool(PLACE.search(text))
    if wants == "percent":  # "deriving about sixty percent of its revenues from outside the U.S."
        return has_figure(text, wants) or bool(_WORD_PERCENT.search(text))
    if wants == "money":
        return has_figure(text, wants)
    return wants == "figure" and has_figure(text)


def score_pool(query: Query, pool: SentencePool, item: str | None = None) -> list[Scored]:
    """Every sentence of the document that can stand alone as an answer, best first."""
    if not len(pool):
        return []
    dense = pool.vectors @ query.vector
    n = len(pool)
    weight = {t: math.log(1 + n / (1 + pool.df.get(t, 0))) for t in query.terms}
    total = sum(weight.values()) or 1.0
    stood = query.need_terms  # a sentence that states the need holds these words in its own
    names = subject_names(query, pool) if query.names else ()
    out = []
    for i, unit in enumerate(pool.units):
        if not pool.answerable[i] or (item and unit.item != item):
            continue
        bag = pool.stems[i]
        need = any(nd.answer.search(unit.text) for nd in query.needs)
        # a sentence holds a measure asked for in the filing's word too ("revenue" asked, "net sales" said)
        lexical = sum(w for t, w in weight.items() if t in bag or need and t in stood or t in query.measure and _measured(frozenset({t}), bag)) / total
        score = float(dense[i]) + LEXICAL_WEIGHT * lexical
        if _gives(query.wants, unit.text):
            score += WANT_BONUS
            if query.measure and _measured(query.measure, bag):
                score += WANT_BONUS  # the figure of what is measured: "how much revenue" and "revenues were $93.2 million"
                if _counts(unit.text, query.measure):
                    score += WANT_BONUS  # "how many Sam's Clubs" and "428 Sam's Clubs"
        if ANAPHOR.match(unit.text):
            score -= LEANS  # "No other customer accounted for 10% ...": it says something only after the sentence before
        measured = _gives(query.wants, unit.text) and bool(query.measure) and _measured(query.measure, bag)
        if query.phrases and not measured and _splits(query.phrases, bag, unit.text):
            score -= SPLIT  # "business papers" for "commercial paper": one word of the thing asked, in another sense
            # (not in a sentence that gives the figure asked for: "Parks and Resorts revenues ... $20.3 billion")
        if need:
            score += NEED_BONUS
        if names and (names_in(names, unit.text) or named_before(pool, i, names) >= 0):
            score += NAME_BONUS
        out.append(Scored(unit, score, float(dense[i]), lexical, need))
    out.sort(key=lambda s: -s.score)
    return _latest_first(out, query, pool.fiscal_year)


def _latest_first(scored: list[Scored], query: Query, fiscal_year: int | None = None, top: int = 40) -> list[Scored]:
    """"Sales to its three largest customers for fiscal 1995 represented 34%, ..." gives way to the same
    sentence for fiscal 1996: among the best, a statement repeated for a later year marks the earlier one
    down (unless the question names the earlier year)."""
    asked = set(YEAR.findall(query.text))
    head = scored[:top]
    # years past the filing's own are plans ("In fiscal 1996 the Company plans to open ..."), not a later statement
    latest = [max((y for y in map(int, YEAR.findall(s.unit.text)) if not fiscal_year or y <= fiscal_year), default=0) for s in head]
    bags = [frozenset(t for t in stems_of(s.unit.text) if not t[:1].isdigit() and t not in _STOP) for s in head]
    out = list(head)
    for i, s in enumerate(head):
        if not latest[i] or str(latest[i]) in asked:
            continue
        for j in range(len(head)):
            if latest[j] > latest[i] and len(bags[i] & bags[j]) >= 0.6 * min(len(bags[i]), len(bags[j])):
                out[i] = Scored(s.unit, s.score - SUPERSEDED, s.dense, s.lexical, s.need)
                break
    out.sort(key=lambda s: -s.score)
    return out + scored[top:]


_NONE = re.compile(r"\b(?:no|nil|none\s+of|not\s+(?:generated|earned|had|received)(?:\s+any)?)\s+((?:[\w'’-]+\s+){0,2}[\w'’-]+)", re.I)


def _says_none(query: Query, text: str) -> bool:
    """The filing saying there is none of what is asked: "the issuer had no revenues", "no single customer
    accounted for more than 10%", "has not generated revenues" (not any sentence with a "no" in it)."""
    if query.needs and _EACH_BELOW.search(text):
        return True
    asked = query.measure | query.need_terms | frozenset(query.topic)
    return any(asked & {stem(w) for w in words(m.group(1))} for m in _NONE.finditer(text))


_EACH_BELOW = re.compile(r"\b(?:customers?|clients?)\b[^.;]{0,30}\bindividually\s+(?:less|below)\b", re.I)  # "All customers were individually less than 10%"


def rare_subject(query: Query, pool: SentencePool) -> list[str]:
    """The question's subject words the filing names rarely or never: an answer must hold one of them
    ("revenue from aircraft engines" of a battery maker that never says "engines", or says "aircraft"
    once, about shipping). The filing's words a saying offered are alternatives, not the subject: a
    filing that says "distributors" need not also say "resellers"."""
    offered = query.offered - query.named
    return [t for t in query.topic if t not in offered and pool.df.get(t, 0) <= max(2, RARE * len(pool))]


def answering(query: Query, pool: SentencePool, scored: Sequence[Scored], per_doc: int = PER_DOCUMENT,
              min_score: float = MIN_SCORE) -> list[Scored]:
    """The sentences of one document that answer, best first; none when it does not answer."""
    if not scored or scored[0].score < min_score:
        return []
    # "how much ...?" is not answered by a sentence without a figure, nor "which customers ...?" by one
    # without a name ("no revenues", "no single customer" answer both)
    if query.wants:
        # "Who are the biggest customers?" of a filing that never names them: its unnamed shares answer
        # (a share: "Revenue is derived from contracts with customers" names no customer and no share either)
        unnamed = query.wants == "name" and not any(s.need and _gives("name", s.unit.text) for s in scored[:40])
        scored = [s for s in scored if _gives(query.wants, s.unit.text) or _says_none(query, s.unit.text)
                  or unnamed and s.need and has_figure(s.unit.text, "percent")]
        if not scored or scored[0].score < min_score:
            return []
    if query.wants == "figure" and _HOW_MANY.search(query.text):
        # "How many farmers ...?" is answered by a count, not by "64% of our cost" or "$3.8 billion of fees"; and by a
        # count of what it asks for, in its words or a saying's ("how many branches": "19 full-service offices"),
        # not by "30 animal nutrition operations"
        counted = frozenset(t for t in query.measure | (query.offered if query.measure & query.explained else frozenset()) if pool.df.get(t))
        scored = [s for s in scored if _says_none(query, s.unit.text) or _COUNT.search(DATE.sub(" ", s.unit.text))
                  and (not counted or _counted_near(s.unit.text, counted))]
        if not scored or scored[0].score < min_score:
            return []
    names = subject_names(query, pool)
    if names:  # "What did it pay for Tegic?": the prices of its other acquisitions do not answer, nor does
        # the total revenue "How much did it bring in from China?"
        scored = [s for s in scored if names_in(names, s.unit.text) or named_before(pool, pool.index_of(s.unit), names) >= 0]
        if not scored or scored[0].score < min_score:
            return []
    best = scored[0]
    chosen: list[Scored] = []
    seen: list[frozenset[str]] = []
    for s in scored:
        if s.score < max(min_score, best.score - MARGIN) or len(chosen) >= per_doc:
            break
        bag = frozenset(words(s.unit.text))
        if any(len(bag & b) >= 0.85 * len(bag) for b in seen):
            continue  # the same sentence again, adding nothing (Item 1 and Item 1A often repeat each other)
        chosen.append(s)
        seen.append(bag)
    chosen = with_antecedents(pool, chosen, names)
    amount = _asked_amount(query) if query.wants == "money" else None
    if amount and not any(_states_amount(amount, pool, pool.index_of(s.unit)) for s in chosen):
        return []  # "What was its ad revenue?" is not answered by the order volume, "net earnings" by net loans
    rare = rare_subject(query, pool)
    # "How many people went through the gates?": the gates are its subject, the people what it counts
    subject = [t for t in rare if t not in query.measure] or rare
    if rare and not any(_in_paragraph(query, pool, pool.index_of(s.unit), subject) for s in chosen) \
            and not _holds_the_rest(query, pool, chosen[0], rare):
        return []  # its sentences on revenue do not answer a question on revenue from aircraft engines
    return with_followers(query, pool, chosen)


_HOW_MANY = re.compile(r"\bhow many\b", re.I)
# a count: a number that is not money, a share or a year ("23,000 rooms", "nine stores")
_COUNT = re.compile(r"(?<![$\d.,])\b(?!(?:19|20)\d\d\b)\d[\d,]*(?:\.\d+)?(?:\s+(?:million|thousand))?\b(?!\s*(?:%|percent|per\s*cent|million\s*%))"
                    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundreds|thousands)\b", re.I)


def _counted_near(text: str, terms: frozenset[str], reach: int = 4) -> bool:
    """Whether a number in ``text`` has a word of ``terms`` within ``reach`` words of it, before or after ("600
    clubs", "employee headcount worldwide was 125,665")."""
    tokens = words(DATE.sub(" ", text))
    bag = [stem(w) for w in tokens]
    for i, w in enumerate(tokens):
        if (re.fullmatch(r"\d[\d,.]*", w) or NUMBER_WORDS.fullmatch(w)) and not re.fullmatch(YEAR_DIGITS, w):
            near = frozenset(bag[max(0, i - reach): i + reach + 1])
            if any(_measured(frozenset({t}), near) for t in terms):
                return True
    return False


# The amount a question names, and the words a filing states it in: "net earnings" are "net income" or
# "net earnings" there, "revenue" is "revenues", "sales" or "net sales". Only these; other amounts are
# left to the question's other words.
_AMOUNTS = (
    (re.compile(r"\b(?:revenues?|sales|top[\s-]+line)\b", re.I), re.compile(r"\b(?:revenues?|sales)\b", re.I)),
    (re.compile(r"\b(?:net\s+(?:income|earnings|profits?)|bottom[\s-]+line|(?:earnings|profits?)\b(?!\s+per\b))", re.I),
     re.compile(r"\b(?:net\s+(?:income|earnings|loss)|earnings|profits?|income)\b", re.I)),
)


def _asked_amount(query: Query) -> re.Pattern | None:
    """How filings write the amount the question names, when it names one of :data:`_AMOUNTS` (and only one)."""
    asked = [said for names, said in _AMOUNTS if names.search(query.text)]
    return asked[0] if len(asked) == 1 else None


def _states_amount(said: re.Pattern, pool: SentencePool, i: int) -> bool:
    """Whether sentence ``i``, or the one before or after it in its paragraph, names the amount."""
    return any(said.search(pool.units[j].text) for j in paragraph_around(pool, i, 1, 1))


def _in_paragraph(query: Query, pool: SentencePool, i: int, rare: Sequence[str], reach: int = 2) -> bool:
    """Whether sentence ``i`` or its paragraph's neighbours (``reach`` each way) write a rare word of the question, a
    name in any ending ("Seven TV ... acquired a 49% interest", then "... a Disney Channel in Russia" for "the Russian
    channel"): a paragraph is about one thing."""
    names = tuple(n for n in query.names if stem(n.lower()) in rare)
    return any(any(t in pool.stems[j] for t in rare) or names and names_in(names, pool.units[j].text)
               for j in paragraph_around(pool, i, reach, reach))


def _holds_the_rest(query: Query, pool: SentencePool, best: Scored, rare: Sequence[str]) -> bool:
    """Whether the best sentence writes every other word the question names things with: then a rare word is the
    user's word for it ("spots for pickup" and "8,000 pickup and delivery locations", "credit line" and "credit
    facility"), or a place the paragraph gave. A question whose only other words are what it measures ("revenue
    from aircraft engines") still needs the rare word."""
    if any(a in rare or b in rare for a, b in query.phrases):
        return False  # a rare word naming one thing with another ("breakup fee", "aircraft engines") is the subject
    rest = [t for t in query.topic if t not in rare and t not in query.offered and t not in query.measure]
    bag = pool.stems[pool.index_of(best.unit)]
    return bool(rest) and all(t in bag for t in rest)


# "In August 2016, we acquired TouchCommerce. The aggregate consideration for this transaction was $218.1 million":
# the second sentence is about the name the first one writes
_REFERS = re.compile(r"^[^.;]{0,60}?\b(?:(?:this|that|these|those|such)\s+(?!as\b|is\b|was\b)\w|the\s+(?:acquisition|transaction|merger|purchase|"
                     r"deal|combination|divestiture|sale|investment|agreement|offering|facility|notes)\b)", re.I)


REACH_BACK = 4  # sentences of its paragraph a sentence saying "this transaction" may lean on


def named_before(pool: SentencePool, i: int, names: Sequence[str]) -> int:
    """The sentence earlier in its paragraph (at most ``REACH_BACK`` back) that writes the name asked, when
    sentence ``i`` speaks of it as "this transaction" without writing it; -1 otherwise."""
    if not names or i <= 0 or i >= len(pool):
        return -1
    unit = pool.units[i]
    if not _REFERS.search(unit.text) or names_in(names, unit.text):
        return -1
    for j in reversed(paragraph_around(pool, i, REACH_BACK, 0)):
        if j != i and names_in(names, pool.units[j].text):
            return j
    return -1


def paragraph_around(pool: SentencePool, i: int, back: int, ahead: int) -> range:
    """Sentence ``i`` with at most ``back`` sentences before it and ``ahead`` after it, within its paragraph (the
    ``follows`` chain)."""
    lo = i
    while lo > 0 and i - lo < back and pool.units[lo].follows:
        lo -= 1
    hi = i
    while hi + 1 < len(pool) and hi - i < ahead and pool.units[hi + 1].follows:
        hi += 1
    return range(lo, hi + 1)


def with_antecedents(pool: SentencePool, chosen: list[Scored], names: Sequence[str]) -> list[Scored]:
    """A chosen sentence that speaks of the name asked only through the one before it comes with that one."""
    have = {s.unit.id for s in chosen}
    out = []
    for s in chosen:
        j = named_before(pool, pool.index_of(s.unit), names)
        if j >= 0 and pool.units[j].id not in have:
            out.append(Scored(pool.units[j], s.score, s.dense, s.lexical, s.need))
            have.add(pool.units[j].id)
        out.append(s)
    return out


# A sentence that continues the one before it about the same things: "A significant portion of our net revenue is
# concentrated among our five largest customers. In 2024, the net revenue from these customers was approximately
# $6.3 billion, or 22%, of total net revenue."
_BACK = re.compile(r"^[^.;]{0,40}?\b(?:these|those|such)\s+(?!as\b)\w", re.I)


def with_followers(query: Query, pool: SentencePool, chosen: list[Scored]) -> list[Scored]:
    """Each chosen sentence with the next one of its paragraph when that one speaks of "these customers" (what the
    chosen one named) and states what the question asks for: alone, neither answers."""
    have = {s.unit.id for s in chosen}
    out = []
    for s in chosen:
        out.append(s)
        j = pool.index_of(s.unit) + 1
        if j >= len(pool):
            continue
        nxt = pool.units[j]
        if nxt.follows and pool.answerable[j] and nxt.id not in have and _BACK.search(nxt.text) \
                and (query.wants is None or _gives(query.wants, nxt.text)):
            out.append(Scored(nxt, s.score, s.dense, s.lexical, s.need))
            have.add(nxt.id)
    return out


def subject_names(query: Query, pool: SentencePool) -> tuple[str, ...]:
    """The names a question gives that an answer must write: not the filer's own, which a filing without a
    cover page's company gives in its opening sentences ("Voltaic Cells Inc. designs and manufactures ...")."""
    opening = [u.text for u in pool.units[:OPENING]]
    names = tuple(n for n in query.names if not any(names_in((n,), t) for t in opening) and not pool.common_word(n))
    # the short name the filing defined for it counts as the name: "CPI" for "Conference Plus"
    return names + tuple(short for short, words in pool.defined().items() if names and names_in(names, words))


@lru_cache(maxsize=64)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern:
    forms = dict.fromkeys(_name_form(f) for n in names for f in (n, n.replace("-", "")))
    return re.compile(r"\b(?:" + "|".join(forms) + r")\b")


def _name_form(name: str) -> str:
    """A name as a pattern: a word of five letters or more also in its other endings ("Canada" and "Canadian",
    "China" and "Chinese", "Mexico" and "Mexican"), the rest as written."""
    if len(name) >= 5 and name.isalpha():
        return re.escape(name[:max(4, len(name) - 2)]) + r"[a-z]*"
    return re.escape(name)


def names_in(names: Sequence[str], text: str) -> bool:
    """Whether ``text`` writes one of a question's names as a name: "China", "McDonald's" (capitalized, so
    "recorded" is not "Recorded Future"; "Wal-Mart" and "WalMart" are one). One pattern per question, compiled once."""
    pattern = _names_pattern(tuple(names))
    return bool(pattern.search(text) or "-" in text and pattern.search(text.replace("-", "")))


# -- list questions -------------------------------------------------------------------------
# "Which banks provide the company's credit facilities?" wants every bank the filing names, not the
# first one a model happens to write. The names of the kind asked about are found in the evidence, and
# any the answer leaves out are added with the filing's own sentence.
_LIST_QUESTION = re.compile(r"^\s*(?:which|what|who|list|name)\b|\b(?:list|name)\s+(?:all|every|each|the)\b", re.I)
_LENDERS_ASKED = re.compile(r"\b(?:banks|lenders|creditors|bankers|financial institutions|syndicate)\b", re.I)
_LENDING = re.compile(r"\b(?:loans?|borrow\w*|credit (?:facilit\w*|line|agreement)|lines? of credit|revolv\w*|lend\w*|indebtedness|debt|financ\w*|notes?)\b", re.I)
_NOT_A_NAME = re.compile(r"^(?:(?:The|Our|Its|Their|Such|Each|Any|A|An|Note|Item|In|On|At|As|From|With|Under|By)\s+)+")
LIST_MARGIN = 0.25  # how far below MIN_SCORE a sentence naming a lender may lie and still complete a list
_GENERIC_NAME = {"bank", "banks", "n.a.", "of", "the", "and", "trust", "company", "bancorp", "banking", "corporation", "savings", "national", "commercial"}


def asks_for_lenders(question: str) -> bool:
    """A list question about lenders ("Which banks ...?"): the one kind of list completed from the evidence."""
    return bool(_LIST_QUESTION.search(question) and _LENDERS_ASKED.search(question))


def list_names(question: str, text: str) -> list[str]:
    """The names of the kind a list question asks for that ``text`` states (lenders only, for now:
    other kinds of name are too loosely marked in filings to find without a model)."""
    if not asks_for_lenders(question) or not _LENDING.search(text):
        return []
    names = []
    for m in LENDER_NAME.finditer(text):
        name = _NOT_A_NAME.sub("", m.group(0)).strip().rstrip(",")
        if _name_words(name) and name not in names:
            names.append(name)
    return names


def _name_words(name: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9&'.-]+", name.lower()) if w.strip(".") and w not in _GENERIC_NAME}


def _named_in(name: str, text: str) -> bool:
    have = set(re.findall(r"[a-z0-9&'.-]+", text.lower()))
    return _name_words(name) <= {w.strip(".") for w in have} | have


def _text(s: Scored | SentenceUnit) -> str:
    unit = s.unit if isinstance(s, Scored) else s
    return " ".join(unit.text.split())


def missing_names(question: str, answer_text: str, candidates: Sequence[Scored], limit: int = 6) -> list[Scored]:
    """Candidates, best first, that name what a list question asks for and ``answer_text`` does not."""
    added: list[Scored] = []
    covered = answer_text
    for s in candidates:
        text = _text(s)
        new = [n for n in list_names(question, text) if not _named_in(n, covered)]
        if new:
            added.append(s)
            covered += " " + text
            if len(added) >= limit:
                break
    return added


# -- the embedded backend --------------------------------------------------------------------
@dataclass
class DocumentEvidence:
    """What one document offers a question: its sentences scored, and those that answer (empty: it does not)."""

    record: DocumentRecord
    pool: SentencePool
    scored: list[Scored]
    answer: list[Scored]

    @property
    def best(self) -> float:
        return self.scored[0].score if self.scored else 0.0


def _sentence(s: Scored, doc_id: str) -> AnswerSentence:
    u = s.unit
    return AnswerSentence(_text(u), Citation(u.chunk_id, u.item, u.start, u.end), doc_id, s.score)


def extractive_answer(query: Query, evidence: Sequence[DocumentEvidence]) -> Answer:
    """The answering sentences of each document that answers, documents best first, sentences in reading order."""
    parts = []
    for ev in [e for e in evidence if e.answer]:  # every document that answers: none is left out
        chosen = list(ev.answer)
        if asks_for_lenders(query.question):  # every lender the close matches name, not only the top sentences'
            said = " ".join(_text(s) for s in chosen)
            close = [s for s in ev.scored if s.score >= MIN_SCORE - LIST_MARGIN]
            have = {s.unit.id for s in chosen}
            chosen += [s for s in missing_names(query.question, said, close) if s.unit.id not in have]
        chosen.sort(key=lambda s: s.unit.start)
        parts.append(DocumentAnswer(ev.record.id, label(ev.record), tuple(_sentence(s, ev.record.id) for s in chosen)))
    return Answer(query.question, bool(parts), parts)


# -- the LLM backend ------------------------------------------------------------------------
ASK_REPLY_TOKENS = 400
SHOWN_MARGIN = 0.35  # lines shown to the model lie within this of the best


def llm_answer(query: Query, evidence: Sequence[DocumentEvidence], llm, history: Sequence[tuple[str, str]] = (),
               evidence_tokens: int | None = None) -> Answer:
    """The model answers from the question's best sentences (not whole chunks), numbered; each of its
    sentences must be supported by the lines it cites and keep the attribution of their figures. When it
    declines, its refusal stands unless the embedded backend finds an answer; when nothing it writes
    holds, the embedded answer stands. A list question gets every name it left out."""
    question = query.question
    floor = extractive_answer(query, evidence)
    docs = [e for e in evidence if e.scored][:5]
    shown = _shown(docs, evidence_tokens or AskSettings().evidence_tokens)
    if not shown:
        return Answer(question, False, [], backend="llm")
    declined, reply = _model_reply(llm, _ask_prompt(question, shown, history))
    kept, dropped = _grounded(reply, shown) if not declined else ([], [])
    if not kept:
        # the model declined, or nothing it wrote holds: the filing's own sentences, when they answer
        if floor.answered:
            floor.backend = "llm"
            floor.fallback = "the model declined" if declined else "no sentence of the model's reply was supported"
            floor.dropped = dropped
            return floor
        return Answer(question, False, [], backend="llm", dropped=dropped)
    said = " ".join(s.text for s in kept)
    on_show = [s for s, _ in shown]
    owner = {s.unit.id: e for s, e in shown}
    for s in missing_names(question, said, sorted(on_show, key=lambda x: -x.score)):
        kept.append(_sentence(s, owner[s.unit.id].record.id))
    parts = []
    for doc_id in dict.fromkeys(s.doc_id for s in kept):
        record = next(e.record for e in docs if e.record.id == doc_id)
        parts.append(DocumentAnswer(doc_id, label(record), tuple(s for s in kept if s.doc_id == doc_id)))
    text = " ".join(f"{s.text} [{i}]" for i, s in enumerate(kept, 1))
    return Answer(question, True, parts, backend="llm", text_override=text, dropped=dropped)


def _shown(docs: Sequence[DocumentEvidence], evidence_tokens: int) -> list[tuple[Scored, DocumentEvidence]]:
    """The lines the model is shown: the best sentences within ``evidence_tokens`` and SHOWN_MARGIN of the
    best, grouped by document in reading order."""
    from rag.tokens import count_tokens

    ranked = sorted(((s, e) for e in docs for s in e.scored), key=lambda x: -x[0].score)
    shown: list[tuple[Scored, DocumentEvidence]] = []
    used = 0
    top = ranked[0][0].score if ranked else 0.0
    for s, e in ranked:
        n = count_tokens(_text(s)) + 4
        if used + n > evidence_tokens or s.score < top - SHOWN_MARGIN:
            continue
        shown.append((s, e))
        used += n
    order = {id(e): i for i, e in enumerate(docs)}
    shown.sort(key=lambda x: (order[id(x[1])], x[0].unit.start))
    return shown


def _ask_prompt(question: str, shown: Sequence[tuple[Scored, DocumentEvidence]], history: Sequence[tuple[str, str]]) -> str:
    """The numbered lines under each document's label, the recent turns and the question."""
    from rag.prompts import quoted
    from rag.tokens import count_tokens

    blocks = []
    for i, (s, e) in enumerate(shown, 1):
        if i == 1 or shown[i - 2][1] is not e:
            blocks.append(f"{label(e.record)}:")
        blocks.append(f"[{i}] {quoted(_text(s))}")
    hist = ""
    for q, a in reversed(history):  # the most recent turns, as many as fit in 600 tokens
        turn = f"Earlier question: {q}\nEarlier answer: {a}\n"
        if count_tokens(hist + turn) > 600:
            break
        hist = turn + hist
    hint = LIST_HINT if _LIST_QUESTION.search(question) and re.search(r"\b\w{3,}s\b", question) else ""
    return ASK_TEMPLATE.format(excerpts="\n".join(blocks), history=hist, question=question, no_answer=NO_ANSWER, list_hint=hint)


def _model_reply(llm, prompt: str) -> tuple[bool, str]:
    """Whether the model declined, and its reply without the refusal line."""
    from rag.llm import ReplyError

    try:
        reply = llm.complete([{"role": "system", "content": ASK_SYSTEM}, {"role": "user", "content": prompt}], ASK_REPLY_TOKENS).text
    except ReplyError as exc:  # cut off: its whole sentences still answer; empty or filtered: no answer
        reply = re.sub(r"[^.!?\]]*$", "", exc.partial)
    reply = " ".join(reply.split())
    # a small model may list the answer and then add the refusal line too: only a bare refusal declines
    refusal = re.compile(re.escape(NO_ANSWER.rstrip(".")) + r"\.?", re.I)
    declined = not refusal.sub("", reply).strip(" .")
    return declined, refusal.sub("", reply).strip()


def _grounded(reply: str, shown: Sequence[tuple[Scored, DocumentEvidence]]) -> tuple[list[AnswerSentence], list[dict]]:
    """Write, then ground: each sentence of the reply against the lines it cites (uncited: the one line that
    supports it best), under grounding's rules for an answer; the kept sentences and the dropped ones."""
    from rag.grounding import Rules, reason, support_score
    from rag.mapreduce import parse_reply

    kept: list[AnswerSentence] = []
    dropped: list[dict] = []
    # "... facilities. [1], [2]": markers after the period, in parentheses or brackets, belong to the sentence
    for clean, cited in parse_reply(reply):
        lines = [shown[i - 1] for i in sorted(cited) if 0 < i <= len(shown)]
        if not lines:  # uncited: the line that supports it best, if one does
            best = max(shown, key=lambda x: support_score(clean, _text(x[0])), default=None)
            lines = [best] if best is not None and support_score(clean, _text(best[0])) >= 1 else []
        if not lines:
            dropped.append({"text": clean, "reason": "no line supports it"})
            continue
        record = lines[0][1].record
        # checked against the lines it cites: a sentence may join two of them
        rules = Rules(company=record.metadata.get("company", ""), attribution=True, fiscal_year=record.metadata.get("fiscal_year"))
        why = reason(clean, [_text(s) for s, _ in lines], rules)
        if why:
            dropped.append({"text": clean, "reason": why})
            continue
        s, e = lines[0]
        kept.append(AnswerSentence(clean, _sentence(s, e.record.id).citation, e.record.id, 1.0))
    return kept, dropped


_GENERIC_NAME_WORDS = {"corp", "corporation", "company", "companies", "inc", "incorporated", "industries", "holdings", "group",
                       "international", "stores", "communications", "technologies", "systems", "the", "and", "co"}


_LEGAL_WORDS = {"corp", "corporation", "company", "co", "inc", "incorporated", "ltd", "llc", "plc", "the", "of", "and"}


def company_words(record: DocumentRecord) -> set[str]:
    """The distinctive words of a document's company name ("fedex", "worthington", "tyson")."""
    said = words(record.metadata.get("company", ""))
    found = {w.strip("'-") for w in said if len(w) > 2 and w not in _GENERIC_NAME_WORDS}
    initials = "".join(w[0] for w in said if w not in _LEGAL_WORDS and w[0].isalpha())
    if len(initials) >= 2:  # "International Business Machines" is asked about as "IBM", "General Electric" as "GE"
        found.add(initials)
        whole = "".join(w[0] for w in said if w not in {"the", "of", "and"} and w[0].isalpha())
        if len(whole) > len(initials):  # "Renewable Energy Acquisition Corp." as "REAC"
            found.add(whole)
    parts = [w for w in said if w not in _LEGAL_WORDS]
    if len(parts) >= 2:  # "WAL MART STORES" is asked about as "Wal-Mart" or "Walmart"
        found.add(parts[0] + parts[1])
    return found


def _token_key(token: str) -> str:
    return re.sub(r"['’]s$|[^a-z0-9'-]", "", token.lower()).strip("'-")


def normalize_item(item: str | None) -> str | None:
    """'7', '1a', 'Item 7.' -> 'Item 7' / 'Item 1A'; 'Exhibit 13', 'EX-13' -> 'Exhibit 13' (the form chunks carry)."""
    if item is None:
        return None
    exhibit = re.fullmatch(r"\s*(?:exhibit|ex)[\s-]*0*(\d{1,3})(?:\.\w+)?\s*", item, re.I)
    if exhibit:
        return f"Exhibit {exhibit.group(1)}"
    m = re.fullmatch(r"\s*(?:item\s*)?(\d{1,2}[a-k]?)\s*\.?\s*", item, re.I)
    if not m:
        raise InputError(f"Item {item!r} is not an item of a filing; use a form like 'Item 7', '7', '1A' or 'Exhibit 13'.")
    return f"Item {m.group(1).upper()}"


# Up to AskSettings.read_whole documents, each is read whole (all its sentences scored), as it would be
# alone. Beyond it, one sentence query over all of them picks the AskSettings.corpus_documents to read: a
# filtered query costs ~85 ms at 100k vectors and ~580 ms at 1M (bench/bench_scale.py).
def _corpus_documents(store: ChromaStore, records: dict, query: Query, item: str | None, everything: bool, keep: int) -> list[str]:
    """The documents of a very large selection worth reading whole: one nearest-sentence query over all of
    them (no filter when the selection is the whole store), each document ranked by its best sentence."""
    found = store.query_sentences(query.vector.tolist(), None if everything else list(records), k=400, item=item)
    best: dict[str, float] = {}
    for unit, sim in found:
        if unit.doc_id in records:
            held = stems_of(unit.text)
            lexical = sum(1 for t in query.terms if t in held) / max(1, len(query.terms))
            best[unit.doc_id] = max(best.get(unit.doc_id, -1.0), sim + LEXICAL_WEIGHT * lexical)
    return sorted(best, key=lambda d: -best[d])[:keep]


def _capitalized(text: str) -> set[str]:
    """Only capitalized words name a company ("FedEx's", "Walt Disney", "Wal-Mart"); "foods" or "first" do not."""
    keys = {_token_key(t) for t in re.findall(r"\S+", text)[1:] if t[:1].isupper()}
    return keys | {k.replace("-", "") for k in keys} | {k.partition("-")[0] for k in keys}  # "Darden-brand"


def _lower_case_heads(text: str, records: Sequence[DocumentRecord], known: set[str]) -> set[str]:
    """In a question typed all in lower case ("how many shares did intel buy back"), capitals cannot tell the
    company from a word: its name's first word and initials still name it ("intel", "ibm"), its other words
    ("foods" of Tyson Foods) stay words."""
    if re.search(r"[A-Z]", text):
        return set()
    keys = {_token_key(t) for t in re.findall(r"\S+", text)}
    said = [[w for w in words(r.metadata.get("company", "")) if w != "the"] for r in records]
    heads = {ws[0].strip("'-") for ws in said if ws}
    spelled = {w for ws in said for w in ws}
    heads |= {w for w in known if len(w) <= 5 and w.isalpha() and w not in spelled}  # initials ("ibm", "reac")
    return keys & heads


def _company_word(token: str, names: set[str]) -> bool:
    key = _token_key(token)
    return key in names or key.replace("-", "") in names


def _in_longer_name(tokens: Sequence[str], i: int, names: set[str], own: set[str]) -> bool:
    """Whether the company's word at ``tokens[i]`` begins a longer name that is not the company's (``own``: the
    words of its full name): "Walmart U.S." (a segment), "Walt Disney World" (a resort), not "Tyson Foods" or "Apple's"."""
    j = i
    while j + 1 < len(tokens) and _company_word(tokens[j], names) and not re.search(r"['’]s\W*$|[,;:?!]$", tokens[j]):
        j += 1
    following = tokens[j] if j > i else ""
    return bool(following[:1].isupper() and _token_key(following) not in own | names and _token_key(following) not in _STOP)


def question_text(question: str, records: Sequence[DocumentRecord], history: Sequence[tuple[str, str]] = ()) -> tuple[str, frozenset[str]]:
    """The question as it is matched against these filings, and the stems its sayings explain."""
    text = question
    if history and len(question_terms(question)) <= 3:  # a short follow-up ("and in 2022?") borrows the last topic
        text = f"{history[-1][0]} {question}"
    # Inside a company's filings every sentence is about that company, so its name in the question
    # only adds noise to the match: drop it.
    first = re.findall(r"\S+", text)[:1]
    opening = {_token_key(first[0])} - _STOP if first and first[0][:1].isupper() else set()  # "Pericom has no fab of its own"
    known = set().union(*(company_words(r) for r in records))
    names = known & (_capitalized(text) | opening | _lower_case_heads(text, records, known))
    tokens = re.findall(r"\S+", text)
    own = {_token_key(w) for r in records for w in re.findall(r"\S+", r.metadata.get("company", ""))}
    kept = []
    for i, t in enumerate(tokens):
        head, _, rest = t.partition("-")
        if rest and _company_word(head, names) and not _company_word(t, names):
            kept.append(rest)  # "Darden-brand restaurants" are its brand restaurants
            continue
        if _company_word(t, names) and not _in_longer_name(tokens, i, names, own):
            if re.search(r"['’]s\W*$", t):
                kept.append("its")  # "Apple's restaurants" asks about its restaurants
            continue
        kept.append(t)
    text = " ".join(kept) or text
    # "Which of these companies ..." says who to ask, not what to look for
    text = re.sub(r"\b(?:of\s+)?(?:these|the|those)?\s*(?:companies|firms|filings|filers|registrants)\b", " ", text, flags=re.I).strip() or text
    text = re.sub(r"\b([A-Za-z]+)-wise\b", r"\1", text)  # "revenue-wise" is about revenue
    text = re.sub(r"\b(?:at|by|as\s+of)\s+the\s+end\s+of\b", "at", text, flags=re.I)  # a date, not "end production"
    # "FY2015", "FY 15", "FY'15" are the filing's "fiscal 2015"
    text = re.sub(r"\bFY\s?['’]?(\d{4}|\d{2})\b", lambda m: "fiscal " + (m.group(1) if len(m.group(1)) == 4 else _century(m.group(1))), text)
    text = short_years(text)
    said, explained = [], set()
    for saying in SAYINGS:
        for m in saying.pattern.finditer(text):
            said.append(saying.filing_words)
            explained |= {stem(w) for w in words(m.group(0))}
    if said:  # the filing's words for what the question says its own way
        text = f"{text} ({', '.join(dict.fromkeys(said))})"
    return text, frozenset(explained)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")
# "Dec 93", "June '97"; "May 15" is a day, and so is any number up to 31 without its apostrophe
_MONTH_YEAR = re.compile(r"\b(" + "|".join(f"{m}|{m[:3]}" for m in _MONTHS) + r"|Sept)\b\.?\s+(?:['’](\d{2})|(3[2-9]|[4-9]\d))\b(?![,:.]?\d)")


def _century(yy: str) -> str:
    return ("20" if int(yy) < 50 else "19") + yy


def short_years(text: str) -> str:
    """Years as users shorten them, as filings write them: "in '93" is "in 1993", "Dec 93" "December 1993",
    "YE 1993" and "FYE 1997" the year-end and fiscal year-end of those years."""
    text = _MONTH_YEAR.sub(lambda m: f"{next(x for x in _MONTHS if x.startswith(m.group(1).title()[:3]))} {_century(m.group(2) or m.group(3))}", text)
    text = re.sub(r"(?<![\w$'’])['’](\d{2})\b(?!['’\w])", lambda m: _century(m.group(1)), text)
    text = re.sub(r"\bFYE\b", "fiscal year end", text)
    return re.sub(r"\bYE\b", "year end", text)


def ask(store: ChromaStore, question: str, embedder, *, doc_ids: Sequence[str] = (), company: str | None = None, year: str | None = None,
        item: str | None = None, k: int = 8, llm=None, history: Sequence[tuple[str, str]] = (),
        options: AskSettings | None = None) -> Answer:
    """Answer ``question`` from the indexed filings selected by ids, company, year and item, read as ``options`` say.

    A model may be shown each document's best ``5 * k`` sentences (as many as fit its evidence budget)."""
    if not question.strip():
        raise InputError("The question is empty; ask something, e.g. rag ask \"Who are the largest customers?\".")
    item = normalize_item(item)
    records = {r.id: r for r in select_documents(store, doc_ids, company, year)}
    everything = not (doc_ids or company or year)  # every document of the store, until a name in the question narrows it
    tokens = _capitalized(question if not history else f"{history[-1][0]} {question}")
    if not doc_ids and not company and len(records) > 1:
        # "What was FedEx's revenue?" is about FedEx's filings: a company named in the question picks its documents.
        named = {d: r for d, r in records.items() if company_words(r) & tokens}
        if named:
            records, everything = named, False
    text, explained = question_text(question, list(records.values()), history)
    query = make_query(question, text, embedder.embed([text])[0], explained)
    per_doc = PER_DOCUMENT * 2 if asks_for_lenders(question) else PER_DOCUMENT  # a list is spread over the filing
    options = options or AskSettings()
    chosen = list(records) if len(records) <= options.read_whole else \
        _corpus_documents(store, records, query, item, everything, options.corpus_documents)
    evidence = []
    for doc_id in chosen:
        pool = sentence_pool(store, records[doc_id], embedder)
        scored = score_pool(query, pool, item)
        evidence.append(DocumentEvidence(records[doc_id], pool, scored[: 5 * k], answering(query, pool, scored, per_doc)))
    # documents that answer first, then by their best sentence
    evidence.sort(key=lambda e: (not e.answer, -e.best))
    if not any(e.scored for e in evidence):
        return Answer(question, False, [])
    if llm is not None:
        return llm_answer(query, evidence, llm, history, options.evidence_tokens)
    return extractive_answer(query, evidence)
