"""The request guard, roles and session reaping on a real app with a login (assistant/app/web/guard.py).

One app per module: the real assistant, a users file with a reader (li) and an administrator
(wang), driven over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from assistant.app.web.access import ADMIN, READER, make_account, write_accounts
from assistant.app.web.guard import AddressThrottle

ROOT = Path(__file__).resolve().parents[3]
READER_PASS, ADMIN_PASS = "reader-pass-1", "admin-pass-1"

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]


@pytest.fixture(scope="module")
def app(shared_index, tmp_path_factory):
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from screenshots import start_app

    from assistant.config import load_settings

    tmp = tmp_path_factory.mktemp("guard")
    shutil.copytree(ROOT / "corpus", tmp / "corpus")
    users = tmp / "users.json"
    write_accounts(users, {"li": make_account("li", READER_PASS, READER),
                           "wang": make_account("wang", ADMIN_PASS, ADMIN),
                           "zhou": make_account("zhou", READER_PASS, READER)})
    settings = load_settings(corpus_dir=tmp / "corpus", index_dir=shared_index, users_file=users,
                             feedback_log=tmp / "feedback.jsonl", login_max_failures=3, host="127.0.0.1")
    demo, url = start_app(settings)
    yield {"url": url.rstrip("/"), "settings": settings, "demo": demo, "tmp": tmp}
    demo.close()


def login(app: dict, user: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=app["url"], timeout=30)
    response = http.post("/login", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return http


def test_a_body_over_the_limit_is_refused_before_the_app_reads_it(app):
    http = login(app, "li", READER_PASS)
    big = b"x" * (app["settings"].app.max_request_bytes + 1)
    declared = http.post("/gradio_api/queue/join", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "请求太大" in declared.json()["detail"]

    def chunks():
        for _ in range(20):
            yield b"y" * 8_000                    # 160 KB without a Content-Length

    streamed = http.post("/gradio_api/queue/join", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_upload_needs_an_administrator(app):
    files = {"files": ("a.txt", "政务公开".encode(), "text/plain")}
    anonymous = httpx.post(app["url"] + "/gradio_api/upload", files=files, timeout=30)
    assert anonymous.status_code == 403 and "管理员" in anonymous.json()["detail"]
    assert login(app, "li", READER_PASS).post("/gradio_api/upload", files=files).status_code == 403
    admin = login(app, "wang", ADMIN_PASS)
    assert admin.post("/gradio_api/upload", files=files).status_code == 200
    many = [("files", (f"{n}.txt", "政务公开".encode(), "text/plain"))
            for n in range(app["settings"].app.max_upload_files + 1)]
    refused = admin.post("/gradio_api/upload", files=many)
    assert refused.status_code == 413 and "最多上传" in refused.json()["detail"]
    big = {"files": ("big.txt", b"x" * (app["settings"].ingest.max_document_bytes + 1), "text/plain")}
    assert admin.post("/gradio_api/upload", files=big).status_code in (413, 400)


def test_readers_cannot_manage_documents_and_do_not_see_the_tab(app):
    from gradio_client import Client

    reader = Client(app["url"], auth=("li", READER_PASS), verbose=False, analytics_enabled=False)
    status, *_ = reader.predict("2024-pudong", True, api_name="/admin_remove")
    assert "只有管理员" in status
    assert (app["settings"].paths.corpus_dir / "2024-pudong.txt").exists()
    assert "只有管理员" in reader.predict(api_name="/admin_add")[0]
    # Asking still works for a reader.
    chat, *_ = reader.predict("政府开放月在几月？", "全部文件", api_name="/ask")
    assert chat and "月" in str(chat[-1]["content"])

    admin = Client(app["url"], auth=("wang", ADMIN_PASS), verbose=False, analytics_enabled=False)
    status, *_ = admin.predict("2024-pudong", False, api_name="/admin_remove")
    assert "确认删除" in status                 # past the role check, stopped by the confirmation

    sync = next(fn.fn for fn in app["demo"].fns.values() if fn.name == "sync")
    as_reader = sync(-1, "全部文件", None, type("R", (), {"username": "li"})())
    as_admin = sync(-1, "全部文件", None, type("R", (), {"username": "wang"})())
    assert as_reader[-1].visible is False and as_reader[-2] == []
    assert as_admin[-1].visible is True and len(as_admin[-2]) == 5


def test_a_locked_account_is_refused_even_with_the_right_password(app):
    http = httpx.Client(base_url=app["url"], timeout=30)
    for _ in range(app["settings"].app.login_max_failures):
        assert http.post("/login", data={"username": "zhou", "password": "wrong"}).status_code == 400
    locked = http.post("/login", data={"username": "zhou", "password": READER_PASS})
    assert locked.status_code == 429 and "分钟后再试" in locked.json()["detail"]
    assert http.post("/login", data={"username": "li", "password": READER_PASS}).status_code == 200


def test_an_address_with_many_failures_is_throttled():
    clock = [0.0]
    throttle = AddressThrottle(max_failures=3, window_s=60, clock=lambda: clock[0])
    for _ in range(3):
        assert not throttle.blocked("10.0.0.1")
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1") and not throttle.blocked("10.0.0.2")
    clock[0] = 61
    assert not throttle.blocked("10.0.0.1")


def test_idle_sessions_are_freed(app):
    from gradio_client import Client

    c = Client(app["url"], auth=("li", READER_PASS), verbose=False, analytics_enabled=False)
    c.predict("政府开放月在几月？", "全部文件", api_name="/ask")
    reaper = app["demo"].session_reaper
    holder = reaper.holder
    assert c.session_hash in holder.session_data
    reaper.ttl_s = 0                                  # everything is idle now
    assert reaper.reap() >= 1
    assert c.session_hash not in holder.session_data
    reaper.ttl_s = app["settings"].app.session_ttl_s
    # The session starts afresh on its next question (its conversation is gone, not broken).
    chat, *_ = c.predict("依申请公开有什么要求？", "全部文件", api_name="/ask")
    assert len(chat) == 2


def test_cancelled_uploads_are_deleted(app):
    from gradio_client import Client, handle_file
    from gradio.utils import get_upload_folder

    path = app["tmp"] / "cancel-me-9f3a.txt"
    path.write_text("2025年测试镇政务公开工作要点\n一、总体要求\n做好政务公开工作。\n", encoding="utf-8")
    admin = Client(app["url"], auth=("wang", ADMIN_PASS), verbose=False, analytics_enabled=False)
    admin.predict(handle_file(str(path)), "", api_name="/admin_preview")
    uploads = Path(get_upload_folder())
    assert list(uploads.rglob(path.name))
    admin.predict(api_name="/admin_cancel")
    assert not list(uploads.rglob(path.name))
