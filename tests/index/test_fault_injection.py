"""kill -9 at seeded random moments of `index build`, `add` and `remove`; the next start must recover.

After every kill the next start (`ensure_index`, as `Assistant.load` and every index command run it)
must leave: an index that verifies, corpus/ and the index agreeing on which documents exist (the
added or removed one is in both or in neither, its override with it), no mark, aside, temporary
file or abandoned build, and `index status` exiting 0.

Starting `python -m assistant.app.cli` costs about 15 s of imports and model loading before the first
write, so the commands run in children forked from one warm server process (this file run as a
script: the same `assistant.app.cli.main`, started after the imports). The moments are stratified over
each command's measured duration, so every phase — parse, store, embed, persist, publish, cleanup —
gets hit. One cold `python -m assistant.app.cli remove` is killed too: the case first reported
(`.ID.txt.removing` left behind while the model loads).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
BASE_DOC = "2024-qingpu-baihe"                      # 14 clauses: a build takes seconds
ADDED = ROOT / "eval" / "documents" / "2025-wenshang-zhongdu.txt"   # 5 clauses
ADDED_ID = ADDED.stem
MOMENTS = 6
SEED = 20261202

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


# --- the fork server (this file run as a script) ---------------------------------------------------

def _serve() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    from assistant.app import cli
    from assistant.config import load_settings
    from assistant.index.embedding import get_embed_model
    import assistant.app.knowledge  # imported before forking, as the CLI would have by then
    import assistant.pipeline  # noqa: F401

    get_embed_model(load_settings())
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "run" in request:
            pid = os.fork()
            if pid == 0:
                code = 99
                try:
                    os.environ.update(request["env"])
                    out = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(out, 1)
                    os.dup2(out, 2)
                    code = cli.main(request["run"])
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            print(json.dumps({"pid": pid}), flush=True)
        else:
            done, status = os.waitpid(request["wait"], 0 if request.get("block", True) else os.WNOHANG)
            print(json.dumps({"code": os.waitstatus_to_exitcode(status) if done else None}), flush=True)


class Server:
    def __init__(self) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        self.process = subprocess.Popen([sys.executable, __file__, "--serve"], cwd=ROOT, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def _ask(self, request: dict) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def ready(self) -> None:
        assert self.process.stdout
        line = self.process.stdout.readline()
        assert json.loads(line) == {"ready": True}, line

    def start(self, argv: list[str], settings, log: Path) -> int:
        env = {"ASSISTANT_CORPUS_DIR": str(settings.paths.corpus_dir), "ASSISTANT_INDEX_DIR": str(settings.paths.index_dir)}
        return self._ask({"run": argv, "env": env, "log": str(log)})["pid"]

    def wait(self, pid: int) -> int:
        return self._ask({"wait": pid})["code"]

    def exited(self, pid: int) -> int | None:
        """The exit code if the child has ended (it is then reaped), else None."""
        return self._ask({"wait": pid, "block": False})["code"]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(30)


# --- the test side -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    srv = Server()          # warms up (imports, model) while the base index is built below
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def bases(tmp_path_factory, server):
    """base0: one document and its index; base1: base0 after a complete `add` of ADDED, with an override."""
    from assistant.config import load_settings
    from assistant.index.store import ensure_index
    from assistant.app.knowledge import add_documents

    root = tmp_path_factory.mktemp("faults")
    base0 = load_settings(corpus_dir=root / "base0" / "corpus", index_dir=root / "base0" / "index")
    base0.paths.corpus_dir.mkdir(parents=True)
    shutil.copy(CORPUS / f"{BASE_DOC}.txt", base0.paths.corpus_dir)
    ensure_index(base0)
    base1 = _copy(base0, root / "base1")
    add_documents([ADDED], base1)
    base1.paths.overrides_dir.mkdir(exist_ok=True)
    (base1.paths.overrides_dir / f"{ADDED_ID}.json").write_text("{}", encoding="utf-8")
    server.ready()
    return base0, base1


def _copy(settings, dest: Path, *, index: bool = True):
    shutil.copytree(settings.paths.corpus_dir, dest / "corpus")
    if index:
        shutil.copytree(settings.paths.index_dir, dest / "index")
    return settings.replace(corpus_dir=dest / "corpus", index_dir=dest / "index")


def _leftovers(settings) -> list[str]:
    from assistant.index.manifest import _live_build

    live = _live_build(settings.paths.index_dir)
    found = [str(p.relative_to(settings.paths.corpus_dir.parent)) for folder in
             (settings.paths.corpus_dir, settings.paths.overrides_dir, settings.paths.index_dir) if folder.is_dir()
             for p in folder.iterdir() if p.name.startswith(".") and p.name != ".lock"]
    found += [p.name for p in settings.paths.index_dir.glob("build-*") if p != live] if settings.paths.index_dir.is_dir() else []
    return sorted(found)


def _recover_and_check(settings, capsys, expected: set[str], optional: str | None) -> str:
    """The next start; then everything must agree. Returns which way the optional document went."""
    from assistant.app import cli
    from assistant.index.store import ensure_index, load_index

    left = _leftovers(settings)
    capsys.readouterr()
    _, report = ensure_index(settings)
    err = capsys.readouterr().err
    if left:   # whatever the kill left was dealt with and said so
        assert report.recovered or "索引损坏" in err, (left, err)
    assert _leftovers(settings) == [], _leftovers(settings)

    index = load_index(settings)
    corpus = {p.stem for p in settings.paths.corpus_dir.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert set(index.manifest.documents) == corpus
    assert expected <= corpus <= expected | {optional}
    present = optional in corpus
    if optional and settings.paths.overrides_dir.is_dir() and any(settings.paths.overrides_dir.iterdir()):
        assert (settings.paths.overrides_dir / f"{optional}.json").exists() == present
    assert cli.main(["--corpus-dir", str(settings.paths.corpus_dir), "--index-dir", str(settings.paths.index_dir),
                     "index", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["healthy"] is True
    return ("present" if present else "absent") + (f", recovered {len(report.recovered)}" if report.recovered else "")


def _new_build(settings, before: set[str]) -> bool:
    return settings.paths.index_dir.is_dir() and any(p.name not in before for p in settings.paths.index_dir.glob("build-*"))


def _builds(settings) -> set[str]:
    return {p.name for p in settings.paths.index_dir.glob("build-*")} if settings.paths.index_dir.is_dir() else set()


def _trials(name, server, tmp_path, capsys, make_state, argv, expected, optional):
    """One uninterrupted run, timed (T in all, W from its build folder's appearance to its exit), then
    MOMENTS kills: half at seeded moments spread over the run (one per stratum of 1.1 T), half at
    seeded delays after the build folder appears (one per stratum of 1.1 W) — the writes are a short
    tail of each run, which moments spread over the whole run would rarely hit."""
    rng = random.Random(f"{SEED}-{name}")
    started = time.perf_counter()
    settings = make_state(tmp_path / "calibration", 0)
    before = _builds(settings)
    t0 = time.perf_counter()
    pid = server.start(argv(settings), settings, tmp_path / "calibration.log")
    appeared = None
    while (code := server.exited(pid)) is None:
        if appeared is None and _new_build(settings, before):
            appeared = time.perf_counter() - t0
        time.sleep(0.002)
    duration = time.perf_counter() - t0
    assert code == 0, (tmp_path / "calibration.log").read_text(encoding="utf-8")
    assert appeared is not None, "the run wrote no build folder"
    writes = duration - appeared
    outcomes = [(f"uninterrupted {duration:.2f} s, writing from {appeared:.2f} s: "
                 f"{_recover_and_check(settings, capsys, expected, optional)}")]
    half = MOMENTS // 2
    for moment in range(MOMENTS):
        settings = make_state(tmp_path / f"kill{moment}", moment + 1)
        before = _builds(settings)
        log = tmp_path / f"kill{moment}.log"
        pid = server.start(argv(settings), settings, log)
        code = None
        if moment < half:
            delay = (moment + rng.random()) / half * 1.1 * duration
            time.sleep(delay)
            when = f"{delay:.2f} s"
        else:
            delay = (moment - half + rng.random()) / half * 1.1 * writes
            while not _new_build(settings, before) and (code := server.exited(pid)) is None:
                time.sleep(0.001)
            time.sleep(delay)
            when = f"build folder + {delay * 1000:.0f} ms"
        if code is None:
            code = server.exited(pid)
        if code is None:
            # Not reaped yet, so the pid is still this child's (alive, or a zombie that ignores the signal).
            os.kill(pid, signal.SIGKILL)
            code = server.wait(pid)
        left = _leftovers(settings)
        outcome = _recover_and_check(settings, capsys, expected, optional)
        outcomes.append(f"kill at {when} ({'killed' if code == -signal.SIGKILL else f'ended {code}'}), "
                        f"left {left or 'nothing'}: {outcome}")
    with capsys.disabled():
        print(f"\n{name}: {time.perf_counter() - started:.0f} s\n  " + "\n  ".join(outcomes))


def test_kill_during_index_build(server, bases, tmp_path, capsys):
    base0, _ = bases

    def state(dest, n):   # even: the first build ever; odd: a rebuild beside a live index
        return _copy(base0, dest, index=n % 2 == 1)

    _trials("index build", server, tmp_path, capsys, state,
            lambda s: ["index", "build", "--rebuild"] if (s.paths.index_dir / "CURRENT").exists() else ["index", "build"],
            {BASE_DOC}, None)


def test_kill_during_add(server, bases, tmp_path, capsys):
    base0, _ = bases
    _trials("add", server, tmp_path, capsys, lambda dest, n: _copy(base0, dest),
            lambda s: ["add", str(ADDED)], {BASE_DOC}, ADDED_ID)


def test_kill_during_remove(server, bases, tmp_path, capsys):
    _, base1 = bases
    _trials("remove", server, tmp_path, capsys, lambda dest, n: _copy(base1, dest),
            lambda s: ["remove", ADDED_ID], {BASE_DOC}, ADDED_ID)


def test_kill_of_a_cold_cli_remove_while_the_model_loads(bases, tmp_path, capsys):
    """The reported case: `python -m assistant.app.cli remove` killed after moving the file aside."""
    _, base1 = bases
    settings = _copy(base1, tmp_path / "cold")
    aside = settings.paths.corpus_dir / f".{ADDED_ID}.txt.removing"
    env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(settings.paths.corpus_dir),
           "ASSISTANT_INDEX_DIR": str(settings.paths.index_dir), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "assistant.app.cli", "remove", ADDED_ID], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not aside.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert aside.exists(), "the remove finished or never started before the kill"
    assert _recover_and_check(settings, capsys, {BASE_DOC}, ADDED_ID).startswith("present")


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    _serve()
