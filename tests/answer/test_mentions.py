"""Which documents mention something (assistant/answer/mentions.py): the documents whose text holds the words."""

from __future__ import annotations

import pytest

from assistant.answer.mentions import mention_hits
from assistant.query.kinds import mentioned_phrase


@pytest.mark.parametrize("question,phrase", [
    ("松江、浦东、白鹤、浦锦、淞南这几份里，哪几份提到了“政策解读提升年”？", "政策解读提升年"),
    ("哪些文件提到了京津冀协同发展？", "京津冀协同发展"),
    ("依申请公开有什么要求？", None),
])
def test_the_phrase_a_question_asks_to_find(question, phrase):
    assert mentioned_phrase(question) == phrase


@pytest.mark.slow
@pytest.mark.parametrize("question,docs", [
    ("松江、浦东、白鹤、浦锦、淞南这几份里，哪几份提到了“政策解读提升年”？", {"2024-songjiang", "2024-pudong"}),
    ("哪些文件提到了“15分钟社区生活圈”？", {"2024-songjiang", "2023-baoshan-songnan"}),
])
def test_only_documents_holding_the_words_answer_which_documents(assistant, question, docs):
    query = assistant.retriever.understanding.understand(question)
    assert {hits[0].doc_id for hits in mention_hits(query, assistant.retriever)} == docs
    answer = assistant.ask(question)
    assert {c.doc_id for c in answer.citations} == docs


@pytest.mark.slow
def test_a_phrase_no_document_holds_leaves_the_ranking_to_decide(assistant):
    query = assistant.retriever.understanding.understand("哪些文件提到了区块链存证？")
    assert mention_hits(query, assistant.retriever) == []


@pytest.mark.slow
@pytest.mark.parametrize("phrase", ["政策解读", "政策解读提升年", "15分钟社区生活圈", "公开", "区块链存证", "各", "（二）"])
def test_the_clauses_found_by_one_search_of_the_joined_keys_are_those_keyed_one_by_one(assistant, phrase):
    from assistant.answer.mentions import _index_of
    from assistant.ingest.searchkey import search_key

    retriever = assistant.retriever
    key = search_key(phrase)
    expected = [c.id for d in retriever.documents for c in retriever.clauses_of(d)
                if key in search_key(c.text + "".join(c.heading_path))]
    assert [c.id for c in _index_of(retriever).holding(key)] == expected
