from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retriever(assistant):
    return assistant.retriever


@pytest.mark.parametrize("question,clause_id", [
    ("浦东新区政策解读有什么要求", "2024-pudong/1.2"),
    ("松江区任务分解表第24项由哪个单位负责？", "2024-songjiang/table/24"),
    ("淞南镇于 3 月 31 日前要公开什么", "2023-baoshan-songnan/3.1"),
    ("浦锦街道最终回复不超过几个工作日", "2024-minhang-pujin/4.4"),
    ("白鹤镇常态化政府开放日活动的主题是什么？", "2024-qingpu-baihe/3.2"),
])
def test_the_right_clause_comes_first(retriever, question, clause_id):
    result = retriever.search(question)
    assert result.hits[0].clause_id == clause_id
    assert result.relevant


def test_the_terms_saved_by_the_build_are_what_a_start_computed_from_the_clauses(retriever):
    """Search keys and the speller's words come from the build (clause_file.py); an index without them
    (terms=None) has them computed at start as before, and both are the same."""
    from dataclasses import replace

    from assistant.retrieve.hybrid import HybridRetriever

    assert retriever.index.terms is not None
    fresh = HybridRetriever(replace(retriever.index, terms=None), retriever.settings)
    assert fresh.keys == retriever.keys
    saved, computed = retriever.understanding.speller, fresh.understanding.speller
    assert saved._words == computed._words and saved._by_sound == computed._by_sound


def test_named_place_restricts_to_its_document(retriever):
    result = retriever.search("浦东三同步要求是什么", k=10)
    assert {h.doc_id for h in result.hits} == {"2024-pudong"}


def test_explicit_filter_restricts(retriever):
    result = retriever.search("政府开放月", doc_filter="2024-songjiang", k=10)
    assert {h.doc_id for h in result.hits} == {"2024-songjiang"}


def test_both_legs_are_scored_and_reported(retriever):
    hit = retriever.search("四类推送法")[0 if False else 0] if False else retriever.search("四类推送法").hits[0]
    assert hit.bm25 > 0 and 0 < hit.dense <= 1.0 and hit.bm25_rank and hit.dense_rank


def test_spaced_and_full_width_numbers_match(retriever):
    spaced = retriever.search("淞南镇 3 月 31 日前公开决策事项目录").hits[0].clause_id
    compact_form = retriever.search("淞南镇３月31日前公开决策事项目录").hits[0].clause_id
    assert spaced == compact_form == "2023-baoshan-songnan/3.1"


@pytest.mark.parametrize("question", ["明天上海天气怎么样？", "徐汇区的政府开放月在几月？", "白鹤镇2023年的工作要点"])
def test_nothing_relevant_is_flagged(retriever, question):
    result = retriever.search(question)
    assert not result.relevant and result.reason


def test_place_outside_the_corpus_is_exposed_not_replaced(retriever):
    result = retriever.search("嘉定区依申请公开怎么办理")
    assert result.scope.unknown_places == ["嘉定区"]
    assert not result.relevant


def test_the_lexical_leg_weighs_what_its_best_clause_holds_of_the_question(retriever):
    pujin = retriever.position["2024-minhang-pujin/1.2"]
    # Every content word in the clause: BM25 keeps its full weight.
    assert retriever._lexical_share(["会商研判", "疑难"], [pujin]) == 1.0
    # Only a common word of a paraphrase: it keeps little (the fusion floor then applies).
    assert retriever._lexical_share(["找工作", "年轻人", "办理"], [pujin]) < 0.3
    assert retriever._lexical_share([], [pujin]) == 1.0


def test_the_scope_words_do_not_rank_the_notice_first(retriever):
    # "浦锦街道" names the scope; it must not lift the notice, which repeats it, above the answering clause.
    result = retriever.search("浦锦街道对复杂、疑难的信息公开申请怎么处理？")
    assert result.hits[0].clause_id == "2024-minhang-pujin/1.2"
    assert "浦锦" not in "".join(result.query.search_tokens)


@pytest.mark.parametrize("question", ["依申请公开办理有什么要求？", "松江区政策留言板建设由哪些单位负责？",
                                      "浦锦街道对复杂、疑难的信息公开申请怎么处理？", "政府开放月在几月？"])
def test_the_top_k_dense_leg_ranks_as_scoring_every_clause_would(retriever, question):
    """FAISS is asked for candidate_k clauses (and the lowest cosine) only; the ranking equals the one
    computed from every clause's cosine."""
    _assert_ranked_as_scoring_every_clause(retriever, retriever.search(question))


def test_every_eval_question_is_ranked_as_scoring_every_clause_would(retriever):
    """The shipped corpus and all standalone questions of questions.jsonl and heldout.jsonl: only the two legs'
    candidates are fused, the BM25 order is sorted for its head only, and the dense leg's two ends come from
    one FAISS search; the hits are those (and in that order) of fusing every clause's scores."""
    import json

    from tests.conftest import ROOT

    asked = 0
    for name in ("questions.jsonl", "heldout.jsonl"):
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else None
            if item and not item.get("history"):
                _assert_ranked_as_scoring_every_clause(
                    retriever, retriever.search(item["question"], doc_filter=item.get("doc_filter")))
                asked += 1
    assert asked >= 100


def _assert_ranked_as_scoring_every_clause(retriever, result):
    import numpy as np

    allowed = sorted(result.scope.doc_ids) or None
    positions = [int(i) for i in retriever._positions(allowed)]
    vector = retriever.query_vector(result.query.rewrite)
    every = dict(zip(positions, retriever.index.vector_store.similarity(vector, [retriever.ids[i] for i in positions])))
    bm25 = retriever.bm25.get_scores(result.query.search_tokens)
    if result.query.expansions:
        bm25 = bm25 + retriever.settings.retrieval.expansion_weight * retriever.bm25.get_scores(
            retriever.tokenizer.tokens(" ".join(result.query.expansions)))
    n = retriever.settings.retrieval.candidate_k
    bm25_order = sorted((i for i in positions if bm25[i] > 0), key=lambda i: -bm25[i])
    dense_order = sorted(positions, key=lambda i: -every[i])
    bm25_rank = {i: r for r, i in enumerate(bm25_order[:n], 1)}
    dense_rank = {i: r for r, i in enumerate(dense_order[:n], 1)}
    pool = sorted(set(bm25_rank) | set(dense_rank))
    share = retriever._lexical_share(result.query.content_words, bm25_order[:1])
    fused = retriever._fuse(pool, bm25, every, bm25_rank, dense_rank, min(every.values()), max(every.values()),
                            float(bm25[bm25_order[0]]) if bm25_order else 0.0, share)
    # A task-table row the question names ("第5项") leads whatever the scores say.
    named = [retriever.position[h.clause_id] for h in result.hits if h.named]
    expected = named + [i for i in sorted(fused, key=lambda i: (-fused[i], -every[i])) if i not in named]
    assert [h.clause_id for h in result.hits] == [retriever.ids[i] for i in expected[:len(result.hits)]]
    assert all(np.isclose(h.dense, every[retriever.position[h.clause_id]], atol=1e-5) for h in result.hits)


@pytest.mark.parametrize("word", ["政务公开", "经费", "政策留言板", "依申请公开", "开放月", "区块链", ""])
def test_a_words_weight_counts_the_clauses_holding_it(retriever, word):
    from assistant.ingest.searchkey import search_key

    key = search_key(word)
    holding = sum(1 for k in retriever.keys if key in k)
    assert retriever._clauses_holding(key) == holding
    assert retriever.word_weight(word) == pytest.approx(math.log((len(retriever.keys) + 1) / (holding + 0.5)))


@pytest.mark.parametrize("n", [1, 3, 30, 500])
def test_the_bm25_order_is_the_head_of_sorting_every_scored_clause(retriever, n):
    """Only the best n are sorted; ties (at the n-th score too) stay in index order, as a full stable sort
    would leave them."""
    import numpy as np

    rng = np.random.default_rng(3)
    scores = rng.choice([0.0, 0.0, 1.5, 2.0, 2.0, 3.25], size=len(retriever.ids)).astype("float32")
    for doc_ids in (None, ["2024-pudong"], ["2024-pudong", "2024-songjiang"]):
        positions = retriever._positions(doc_ids)
        every = sorted((int(i) for i in positions if scores[i] > 0), key=lambda i: -scores[i])
        assert retriever._bm25_order(scores, doc_ids, n) == every[:n]
