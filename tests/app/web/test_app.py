"""The web app: rendering helpers (fast) and the real app driven through its API (slow).

The slow tests launch build_app + launch_app on 127.0.0.1 (a free port) with the real assistant
and an index built into a temporary folder (shared with tests/test_browser.py within one pytest
session), and call the named endpoints with gradio_client.
"""

from __future__ import annotations

from assistant.answer.lines import AnswerLine, direct_line, quoted, said, section, shared_line
from assistant.answer.records import Citation, join_cited
from assistant.app.web.session import AnswerRecord

import json
import shutil
import sys
from pathlib import Path

import pytest

from assistant.answer import messages
from assistant.app.render import (
    answer_markdown,
    common_topics,
    highlight,
    md_escape,
    sources_html,
    stream_chunks,
    user_markdown,
)

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))

CROSS_DOC_QUESTION = "依申请公开办理有什么要求?"

# Gradio's queue trips pandas 3 deprecation warnings on every event; not ours to fix.
pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]


# --- fast: rendering -----------------------------------------------------------------------------

def test_md_escape_shows_markup_as_text():
    out = md_escape("<script>alert(1)</script> **粗** [链接](javascript:x) `code` # 标题")
    assert "<" not in out and ">" not in out
    assert "&lt;script&gt;" in out
    assert "\\*\\*粗\\*\\*" in out and "\\[链接\\]" in out and "\\`code\\`" in out
    assert md_escape("1. 第一\n- 项\n> 引") == "1\\. 第一\n\\- 项\n&gt; 引"


def test_user_markdown_strips_control_characters_and_cuts_long_questions():
    assert user_markdown("政府\x00开放\x07月\u200b") == "政府开放月"
    long = user_markdown("啊" * 20_000)
    assert len(long) < 700 and "共 20000 字" in long


def test_answer_markdown_keeps_markers_and_structure():
    lines = [section("document", "2024年松江区政务公开工作要点"),
             AnswerLine.of("sentence", quoted("强化办件规范。<b>x</b>", 1), bullet=True),
             AnswerLine.of("heading", said(messages.SHARED_HEADER)), shared_line("主动跨前与申请人做好沟通。", [1, 2], 2),
             direct_line("8 月", 3), AnswerLine.of("basis", said(messages.BASIS), quoted("8 月集中组织开展开放活动。", 3))]
    md = answer_markdown(lines)
    assert "**【2024年松江区政务公开工作要点】**" in md
    assert '<sup class="cite">[1]</sup>' in md and '<sup class="cite">[2]</sup>' in md
    assert "&lt;b&gt;x&lt;/b&gt;" in md and "<b>" not in md
    assert "**答**：8 月" in md and "**依据**：" in md   # "**答：**8" would not render bold
    assert "\n\n- 主动跨前" in md                          # a list after a paragraph starts a block


def test_stream_chunks_rebuild_the_text_and_never_cut_markup():
    md = answer_markdown([section("document", "松江"), AnswerLine.of("sentence", *join_cited(["第一句。", "第二句。"], 1), bullet=True),
                          AnswerLine.of("sentence", quoted("第三句。", 2), bullet=True)])
    chunks = stream_chunks(md)
    assert "".join(chunks) == md and len(chunks) >= 3
    for c in chunks:
        assert c.count("<sup") == c.count("</sup>")


def test_highlight_marks_spans_and_escapes():
    assert highlight("a<b>c。d", [(0, 4)]) == "<mark>a&lt;b&gt;</mark>c。d"
    assert highlight("一二三四五", [(1, 3), (2, 4)]) == "一<mark>二三四</mark>五"
    assert highlight("x\ny", []) == "x<br>y"


def test_sources_html_escapes_corpus_text():
    record = AnswerRecord(n=1, msg_index=1, question="<img src=x onerror=alert(1)>", history=[], scope=None,
                          citations=[Citation(n=1, clause_id="d/1", doc_id="d", doc_title="<script>t</script>",
                                              doc_number="沪〔2024〕1号", doc_date="2024-05-10",
                                              heading_path=["一、<i>x</i>"], text="甲<乙>丙。", spans=[(0, 6)],
                                              units=["区<政府>"], deadline="8月")])
    out = sources_html(record)
    for raw in ("<img", "<script", "<i>", "<乙>", "<政府>"):
        assert raw not in out
    assert "&lt;script&gt;t&lt;/script&gt;" in out and "<mark>甲&lt;乙&gt;丙。</mark>" in out
    assert "时间节点：8月" in out and "[1]" in out


def test_common_topics_are_shared_headings(parsed):
    topics = dict((title, label) for label, title in common_topics(list(parsed.values())))
    assert "依法规范答复信息公开申请" in topics
    assert "常态化推进政府开放活动" in topics
    assert topics["依法规范答复信息公开申请"].endswith("份文件）")


# --- slow: the real app --------------------------------------------------------------------------

def message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


@pytest.fixture(scope="module")
def app(shared_index, tmp_path_factory):
    from assistant.config import load_settings
    from screenshots import start_app

    tmp = tmp_path_factory.mktemp("ui")
    settings = load_settings(index_dir=shared_index, feedback_log=tmp / "feedback" / "feedback.jsonl",
                             host="127.0.0.1")
    demo, url = start_app(settings, admin=False)
    yield {"url": url, "settings": settings, "demo": demo}
    demo.close()


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


def ask(c, question: str, scope: str = "全部文件"):
    chat, sources, box, status = c.predict(question, scope, api_name="/ask")
    return chat, sources, box, status


@pytest.mark.slow
def test_named_api_endpoints(app):
    endpoints = client(app["url"]).view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/ask", "/new_chat", "/show_sources", "/vote_up", "/vote_down", "/document", "/compare"):
        assert name in endpoints
    assert not any(name.startswith("/admin") for name in endpoints)  # no login, no admin


@pytest.mark.slow
def test_cross_document_answer_with_sources(app):
    c = client(app["url"])
    chat, sources, box, status = ask(c, CROSS_DOC_QUESTION)
    assert box == "" and status == ""
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer = message_text(chat[-1])
    assert "[1]" in answer and "[2]" in answer
    assert "浦东新区" in answer and "松江区" in answer and "白鹤镇" in answer
    assert "第 1 条回答的来源" in sources
    assert sources.count('class="src-card"') >= 3
    assert "依法规范答复信息公开申请" in sources          # a heading path
    assert "<mark>" in sources                            # the sentences used, highlighted
    assert "浦府办〔2024〕14号" in sources                 # 文号


@pytest.mark.slow
def test_follow_up_is_rewritten_and_each_answer_keeps_its_sources(app):
    c = client(app["url"])
    ask(c, "松江区政府开放月在几月?")
    chat, sources, _, _ = ask(c, "那浦东新区呢?")
    answer = message_text(chat[-1])
    assert "按上文理解为" in answer and "浦东新区" in answer
    assert "8月" in answer.replace(" ", "")
    assert "第 2 条回答的来源" in sources and "2024年浦东新区政务公开工作要点" in sources
    first, _ = c.predict(1, api_name="/show_sources")
    assert "第 1 条回答的来源" in first and "2024年松江区政务公开工作要点" in first
    assert "2024年浦东新区政务公开工作要点" not in first
    second, _ = c.predict(2, api_name="/show_sources")
    assert "第 2 条回答的来源" in second and "2024年浦东新区政务公开工作要点" in second


@pytest.mark.slow
def test_scope_selector_limits_the_answer(app):
    c = client(app["url"])
    chat, sources, _, _ = ask(c, "政府开放月在几月?", scope="2024-songjiang")
    assert "[1]" in message_text(chat[-1])
    assert "2024年松江区政务公开工作要点" in sources
    for other in ("浦东新区政务公开", "白鹤镇", "浦锦街道", "淞南镇"):
        assert other not in sources


@pytest.mark.slow
def test_new_chat_clears_history_and_context(app):
    c = client(app["url"])
    ask(c, "松江区政府开放月在几月?")
    chat, sources, box, status, comment, fb = c.predict(api_name="/new_chat")
    assert chat == [] and "src-card" not in sources
    chat, _, _, _ = ask(c, "那浦东新区呢?")
    assert len(chat) == 2
    assert "按上文理解为：浦东新区政府开放月" not in message_text(chat[-1])


@pytest.mark.slow
@pytest.mark.parametrize("question, expected", [
    ("", messages.EMPTY_QUESTION),
    ("   \n\t ", messages.EMPTY_QUESTION),
    ("啊" * 600, "问题太长（600 字）"),
    ("？？？！！……。，", messages.NO_TEXT_IN_QUESTION),
    ("😀🎉👍", messages.NO_TEXT_IN_QUESTION),
    ("\x00\x01\x7f", messages.EMPTY_QUESTION),
])
def test_invalid_questions_get_a_clear_message(app, question, expected):
    c = client(app["url"])
    chat, sources, box, status = ask(c, question)
    assert expected in status and status.startswith("⚠️")
    assert chat == []                                     # nothing added to the conversation
    # The text stays for editing, unless it is longer than the box accepts (then it is not echoed).
    assert box == (question if len(question) <= app["settings"].app.max_question_chars else "")


@pytest.mark.slow
@pytest.mark.parametrize("question", [
    "What are the requirements for information disclosure on request?",
    "hello",
    "政府\x00开放\x07月在几月？",
    "<b>政府开放月</b>在几月？",
    "依申请公开办理有什么要求？" * 30,                     # 420 characters: still accepted
])
def test_odd_questions_get_an_answer_or_the_refusal(app, question):
    c = client(app["url"])
    chat, sources, box, status = ask(c, question)
    assert status == "" and len(chat) == 2
    answer = message_text(chat[-1])
    assert answer and "Traceback" not in answer and "出了错" not in answer
    assert "[1]" in answer or messages.REFUSAL in answer


@pytest.mark.slow
def test_html_typed_by_a_user_comes_back_escaped(app):
    c = client(app["url"])
    for question in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>政府开放月在几月？"):
        chat, sources, _, status = ask(c, question)
        shown = message_text(chat[-2]) + message_text(chat[-1]) + sources
        assert "<script" not in shown and "<img" not in shown
        assert "&lt;script&gt;" in message_text(chat[-2]) or "&lt;img" in message_text(chat[-2])


@pytest.mark.slow
def test_votes_are_logged_for_the_selected_answer(app):
    log = Path(app["settings"].paths.feedback_log)
    before = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
    c = client(app["url"])
    status, comment = c.predict("", api_name="/vote_up")
    assert "请先提问" in status
    ask(c, "松江区政府开放月在几月?")
    ask(c, "那浦东新区呢?")
    status, comment = c.predict("很清楚", api_name="/vote_up")
    assert "第 2 条回答" in status and comment == ""
    c.predict(1, api_name="/show_sources")
    status, _ = c.predict("<b>缺少</b>活动内容", api_name="/vote_down")
    assert "第 1 条回答" in status
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == before + 2
    up, down = lines[-2:]
    assert up["vote"] == "up" and up["question"] == "那浦东新区呢?" and "浦东新区" in up["rewritten_question"]
    assert up["comment"] == "很清楚" and up["history"] == ["松江区政府开放月在几月?"]
    assert up["citations"] and {"n", "clause_id", "doc_id", "quote"} <= set(up["citations"][0])
    assert down["vote"] == "down" and down["question"] == "松江区政府开放月在几月?"
    assert down["comment"] == "<b>缺少</b>活动内容"       # logged as typed; escaped only when shown
    for key in ("time", "answer", "scope"):
        assert key in up


@pytest.mark.slow
def test_document_endpoint(app):
    meta, outline, title, table = client(app["url"]).predict("2024-songjiang", api_name="/document")
    assert "沪松府办〔2024〕12号" in meta and "2024-05-10" in meta
    assert "<details>" in outline and "常态化推进政府开放活动" in outline and "时间节点：8月" in outline
    assert "共 51 项" in title
    table = table.get("value", table)  # an update: {"visible": …, "value": {"headers", "data"}}
    assert table["visible"] if "visible" in table else True
    assert table["headers"] == ["序号", "类别/指标", "任务", "责任单位", "时间节点"]
    assert len(table["data"]) == 51
    meta, outline, title, table = client(app["url"]).predict("2023-baoshan-songnan", api_name="/document")
    assert "宝淞府〔2023〕8号" in meta and "没有任务分解表" in title
    assert table.get("visible") is False


@pytest.mark.slow
def test_compare_endpoint(app):
    c = client(app["url"])
    out = c.predict("常态化推进政府开放活动", api_name="/compare")
    assert out.count('class="cmp-card') == 5
    assert out.count('class="cmp-card"') >= 4            # covered by at least four documents
    assert "（三）常态化推进政府开放活动" in out and "时间节点：8月" in out
    out = c.predict("推动政府公报数字化转型", api_name="/compare")
    assert "未涉及" in out
    assert "请输入" in c.predict("  ", api_name="/compare")
    out = c.predict("<script>alert(1)</script>", api_name="/compare")
    assert "<script" not in out


# --- slow: the admin tab on a copy of the corpus ----------------------------------------------------

NEW_DOC = """上海市嘉定区测试镇人民政府文件

嘉测府〔2025〕3号

关于印发《2025年嘉定区测试镇政务公开工作要点》的通知

各村（居）委会、镇属各单位：

现将《2025年嘉定区测试镇政务公开工作要点》印发给你们，请认真贯彻执行。

上海市嘉定区测试镇人民政府

2025年3月10日

2025年嘉定区测试镇政务公开工作要点

为进一步做好政务公开工作，制定本工作要点。

一、深化重点领域信息公开

（一）做好乡村振兴信息公开。及时公开乡村振兴项目的立项、资金使用和建设进展情况，每季度更新一次。

（二）做好公共文化活动信息公开。提前一周发布公共文化活动安排，方便群众参与。

二、提升政民互动水平

（一）办好政府开放日活动。9月集中组织开展政府开放日活动，邀请群众代表参观镇为民服务中心。

（二）规范答复信息公开申请。严格按照法定时限答复政府信息公开申请，做好申请人沟通工作。
"""


@pytest.fixture(scope="module")
def admin_app(shared_index, app, tmp_path_factory):
    """The app with the admin tab, on copies of the corpus and of the built index."""
    from assistant.config import load_settings
    from screenshots import start_app

    tmp = tmp_path_factory.mktemp("admin")
    shutil.copytree(ROOT / "corpus", tmp / "corpus")
    shutil.copytree(shared_index, tmp / "index", ignore=shutil.ignore_patterns(".lock"))
    settings = load_settings(corpus_dir=tmp / "corpus", overrides_dir=tmp / "corpus" / "overrides",
                             index_dir=tmp / "index", feedback_log=tmp / "feedback.jsonl", host="127.0.0.1")
    demo, url = start_app(settings, admin=True)
    yield {"url": url, "settings": settings, "tmp": tmp, "demo": demo}
    demo.close()


@pytest.mark.slow
def test_admin_preview_add_ask_remove(admin_app):
    from gradio_client import handle_file

    c = client(admin_app["url"])
    endpoints = c.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/admin_preview", "/admin_add", "/admin_cancel", "/admin_remove"} <= set(endpoints), sorted(endpoints)
    path = admin_app["tmp"] / "jiading-test.txt"
    path.write_text(NEW_DOC, encoding="utf-8")

    preview, status = c.predict(handle_file(str(path)), "", api_name="/admin_preview")
    assert "2025年嘉定区测试镇政务公开工作要点" in preview and "嘉测府〔2025〕3号" in preview
    assert "办好政府开放日活动" not in preview and "提升政民互动水平" in preview   # outline, top level
    assert "确认" in status
    # Cancel, then adding has nothing to add.
    c.predict(api_name="/admin_cancel")
    assert "没有待确认" in c.predict(api_name="/admin_add")[0]
    assert not (admin_app["settings"].paths.corpus_dir / "jiading-test.txt").exists()

    c.predict(handle_file(str(path)), "", api_name="/admin_preview")
    result = c.predict(api_name="/admin_add")
    assert "已加入知识库" in result[0] and "jiading-test" in result[0]
    assert "jiading-test" in _page_lists(admin_app)["doc_pick"]                 # what a page load shows now
    assert "<b>6</b>份文件" in _page_lists(admin_app)["header"]
    chat, sources, _, _ = ask(c, "测试镇政府开放日活动在几月？")
    assert "9月" in message_text(chat[-1]).replace(" ", "") and "测试镇" in sources
    # Another session, opened after the change, can browse the new document and scope to it.
    other = client(admin_app["url"])
    meta, *_ = other.predict("jiading-test", api_name="/document")
    assert "嘉测府〔2025〕3号" in meta
    chat, sources, _, status = ask(other, "政府开放日活动在几月？", scope="jiading-test")
    assert "9月" in message_text(chat[-1]).replace(" ", "") and not status

    status, *_ = c.predict("jiading-test", False, api_name="/admin_remove")
    assert "确认删除" in status
    assert (admin_app["settings"].paths.corpus_dir / "jiading-test.txt").exists()
    status, confirm = c.predict("jiading-test", True, api_name="/admin_remove")
    assert "已删除 jiading-test" in status and "<b>5</b>份文件" in _page_lists(admin_app)["header"]
    assert "jiading-test" not in _page_lists(admin_app)["doc_pick"]
    assert not (admin_app["settings"].paths.corpus_dir / "jiading-test.txt").exists()
    chat, sources, _, _ = ask(c, "测试镇政府开放日活动在几月？")
    assert "测试镇政务公开" not in sources
    # A session that still has the removed document selected gets a clear note, not an error.
    meta, *_ = other.predict("jiading-test", api_name="/document")
    assert "未找到文件" in meta
    chat, sources, _, status = ask(other, "政府开放日活动在几月？", scope="jiading-test")
    assert "已不在知识库中" in status


def _page_lists(app: dict) -> dict:
    """What the page-load refresh sends a newly opened page: header html and the choice lists."""
    demo = app["demo"]
    sync = next(block_fn.fn for block_fn in demo.fns.values() if block_fn.name == "sync")
    shown, header, scope, doc_pick, topics, *_ = sync(-1, "全部文件", None, None)
    return {"header": header, "scope": [value for _, value in scope["choices"]],
            "doc_pick": [value for _, value in doc_pick["choices"]]}


@pytest.mark.slow
@pytest.mark.parametrize("question, expected", [("\ud800政府开放月", "孤立的代理码位"), ("\udcff\udcfe", "UTF-8")])
def test_a_lone_surrogate_through_the_queue_protocol_gets_a_message(app, question, expected):
    """As the page's own JavaScript sends it (JSON "\\ud800"): the event completes with a message."""
    from assistant.eval.bench_load import QueueClient

    c = QueueClient(app["url"])
    with pytest.raises(RuntimeError, match=expected):
        c.ask(question)
    c.ask("政府开放月在几月？")                                # the same session still answers
    c.close()
