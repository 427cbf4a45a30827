"""The app in a real browser: Debian's headless Chromium driven by Playwright (sync API).

Needs /usr/bin/chromium (`apt-get install -y chromium fonts-noto-cjk fonts-noto-color-emoji`);
Playwright's own browser downloads are never used. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))

import screenshots as flow  # noqa: E402  (scripts/screenshots.py: the shared browser steps)

ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not flow.CHROMIUM.exists(),
                       reason="needs Debian's Chromium at /usr/bin/chromium "
                              "(apt-get install -y chromium fonts-noto-cjk fonts-noto-color-emoji)"),
]


@pytest.fixture(scope="module")
def app(shared_index, tmp_path_factory):
    from assistant.config import load_settings

    tmp = tmp_path_factory.mktemp("browser")
    settings = load_settings(index_dir=shared_index, feedback_log=tmp / "feedback.jsonl", host="127.0.0.1")
    demo, url = flow.start_app(settings, admin=False)
    yield {"url": url, "settings": settings}
    demo.close()


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = flow.launch_browser(p)
        pg = flow.new_page(browser)
        pg.set_default_timeout(30_000)
        yield pg
        browser.close()


def test_chat_sources_feedback_and_compare(app, page):
    log = Path(app["settings"].paths.feedback_log)
    flow.open_app(page, app["url"])
    assert "政务公开助手" in page.locator("#app-header").inner_text()

    # Ask; the answer streams in, then its sources appear.
    flow.ask(page, flow.CHAT_QUESTION)
    answer = flow.last_bot_text(page)
    assert "[1]" in answer and "浦东新区" in answer and "松江区" in answer
    sources = page.locator("#sources")
    assert "第 1 条回答的来源" in sources.inner_text()
    path = sources.locator(".src-path", has_text="依法规范答复信息公开申请").first
    path.scroll_into_view_if_needed()
    expect(path).to_be_visible()
    expect(sources.locator("mark").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "chat-sources.png"))

    # 👍 on the answer: one JSON line with vote "up".
    assert not log.exists()
    page.locator("#vote-up").click()
    page.locator("#feedback-status", has_text="已记录").wait_for()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["vote"] == "up" and record["question"] == flow.CHAT_QUESTION and record["citations"]

    # A follow-up is rewritten; selecting the first answer brings its sources back.
    flow.ask(page, flow.CHAT_FOLLOW_UP)
    assert "按上文理解为" in flow.last_bot_text(page)
    assert "第 2 条回答的来源" in sources.inner_text()
    flow.select_answer(page, 1)
    assert "第 1 条回答的来源" in sources.inner_text()
    assert sources.locator(".src-card").count() >= 3

    # Compare tab.
    flow.compare_flow(page)
    cards = page.locator("#compare-out .cmp-card")
    assert cards.count() == len(app_documents(app))
    assert page.locator("#compare-out .cmp-card:not(.weak)").count() >= 4
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)


def test_typed_html_is_shown_as_text(app, page):
    flow.open_app(page, app["url"])
    page.evaluate("() => { window.__xss = 0; }")
    typed = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>政府开放月在几月？"
    flow.ask(page, typed)
    user = page.locator("#chatbot .message.user").last.inner_text()
    assert "<img src=x" in user and "<script>" in user          # shown literally
    assert page.evaluate("() => window.__xss") == 0              # nothing ran
    assert page.locator("#chatbot img[src='x']").count() == 0


def test_invalid_input_shows_a_message(app, page):
    flow.open_app(page, app["url"])
    box = page.locator("#question textarea")
    box.fill("😀😀")
    box.press("Enter")
    page.locator("#status-line", has_text="没有看懂这个问题").wait_for()
    assert page.locator("#chatbot .message").count() == 0


def test_document_tab_shows_outline_and_table(app, page):
    flow.open_app(page, app["url"])
    page.get_by_role("tab", name="文件浏览").click()
    pick = page.locator("#doc-pick input").first
    pick.click()
    page.locator("[role=option]", has_text="2024年松江区政务公开工作要点").first.click()
    page.locator("#doc-meta", has_text="沪松府办〔2024〕12号").wait_for()
    heading = page.locator("#doc-outline .outline > details > summary", has_text="深入践行人民城市理念").first
    expect(heading).to_be_visible()
    heading.click()
    sub = page.locator("#doc-outline summary", has_text="常态化推进政府开放活动").first
    sub.click()
    clause = page.locator("#doc-outline details[open] .clause", has_text="政府开放月").first
    expect(clause).to_be_visible()
    expect(clause).to_contain_text("时间节点：8月")
    expect(page.locator("#doc-table")).to_be_visible()
    expect(page.locator("#doc-table")).to_contain_text("区政府各部门")
    page.screenshot(path=str(ARTIFACTS / "documents.png"), full_page=True)


def app_documents(app) -> list[str]:
    from assistant.ingest.corpus import corpus_files

    return [f.doc_id for f in corpus_files(app["settings"])]


NEW_DOC = """2025年嘉定区测试镇政务公开工作要点

嘉测府〔2025〕7号

一、提升政民互动水平
（一）办好政府开放日活动。9月集中组织开展政府开放日活动。
"""


@pytest.fixture(scope="module")
def admin_app(shared_index, app, tmp_path_factory):
    """Document management on, on copies of the corpus and the index; pages re-check their lists every second."""
    import shutil

    from assistant.config import load_settings

    tmp = tmp_path_factory.mktemp("browser-admin")
    shutil.copytree(ROOT / "corpus", tmp / "corpus")
    shutil.copytree(shared_index, tmp / "index", ignore=shutil.ignore_patterns(".lock"))
    settings = load_settings(corpus_dir=tmp / "corpus", index_dir=tmp / "index", feedback_log=tmp / "f.jsonl",
                             host="127.0.0.1", list_refresh_s=1.0)
    demo, url = flow.start_app(settings, admin=True)
    yield {"url": url, "settings": settings, "tmp": tmp}
    demo.close()


def _doc_options(page) -> list[str]:
    page.get_by_role("tab", name="文件浏览").click()
    page.locator("#doc-pick input").first.click()
    options = page.locator("[role=option]").all_inner_texts()
    page.keyboard.press("Escape")
    return options


def test_every_page_sees_documents_added_and_removed_elsewhere(admin_app, page):
    from gradio_client import Client, handle_file

    flow.open_app(page, admin_app["url"])                       # a page opened before the change
    assert not any("测试镇" in o for o in _doc_options(page))
    path = admin_app["tmp"] / "ceshi.txt"
    path.write_text(NEW_DOC, encoding="utf-8")
    other = Client(admin_app["url"], verbose=False, analytics_enabled=False)   # another session adds
    other.predict(handle_file(str(path)), "ceshi", api_name="/admin_preview")
    assert "已加入知识库" in other.predict(api_name="/admin_add")[0]

    expect(page.locator("#app-header")).to_contain_text("6", timeout=15_000)   # the open page refreshes
    assert any("测试镇" in o for o in _doc_options(page))
    page.reload()                                                 # and a reloaded one can browse it
    flow.open_app(page, admin_app["url"])
    page.get_by_role("tab", name="文件浏览").click()
    page.locator("#doc-pick input").first.click()
    page.locator("[role=option]", has_text="测试镇").first.click()
    page.locator("#doc-meta", has_text="嘉测府〔2025〕7号").wait_for()

    other.predict("ceshi", True, api_name="/admin_remove")
    expect(page.locator("#app-header")).to_contain_text("5", timeout=15_000)
    assert not any("测试镇" in o for o in _doc_options(page))
    expect(page.locator("#doc-meta")).not_to_contain_text("嘉测府")  # the removed document is no longer shown
