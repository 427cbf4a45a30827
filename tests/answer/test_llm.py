"""The optional language-model mode, against a fake OpenAI-compatible server on 127.0.0.1.

The server speaks real HTTP (POST /v1/chat/completions, OpenAI chat.completion JSON) and the
assistant talks to it through the real llama-index OpenAILike client, so the prompt, the client
settings (timeout, no retries) and the verification of the reply are tested together.

Model refusal (case 5): the retriever already judged the clauses relevant, so when the model says
the refusal sentence the assistant shows the extractive answer, with a note — it does not refuse.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.answer import messages
from assistant.answer.extractive import Answer
from assistant.answer.lines import AnswerLine, quoted
from assistant.config import load_settings

from assistant.answer.llm import (LLMAnswerer, bigrams, is_refusal, missing_numbers, parse_reply,
                           support, validate_llm_settings)
from assistant.ingest.metadata import DocumentMeta
from assistant.ingest.structure import Clause
from assistant.retrieve.hybrid import Hit, SearchResult
from assistant.query.scope import Scope
from assistant.ingest.searchkey import compact
from assistant.ingest.structure import sentences

SUPPORT_MIN = load_settings().llm.llm_min_support

QUESTION = "浦东新区依申请公开办理有什么要求"
INVENTED = "浦东新区规定答复期限为3个工作日[1]。"


# --- the fake server ----------------------------------------------------------------------------

class FakeModel:
    """What the fake server answers; tests set `reply` (a string or a function of the request)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.reply = "好的。"
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict] = []

    def user_prompt(self, i: int = -1) -> str:
        return next(m["content"] for m in self.requests[i]["messages"] if m["role"] == "user")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:   # keep test output clean
        pass

    def do_POST(self) -> None:
        model: FakeModel = self.server.model
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        model.requests.append(body)
        if model.delay:
            time.sleep(model.delay)
        if model.status != 200:
            return self._send(model.status, {"error": {"message": "boom", "type": "server_error"}})
        content = model.reply(body) if callable(model.reply) else model.reply
        self._send(200, {
            "id": f"chatcmpl-{len(model.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}})

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout test)
            pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.model = FakeModel()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fake(server) -> FakeModel:
    server.model.reset()
    return server.model


@pytest.fixture
def fake_url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


# --- fast: the measure, the parser, the settings --------------------------------------------------

def test_bigrams_ignore_punctuation_width_and_space():
    assert bigrams("３ 个工作日。") == bigrams("3个工作日") == {"3个", "个工", "工作", "作日"}
    assert bigrams("强化，保障") == {"强化", "保障"}   # no bigram across the comma
    assert bigrams("。") == set()


def test_support_is_share_of_sentence_bigrams_in_cited_clauses():
    clause = "强化办件规范，保障答复质效和办理时限。坚持服务理念。"
    assert support("强化办件规范，保障答复质效和办理时限。", [clause]) == 1.0
    assert support("浦东新区规定答复期限为3个工作日。", [clause]) < SUPPORT_MIN
    assert support("坚持服务理念", ["无关", clause]) == 1.0   # the union of the cited clauses
    assert support("。", [clause]) == 0.0
    assert missing_numbers("答复期限为15个工作日", ["答复期限为20个工作日"]) == ["15"]
    assert missing_numbers("20个工作日", ["２０个工作日"]) == []


def test_parse_reply_reads_marks_before_or_after_the_full_stop():
    reply = "根据文件：\n- 强化办件规范[1]。坚持服务理念。[1][2]\n2. 答复期限【1，3】。\n无标注的句子。"
    parsed = [(s.text, s.keys, s.line, s.prefix) for s in parse_reply(reply)]
    assert parsed == [("根据文件：", [], 0, ""), ("强化办件规范。", [1], 1, "-"), ("坚持服务理念。", [1, 2], 1, "-"),
                      ("答复期限。", [1, 3], 2, "2."), ("无标注的句子。", [], 3, "")]
    assert is_refusal(messages.REFUSAL) and is_refusal(messages.REFUSAL.rstrip("。") + "[1]")
    assert not is_refusal("强化办件规范。[1]")


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://127.0.0.1/v1", "http://", "http://127.0.0.1:99999/v1",
                                 "http://127.0.0.1:8000/v1?x=1", "127.0.0.1"])
def test_malformed_base_url_is_refused_at_construction(url):
    settings = load_settings().replace(llm_base_url=url, llm_model="fake")
    with pytest.raises(ValueError, match="llm_base_url"):
        LLMAnswerer(settings, _StubExtractive())


def test_settings_validation():
    base = load_settings()
    with pytest.raises(ValueError, match="llm_model"):
        validate_llm_settings(base.replace(llm_base_url="http://127.0.0.1:1/v1", llm_model=""))
    with pytest.raises(ValueError, match="llm_timeout_s"):
        validate_llm_settings(base.replace(llm_base_url="http://127.0.0.1:1/v1", llm_model="m", llm_timeout_s=0))
    assert validate_llm_settings(base.replace(llm_base_url="http://127.0.0.1:8000", llm_model="m")) \
        == "http://127.0.0.1:8000/v1"
    assert validate_llm_settings(base.replace(llm_base_url="https://h.example/api/v1/", llm_model="m")) \
        == "https://h.example/api/v1"


# --- fast: verification over HTTP with hand-made clauses --------------------------------------------

CLAUSES = [
    ("d/1", "强化办件规范，保障答复质效和办理时限。坚持服务理念，依法准确回应信息获取需求。"),
    ("d/2", "聚焦重点领域，研究同类型复杂申请的办理要件，统一规范答复口径。"),
    ("d/3", "全面落实转办留言工作要求，严格落实办理时限，确保办理质量。"),
]


class _StubExtractive:
    """Stands in for ExtractiveAnswerer in the fast tests: records calls, answers a fixed text."""

    documents = {"d": DocumentMeta(doc_id="d", title="测试文件", doc_number="测〔2024〕1号", date="2024-01-01")}

    def __init__(self) -> None:
        self.calls = 0

    def answer(self, question, result, *, rewritten=None, avoid_sentences=frozenset()) -> Answer:
        self.calls += 1
        return Answer(question=question, rewritten_question=rewritten or question, lines=[AnswerLine.of("sentence", quoted("抽取式答案", 1))],
                      refused=False, scope=[], citations=[], retrieved=[], timings_ms={}, kind="extractive")


def _synthetic_result() -> SearchResult:
    hits = [Hit(clause_id=cid, doc_id="d", score=1.0 - i / 10, bm25=1.0, dense=0.9, bm25_rank=i, dense_rank=i,
                clause=Clause(id=cid, doc_id="d", kind="item", heading_path=("一、总体要求", f"（{i + 1}）"), text=text,
                              start=0, end=len(text), doc_title="测试文件"))
            for i, (cid, text) in enumerate(CLAUSES)]
    return SearchResult(question=QUESTION, hits=hits, scope=Scope(doc_ids=["d"]), relevant=True, coverage=1.0)


def _fast_llm(fake_url, **changes) -> tuple[LLMAnswerer, _StubExtractive]:
    stub = _StubExtractive()
    settings = load_settings().replace(**{"llm_base_url": fake_url, "llm_model": "fake", "llm_timeout_s": 5,
                                          **changes})
    return LLMAnswerer(settings, stub), stub


def test_stray_key_dropped_and_spans_point_at_used_sentences(fake, fake_url):
    llm, stub = _fast_llm(fake_url)
    fake.reply = "统一规范答复口径。[2][3]\n强化办件规范，保障答复质效和办理时限。[1]"
    ans = llm.answer(QUESTION, _synthetic_result(), rewritten=QUESTION)
    assert ans.kind == "llm" and stub.calls == 0
    assert ans.answer == "统一规范答复口径。[1]\n强化办件规范，保障答复质效和办理时限。[2]"
    assert [c.clause_id for c in ans.citations] == ["d/2", "d/1"]      # renumbered in order of use
    assert any("stray citation [3]" in n for n in ans.notes)
    first = ans.citations[1]
    assert [first.text[a:b] for a, b in first.spans] == ["强化办件规范，保障答复质效和办理时限。"]
    assert first.doc_number == "测〔2024〕1号"


def test_changed_number_is_removed_even_when_words_match(fake, fake_url):
    llm, _ = _fast_llm(fake_url)
    fake.reply = "坚持服务理念，依法准确回应信息获取需求。[1]严格落实办理时限，确保5日内办理质量。[3]"
    ans = llm.answer(QUESTION, _synthetic_result(), rewritten=QUESTION)
    assert ans.answer == "坚持服务理念，依法准确回应信息获取需求。[1]"
    assert any("number(s) 5" in n for n in ans.notes)


def test_server_error_falls_back(fake, fake_url):
    llm, stub = _fast_llm(fake_url)
    fake.status = 500
    ans = llm.answer(QUESTION, _synthetic_result(), rewritten=QUESTION)
    assert ans.kind == "extractive" and stub.calls == 1
    assert len(fake.requests) == 1                       # max_retries=0: one request, no retry
    assert any("model call failed" in n for n in ans.notes)


def test_unreachable_server_falls_back():
    llm, stub = _fast_llm("http://127.0.0.1:9/v1")        # nothing listens on the discard port
    ans = llm.answer(QUESTION, _synthetic_result(), rewritten=QUESTION)
    assert ans.kind == "extractive" and any("model call failed" in n for n in ans.notes)


# --- slow: the real retriever and the real extractive answerer --------------------------------------

@pytest.fixture(scope="module")
def assistant_(tmp_path_factory):
    """The real assistant over its own index copy (the live build is copied in when present, so
    `ensure_index` only checks it; a build elsewhere cannot race with this one)."""
    from assistant.index.store import _live_build
    from assistant.pipeline import Assistant

    settings = load_settings()
    index_dir = tmp_path_factory.mktemp("llm") / "index"
    index_dir.mkdir()
    try:
        live = _live_build(settings.paths.index_dir)
        if live is not None and live.is_dir():
            shutil.copytree(live, index_dir / live.name)
            (index_dir / "CURRENT").write_text(live.name, encoding="utf-8")
    except OSError:
        shutil.rmtree(index_dir, ignore_errors=True)     # being replaced: build our own
        index_dir.mkdir()
    return Assistant.load(settings.replace(index_dir=index_dir, llm_base_url="", llm_model=""))


@pytest.fixture(scope="module")
def result(assistant_) -> SearchResult:
    found = assistant_.retriever.search(QUESTION, k=20)
    assert found.relevant and len(found.hits) >= 6
    return found


def _first_sentence(hit: Hit) -> str:
    return next(s for s in sentences(hit.clause.text.split("\n")[0]) if compact(s))


def _llm(assistant_, fake_url, **changes) -> LLMAnswerer:
    settings = assistant_.settings.replace(**{"llm_base_url": fake_url, "llm_model": "fake", "llm_timeout_s": 10,
                                              **changes})
    return LLMAnswerer(settings, assistant_.answerer)


def _check_grounded(ans: Answer) -> None:
    """Every sentence cites existing citations, and its support by them passes the threshold."""
    assert ans.citations and [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    by_n = {c.n: c for c in ans.citations}
    claims = [claim for line in ans.lines for claim in line.claims()]
    assert claims and all(line.kind == "sentence" for line in ans.lines)
    for pieces, numbers in claims:
        text = "".join(pieces)
        assert numbers and all(n in by_n for n in numbers), (text, numbers)
        assert support(text, [by_n[n].text for n in numbers]) >= SUPPORT_MIN
    for c in ans.citations:
        assert c.spans and all(compact(c.text[a:b]) for a, b in c.spans)
    assert set(ans.to_dict()) == {"question", "rewritten_question", "answer", "refused", "scope", "citations",
                                  "retrieved", "timings_ms", "direct", "kind", "notes", "query", "lines"}
    json.dumps(ans.to_dict(), ensure_ascii=False)


@pytest.mark.slow
def test_prompt_lists_clauses_with_keys_and_the_rules(assistant_, result, fake, fake_url):
    fake.reply = _first_sentence(result.hits[0]) + "[1]"
    _llm(assistant_, fake_url).answer(QUESTION, result, rewritten=QUESTION)
    request = fake.requests[-1]
    assert request["model"] == "fake" and request["messages"][0]["role"] == "system"
    assert messages.REFUSAL in request["messages"][0]["content"]
    prompt = fake.user_prompt()
    assert QUESTION in prompt and messages.REFUSAL in prompt
    for n, hit in enumerate(result.hits[:6], 1):
        block = prompt.split(f"[{n}] ", 1)[1]
        assert block.startswith("《" + hit.clause.doc_title + "》")
        assert hit.clause.heading_path[-1] in block.split("\n")[0]
        assert hit.clause.text[:60] in block
    assert "[7] " not in prompt


@pytest.mark.slow
def test_good_answer_is_kept_with_its_citation(assistant_, result, fake, fake_url):
    sentence = _first_sentence(result.hits[0])
    fake.reply = sentence + "[1]"
    ans = _llm(assistant_, fake_url).answer(QUESTION, result, rewritten=QUESTION)
    assert ans.kind == "llm" and not ans.refused and not ans.notes
    assert ans.answer == sentence + "[1]"
    assert len(ans.citations) == 1 and ans.citations[0].clause_id == result.hits[0].clause_id
    c = ans.citations[0]
    assert [c.text[a:b] for a, b in c.spans] == [sentence]
    _check_grounded(ans)


@pytest.mark.slow
def test_nonexistent_key_is_repaired_or_the_sentence_dropped(assistant_, result, fake, fake_url):
    sentence = _first_sentence(result.hits[0])
    fake.reply = f"{sentence}[9]\n申请人可以通过微信小程序随时查询办理进度。[9]"
    ans = _llm(assistant_, fake_url).answer(QUESTION, result, rewritten=QUESTION)
    assert ans.kind == "llm"
    assert ans.answer == sentence + "[1]"                 # repaired: the clause that supports it
    assert ans.citations[0].clause_id == result.hits[0].clause_id
    assert "微信" not in ans.answer
    assert any("[9]" in n and "no such clause" in n for n in ans.notes)
    assert any("微信小程序" in n and "removed" in n for n in ans.notes)
    _check_grounded(ans)


@pytest.mark.slow
def test_unsupported_sentence_is_removed_and_noted(assistant_, result, fake, fake_url):
    sentence = _first_sentence(result.hits[0])
    fake.reply = f"{sentence}[1]\n{INVENTED}"
    ans = _llm(assistant_, fake_url).answer(QUESTION, result, rewritten=QUESTION)
    assert ans.kind == "llm"
    assert "3个工作日" not in ans.answer and ans.answer == sentence + "[1]"
    note = next(n for n in ans.notes if "3个工作日" in n)
    assert "removed unsupported sentence" in note and f"< {SUPPORT_MIN}" in note
    _check_grounded(ans)


@pytest.mark.slow
def test_nothing_supported_falls_back_to_extractive(assistant_, result, fake, fake_url):
    fake.reply = INVENTED
    ans = _llm(assistant_, fake_url).answer(QUESTION, result, rewritten=QUESTION)
    expected = assistant_.answerer.answer(QUESTION, result, rewritten=QUESTION)
    assert ans.kind == expected.kind != "llm" and ans.answer == expected.answer
    assert any("3个工作日" in n for n in ans.notes)
    assert any("no sentence of the model's reply was supported" in n for n in ans.notes)


@pytest.mark.slow
def test_timeout_falls_back_to_extractive_with_a_note(assistant_, result, fake, fake_url):
    fake.reply = _first_sentence(result.hits[0]) + "[1]"
    fake.delay = 4.0
    llm = _llm(assistant_, fake_url, llm_timeout_s=1)
    started = time.perf_counter()
    ans = llm.answer(QUESTION, result, rewritten=QUESTION)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.5, elapsed                          # one try, cut at the timeout
    assert len(fake.requests) == 1
    assert ans.kind != "llm" and ans.answer == assistant_.answerer.answer(QUESTION, result).answer
    assert any("timed out after 1 s" in n for n in ans.notes)


@pytest.mark.slow
def test_model_refusal_shows_the_extractive_answer(assistant_, result, fake, fake_url):
    fake.reply = messages.REFUSAL
    ans = _llm(assistant_, fake_url).answer(QUESTION, result, rewritten=QUESTION)
    assert ans.kind != "llm" and not ans.refused and messages.REFUSAL not in ans.answer
    assert ans.citations
    assert any("model answered that the clauses do not answer" in n for n in ans.notes)


@pytest.mark.slow
def test_assistant_routes_through_the_model_and_refuses_without_it(assistant_, result, fake, fake_url):
    from assistant.pipeline import Assistant

    settings = assistant_.settings.replace(llm_base_url=fake_url, llm_model="fake", llm_timeout_s=10)
    a = Assistant(settings, assistant_.index, assistant_.build_report)
    assert isinstance(a.llm, LLMAnswerer)

    def echo_first_clause(body: dict) -> str:   # the first clause of the prompt, first sentence
        prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
        text = re.search(r"\[1\] [^\n]*\n([^\n]+)", prompt).group(1)
        return sentences(text)[0] + "[1]"

    fake.reply = echo_first_clause
    ans = a.ask(QUESTION)
    assert len(fake.requests) == 1
    assert ans.kind == "llm" and not ans.refused
    assert ans.citations[0].clause_id == result.hits[0].clause_id
    assert {"retrieve", "answer", "total"} <= set(ans.timings_ms)
    _check_grounded(ans)

    refused = a.ask("今天天气怎么样")
    assert refused.refused and refused.kind == "refusal" and messages.REFUSAL in refused.answer
    assert len(fake.requests) == 1                          # the model was not asked
