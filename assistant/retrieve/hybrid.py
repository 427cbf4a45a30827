"""Hybrid retrieval: jieba BM25 + dense FAISS, fused (weighted or RRF), scoped by the question.

The relevance signal (`SearchResult.relevant`) says whether anything in the corpus answers the
question; the answer step refuses when it is False. How it is decided is in `relevance`.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from assistant.config import Settings
from assistant.index.backend import FaissDense, open_backend
from assistant.index.store import ClauseIndex
from assistant.ingest.structure import Clause
from assistant.query.homophones import TermSpeller
from assistant.query.understand import Query, QueryUnderstanding
from assistant.query.scope import Scope
from assistant.ingest.searchkey import search_key
from assistant.index.key_grams import KeyGrams
from assistant.index.lexical import build_lexical, tokenizer_for
from assistant.index.segmentation import field_terms

# bm25s logs every index build at DEBUG on its own logger; the app's console is for people.
logging.getLogger("bm25s").setLevel(logging.WARNING)


@dataclass
class Hit:
    clause_id: str
    doc_id: str
    score: float                 # fused
    bm25: float
    dense: float
    bm25_rank: int | None
    dense_rank: int | None
    clause: Clause
    named: bool = False          # the question names this clause ("第50项")

    def to_dict(self) -> dict:
        return {"clause_id": self.clause_id, "doc_id": self.doc_id, "score": round(self.score, 5),
                "bm25": round(self.bm25, 4), "dense": round(self.dense, 4),
                "heading_path": list(self.clause.heading_path), "text": self.clause.text}


@dataclass
class DenseLeg:
    """The dense leg of one search: the nearest clauses (positions, best first) and their cosines, the scope's
    lowest and highest cosine, and `lookup` for the cosine of any other clause (read back from FAISS)."""
    order: list[int]
    known: dict[int, float]
    low: float
    high: float
    lookup: Callable[[list[int]], list[float]]

    def scores_of(self, positions: list[int]) -> dict[int, float]:
        missing = [i for i in positions if i not in self.known]
        if missing:
            self.known.update(zip(missing, self.lookup(missing)))
        return {i: self.known[i] for i in positions}

    def score(self, position: int) -> float:
        return self.scores_of([position])[position]


@dataclass
class SearchResult:
    question: str
    hits: list[Hit]
    scope: Scope
    relevant: bool
    coverage: float              # share of the question's content words found in the best hits
    reason: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    query: Query | None = None   # the understood question this result answers


# Relevance gate (thresholds: settings.retrieval.min_coverage, settings.retrieval.paraphrase_min_dense, checked on the blind
# dev split by scripts/fit_thresholds.py). Measured on eval/questions.jsonl (README, "How refusal is decided"): the
# e5 cosine of the best clause is 0.84-0.95 for answerable and off-topic questions alike, so it
# cannot gate alone. What separates them is whether the question's content words occur in the
# best clauses (coverage), with the cosine as a tie-breaker for colloquial paraphrases, whose
# words are not the documents' words but whose meaning is close. Questions about a detail the
# documents do not state ("工资标准是多少") pass this gate and are caught by the answer step,
# which checks that the asked-for detail is in the cited clause.
_ROW_REFERENCE = re.compile(r"第\s*(\d{1,3})\s*(?:项|行|条任务)")


class HybridRetriever:
    """Holds the BM25 model and the dense retriever for one loaded index."""

    def __init__(self, index: ClauseIndex, settings: Settings) -> None:
        self.index = index
        self.settings = settings
        self.documents = index.documents
        self.tokenizer = tokenizer_for(self.documents.values())
        self.ids = list(index.clauses)
        self.position = {clause_id: i for i, clause_id in enumerate(self.ids)}
        # Computed by the build and saved with it (clause_file.py): at 100k clauses the keys and the speller's
        # jieba pass over every clause took most of a minute of every start.
        terms = index.terms
        self.keys = terms.keys if terms is not None else [search_key(index.clauses[i].index_text) for i in self.ids]
        # Saved with the build; an index built before that gets its BM25 here, as it always did.
        self.bm25 = index.bm25 or build_lexical([index.clauses[i].index_text for i in self.ids], self.tokenizer)
        # FAISS + bm25s, or Milvus (settings.index.vector_store): the two legs, whichever store answers them.
        self.dense_search, self.lexical = open_backend(index, settings, self.bm25, self.tokenizer)
        self._by_doc: dict[str, list[Clause]] = {}
        for clause in index.clauses.values():
            self._by_doc.setdefault(clause.doc_id, []).append(clause)
        self._doc_positions = {doc_id: np.array([self.position[c.id] for c in clauses], dtype=np.int64)
                               for doc_id, clauses in self._by_doc.items()}
        self.understanding = QueryUnderstanding(self.documents, self.tokenizer, home_of=self.documents_for,
                                                carry_min_hits=settings.retrieval.topic_carry_min_hits,
                                                speller=self._speller() if settings.retrieval.correct_misheard_terms else None)
        self.embed_model = index.embed_model
        self._query_vectors: dict[str, np.ndarray] = {}
        self._weights: dict[str, float] = {}
        self._grams: KeyGrams | None = None

    def _speller(self) -> TermSpeller:
        """The corpus's own words (jieba's segmentation of every clause, saved by the build) for reading
        misheard terms."""
        terms = self.index.terms
        words = set(terms.words) if terms is not None else \
            {w for i in self.ids for w in self.tokenizer.words(self.index.clauses[i].text)}
        return TermSpeller(words, self.tokenizer.frequency, self.tokenizer.segment, field_terms())

    def documents_for(self, question: str) -> list[str]:
        """The documents of the best clauses for `question` standing alone, best first."""
        return [h.doc_id for h in self.search(question, k=self.settings.retrieval.top_k).hits]

    def clauses_of(self, doc_id: str) -> list[Clause]:
        """One document's clauses in document order."""
        return self._by_doc.get(doc_id, [])

    def hit_for(self, clause_id: str) -> Hit:
        """A clause as a hit of its own (cited because the question names it, not for its score)."""
        clause = self.index.clauses[clause_id]
        return Hit(clause_id=clause_id, doc_id=clause.doc_id, score=0.0, bm25=0.0, dense=0.0,
                   bm25_rank=None, dense_rank=None, clause=clause, named=True)

    def content_words(self, question: str, scope: Scope) -> list[str]:
        """The question's words that must be found in an answer (see QueryUnderstanding)."""
        return self.understanding.content_words(question, scope)

    def word_weight(self, word: str) -> float:
        """Inverse clause frequency: "政务公开" is in most clauses and says little; "经费" says a lot."""
        key = search_key(word)
        if key not in self._weights:
            self._weights[key] = math.log((len(self.keys) + 1) / (self._clauses_holding(key) + 0.5))
        return self._weights[key]

    def _clauses_holding(self, key: str) -> int:
        """How many clauses' search keys hold `key` (key_grams.py: postings saved by the build, or made here
        for an index given without them)."""
        if self._grams is None:
            self._grams = self.index.grams or KeyGrams.from_keys(self.keys)
        return self._grams.clauses_holding(key)

    def coverage(self, words: list[str], hits: list[Hit], *, weighted: bool = False) -> float:
        """Share of the question's words found in the hits (by inverse frequency if `weighted`)."""
        if not words:
            return 0.0
        text = "".join(self.keys[self.position[h.clause_id]] for h in hits)
        weight = self.word_weight if weighted else (lambda w: 1.0)
        total = sum(weight(w) for w in words) or 1.0
        return sum(weight(w) for w in words if search_key(w) in text) / total

    def search(self, question: str | Query, *, doc_filter: str | None = None, k: int | None = None,
               exclude_docs: set[str] | None = None) -> SearchResult:
        """Rank clauses for an understood `Query` (a plain string is understood first, standing
        alone). `exclude_docs` searches the rest of the corpus instead of the question's own scope
        (to say where else a detail is stated)."""
        k = k or self.settings.retrieval.top_k
        t0 = time.perf_counter()
        query = question if isinstance(question, Query) else self.understanding.understand(question, None, doc_filter)
        question = query.rewrite
        scope = query.scope
        allowed = set(scope.doc_ids)
        if exclude_docs:
            allowed = set(self.documents) - exclude_docs
            scope = Scope()

        tokens = query.search_tokens if not exclude_docs else self.tokenizer.tokens(question)
        # Thesaurus terms and the asker's story, at a discount: not the words of what is asked.
        extra = self.tokenizer.tokens(" ".join(query.expansions)) + (query.story_tokens if not exclude_docs else [])
        n = self.settings.retrieval.candidate_k
        dense = self.dense_leg(question, sorted(allowed) if allowed else None)
        t1 = time.perf_counter()
        # The dense candidates go along: a store that scores only its top candidates (Milvus) scores them too.
        bm25_scores = self.lexical.scores(tokens, extra, sorted(allowed) if allowed else None,
                                          [self.ids[i] for i in dense.order[:n]])
        t2 = time.perf_counter()

        bm25_order = self._bm25_order(bm25_scores, sorted(allowed) if allowed else None, n)
        bm25_rank = {i: r for r, i in enumerate(bm25_order[:n], 1)}
        dense_rank = {i: r for r, i in enumerate(dense.order[:n], 1)}
        lexical_share = self._lexical_share(query.content_words, bm25_order[:1])
        pool = sorted(set(bm25_rank) | set(dense_rank))
        top_bm25 = float(bm25_scores[bm25_order[0]]) if bm25_order else 0.0
        fused = self._fuse(pool, bm25_scores, dense.scores_of(pool), bm25_rank, dense_rank, dense.low, dense.high,
                           top_bm25, lexical_share)
        ranked = sorted(fused, key=lambda i: (-fused[i], -dense.score(i)))
        ranked, named = self._rows_named_first(question, ranked, allowed)
        hits = [Hit(clause_id=self.ids[i], doc_id=self.index.clauses[self.ids[i]].doc_id, score=fused.get(i, 0.0),
                    bm25=float(bm25_scores[i]), dense=dense.score(i), bm25_rank=bm25_rank.get(i),
                    dense_rank=dense_rank.get(i), clause=self.index.clauses[self.ids[i]], named=i in named)
                for i in ranked[:max(k, 1)]]
        relevant, coverage, reason = self.relevance(query, scope, hits)
        t3 = time.perf_counter()
        return SearchResult(question=question, hits=hits, scope=scope, relevant=relevant, coverage=coverage,
                            reason=reason, timings_ms={"bm25": (t2 - t1) * 1000, "dense": (t1 - t0) * 1000,
                                                       "total": (t3 - t0) * 1000}, query=query)

    def _positions(self, doc_ids: list[str] | None) -> np.ndarray:
        """Positions of the clauses of `doc_ids` (every clause when None), in index order."""
        if doc_ids is None:
            return np.arange(len(self.ids))
        parts = [self._doc_positions[d] for d in doc_ids if d in self._doc_positions]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def _bm25_order(self, scores: np.ndarray, doc_ids: list[str] | None, n: int) -> list[int]:
        """The best `n` positions with a BM25 score, best first (ties in index order), within `doc_ids`.
        Only those `n` are sorted: every clause with a score at least the n-th best's, which is exactly the
        head of the full stable sort (ties at the n-th score kept in index order), without ordering the tens
        of thousands of clauses a common word scores at 100,000 clauses."""
        positions = self._positions(doc_ids)
        values = scores[positions] if doc_ids is not None else scores
        held = np.flatnonzero(values > 0)
        if n < len(held):
            nth = np.partition(values[held], len(held) - n)[len(held) - n]   # the n-th best score
            held = held[values[held] >= nth]
        order = np.argsort(-values[held], kind="stable")[:n]
        return [int(i) for i in positions[held[order]]]

    def _rows_named_first(self, question: str, ranked: list[int], allowed: set[str]) -> tuple[list[int], set[int]]:
        """"分解表第50项" names a task-table row: that row leads, whatever the scores say."""
        numbers = {int(n) for n in _ROW_REFERENCE.findall(question)}
        if not numbers:
            return ranked, set()
        named = [int(i) for i in self._positions(sorted(allowed) if allowed else None)
                 if self.index.clauses[self.ids[i]].row in numbers - {0}]
        return named + [i for i in ranked if i not in named], set(named)

    def query_vector(self, question: str) -> np.ndarray:
        if question not in self._query_vectors:  # a question is often searched twice (scope, elsewhere)
            if len(self._query_vectors) > 256:
                self._query_vectors.clear()
            self._query_vectors[question] = np.asarray(self.embed_model.get_query_embedding(question), dtype="float32")
        return self._query_vectors[question]

    def dense_leg(self, question: str, doc_ids: list[str] | None = None) -> DenseLeg:
        """The question's nearest clauses (within `doc_ids`), asked of FAISS for the top candidate_k only,
        with the lowest cosine among them too (for min-max fusion); any other clause's cosine on demand."""
        vector = self.query_vector(question)
        store = self.dense_search
        k = self.settings.retrieval.candidate_k
        if isinstance(store, FaissDense):   # both ends from one scan (see FaissDense.extremes)
            top, lowest = store.extremes(vector, k, doc_ids)
        else:
            least = store.nearest(-vector, 1, doc_ids)
            top, lowest = store.nearest(vector, k, doc_ids), (-least[0][1] if least else None)
        order = [self.position[node_id] for node_id, _ in top]
        known = {self.position[node_id]: score for node_id, score in top}
        high = top[0][1] if top else 0.0
        low = lowest if lowest is not None else 0.0
        return DenseLeg(order=order, known=known, low=low, high=high,
                        lookup=lambda positions: store.similarity(vector, [self.ids[i] for i in positions]))

    def _lexical_share(self, words: list[str], best: list[int]) -> float:
        """How much of the question (by inverse frequency) the best BM25 clause holds: 1.0 when it has
        every content word, little when it matched only common ones ("发布", "工作") of a paraphrase."""
        if not self.settings.retrieval.fusion_lexical_confidence or not words or not best:
            return 1.0
        key = self.keys[best[0]]
        total = sum(self.word_weight(w) for w in words) or 1.0
        return sum(self.word_weight(w) for w in words if search_key(w) in key) / total

    def _fuse(self, pool: list[int], bm25_scores: np.ndarray, dense_scores: dict[int, float],
              bm25_rank: dict[int, int], dense_rank: dict[int, int], low: float, high: float, top_bm25: float,
              lexical_share: float = 1.0) -> dict[int, float]:
        """Combine the legs over the union of their candidates. Weighted min-max fusion keeps a strong
        single-leg match (a rare term only BM25 sees) that reciprocal-rank fusion would bury; both are
        measured in `assistant bench retrieval`. `low`/`high` are the lowest and highest cosine of the
        scope's clauses, `top_bm25` its best BM25 score."""
        if self.settings.retrieval.fusion == "rrf":
            fused: dict[int, float] = {}
            for ranks in (bm25_rank, dense_rank):
                for i, r in ranks.items():
                    fused[i] = fused.get(i, 0.0) + 1.0 / (self.settings.retrieval.rrf_k + r)
            return fused
        if not pool:
            return {}
        top_bm25 = top_bm25 or 1.0
        spread = (high - low) or 1.0
        # Min-max scaling gives the best BM25 clause full weight however little of the question it
        # matched; the lexical leg speaks with the confidence its best match earns.
        floor = self.settings.retrieval.lexical_confidence_floor
        alpha = self.settings.retrieval.fusion_alpha * (floor + (1 - floor) * lexical_share)
        return {i: float(alpha * float(bm25_scores[i]) / top_bm25 + (1 - alpha) * (dense_scores[i] - low) / spread)
                for i in pool}

    def relevance(self, query: Query, scope: Scope, hits: list[Hit]) -> tuple[bool, float, str]:
        if not hits:
            return False, 0.0, "no clause matched"
        if not scope.covered:
            missing = scope.unknown_places + [f"{y}年" for y in scope.unknown_years]
            return False, 0.0, f"not covered by the corpus: {'、'.join(map(str, missing))}"
        words = query.content_words
        coverage = self.coverage(words, hits[:3])
        best_dense = max(h.dense for h in hits[:3])
        if coverage == 0:
            return False, coverage, f"none of the question's words occur in the documents ({'、'.join(words)})"
        if coverage < self.settings.retrieval.min_coverage and best_dense < self.settings.retrieval.paraphrase_min_dense:
            return False, coverage, (f"only {coverage:.0%} of the question's words found and best similarity "
                                     f"{best_dense:.3f} < {self.settings.retrieval.paraphrase_min_dense}")
        return True, coverage, "ok"
