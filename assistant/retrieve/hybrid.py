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

import numpy as np
from llama_index.core.vector_stores.types import VectorStoreQuery

from assistant.config import Settings
from assistant.index.store import ClauseIndex
from assistant.query.understand import Query, QueryUnderstanding
from assistant.query.scope import Scope
from assistant.ingest.searchkey import search_key
from assistant.index.lexical import build_lexical, tokenizer_for

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
    clause: dict                 # the clause fields (text, heading_path, units, deadline …)
    named: bool = False          # the question names this clause ("第50项")

    def to_dict(self) -> dict:
        return {"clause_id": self.clause_id, "doc_id": self.doc_id, "score": round(self.score, 5),
                "bm25": round(self.bm25, 4), "dense": round(self.dense, 4),
                "heading_path": self.clause["heading_path"], "text": self.clause["text"]}


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


# Relevance gate (thresholds: settings.min_coverage, settings.paraphrase_min_dense, checked on the blind
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
        self.tokenizer = tokenizer_for(self.documents)
        self.ids = list(index.clauses)
        self.position = {clause_id: i for i, clause_id in enumerate(self.ids)}
        self.keys = [search_key(index.clauses[i]["index_text"]) for i in self.ids]
        # Saved with the build; an index built before that gets its BM25 here, as it always did.
        self.bm25 = index.bm25 or build_lexical([index.clauses[i]["index_text"] for i in self.ids], self.tokenizer)
        self._by_doc: dict[str, list[dict]] = {}
        for clause_id in self.ids:
            self._by_doc.setdefault(index.clauses[clause_id]["doc_id"], []).append(index.clauses[clause_id])
        self.understanding = QueryUnderstanding(self.documents, self.tokenizer, home_of=self.documents_for,
                                                carry_min_hits=settings.topic_carry_min_hits)
        self.embed_model = index.vector_index._embed_model
        self._query_vectors: dict[str, list[float]] = {}
        self._weights: dict[str, float] = {}

    def documents_for(self, question: str) -> list[str]:
        """The documents of the best clauses for `question` standing alone, best first."""
        return [h.doc_id for h in self.search(question, k=self.settings.top_k).hits]

    def clauses_of(self, doc_id: str) -> list[dict]:
        """One document's clauses in document order."""
        return self._by_doc.get(doc_id, [])

    def hit_for(self, clause_id: str) -> Hit:
        """A clause as a hit of its own (cited because the question names it, not for its score)."""
        clause = self.index.clauses[clause_id]
        return Hit(clause_id=clause_id, doc_id=clause["doc_id"], score=0.0, bm25=0.0, dense=0.0,
                   bm25_rank=None, dense_rank=None, clause=clause, named=True)

    def content_words(self, question: str, scope: Scope) -> list[str]:
        """The question's words that must be found in an answer (see QueryUnderstanding)."""
        return self.understanding.content_words(question, scope)

    def word_weight(self, word: str) -> float:
        """Inverse clause frequency: "政务公开" is in most clauses and says little; "经费" says a lot."""
        key = search_key(word)
        if key not in self._weights:
            df = sum(1 for k in self.keys if key in k)
            self._weights[key] = math.log((len(self.keys) + 1) / (df + 0.5))
        return self._weights[key]

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
        k = k or self.settings.top_k
        t0 = time.perf_counter()
        query = question if isinstance(question, Query) else self.understanding.understand(question, None, doc_filter)
        question = query.rewrite
        scope = query.scope
        allowed = set(scope.doc_ids)
        if exclude_docs:
            allowed = set(self.documents) - exclude_docs
            scope = Scope()

        tokens = query.search_tokens if not exclude_docs else self.tokenizer.tokens(question)
        bm25_scores = self.bm25.get_scores(tokens) if tokens else np.zeros(len(self.ids))
        extra = self.tokenizer.tokens(" ".join(query.expansions))
        if extra:
            # Thesaurus terms help a colloquial question find the plan's wording, at a discount:
            # they are our reading of the question, not the user's words.
            bm25_scores = bm25_scores + self.settings.expansion_weight * self.bm25.get_scores(extra)
        t1 = time.perf_counter()
        dense_scores = self.dense_scores(question)
        t2 = time.perf_counter()

        candidates = [i for i, cid in enumerate(self.ids)
                      if not allowed or self.index.clauses[cid]["doc_id"] in allowed]
        bm25_order = sorted((i for i in candidates if bm25_scores[i] > 0), key=lambda i: -bm25_scores[i])
        dense_order = sorted(candidates, key=lambda i: -dense_scores[i])
        n = self.settings.candidate_k
        bm25_rank = {i: r for r, i in enumerate(bm25_order[:n], 1)}
        dense_rank = {i: r for r, i in enumerate(dense_order[:n], 1)}
        lexical_share = self._lexical_share(query.content_words, bm25_order[:1])
        fused = self._fuse(candidates, bm25_scores, dense_scores, bm25_rank, dense_rank, lexical_share)
        ranked = sorted(fused, key=lambda i: (-fused[i], -dense_scores[i]))
        ranked, named = self._rows_named_first(question, ranked, candidates)
        hits = [Hit(clause_id=self.ids[i], doc_id=self.index.clauses[self.ids[i]]["doc_id"], score=fused.get(i, 0.0),
                    bm25=float(bm25_scores[i]), dense=float(dense_scores[i]), bm25_rank=bm25_rank.get(i),
                    dense_rank=dense_rank.get(i), clause=self.index.clauses[self.ids[i]], named=i in named)
                for i in ranked[:max(k, 1)]]
        relevant, coverage, reason = self.relevance(query, scope, hits)
        t3 = time.perf_counter()
        return SearchResult(question=question, hits=hits, scope=scope, relevant=relevant, coverage=coverage,
                            reason=reason, timings_ms={"bm25": (t1 - t0) * 1000, "dense": (t2 - t1) * 1000,
                                                       "total": (t3 - t0) * 1000}, query=query)

    def _rows_named_first(self, question: str, ranked: list[int], candidates: list[int]) -> list[int]:
        """"分解表第50项" names a task-table row: that row leads, whatever the scores say."""
        numbers = {int(n) for n in _ROW_REFERENCE.findall(question)}
        if not numbers:
            return ranked, set()
        named = [i for i in candidates if self.ids[i].rsplit("/", 2)[-2:-1] == ["table"]
                 and int(self.ids[i].rsplit("/", 1)[-1]) in numbers]
        return named + [i for i in ranked if i not in named], set(named)

    def dense_scores(self, question: str) -> np.ndarray:
        """Cosine of the question to every clause, through the llama-index vector store.

        The store is queried directly rather than through a retriever: every clause is scored
        (the corpus is small) and the clause texts are already in memory, so fetching nodes
        from the docstore would only add time."""
        if question not in self._query_vectors:  # a question is often searched twice (scope, elsewhere)
            if len(self._query_vectors) > 256:
                self._query_vectors.clear()
            self._query_vectors[question] = self.embed_model.get_query_embedding(question)
        query = VectorStoreQuery(query_embedding=self._query_vectors[question], similarity_top_k=len(self.ids))
        result = self.index.vector_store.query(query)
        scores = np.full(len(self.ids), -1.0)
        for node_id, similarity in zip(result.ids or [], result.similarities or []):
            scores[self.position[node_id]] = float(similarity)
        return scores

    def _lexical_share(self, words: list[str], best: list[int]) -> float:
        """How much of the question (by inverse frequency) the best BM25 clause holds: 1.0 when it has
        every content word, little when it matched only common ones ("发布", "工作") of a paraphrase."""
        if not self.settings.fusion_lexical_confidence or not words or not best:
            return 1.0
        key = self.keys[best[0]]
        total = sum(self.word_weight(w) for w in words) or 1.0
        return sum(self.word_weight(w) for w in words if search_key(w) in key) / total

    def _fuse(self, candidates: list[int], bm25_scores: np.ndarray, dense_scores: np.ndarray,
              bm25_rank: dict[int, int], dense_rank: dict[int, int], lexical_share: float = 1.0) -> dict[int, float]:
        """Combine the legs. Weighted min-max fusion keeps a strong single-leg match (a rare
        term only BM25 sees) that reciprocal-rank fusion would bury; both are measured in
        `assistant bench retrieval`."""
        if self.settings.fusion == "rrf":
            fused: dict[int, float] = {}
            for ranks in (bm25_rank, dense_rank):
                for i, r in ranks.items():
                    fused[i] = fused.get(i, 0.0) + 1.0 / (self.settings.rrf_k + r)
            return fused
        pool = sorted(set(bm25_rank) | set(dense_rank))
        if not pool:
            return {}
        top_bm25 = max(bm25_scores[i] for i in candidates) or 1.0
        dense = np.array([dense_scores[i] for i in candidates])
        low, high = float(dense.min()), float(dense.max())
        spread = (high - low) or 1.0
        # Min-max scaling gives the best BM25 clause full weight however little of the question it
        # matched; the lexical leg speaks with the confidence its best match earns.
        floor = self.settings.lexical_confidence_floor
        alpha = self.settings.fusion_alpha * (floor + (1 - floor) * lexical_share)
        return {i: alpha * bm25_scores[i] / top_bm25 + (1 - alpha) * (dense_scores[i] - low) / spread
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
        if coverage < self.settings.min_coverage and best_dense < self.settings.paraphrase_min_dense:
            return False, coverage, (f"only {coverage:.0%} of the question's words found and best similarity "
                                     f"{best_dense:.3f} < {self.settings.paraphrase_min_dense}")
        return True, coverage, "ok"
