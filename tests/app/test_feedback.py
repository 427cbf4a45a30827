"""Feedback log: atomic appends from threads and processes; feedback -> eval item skeleton."""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
from pathlib import Path

import pytest

from assistant.app.feedback import (
    FeedbackError,
    append_record,
    feedback_to_eval_item,
    make_record,
    read_feedback,
    record_feedback,
)

ROOT = Path(__file__).resolve().parents[2]
EVAL_KEYS = {"id": str, "type": str, "question": str, "history": list, "doc_filter": (str, type(None)),
             "gold": list, "answer_points": list, "notes": str}
EVAL_TYPES = {"lookup", "requirement", "cross_doc", "table", "numeric", "followup", "unanswerable", "paraphrase"}

CLAUSE_TEXT = ("（三）常态化推进政府开放活动。围绕区委、区政府重点工作，不断做深做实“政府开放月”品牌。"
               "8 月集中组织开展以民心工程、实事项目等为主要内容的线上线下开放活动。推动政府开放活动常态化（区政府各部门、各街镇）。")
CITATION = {"n": 1, "clause_id": "2024-songjiang/4.3", "doc_id": "2024-songjiang", "doc_title": "2024年松江区政务公开工作要点",
            "heading_path": ["四、深入践行人民城市理念，优化政民互动和公众参与", "（三）常态化推进政府开放活动"],
            "units": ["区政府各部门", "各街镇"], "deadline": "8月", "text": CLAUSE_TEXT, "spans": [[44, 79]],
            "doc_number": "沪松府办〔2024〕12号", "doc_date": "2024-05-10"}


def _vote(path: str, who: str, i: int) -> None:
    record_feedback(Path(path), question=f"{who} 问题 {i}：政府开放月在几月？" + "长" * (i % 7) * 300,
                    rewritten_question=None, answer="答：8 月[1]", citations=[CITATION],
                    vote="up" if i % 2 else "down", comment=f"{who}-{i}", scope=None)


def _process_worker(path: str, who: str, count: int) -> None:
    for i in range(count):
        _vote(path, who, i)


def _check_log(path: Path, expected: int) -> list[dict]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.decode("utf-8").split("\n")[:-1]
    assert len(lines) == expected
    records = [json.loads(line) for line in lines]  # every line is one complete JSON object
    assert all(isinstance(r, dict) and r["vote"] in ("up", "down") for r in records)
    return records


def test_record_has_the_logged_fields(tmp_path):
    log = tmp_path / "fb" / "feedback.jsonl"
    rec = record_feedback(log, question="松江区政府开放月在几月?", rewritten_question="松江区政府开放月在几月?",
                          answer="答：8 月[1]", citations=[CITATION], vote="up", comment=" 很准确 ",
                          scope="2024-songjiang", answer_scope=["2024-songjiang"], history=[], kind="factoid")
    (line,) = read_feedback(log)
    assert line == rec
    for key in ("time", "question", "rewritten_question", "answer", "citations", "vote", "comment", "scope"):
        assert key in line
    assert line["comment"] == "很准确"
    assert line["citations"] == [{"n": 1, "clause_id": "2024-songjiang/4.3", "doc_id": "2024-songjiang",
                                  "quote": "8 月集中组织开展以民心工程、实事项目等为主要内容的线上线下开放活动。"}]


def test_unknown_vote_is_refused(tmp_path):
    with pytest.raises(FeedbackError):
        make_record(question="q", rewritten_question=None, answer="a", citations=[], vote="maybe")


def test_two_threads_append_complete_lines(tmp_path):
    log = tmp_path / "feedback.jsonl"
    earlier = [make_record(question=f"earlier {i}", rewritten_question=None, answer="a", citations=[], vote="up")
               for i in range(3)]
    for rec in earlier:
        append_record(log, rec)
    before = log.read_bytes()
    threads = [threading.Thread(target=lambda w=w: [_vote(str(log), w, i) for i in range(100)]) for w in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = _check_log(log, 3 + 200)
    assert log.read_bytes().startswith(before)  # earlier lines intact, never rewritten
    assert records[:3] == earlier
    comments = {r["comment"] for r in records[3:]}
    assert comments == {f"{w}-{i}" for w in ("t1", "t2") for i in range(100)}


def test_two_processes_append_complete_lines(tmp_path):
    log = tmp_path / "feedback.jsonl"
    first = make_record(question="first", rewritten_question=None, answer="a", citations=[], vote="down")
    append_record(log, first)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_worker, args=(str(log), w, 50)) for w in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    records = _check_log(log, 1 + 100)
    assert records[0] == first
    assert {r["comment"] for r in records[1:]} == {f"{w}-{i}" for w in ("p1", "p2") for i in range(50)}


def test_append_after_a_torn_line_starts_a_new_line(tmp_path):
    log = tmp_path / "feedback.jsonl"
    log.write_bytes(b'{"vote":"up","question":"ok"}\n{"vote":"do')  # a writer died mid-line
    _vote(str(log), "w", 1)
    assert len(read_feedback(log)) == 2
    assert json.loads(log.read_text(encoding="utf-8").splitlines()[-1])["comment"] == "w-1"


def _assert_eval_schema(item: dict) -> None:
    assert set(item) == set(EVAL_KEYS)
    for key, kind in EVAL_KEYS.items():
        assert isinstance(item[key], kind), key
    assert item["type"] in EVAL_TYPES
    assert item["question"].strip()
    for g in item["gold"]:
        assert set(g) == {"doc", "quote"} and isinstance(g["doc"], str) and isinstance(g["quote"], str)
        assert 8 <= len(g["quote"]) <= 60 and "\n" not in g["quote"]
    assert all(isinstance(h, str) and h.strip() for h in item["history"])


def test_feedback_to_eval_item_matches_the_eval_schema(tmp_path):
    log = tmp_path / "feedback.jsonl"
    record_feedback(log, question="松江区政府开放月在几月?", rewritten_question="松江区政府开放月在几月?",
                    answer="答：8 月[1]", citations=[CITATION], vote="down", comment="应写明活动内容",
                    scope="2024-songjiang", kind="factoid")
    item = feedback_to_eval_item(read_feedback(log)[0])
    _assert_eval_schema(item)
    assert item == feedback_to_eval_item(read_feedback(log)[0])  # stable id
    assert item["id"].startswith("fb-")
    assert item["type"] == "lookup"
    assert item["doc_filter"] == "2024-songjiang"
    assert item["gold"] == [{"doc": "2024-songjiang", "quote": "8 月集中组织开展以民心工程、实事项目等为主要内容的线上线下开放活动。"}]
    assert item["answer_points"] == []
    assert "from feedback" in item["notes"] and "应写明活动内容" in item["notes"]

    # With the raw files, each quote is cut to a piece that occurs verbatim on one raw line (the
    # clause text is cleaned: this sentence is broken over two lines in the raw file).
    raw = (ROOT / "corpus" / "2024-songjiang.txt").read_text(encoding="utf-8")
    aligned = feedback_to_eval_item(read_feedback(log)[0], raw_documents={"2024-songjiang": raw})
    _assert_eval_schema(aligned)
    quote = aligned["gold"][0]["quote"]
    assert quote in raw and quote in CLAUSE_TEXT and len(quote) >= 8


def test_follow_up_and_refusal_items(tmp_path):
    follow = make_record(question="那浦东新区呢?", rewritten_question="浦东新区政府开放月在几月?",
                         answer="答：8月[1]", citations=[{**CITATION, "doc_id": "2024-pudong",
                                                          "clause_id": "2024-pudong/3.3"}],
                         vote="up", history=["松江区政府开放月在几月?"], kind="factoid")
    item = feedback_to_eval_item(follow)
    _assert_eval_schema(item)
    assert item["type"] == "followup" and item["history"] == ["松江区政府开放月在几月?"]

    refusal = make_record(question="明年的预算是多少?", rewritten_question=None, answer="现有文件中没有找到……",
                          citations=[], vote="down", kind="refusal")
    item = feedback_to_eval_item(refusal)
    _assert_eval_schema(item)
    assert item["type"] == "unanswerable" and item["gold"] == [] and item["history"] == []

    long_quote = make_record(question="各区有什么共同要求?", rewritten_question=None, answer="…",
                             citations=[{"n": 1, "clause_id": "a/1", "doc_id": "a", "quote": "长" * 200},
                                        {"n": 2, "clause_id": "b/1", "doc_id": "b", "quote": "短"}],
                             vote="up", kind="cross_doc")
    item = feedback_to_eval_item(long_quote)
    _assert_eval_schema(item)
    assert item["type"] == "cross_doc" and item["gold"] == [{"doc": "a", "quote": "长" * 60}]


# --- hostile input ------------------------------------------------------------------------------

def _record(log: Path, **fields) -> dict:
    base = {"question": "松江区政府开放月在几月?", "rewritten_question": None, "answer": "答：8 月[1]",
            "citations": [CITATION], "vote": "down", "comment": ""}
    return record_feedback(log, **{**base, **fields})


@pytest.mark.parametrize("fields, words", [
    ({"comment": "不对\ud800"}, "评论 (comment)含有无效字符"),
    ({"comment": "\udcff\udcfe"}, "不是有效的 UTF-8"),
    ({"comment": "长" * 1001}, "评论 (comment)太长"),
    ({"question": "政府\udfff"}, "问题 (question)"),
    ({"history": ["上文\ud800"]}, "上文问题 (history)"),
    ({"scope": "\ud800"}, "范围 (scope)"),
    ({"answer": "答\udc80"}, "回答 (answer)"),
    ({"citations": [{**CITATION, "quote": "引\ud800"}]}, "引用原文 (quote)"),
    ({"comment": ["not", "text"]}, "必须是文本"),
    ({"history": "not a list"}, "必须是列表"),
])
def test_text_that_cannot_be_stored_is_a_feedback_error_and_nothing_is_written(tmp_path, fields, words):
    log = tmp_path / "feedback.jsonl"
    with pytest.raises(FeedbackError, match=re.escape(words)):
        _record(log, **fields)
    assert not log.exists()


def test_comments_and_recorded_text_are_cleaned_and_multiline_comments_kept(tmp_path):
    log = tmp_path / "feedback.jsonl"
    _record(log, comment=" 第一行\r\n第\u200b二\u202e行\x00 ", question="政府\u2066开放月\x1b在几月?",
            history=["松江区\u200d呢"], scope="2024-songjiang\u200b", answer="答：8 月[1]\n\n来源")
    (line,) = read_feedback(log)
    assert line["comment"] == "第一行\n第二行"
    assert line["question"] == line["rewritten_question"] == "政府开放月在几月?"
    assert line["history"] == ["松江区呢"] and line["scope"] == "2024-songjiang"
    assert line["answer"] == "答：8 月[1]\n\n来源"
    assert _record(log, comment="长" * 1000)["comment"] == "长" * 1000  # the limit itself is accepted
    assert len(read_feedback(log)) == 2


def test_the_comment_limit_follows_the_setting(tmp_path):
    with pytest.raises(FeedbackError, match="10 字以内"):
        make_record(question="q", rewritten_question=None, answer="a", citations=[], vote="up",
                    comment="长" * 11, max_comment_chars=10)


def test_append_holds_a_file_lock_beside_the_log(tmp_path):
    from filelock import FileLock

    from assistant.app import feedback

    log = tmp_path / "feedback.jsonl"
    lock = FileLock(feedback.lock_path(log))
    with lock:
        blocked = threading.Thread(target=_vote, args=(str(log), "w", 1))
        blocked.start()
        blocked.join(0.5)
        assert blocked.is_alive() and not log.exists()  # waits for the lock
    blocked.join(10)
    assert not blocked.is_alive() and len(read_feedback(log)) == 1


def test_a_lock_held_too_long_is_a_feedback_error(tmp_path, monkeypatch):
    from filelock import FileLock

    from assistant.app import feedback

    monkeypatch.setattr(feedback, "LOCK_TIMEOUT_S", 0.2)
    log = tmp_path / "feedback.jsonl"
    with FileLock(feedback.lock_path(log)):
        result: list[BaseException] = []

        def vote() -> None:
            try:
                _vote(str(log), "w", 1)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                result.append(exc)

        t = threading.Thread(target=vote)
        t.start()
        t.join(10)
    assert len(result) == 1 and isinstance(result[0], FeedbackError) and "正忙" in str(result[0])
