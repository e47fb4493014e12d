"""Per-facet retrieval: dense queries against one document, fused with lexical matching.

Each facet runs every one of its phrasings as a vector query restricted to the document
(a metadata filter), and a BM25 ranking of the document's chunks on the facet's key terms.
The rankings are fused with reciprocal-rank fusion, nudged by the facet's preferred 10-K items,
and near-duplicate chunks (overlapping neighbours) are dropped so the evidence is diverse.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence

from ingest.types import Chunk
from queries.profile import Facet, Profile
from rag.text import RRF_K, overlap, rank_fusion, words
from rag.types import FacetEvidence, ScoredChunk


class LexicalIndex:
    """BM25 over a document's chunks (k1=1.2, b=0.75); prefix terms like ``manufactur`` match words.

    Each word keeps the chunks it occurs in (its postings), and a prefix finds its words in a sorted list,
    so a term costs the chunks that hold it, not a pass over every chunk and word."""

    def __init__(self, chunks: Sequence[Chunk]):
        self.chunks = list(chunks)
        self.tfs = [Counter(words(c.text)) for c in self.chunks]
        self.lengths = [sum(tf.values()) for tf in self.tfs]
        self.avg = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        self.postings: dict[str, list[tuple[int, int]]] = {}  # word -> (chunk, count), chunks in order
        for i, tf in enumerate(self.tfs):
            for w, f in tf.items():
                self.postings.setdefault(w, []).append((i, f))
        self.df = {w: len(p) for w, p in self.postings.items()}  # in the order words are first met
        self._rank = {w: r for r, w in enumerate(self.df)}
        self._sorted = sorted(self.df)
        self._lowered: list[str] | None = None

    def _expand(self, term: str) -> list[str]:
        """The words a term stands for: itself when it is a phrase, else the words it begins, in the order they were first met."""
        if " " in term:
            return [term]
        at = bisect.bisect_left(self._sorted, term)
        found = []
        while at < len(self._sorted) and self._sorted[at].startswith(term):
            found.append(self._sorted[at])
            at += 1
        return sorted(found, key=self._rank.__getitem__) or [term]

    def scores(self, terms: Sequence[str]) -> list[float]:
        n = len(self.chunks)
        out = [0.0] * n
        for term in terms:
            if " " in term:  # a phrase: count occurrences, idf from chunk frequency
                if self._lowered is None:
                    self._lowered = [c.text.lower() for c in self.chunks]
                hits = [text.count(term) for text in self._lowered]
                df = sum(1 for h in hits if h)
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                for i, h in enumerate(hits):
                    if h:
                        out[i] += idf * (h * 2.2) / (h + 1.2 * (0.25 + 0.75 * self.lengths[i] / self.avg))
                continue
            for word in self._expand(term):
                found = self.postings.get(word)
                if not found:
                    continue
                idf = math.log(1 + (n - len(found) + 0.5) / (len(found) + 0.5))
                for i, f in found:
                    out[i] += idf * (f * 2.2) / (f + 1.2 * (0.25 + 0.75 * self.lengths[i] / self.avg))
        return out


def item_prior(item: str | None, facet: Facet) -> float:
    """A small bonus for the facet's preferred items; risk factors are speculative, so a malus.

    ``facet`` is read for the filing's form (``Profile.for_form``): a 20-F's Item 5 weighs as a 10-K's Item 7."""
    if item and item in facet.items:
        rank = facet.item_ranks.get(item, facet.items.index(item)) if facet.item_ranks else facet.items.index(item)
        return 0.6 / RRF_K * (1.0 - 0.25 * rank)
    if item and item in facet.avoid_items:
        return -0.5 / RRF_K
    return 0.0


def fuse(
    facet: Facet,
    dense: Sequence[Sequence[tuple[str, float]]],
    lexical: Sequence[float],
    chunks_by_id: dict[str, Chunk],
    k: int,
) -> FacetEvidence:
    """Reciprocal-rank fusion of several dense rankings and one lexical ranking, with MMR-style de-duplication."""
    order = sorted(range(len(lexical)), key=lambda i: -lexical[i])
    ids = list(chunks_by_id)
    lexical_ranking = [ids[i] for i in order[:50] if lexical[i] > 0]  # best first: the positive scores lead
    # key terms weigh as 1.5 queries
    scores = rank_fusion([*(([cid for cid, _sim in ranking], 1.0) for ranking in dense), (lexical_ranking, 1.5)])
    for cid in scores:
        scores[cid] += item_prior(chunks_by_id[cid].item, facet)
    return FacetEvidence(facet, tuple(mmr(scores, chunks_by_id, k)))


MMR_LAMBDA = 0.85  # relevance against novelty; 1.0 is plain ranking


def mmr(scores: dict[str, float], chunks_by_id: dict[str, Chunk], k: int, pool: int = 60) -> list[ScoredChunk]:
    """Maximal marginal relevance over the best ``pool`` chunks, so the evidence is not five times one fact.

    Similarity between chunks is the overlap of their word sets; an overlapping neighbour (over 80%
    shared words, as chunk overlap produces) is skipped outright.
    """
    ranked = sorted(scores, key=lambda c: -scores[c])[:pool]
    if not ranked:
        return []
    top, low = scores[ranked[0]], scores[ranked[-1]]
    span = (top - low) or 1.0
    rel = {c: (scores[c] - low) / span for c in ranked}
    bags = {c: set(words(chunks_by_id[c].text)) for c in ranked}
    picked: list[str] = []
    nearest = dict.fromkeys(ranked, 0.0)  # each chunk's highest similarity to any picked chunk
    while ranked and len(picked) < k:
        best, best_value = None, -1e9
        for c in ranked:
            if nearest[c] > 0.8:
                continue
            value = MMR_LAMBDA * rel[c] - (1 - MMR_LAMBDA) * nearest[c]
            if value > best_value:
                best, best_value = c, value
        if best is None:
            break
        picked.append(best)
        ranked.remove(best)
        for c in ranked:  # only the new pick can raise a chunk's similarity
            sim = overlap(bags[c], bags[best])
            if sim > nearest[c]:
                nearest[c] = sim
    return [ScoredChunk(chunks_by_id[c], scores[c], i) for i, c in enumerate(picked)]


def retrieve(
    profile: Profile,
    chunks: Sequence[Chunk],
    dense_search,
    k: int = 8,
    fetch: int = 20,
) -> list[FacetEvidence]:
    """Evidence for every facet of ``profile``.

    ``dense_search(queries, fetch)`` returns, per query, ``(chunk_id, similarity)`` best first; it is
    the vector store restricted to this document. ``chunks`` are all the document's chunks.
    """
    profile = profile.for_form(chunks[0].metadata.get("form") if chunks else None)  # a 20-F's items are not a 10-K's
    by_id = {c.id: c for c in chunks}
    lex = LexicalIndex(chunks)
    evidence = []
    all_queries = [q for f in profile.facets for q in f.queries]
    rankings = dense_search(all_queries, min(fetch, len(chunks))) if chunks else [[] for _ in all_queries]
    pos = 0
    for facet in profile.facets:
        dense = rankings[pos : pos + len(facet.queries)]
        pos += len(facet.queries)
        dense = [[(cid, s) for cid, s in r if cid in by_id] for r in dense]
        lexical = lex.scores(facet.key_terms) if facet.key_terms else [0.0] * len(chunks)
        evidence.append(expand_neighbors(fuse(facet, dense, lexical, by_id, k), chunks, NEIGHBOURS_OF_TOP))
    return evidence


NEIGHBOURS_OF_TOP = 3


def expand_neighbors(ev: FacetEvidence, chunks: Sequence[Chunk], top: int) -> FacetEvidence:
    """Add the chunks just before and after the ``top`` best ones (same item), ranked after them.

    A fact often straddles a boundary ("...the following customers:" | the list), and a strong chunk's
    neighbours are about the same thing more often than a weak match elsewhere.
    """
    if top <= 0 or not ev.chunks:
        return ev
    by_index = {c.index: c for c in chunks}
    have = {sc.chunk.id for sc in ev.chunks}
    extra = []
    floor = min(sc.score for sc in ev.chunks)
    for sc in ev.chunks[:top]:
        for j in (sc.chunk.index - 1, sc.chunk.index + 1):
            n = by_index.get(j)
            if n is not None and n.id not in have and n.item == sc.chunk.item:
                have.add(n.id)
                extra.append(n)
    ranked = list(ev.chunks) + [ScoredChunk(n, floor * 0.99, len(ev.chunks) + i) for i, n in enumerate(extra)]
    return FacetEvidence(ev.facet, tuple(ranked))
