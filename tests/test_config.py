from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import load_settings


def test_environment_overrides_defaults_and_flags_override_environment(monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOP_K", "9")
    monkeypatch.setenv("ASSISTANT_PORT", "8123")
    assert load_settings().retrieval.top_k == 9
    assert load_settings(top_k=3).retrieval.top_k == 3
    assert load_settings().app.port == 8123


def test_settings_are_read_by_section_and_set_by_name_or_by_section(monkeypatch):
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__CANDIDATE_K", "40")
    monkeypatch.setenv("ASSISTANT_ANSWER__MAX_ANSWER_CITATIONS", "6")
    monkeypatch.setenv("ASSISTANT_MAX_ANSWER_CITATIONS", "5")     # the sectioned name wins over the short one
    settings = load_settings(top_k=4)
    assert (settings.retrieval.candidate_k, settings.retrieval.top_k, settings.answer.max_answer_citations) == (40, 4, 6)
    assert settings.replace(candidate_k=10).retrieval.candidate_k == 10
    assert settings.flat()["top_k"] == 4 and "retrieval" not in settings.flat()


def test_paths_are_paths_and_overrides_follow_the_corpus(tmp_path):
    settings = load_settings(corpus_dir=str(tmp_path / "c"))
    assert settings.paths.corpus_dir == tmp_path / "c" and isinstance(settings.paths.corpus_dir, Path)
    assert settings.paths.overrides_dir == tmp_path / "c" / "overrides"
    assert load_settings(corpus_dir=tmp_path, overrides_dir=tmp_path / "o").paths.overrides_dir == tmp_path / "o"


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="colour"):
        load_settings(colour="red")


@pytest.mark.parametrize("env, value, message", [
    ("ASSISTANT_FUSION", "rff", "setting fusion (environment ASSISTANT_FUSION)"),   # a typo is not silently 'weighted'
    ("ASSISTANT_TOP_K", "0", "setting top_k"),
    ("ASSISTANT_MIN_COVERAGE", "1.5", "setting min_coverage"),
    ("ASSISTANT_PORT", "http", "setting port"),
])
def test_invalid_values_are_refused_naming_the_setting_and_its_source(monkeypatch, env, value, message):
    from assistant.config import SettingsError

    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings()


def test_a_flag_value_is_validated_like_an_environment_value():
    from assistant.config import SettingsError

    with pytest.raises(SettingsError, match=r"setting fusion \(flag\)"):
        load_settings(fusion="rff")
    with pytest.raises(SettingsError, match="fusion"):
        load_settings().replace(fusion="rff")


def test_every_setting_is_documented():
    from assistant.config import SECTIONS, Settings

    assert all(field.description for field in Settings.model_fields.values())
    assert all(field.description for section in SECTIONS.values() for field in section.model_fields.values())


def test_config_command_prints_each_value_and_where_it_came_from(monkeypatch, tmp_path, capsys):
    import json

    from assistant.app import cli

    monkeypatch.setenv("ASSISTANT_TOP_K", "7")
    monkeypatch.setenv("ASSISTANT_LLM_API_KEY", "secret-key")
    assert cli.main(["--corpus-dir", str(tmp_path), "config", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["top_k"] == {"value": 7, "source": "env ASSISTANT_TOP_K", "section": "retrieval"}
    assert shown["corpus_dir"] == {"value": str(tmp_path), "source": "flag", "section": "paths"}
    assert shown["overrides_dir"]["value"] == str(tmp_path / "overrides")
    assert shown["overrides_dir"]["source"].startswith("follows corpus_dir")
    assert shown["fusion"] == {"value": "weighted", "source": "default", "section": "retrieval"}
    assert cli.main(["config"]) == 0
    table = capsys.readouterr().out
    assert "secret-key" not in table and "********" in table
    assert "[retrieval]" in table and "[llm]" in table


def test_app_py_and_assistant_serve_take_the_same_flags(capsys):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    app_help = subprocess.run([sys.executable, "app.py", "--help"], cwd=root, capture_output=True, text=True,
                              timeout=60).stdout
    serve_help = subprocess.run([sys.executable, "-m", "assistant.app.cli", "serve", "--help"], cwd=root,
                                capture_output=True, text=True, timeout=60).stdout
    for flag in ("--host", "--port", "--users-file", "--concurrency-limit", "--admin", "--no-browser"):
        assert flag in app_help and flag in serve_help, flag
    assert "--corpus-dir" in app_help            # `assistant` takes it before the subcommand
