"""Stage 1 of a summary: every sentence of the filing is a candidate.

At ingest, the document's text (rebuilt from its chunks) is cut into sentences, and sentences
joined by "; " into their clauses; the ones that can stand in a summary are kept as
``SentenceUnit``s with their chunk, item and character span, beside the document's tables read
as sentences (``rag.tables``). They are embedded once and stored with the chunks, so a summary
scores the whole filing, not only what retrieval brought back.

What makes a span a candidate is decided here and only here: at least ``MIN_WORDS`` words, an
end of sentence, prose rather than a heading or a row of figures, not a fragment cut from the
sentence before it, and not text addressed to a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.sentences import looks_like_heading, sentence_spans
from ingest.types import Chunk, SentenceUnit
from rag.grounding import INSTRUCTION, addressed_to_model
from rag.rewrite import MIN_WORDS, PAGE_HEADER
from rag.text import FINITE, NUMBER, POINTER, STATEMENT_VERB, has_verb

MAX_DOLLAR_SIGNS = 6  # "$1 $2 $3 ..." is a row of a table that lost its layout


# Two scraps of a figure on lines of their own right before the text ("$\n600\nmillion\n2-year\n"): the
# sentence began lines earlier. One short line ("Fiscal 2025") is a heading.
_BROKEN_FIGURE = re.compile(r"(?:\A|\n)[^\n]{0,8}\n[^\n.!?:;]{0,6}(?:\$|\d|\b(?:million|billion|thousand)|-year|%)[ \t]*\n\s*\Z", re.I)

def _outside_parentheses(text: str, at: int) -> bool:
    head = text[:at]
    return head.count("(") <= head.count(")")



def clause_spans(text: str) -> list[tuple[int, int, int]]:
    """Sentence spans, with independent clauses joined by "; " as sentences of their own: each
    can be kept or dropped on its facts ("revenues rose 8% to $48.8 billion; net income ...").
    The third value is the clause's index within its sentence, -1 for a whole sentence."""
    out = []
    for a, b in sentence_spans(text):
        raw = text[a:b]
        parts = [m.start() for m in re.finditer(r";\s+(?=[a-zA-Z$])", raw) if _outside_parentheses(raw, m.start())]
        pieces, start = [], 0
        for p in parts:
            pieces.append((start, p + 1))
            start = p + 1 + len(raw[p + 1 :]) - len(raw[p + 1 :].lstrip())
            conj = re.match(r"(?:and|or|but|while)\s+", raw[start:])  # "; and diluted EPS rose": the clause without its joint
            start += conj.end() if conj else 0
        pieces.append((start, len(raw)))
        if len(pieces) > 1 and all(len(raw[x:y].split()) >= MIN_WORDS for x, y in pieces):
            out.extend((a + x, a + y, i) for i, (x, y) in enumerate(pieces))
        else:
            joint = re.search(r";\s+(?:and|or)$", raw)  # a list item's "...; and": the item without its joint
            out.append((a, a + joint.start() + 1 if joint else b, -1))
    return out


def rebuilt_text(chunks: Sequence[Chunk]) -> str:
    """The document's text as its chunks hold it (overlaps merged; gaps as newlines), so that offsets
    match the chunks' spans."""
    parts: list[str] = []
    covered = 0
    for chunk in sorted(chunks, key=lambda c: c.start):
        if chunk.end <= covered:
            continue
        if chunk.start > covered:
            parts.append("\n" * (chunk.start - covered))
            covered = chunk.start
        parts.append(chunk.text[covered - chunk.start :])
        covered = chunk.end
    return "".join(parts)


CANDIDATES_VERSION = "7"  # raise when what is a candidate, or how a table row reads, changes: a store's sentences of
# another version are made again from its chunks at the next summary, embedding only the sentences that changed
# (2: run-in headings, verbless list items and oldest-first year columns; 3 was a hard-wrap join, tried and
# reverted, so stores may hold it; 4 and 5: a header whose first cell is the scale, "Millions | 2024 | 2023" or
# "Millions, Except Ratios | 2024", is the unit; 6: someone's quoted words are not the filing's statements, and a
# span that closes a parenthesis it never opened is the tail of a cut sentence; 7: an item of a bulleted list that
# ends at its ";" is a sentence)

def sentences_current(metadata: dict, stored: int | None, found: int) -> bool:
    """Whether a document's stored sentences can be read as they are: all there (``found`` of the ``stored``
    its record counts) and made by this candidates version. Otherwise they are made again from the chunks."""
    return stored is not None and found == stored and metadata.get("candidates", "1") == CANDIDATES_VERSION


_AUXILIARY = re.compile(r"\b(?:is|are|was|were|has|have|had|will|would|may|might|can|could|should|must|does|did)\b", re.I)


_ENUMERATOR = re.compile(r"(?:(?<=[\s;:,])|^)\W?(?:\d{1,2}|[a-zA-Z]|[ivxIVX]{1,4})\)")  # "1) grocery, 2) ...", "(iii)"


def opens_inside_parentheses(raw: str) -> bool:
    """Whether a span closes a parenthesis it never opened ("Circuit) affirmed the decision ...", "%) of the
    outstanding shares ..."): the sentence split cut inside a parenthesis, and this is its tail. Enumerators
    ("1) grocery, 2) convenience stores") close nothing."""
    if ")" not in raw:
        return False  # most spans: no regular expression run for them at ingest
    depth = 0
    for ch in _ENUMERATOR.sub(" ", raw):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return True
    return False


_BULLETS = "•·▪●-–—*o"


def list_item(text: str, a: int) -> bool:
    """Whether the span at ``a`` is an item of a bulleted list: its line opens with a bullet, or the line
    before is a bullet alone ("•\nTotal revenue increased by $199.8 million to $1,318.7 million;")."""
    start = text.rfind("\n", 0, a) + 1
    lead = text[start:a].strip() or text[a : a + 1]
    if lead and all(c in _BULLETS for c in lead) and lead != "o" or text[a : a + 1] in "•·▪●":
        return True
    before = text[text.rfind("\n", 0, max(0, start - 1)) + 1 : max(0, start - 1)].strip()
    return start > 0 and bool(before) and len(before) <= 2 and all(c in _BULLETS for c in before)


def is_candidate(text: str, a: int, b: int, clause: int) -> bool:
    """Whether ``text[a:b]`` can stand in a summary as a sentence of its own."""
    raw = text[a:b]
    if len(raw.split()) < MIN_WORDS or raw.count("$") > MAX_DOLLAR_SIGNS or not re.search(r"[a-z]", raw):
        return False
    # a sentence ends as one; a clause, or an item of a bulleted list, may end at its ";" (MD&A's key figures are
    # often such a list: "Total revenue increased by $199.8 million to $1,318.7 million;")
    item = clause < 0 and raw.rstrip().endswith(";") and list_item(text, a)
    if not re.search(r"[.!?;][\"”’)]?$" if clause >= 0 or item else r"[.!?][\"”’)]?$", raw.rstrip()):
        return False  # headings and table rows are not sentences
    if len(NUMBER.findall(raw)) > 0.4 * len(raw.split()):
        return False  # a row of figures with a period is still a table row
    if looks_like_heading(raw) and not STATEMENT_VERB.search(raw):
        return False
    if _BROKEN_FIGURE.search(text, max(0, a - 48), a):
        return False  # the tail of a sentence whose figure the extraction broke over lines
    header = PAGE_HEADER.match(raw)
    if header and raw[header.end()].islower():
        return False  # the rest of a sentence from the page before
    if clause <= 0 and re.match(r"^[\s•·\-–—*▪●§]*(?:[oO]\s+)?(?:[a-z]|(?:And|Or|But|Nor)\b)", raw):
        return False  # a list fragment without its lead-in ("working with customers to ...")
    if POINTER.search(raw):
        return False  # "The table below presents ...": points at what a summary does not hold
    if opens_inside_parentheses(raw):
        return False
    verb = has_verb(raw)
    if clause >= 0 and not verb and not FINITE.search(raw) or item and not verb:
        return False  # one item of a "; " list ("(10) providers of virtual or in-person healthcare services."): no statement
    lead = text[text.rfind("\n", 0, a) + 1 : a].strip()
    line_end = text.find("\n", b)
    if not verb and not _AUXILIARY.search(raw) and len(raw.split()) <= 8 and not lead \
            and text[b : line_end if line_end >= 0 else len(text)].strip():
        return False  # "Net sales by channel and geography. Retail grocery chains accounted for ...": a run-in heading
    if lead.endswith(".") and len(lead.split()) <= 5 and looks_like_heading(lead) and not verb:
        return False  # "Harborview Kitchen. Our flagship brand of ...": a run-in heading's noun phrase, no statement
    return not addressed_to_model(text, a, b)


# Someone quoted at length: 'ELFA President and CEO Ralph Petta, said, "With another strong year end, ...'. What
# follows is the speaker's, to the end of the paragraph (extraction often loses the closing quote), not the
# filing's: printed in the third person, the speaker's "we" would become the company.
_QUOTES = re.compile(r"\b(?:said|says|stated|commented|noted|added|remarked|explained|observed)\s*[,:]?\s*[\"“]")  # not "notes, \"the Notes\""


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Where a paragraph quotes someone: from the words that introduce the quotation to the paragraph's end."""
    spans = []
    for m in _QUOTES.finditer(text):
        end = text.find("\n", m.end())
        spans.append((m.start(), end if end >= 0 else len(text)))
    return spans


def document_sentences(doc_id: str, chunks: Sequence[Chunk]) -> list[SentenceUnit]:
    """A document's candidate sentences and table sentences, in reading order."""
    from ingest.sections import chunk_lines
    from rag.tables import locate, table_sentences

    ordered = sorted(chunks, key=lambda c: c.start)
    if not ordered:
        return []
    text = rebuilt_text(ordered)
    units: list[SentenceUnit] = []
    ci = 0
    previous = -1  # the end of the last span that became a unit, when it was the span right before this one
    quoted = quoted_spans(text)
    for a, b, clause in clause_spans(text):
        follows = previous >= 0 and "\n" not in text[previous:a]
        previous = -1
        if not is_candidate(text, a, b, clause) or any(a < end and start < b for start, end in quoted):
            continue
        while ci + 1 < len(ordered) and ordered[ci].end < b:
            ci += 1  # the first chunk that holds the whole span (chunks overlap; a sentence is never cut)
        chunk = ordered[ci]
        if not (chunk.start <= a and b <= chunk.end):
            continue  # a run-on sentence split across chunks at a word boundary: no chunk holds it whole
        units.append(SentenceUnit("", doc_id, text[a:b], chunk.id, chunk.item, a, b, "clause" if clause >= 0 else "sentence",
                                  follows=follows))
        previous = b
    for t in locate(table_sentences(chunk_lines(ordered)), ordered):
        if t.chunk_id and not INSTRUCTION.search(t.text):
            units.append(SentenceUnit("", doc_id, t.text, t.chunk_id, t.item, t.start, t.end, "table", t.also))
    units.sort(key=lambda u: (u.start, u.kind == "table"))
    return [SentenceUnit(f"{doc_id}#s{i:05d}", *u.as_tuple()[1:]) for i, u in enumerate(units)]


def printed(unit: SentenceUnit, fiscal_year: int | None) -> str | None:
    """The sentence as a summary would print it (``rag.rewrite``: trimmed, in the third person), or None
    when rewriting leaves a fragment."""
    from rag.rewrite import compress, latest_only, third_person, tidy, trim

    if unit.kind == "table":
        return unit.text
    text = third_person(trim(compress(latest_only(tidy(unit.text))), fiscal_year))
    if len(text.split()) < MIN_WORDS or not re.match(r"[\"“(]?[A-Z0-9$]", text):
        return None
    return text
