from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import load_settings


def test_environment_overrides_defaults_and_flags_override_environment(monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOP_K", "9")
    monkeypatch.setenv("ASSISTANT_PORT", "8123")
    assert load_settings().top_k == 9
    assert load_settings(top_k=3).top_k == 3
    assert load_settings().port == 8123


def test_paths_are_paths_and_overrides_follow_the_corpus(tmp_path):
    settings = load_settings(corpus_dir=str(tmp_path / "c"))
    assert settings.corpus_dir == tmp_path / "c" and isinstance(settings.corpus_dir, Path)
    assert settings.overrides_dir == tmp_path / "c" / "overrides"
    assert load_settings(corpus_dir=tmp_path, overrides_dir=tmp_path / "o").overrides_dir == tmp_path / "o"


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="colour"):
        load_settings(colour="red")
