"""Crash recovery: what a process killed mid-remove, mid-add or mid-build leaves is finished or
rolled back by the next one to take the index lock, and reported on stderr.

Each state is made by hand here, exactly as a kill at that point leaves it (the kill -9 suite in
test_fault_injection.py reaches them for real). The mock embedder keeps rebuilds free.
"""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from assistant.app import cli
from assistant.index.recovery import _lock_for
from assistant.index.store import CURRENT, check_index, ensure_index, read_manifest
from assistant.app.knowledge import add_documents, remove_document
from tests.conftest import CORPUS
from tests.index.conftest import build_small_index, copy_of

SMALL = ["2024-qingpu-baihe", "2023-baoshan-songnan"]
DOC = "2024-qingpu-baihe"



@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_small_index(tmp_path_factory.mktemp("recovery"), SMALL, overrides={DOC: "{}"})


@pytest.fixture
def kb(built, tmp_path, monkeypatch):
    return copy_of(built, tmp_path, monkeypatch)


def _live(settings) -> str:
    return (settings.paths.index_dir / CURRENT).read_text(encoding="utf-8").strip()


def _leftovers(settings) -> list[str]:
    """Marks, asides, temporary files and builds other than the live one."""
    found = [p.name for folder in (settings.paths.corpus_dir, settings.paths.overrides_dir, settings.paths.index_dir)
             if folder.is_dir() for p in folder.iterdir() if p.name.startswith(".") and p.name != ".lock"]
    found += [p.name for p in settings.paths.index_dir.glob("build-*") if p.name != _live(settings)]
    return sorted(found)


def _corpus(settings) -> set[str]:
    return {p.stem for p in settings.paths.corpus_dir.glob("*.txt")}


def _consistent(settings) -> set[str]:
    """The documents, after checking corpus/ and the index agree and nothing is left over."""
    manifest = read_manifest(settings.paths.index_dir)
    assert set(manifest.documents) == _corpus(settings)
    assert _leftovers(settings) == []
    assert check_index(settings).healthy
    return _corpus(settings)


def _move_aside(settings) -> None:
    """What remove_document does before it updates the index."""
    doc, override = settings.paths.corpus_dir / f"{DOC}.txt", settings.paths.overrides_dir / f"{DOC}.json"
    doc.rename(doc.with_name(f".{doc.name}.removing"))
    override.rename(override.with_name(f".{override.name}.removing"))


def test_remove_killed_before_the_index_changed_is_rolled_back(kb, capsys):
    before = _live(kb)
    _move_aside(kb)
    assert check_index(kb).pending_recovery   # status lists it …
    assert (kb.paths.corpus_dir / f".{DOC}.txt.removing").exists()   # … and leaves it
    _, report = ensure_index(kb)
    err = capsys.readouterr().err
    assert "interrupted remove of 2024-qingpu-baihe had not reached the index" in err
    assert len(report.recovered) == 2 and not report.changed and _live(kb) == before
    assert _consistent(kb) == set(SMALL)
    assert (kb.paths.overrides_dir / f"{DOC}.json").read_text(encoding="utf-8") == "{}"


def test_remove_killed_after_the_index_changed_is_completed(kb, capsys):
    remove_document(DOC, kb)
    # As if killed after publishing but before deleting what was moved aside.
    (kb.paths.corpus_dir / f".{DOC}.txt.removing").write_bytes((CORPUS / f"{DOC}.txt").read_bytes())
    (kb.paths.overrides_dir / f".{DOC}.json.removing").write_text("{}", encoding="utf-8")
    capsys.readouterr()
    ensure_index(kb)
    assert "had reached the index" in capsys.readouterr().err
    assert _consistent(kb) == {"2023-baoshan-songnan"}
    assert not (kb.paths.overrides_dir / f"{DOC}.json").exists()


def test_remove_killed_with_an_unreadable_index_keeps_the_document(kb, capsys):
    _move_aside(kb)
    (kb.paths.index_dir / _live(kb) / "manifest.json").write_text("{", encoding="utf-8")
    ensure_index(kb)
    err = capsys.readouterr().err
    assert "is restored" in err and "索引损坏" in err
    assert _consistent(kb) == set(SMALL)


def test_a_remove_after_a_killed_one_first_recovers(kb, capsys):
    _move_aside(kb)
    report = remove_document(DOC, kb)   # the document is put back, then removed properly
    assert report.removed == [DOC]
    assert _consistent(kb) == {"2023-baoshan-songnan"}
    assert "is restored" in capsys.readouterr().err


def test_add_killed_after_storing_is_finished(kb, capsys):
    stored = kb.paths.corpus_dir / "2024-minhang-pujin.txt"
    shutil.copy(CORPUS / stored.name, stored)
    (kb.paths.corpus_dir / f".{stored.name}.adding").write_text("", encoding="utf-8")
    _, report = ensure_index(kb)
    assert "interrupted add of 2024-minhang-pujin: the stored" in capsys.readouterr().err
    assert report.added == ["2024-minhang-pujin"]
    assert _consistent(kb) == {*SMALL, "2024-minhang-pujin"}


def test_add_killed_before_storing_leaves_nothing(kb, capsys):
    (kb.paths.corpus_dir / ".2024-minhang-pujin.txt.adding").write_text("", encoding="utf-8")
    (kb.paths.corpus_dir / ".2024-minhang-pujin.txt.tmp-k2j3h4").write_bytes(b"half a file")
    _, report = ensure_index(kb)
    err = capsys.readouterr().err
    assert "nothing had been stored" in err and ".tmp-k2j3h4" in err
    assert not report.changed and _consistent(kb) == set(SMALL)


def test_an_add_cleans_up_after_a_killed_add(kb, tmp_path, capsys):
    (kb.paths.corpus_dir / ".gone.txt.adding").write_text("", encoding="utf-8")
    upload = tmp_path / "pujin.txt"
    shutil.copy(CORPUS / "2024-minhang-pujin.txt", upload)
    report = add_documents([upload], kb)
    assert [a.doc_id for a in report.added] == ["pujin"]
    assert "interrupted add of gone" in capsys.readouterr().err
    assert _consistent(kb) == {*SMALL, "pujin"}


def test_killed_builds_and_writes_leave_nothing_behind(kb, capsys):
    live = _live(kb)
    shutil.copytree(kb.paths.index_dir / live, kb.paths.index_dir / "build-20200101T000000000000")  # old, never deleted
    (kb.paths.index_dir / "build-20300101T000000000000").mkdir()                           # killed mid-persist
    (kb.paths.index_dir / "build-20300101T000000000000" / "docstore.json").write_text("{", encoding="utf-8")
    (kb.paths.index_dir / ".CURRENT.tmp").write_text("build-20300101T000000000000", encoding="utf-8")
    (kb.paths.index_dir / ".CURRENT.tmp-abc123").write_text("build-2030", encoding="utf-8")
    (kb.paths.overrides_dir / ".x.json.tmp-abc123").write_text("{", encoding="utf-8")
    (kb.paths.corpus_dir / ".2024-new.txt.4242.tmp").write_text("half", encoding="utf-8")   # the old _store's name

    code = cli.main(["--corpus-dir", str(kb.paths.corpus_dir), "--index-dir", str(kb.paths.index_dir), "index", "status",
                     "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["healthy"] and len(data["pending_recovery"]) == 6   # listed, not done
    assert len(_leftovers(kb)) == 6

    _, report = ensure_index(kb)
    err = capsys.readouterr().err
    assert "abandoned build build-20300101T000000000000" in err and ".CURRENT.tmp" in err
    assert len(report.recovered) == 6 and not report.changed and _live(kb) == live
    assert _consistent(kb) == set(SMALL)


def test_status_during_a_build_does_not_call_its_folder_abandoned(kb, capsys):
    (kb.paths.index_dir / "build-20300101T000000000000").mkdir()   # the running build's folder
    held, release = threading.Event(), threading.Event()

    def builder():
        with _lock_for(kb.paths.index_dir):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=builder)
    thread.start()
    try:
        held.wait(30)
        health = check_index(kb)
        assert health.healthy and health.busy and health.pending_recovery == []
    finally:
        release.set()
        thread.join()
    assert check_index(kb).pending_recovery   # once the lock is free, it is (in this test) abandoned
