"""Index integrity: every way a build on disk can be damaged is caught by loading (which rebuilds,
saying so on stderr) and by `index status` (exit 1, valid JSON naming the problem).

The matrix runs with llama-index's MockEmbedding in place of the real model: what is checked is the
files, not the vectors' meaning, and a rebuild then costs nothing. `ask --json` after a corruption
runs the real model (slow).
"""

from __future__ import annotations

import json
import re
import random
import shutil
from pathlib import Path

import pytest

from assistant.app import cli
from assistant.config import load_settings
from assistant.index.manifest import _digest
from assistant.index.store import (CURRENT, MANIFEST, IndexCorrupt, IndexOutdated, check_index, ensure_index,
                                   load_index, read_manifest)
from tests.conftest import CORPUS
from tests.index.conftest import build_small_index, copy_of

SMALL = ["2024-qingpu-baihe", "2023-baoshan-songnan"]
FAISS_FILE = "vectors.faiss"
CLAUSES_FILE = "clauses.json"



@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A two-document corpus and its index, built once with the mock embedder."""
    base = tmp_path_factory.mktemp("integrity")
    return build_small_index(base, SMALL, overrides_dir=base / "none")


@pytest.fixture
def kb(built, tmp_path, monkeypatch):
    return copy_of(built, tmp_path, monkeypatch)


def _build(settings) -> Path:
    return settings.paths.index_dir / (settings.paths.index_dir / CURRENT).read_text(encoding="utf-8").strip()


def _status(settings, capsys, *extra):
    code = cli.main(["--corpus-dir", str(settings.paths.corpus_dir), "--index-dir", str(settings.paths.index_dir),
                     "index", "status", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _reseal(build: Path, name: str) -> None:
    """Record a changed file's new size and checksum in the manifest: only the cross-checks can tell."""
    size, sha = _digest(build / name)
    _edit_json(build / MANIFEST, lambda m: m["files"].__setitem__(name, {"size": size, "sha256": sha}))


def _scribble_vectors(build: Path) -> None:
    path = build / FAISS_FILE
    data = bytearray(path.read_bytes())
    rng = random.Random(7)
    for offset in rng.sample(range(len(data) // 2, len(data) - 64), 16):  # inside the vectors, not the header
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def _truncate(name: str, keep: float):
    def corrupt(build: Path) -> None:
        path = build / name
        path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])
    return corrupt


def _swap_id_map(build: Path) -> None:
    def swap(data):
        forward = data["node_id_to_faiss_id_map"]
        a, b = list(forward)[:2]
        forward[a], forward[b] = forward[b], forward[a]
        data["faiss_id_to_node_id_map"] = {str(v): k for k, v in forward.items()}
    _edit_json(build / "id_map.json", swap)


def _id_map_points_nowhere(build: Path) -> None:
    def edit(data):
        node = next(iter(data["node_id_to_faiss_id_map"]))
        old = data["node_id_to_faiss_id_map"][node]
        data["node_id_to_faiss_id_map"][node] = 99_999
        del data["faiss_id_to_node_id_map"][str(old)]
        data["faiss_id_to_node_id_map"]["99999"] = node
    _edit_json(build / "id_map.json", edit)
    _reseal(build, "id_map.json")


def _clause_file_loses_a_clause(build: Path) -> None:
    _edit_json(build / CLAUSES_FILE, lambda d: d["rows"].pop(0))
    _reseal(build, CLAUSES_FILE)


def _clause_file_reordered(build: Path) -> None:
    _edit_json(build / CLAUSES_FILE, lambda d: d["rows"].reverse())
    _reseal(build, CLAUSES_FILE)


def _clause_row_malformed(build: Path) -> None:
    _edit_json(build / CLAUSES_FILE, lambda d: d["rows"][0].pop())
    _reseal(build, CLAUSES_FILE)


def _terms_short_of_a_key(build: Path) -> None:
    _edit_json(build / "terms.json", lambda d: d["keys"].pop())
    _reseal(build, "terms.json")


def _grams_of_fewer_clauses(build: Path) -> None:
    from assistant.index.key_grams import GRAMS_FILE, KeyGrams

    keys = json.loads((build / "terms.json").read_text(encoding="utf-8"))["keys"]
    KeyGrams.from_keys(keys[:-1]).save(build / GRAMS_FILE)
    _reseal(build, GRAMS_FILE)


def _manifest(change):
    return lambda build: _edit_json(build / MANIFEST, change)


def _garbage_manifest(build: Path) -> None:
    (build / MANIFEST).write_bytes(bytes(random.Random(3).randrange(256) for _ in range(500)))


def _pointer_outside(build: Path) -> None:
    (build.parent / CURRENT).write_text("../../etc", encoding="utf-8")


# (name, how to damage the live build, what the problem must say)
CORRUPTIONS = [
    ("scribbled FAISS vectors", _scribble_vectors, f"{FAISS_FILE} does not match its checksum"),
    ("truncated FAISS file", _truncate(FAISS_FILE, 0.5), f"{FAISS_FILE} has .* bytes"),
    ("empty FAISS file", _truncate(FAISS_FILE, 0), f"{FAISS_FILE} has 0 bytes"),
    ("truncated clause file", _truncate(CLAUSES_FILE, 0.7), "clauses.json has .* bytes"),
    ("swapped id map", _swap_id_map, "id_map.json (does not match|has)"),
    ("id map to a missing vector, resealed", _id_map_points_nowhere, "id map ids against FAISS vector ids"),
    ("clause file without a clause, resealed", _clause_file_loses_a_clause, "clause file clauses against the manifest"),
    ("clause file in another order, resealed", _clause_file_reordered, "clause file lists the clauses in another order"),
    ("clause file row of the wrong width, resealed", _clause_row_malformed, "clauses.json row 0 is malformed"),
    ("terms without a clause's search key, resealed", _terms_short_of_a_key, "terms.json holds .* search keys"),
    ("key grams of one clause fewer, resealed", _grams_of_fewer_clauses, "key_grams.npz describes .* clauses"),
    ("truncated key grams", _truncate("key_grams.npz", 0.5), "key_grams.npz has .* bytes"),
    ("manifest dimension 999", _manifest(lambda m: m.__setitem__("dimension", 999)),
     "dimension 384, the manifest says 999"),
    ("manifest vector count wrong", _manifest(lambda m: m.__setitem__("vector_count", m["vector_count"] + 1)),
     "FAISS holds .* vectors, the manifest says"),
    ("manifest clause count wrong", _manifest(lambda m: m.__setitem__("clause_count", 3)), "manifest says 3 clauses"),
    ("missing file", lambda b: (b / "id_map.json").unlink(), "id_map.json is missing"),
    ("file left out of the manifest", _manifest(lambda m: m["files"].pop(CLAUSES_FILE)),
     "manifest does not list clauses.json"),
    ("garbage manifest", _garbage_manifest, "manifest unreadable"),
    ("manifest of the wrong shape", _manifest(lambda m: m.__setitem__("documents", 5)), "'documents'"),
    ("CURRENT pointing outside index/", _pointer_outside, "does not name a build folder"),
]


@pytest.mark.parametrize("name, corrupt, problem", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_corruption_is_detected_by_load_and_status_and_rebuilt(kb, capsys, name, corrupt, problem):
    corrupt(_build(kb))

    with pytest.raises(IndexCorrupt, match=problem):
        load_index(kb)

    code, out, _ = _status(kb, capsys, "--json")
    data = json.loads(out)
    assert code == 1 and data["healthy"] is False
    assert any(re.search(problem, p) for p in data["problems"]), data["problems"]
    code, out, _ = _status(kb, capsys)
    assert code == 1 and "问题 problem:" in out

    index, report = ensure_index(kb)
    captured = capsys.readouterr()
    assert "索引损坏，正在重建" in captured.err and captured.out == ""   # stdout stays free for JSON
    assert report.full_rebuild_reason and sorted(report.added) == sorted(SMALL)
    assert len(index.clauses) == index.vector_store.size > 0
    code, out, _ = _status(kb, capsys, "--json")
    assert code == 0 and json.loads(out)["healthy"] is True
    assert [p.name for p in kb.paths.index_dir.glob("build-*")] == [_build(kb).name]


def test_a_healthy_index_records_what_it_is_made_of(kb, capsys):
    manifest = read_manifest(kb.paths.index_dir)
    build = _build(kb)
    assert {CLAUSES_FILE, "terms.json", "key_grams.npz", FAISS_FILE, "id_map.json"} <= set(manifest.files)
    assert not {"docstore.json", "index_store.json"} & set(manifest.files)   # llama-index's docstore is gone
    assert all(_digest(build / n) == (e["size"], e["sha256"]) for n, e in manifest.files.items())
    assert manifest.vector_count == manifest.clause_count == len(load_index(kb).clauses)
    code, out, _ = _status(kb, capsys, "--json")
    data = json.loads(out)
    assert code == 0 and data["healthy"] is True and data["problems"] == [] and data["pending_recovery"] == []
    assert set(data["documents"]) == set(SMALL) and data["dimension"] == 384   # the manifest's fields, as before
    assert check_index(kb).healthy


def test_no_index_yet_is_reported_with_status_1(kb, capsys):
    shutil.rmtree(kb.paths.index_dir)
    code, out, _ = _status(kb, capsys, "--json")
    assert code == 1 and json.loads(out)["problems"] == ["no index built yet"]
    assert not kb.paths.index_dir.exists()   # status changes nothing
    code, out, _ = _status(kb, capsys)
    assert code == 1 and "尚未建立索引" in out


def test_an_index_of_an_older_format_is_rebuilt_without_calling_it_corrupt(kb, capsys):
    _edit_json(_build(kb) / MANIFEST, lambda m: m.__setitem__("index_format", 1))
    with pytest.raises(IndexOutdated):
        load_index(kb)
    _, report = ensure_index(kb)
    assert "index format" in report.full_rebuild_reason and "索引损坏" not in capsys.readouterr().err


@pytest.mark.slow
def test_ask_json_after_a_corruption_prints_only_json(tmp_path, capsys):
    """The real pipeline: the rebuild message goes to stderr, stdout parses as JSON as a whole."""
    (tmp_path / "corpus").mkdir()
    shutil.copy(CORPUS / "2024-qingpu-baihe.txt", tmp_path / "corpus")
    dirs = ["--corpus-dir", str(tmp_path / "corpus"), "--index-dir", str(tmp_path / "index")]
    settings = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    ensure_index(settings)
    _scribble_vectors(_build(settings))
    capsys.readouterr()

    code = cli.main([*dirs, "ask", "政府开放月在几月?", "--json"])
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert code == 0 and data["citations"] and "索引损坏" in captured.err
    code = cli.main([*dirs, "index", "status", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["healthy"] is True
