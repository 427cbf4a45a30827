"""What the server refuses before Gradio sees a request, and the sessions it forgets.

`RequestGuard` is ASGI middleware (installed through launch's app_kwargs, so it wraps every route):
- a request body over settings.app.max_request_bytes is refused with 413 (uploads have their own,
  larger limit), whether it declares its length or streams it;
- the upload endpoint is refused unless document management is on and, with a login configured,
  the caller is an administrator: readers and anonymous clients have no use for it;
- POST /login is throttled: an address with too many recent failures, or a locked account name,
  gets 429 without its password being checked.
`SessionReaper` frees Gradio's per-session state (≈100 KB each) of sessions idle for longer than
settings.app.session_ttl_s; Gradio itself only drops a session when a browser tab disconnects.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from assistant.config import Settings
from assistant.app.web.access import AccessControl

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TOO_LARGE = "请求太大（{size} 字节，上限 {limit} 字节）。"
TOO_MANY_FILES = "一次最多上传 {limit} 个文件。"
UPLOAD_FORBIDDEN = "只有管理员可以上传文件。"
LOGIN_LOCKED = "登录失败次数过多，请 {minutes} 分钟后再试。"
MULTIPART_OVERHEAD = 64_000   # form boundaries and headers around uploaded files


class _BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


class _TooManyFiles(Exception):
    pass


# How a multipart part that carries a file begins (browsers, gradio_client and httpx all write it so).
_FILE_PART = b'content-disposition: form-data; name="files"; filename='


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _cookie_user(scope: Scope) -> str | None:
    """The logged-in user, from Gradio's own access-token cookie and token table."""
    app = scope.get("app")
    cookies = _header(scope, b"cookie") or ""
    if app is None or not hasattr(app, "tokens"):
        return None
    jar = dict(part.strip().split("=", 1) for part in cookies.split(";") if "=" in part)
    cookie_id = getattr(app, "cookie_id", "")
    token = jar.get(f"access-token-{cookie_id}") or jar.get(f"access-token-unsecure-{cookie_id}")
    return app.tokens.get(token) if token else None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes `limit` bytes."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return body


def _replay(body: bytes, receive: Receive | None) -> Receive:
    """A receive callable that gives `body` once, then waits on the real one (for disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if receive is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


class AddressThrottle:
    """Failed logins per client address within the lock-out window."""

    def __init__(self, max_failures: int, window_s: float, clock=time.monotonic) -> None:
        self.max_failures, self.window_s, self._clock = max_failures, window_s, clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str) -> list[float]:
        now = self._clock()
        recent = [t for t in self._failures.get(address, []) if now - t < self.window_s]
        if recent:
            self._failures[address] = recent
        else:
            self._failures.pop(address, None)
        return recent

    def blocked(self, address: str) -> bool:
        with self._lock:
            return len(self._recent(address)) >= self.max_failures

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, []).append(self._clock())


class RequestGuard:
    def __init__(self, app: Callable, *, settings: Settings, access: AccessControl, uploads: bool) -> None:
        self.app = app
        self.settings = settings
        self.access = access
        self.uploads = uploads
        self.throttle = AddressThrottle(settings.app.login_max_failures_per_address, settings.app.login_lockout_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/")
        limit = self.settings.app.max_request_bytes
        if path.endswith("/upload"):
            if not self._may_upload(scope):
                await _reply(send, 403, UPLOAD_FORBIDDEN)
                return
            limit = self.settings.ingest.max_document_bytes * self.settings.app.max_upload_files + MULTIPART_OVERHEAD
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await _reply(send, 413, TOO_LARGE.format(size=int(declared), limit=limit))
            return
        if path.endswith("/upload"):
            await self._bounded(scope, receive, send, limit, max_files=self.settings.app.max_upload_files)
            return
        # Small bodies are read here, whole, so the limit holds however they are sent (a route that
        # parses JSON would turn an error raised mid-read into its own 400).
        body = await _read_body(receive, limit)
        if body is None:
            await _reply(send, 413, TOO_LARGE.format(size=f"{limit}+", limit=limit))
            return
        if path.endswith("/login") and scope["method"] == "POST":
            await self._login(scope, body, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _may_upload(self, scope: Scope) -> bool:
        if not self.uploads:
            return False
        return not self.access.enabled or self.access.is_admin(_cookie_user(scope))

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int, max_files: int) -> None:
        """Pass an upload on, counting its bytes and files; over a limit it is cut off with 413."""
        seen = files = 0
        tail = b""
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, files, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > limit:
                    raise _BodyTooLarge(seen)
                window = tail + chunk.lower()     # a part header may straddle two chunks
                files += window.count(_FILE_PART) - tail.count(_FILE_PART)
                tail = window[-len(_FILE_PART):]
                if files > max_files:
                    raise _TooManyFiles()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge as exc:
            if not started:
                await _reply(send, 413, TOO_LARGE.format(size=f"{exc.size}+", limit=limit))
        except _TooManyFiles:
            if not started:
                await _reply(send, 413, TOO_MANY_FILES.format(limit=max_files))

    async def _login(self, scope: Scope, body: bytes, send: Send) -> None:
        """Refuse throttled callers before their password is checked; count failures."""
        address = (scope.get("client") or ("?", 0))[0]
        user = (parse_qs(body.decode("utf-8", "replace")).get("username") or [""])[0].strip()
        if self.throttle.blocked(address) or (user and self.access.locked(user)):
            await _reply(send, 429, LOGIN_LOCKED.format(minutes=max(1, self.settings.app.login_lockout_s // 60)))
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, _replay(body, None), watch)
        if status != 200:
            self.throttle.failed(address)


class SessionReaper:
    """Every `interval_s`, drop Gradio session state not used for settings.app.session_ttl_s."""

    def __init__(self, server_app: Any, ttl_s: float, interval_s: float = 60.0) -> None:
        self.holder = server_app.state_holder
        self.ttl_s, self.interval_s = ttl_s, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="session-reaper", daemon=True)

    def start(self) -> "SessionReaper":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def reap(self) -> int:
        """Forget idle sessions now; returns how many went."""
        import datetime

        cutoff = datetime.datetime.now() - datetime.timedelta(seconds=self.ttl_s)
        idle = [sid for sid, used in list(self.holder.time_last_used.items()) if used < cutoff]
        with self.holder.lock:
            for sid in idle:
                self.holder.session_data.pop(sid, None)
                self.holder.time_last_used.pop(sid, None)
        return len(idle)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                gone = self.reap()
                if gone:
                    log.info("freed %d idle session(s)", gone)
            except Exception:  # internals of Gradio may change; never take the server down for it
                log.exception("session reaping failed")
