"""`assistant bench load`: the real web app under N concurrent clients on 127.0.0.1.

The app is started as its own process (`app.py`, the same command users run), so the figures include
everything between the answerer and a client: Gradio's queue, the event stream, session state and
JSON. Each client is one session asking the eval questions in turn through /ask, over the queue
protocol the page itself uses.
Two phases, both bounded:
1. throughput: `--clients` threads share `--answers` questions; latency per answer, errors, answers/s;
2. sessions: `--sessions` fresh sessions ask one question each; the server's RSS is read before
   (after a warm-up) and after, which shows whether per-session state is freed or kept.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.config import PROJECT_ROOT, Settings

START_TIMEOUT_S = 600       # a first start may build the index
REQUEST_TIMEOUT_S = 60


@dataclass
class LoadResult:
    clients: int
    answers: int
    errors: int
    per_s: float
    p50_ms: float
    p95_ms: float
    rss_before_mb: float
    rss_after_mb: float
    sessions: int

    def table(self) -> str:
        return "\n".join([
            f"clients {self.clients}, answers {self.answers}, errors {self.errors}",
            f"throughput {self.per_s:.1f} answers/s, latency p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms",
            f"server RSS {self.rss_before_mb:.0f} MB after warm-up -> {self.rss_after_mb:.0f} MB after "
            f"{self.sessions} more sessions ({self.rss_after_mb - self.rss_before_mb:+.0f} MB)",
        ])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _questions(settings: Settings) -> list[str]:
    path = settings.paths.eval_dir / "questions.jsonl"
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [item["question"] for item in items if not item.get("history")]


class AppProcess:
    """`app.py` on a free port of 127.0.0.1, stopped on exit."""

    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        env = dict(os.environ, ASSISTANT_CORPUS_DIR=str(settings.paths.corpus_dir),
                   ASSISTANT_INDEX_DIR=str(settings.paths.index_dir), ASSISTANT_FEEDBACK_LOG=str(settings.paths.feedback_log))
        self.proc = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(self.port),
             "--no-browser", "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}/"

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the app exited: " + self.proc.stderr.read().decode("utf-8", "replace")[-2000:])
            try:
                if httpx.get(self.url + "gradio_api/info", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the app did not answer within {START_TIMEOUT_S} s")

    def __enter__(self) -> "AppProcess":
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class QueueClient:
    """One browser-like client: Gradio's queue protocol (join, then the event stream) over one
    keep-alive connection, as the page's own JavaScript speaks it. gradio_client would do the same
    with about 110 ms of CPU per answer, more than the server spends, on the same two cores."""

    def __init__(self, url: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S)
        config = self.http.get("config").json()
        ask = next(d for d in config["dependencies"] if d.get("api_name") == "ask")
        self.fn_index, self.trigger_id = ask["id"], ask["targets"][0][0]
        self.reset_session()

    def reset_session(self) -> None:
        self.session_hash = uuid.uuid4().hex

    def ask(self, question: str) -> None:
        payload = {"data": [question, "全部文件", None], "event_data": None, "fn_index": self.fn_index,
                   "trigger_id": self.trigger_id, "session_hash": self.session_hash}
        # ASCII-escaped like a browser's JSON.stringify, so any string (a lone surrogate too) can be sent.
        joined = self.http.post("gradio_api/queue/join", content=json.dumps(payload).encode("ascii"),
                                headers={"content-type": "application/json"})
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": self.session_hash}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event_id or message.get("msg") != "process_completed":
                    continue
                data = message["output"]["data"]           # chat, sources, box, status (, state)
                chat, status = data[0], data[3]
                if not message.get("success") or not chat or status.startswith("⚠️"):
                    raise RuntimeError(f"no answer for {question!r}: {status or message}")
                return
        raise RuntimeError(f"the event stream ended before the answer to {question!r}")

    def close(self) -> None:
        self.http.close()


def _throughput(url: str, questions: list[str], clients: int, answers: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(answers))
    made = [QueueClient(url) for _ in range(clients)]

    def work(client) -> None:
        nonlocal errors
        for n in counter:   # shared: the clients together ask `answers` questions
            question = questions[n % len(questions)]
            started = time.perf_counter()
            try:
                client.ask(question)
            except Exception:
                with lock:
                    errors += 1
                continue
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=work, args=(c,)) for c in made]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for client in made:
        client.close()
    return latencies, errors, time.perf_counter() - started


def _sessions(url: str, questions: list[str], sessions: int, clients: int) -> int:
    """`sessions` fresh sessions, one question each, over `clients` threads; returns the errors."""
    errors = 0
    lock = threading.Lock()
    counter = iter(range(sessions))

    def work() -> None:
        nonlocal errors
        client = QueueClient(url)
        for n in counter:
            client.reset_session()
            try:
                client.ask(questions[n % len(questions)])
            except Exception:
                with lock:
                    errors += 1
        client.close()

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def run_load(settings: Settings, *, clients: int, answers: int, sessions: int, warmup: int = 20) -> LoadResult:
    questions = _questions(settings)
    with AppProcess(settings) as app:
        _sessions(app.url, questions, warmup, min(clients, warmup))
        latencies, errors, seconds = _throughput(app.url, questions, clients, answers)
        rss_before = _rss_mb(app.proc.pid)
        errors += _sessions(app.url, questions, sessions, clients)
        time.sleep(1.0)
        rss_after = _rss_mb(app.proc.pid)
    ordered = sorted(latencies) or [float("nan")]
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return LoadResult(clients=clients, answers=len(latencies), errors=errors,
                      per_s=len(latencies) / seconds if seconds else 0.0, p50_ms=statistics.median(ordered),
                      p95_ms=p95, rss_before_mb=rss_before, rss_after_mb=rss_after, sessions=sessions)


def cmd_bench_load(args: argparse.Namespace, settings: Settings) -> int:
    result = run_load(settings, clients=args.clients, answers=args.answers, sessions=args.sessions)
    if args.json:
        data = asdict(result)
        data.pop("sessions")
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(result.table())
    return 0 if result.errors == 0 else 1


def register(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("load", help="the real app under N concurrent clients: answers/s, p50/p95, RSS")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--answers", type=int, default=200, help="questions asked in the throughput phase (default 200)")
    p.add_argument("--sessions", type=int, default=1000,
                   help="fresh sessions opened after it, for the RSS growth (default 1000)")
    p.add_argument("--json", action="store_true",
                   help="one object: clients, answers, errors, per_s, p50_ms, p95_ms, rss_before_mb, rss_after_mb")
    p.set_defaults(func=cmd_bench_load)
