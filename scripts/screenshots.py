"""Screenshots of the web app for the README: docs/screenshot-chat.png, docs/screenshot-compare.png.

    apt-get install -y chromium fonts-noto-cjk        # Debian's Chromium; no browser download
    .venv/bin/python scripts/screenshots.py            # starts the app itself on a free port
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:7860/   # or uses a running one

The browser steps (`chat_flow`, `compare_flow`) are shared with tests/app/web/test_browser.py.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 1000}
CHAT_QUESTION = "依申请公开办理有什么要求?"
CHAT_FOLLOW_UP = "那浦东新区呢?"
COMPARE_TOPIC = "常态化推进政府开放活动"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(settings=None, *, port: int | None = None, admin: bool | None = None):
    """Load the assistant, build and launch the app on 127.0.0.1; returns (demo, url)."""
    from assistant.config import load_settings
    from assistant.pipeline import Assistant
    from assistant.app.web.app import build_app, launch_app

    settings = settings or load_settings()
    settings = settings.replace(host="127.0.0.1")
    assistant = Assistant.load(settings, progress=False)
    demo = build_app(assistant, settings, admin=admin)
    _, url, _ = launch_app(demo, settings, port=port or free_port(), prevent_thread_lock=True, quiet=True)
    return demo, url


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def new_page(browser):
    """A page as staff see it: Chinese locale (Gradio's own labels follow it), desktop size."""
    return browser.new_page(viewport=VIEWPORT, device_scale_factor=1, locale="zh-CN")


def open_app(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#question textarea", timeout=60_000)


def bot_messages(page):
    return page.locator("#chatbot .message.bot")


def last_bot_text(page) -> str:
    bots = bot_messages(page)
    n = bots.count()
    return bots.nth(n - 1).inner_text() if n else ""


def select_answer(page, n: int) -> None:
    """Click the n-th answer (1-based) in the chat; the sources panel switches to it."""
    bot_messages(page).nth(n - 1).locator(".message-content").click()
    page.locator("#sources .src-header", has_text=f"第 {n} 条回答").wait_for(timeout=10_000)
    page.wait_for_timeout(300)


def ask(page, question: str, *, timeout_s: float = 90) -> None:
    """Type a question, send it and wait until its answer has streamed out completely (the
    sources panel is filled only with the last piece of the answer)."""
    before = page.locator("#sources .src-header").all_inner_texts()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        headers = page.locator("#sources .src-header").all_inner_texts()
        if headers and headers != before:
            break
        page.wait_for_timeout(200)
    else:
        raise TimeoutError(f"no answer for {question!r} within {timeout_s} s")
    page.wait_for_timeout(400)


def chat_flow(page, url: str) -> None:
    """A cross-document question, a follow-up (rewritten), then the first answer selected again
    so the sources panel shows its citations from several documents."""
    open_app(page, url)
    ask(page, CHAT_QUESTION)
    ask(page, CHAT_FOLLOW_UP)
    select_answer(page, 1)
    scroll_chat_to_bottom(page)


def scroll_chat_to_bottom(page) -> None:
    page.evaluate("""() => { for (const el of document.querySelectorAll('#chatbot *')) {
        if (el.scrollHeight > el.clientHeight + 4 && getComputedStyle(el).overflowY !== 'visible') {
            el.scrollTop = el.scrollHeight; } } }""")
    page.wait_for_timeout(300)


def compare_flow(page, topic: str = COMPARE_TOPIC) -> None:
    """Open the 专题对比 tab and pick `topic` from the 常见专题 list (typed into the keyword box
    when it is not in the list); wait for the side-by-side cards."""
    page.get_by_role("tab", name="专题对比").click()
    pick = page.locator("#topic-pick input").first
    pick.wait_for(timeout=10_000)
    pick.click()
    pick.fill(topic)
    option = page.locator("[role=option]", has_text=topic).first
    try:
        option.click(timeout=5_000)
    except Exception:  # not a listed topic: use the keyword box
        page.keyboard.press("Escape")
        box = page.locator("#topic textarea, #topic input").first
        box.fill(topic)
        box.press("Enter")
    page.locator("#compare-out .compare-topic", has_text=topic).wait_for(timeout=60_000)
    page.wait_for_timeout(400)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="use a running app instead of starting one")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs (default docs/)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print("需要 Debian 的 Chromium：apt-get install -y chromium fonts-noto-cjk", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    demo = None
    url = args.url
    if not url:
        demo, url = start_app()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = new_page(browser)
            chat_flow(page, url)
            page.screenshot(path=str(out / "screenshot-chat.png"))
            compare_flow(page)
            page.screenshot(path=str(out / "screenshot-compare.png"), full_page=True)
            browser.close()
    finally:
        if demo is not None:
            demo.close()
    print(f"wrote {out / 'screenshot-chat.png'} and {out / 'screenshot-compare.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
