"""Accounts, roles and login throttling (assistant/app/web/access.py): fast, no server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.app.web.access import ADMIN, READER, AccessControl, AccessError, make_account, read_accounts, \
    write_accounts

ROOT = Path(__file__).resolve().parents[3]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def users_file(tmp_path) -> Path:
    path = tmp_path / "users.json"
    write_accounts(path, {"li": make_account("li", "reader-pass-1", READER),
                          "wang": make_account("wang", "admin-pass-1", ADMIN)})
    return path


def test_accounts_are_stored_hashed_and_private(users_file):
    text = users_file.read_text(encoding="utf-8")
    assert "reader-pass-1" not in text and "admin-pass-1" not in text
    assert oct(users_file.stat().st_mode & 0o777) == "0o600"
    assert {a.role for a in read_accounts(users_file).values()} == {READER, ADMIN}


def test_roles_come_from_the_users_file_and_the_quick_admin(users_file):
    access = AccessControl(load_settings(users_file=users_file, auth_user="boss", auth_password="quick-pass"))
    assert access.enabled
    assert access.check("li", "reader-pass-1") and access.role_of("li") == READER and not access.is_admin("li")
    assert access.check("wang", "admin-pass-1") and access.is_admin("wang")
    assert access.check("boss", "quick-pass") and access.is_admin("boss")
    assert not access.check("li", "admin-pass-1") and not access.check("nobody", "reader-pass-1")
    assert access.role_of(None) is None and access.role_of("nobody") is None


def test_no_accounts_means_no_login(tmp_path):
    assert not AccessControl(load_settings(users_file=tmp_path / "none.json")).enabled


def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(users_file):
    clock = FakeClock()
    settings = load_settings(users_file=users_file, login_max_failures=3, login_lockout_s=60)
    access = AccessControl(settings, clock=clock)
    for _ in range(3):
        assert not access.check("li", "wrong")
    assert access.locked("li")
    assert not access.check("li", "reader-pass-1")        # locked: guessing right gains nothing
    assert access.check("wang", "admin-pass-1")           # other accounts are not affected
    clock.now += 61
    assert access.check("li", "reader-pass-1")            # the lock expires


def test_failures_spread_over_time_do_not_lock(users_file):
    clock = FakeClock()
    access = AccessControl(load_settings(users_file=users_file, login_max_failures=3, login_lockout_s=60), clock=clock)
    for _ in range(5):
        assert not access.check("li", "wrong")
        clock.now += 31                                    # at most two failures inside any 60 s
    assert access.check("li", "reader-pass-1")


@pytest.mark.parametrize("user, password", [("li", "\ud800"), ("li\ud800", "x"), ("li", "x" * 5000), (None, "x"),
                                            ("li", None)])
def test_hostile_credentials_are_refused_without_error(users_file, user, password):
    access = AccessControl(load_settings(users_file=users_file))
    assert access.check(user, password) is False


@pytest.mark.parametrize("name, password, role, message", [
    ("a b", "long-enough", READER, "空格"),
    ("ok", "short", READER, "至少"),
    ("ok", "long-enough", "root", "未知角色"),
])
def test_bad_accounts_are_refused_with_a_message(name, password, role, message):
    with pytest.raises(AccessError, match=message):
        make_account(name, password, role)


def test_a_broken_users_file_is_a_clear_error(tmp_path):
    path = tmp_path / "users.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(AccessError, match="无法读取"):
        AccessControl(load_settings(users_file=path))


def test_users_command_adds_lists_and_removes_accounts(tmp_path):
    env = {"ASSISTANT_USERS_FILE": str(tmp_path / "users.json"), "PATH": "/usr/bin:/bin"}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "assistant.app.cli", "users", *args], input=stdin, text=True,
                              capture_output=True, cwd=ROOT, env=env, timeout=60)

    assert run("add", "zhao", "--role", "admin", "--password-stdin", stdin="secret-pass\n").returncode == 0
    assert run("add", "qian", "--password-stdin", stdin="secret-pass\n").returncode == 0
    listed = run("list")
    assert "zhao\tadmin" in listed.stdout and "qian\treader" in listed.stdout
    short = run("add", "sun", "--password-stdin", stdin="x\n")
    assert short.returncode == 2 and "至少" in short.stderr and "Traceback" not in short.stderr
    assert run("remove", "qian").returncode == 0
    data = json.loads((tmp_path / "users.json").read_text(encoding="utf-8"))
    assert set(data["users"]) == {"zhao"}
    assert AccessControl(load_settings(users_file=tmp_path / "users.json")).check("zhao", "secret-pass")
