"""Who may use the app and what they may do: reader and administrator accounts, and login throttling.

Accounts live in a users file (settings.paths.users_file, JSON) with scrypt password hashes, managed by
`assistant users add|remove|list`; settings.app.auth_user/auth_password is one more administrator for a
quick start. Readers ask, browse and compare; administrators also manage documents. Wrong passwords
are counted per account name (here) and per client address (in guard.py); after
settings.app.login_max_failures failures the name is locked for settings.app.login_lockout_s seconds, and
during the lock even the right password is refused, so guessing gains nothing.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.atomic_file import atomic_write
from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.external_text import clean_external

READER, ADMIN = "reader", "admin"
ROLES = (READER, ADMIN)
MIN_PASSWORD_CHARS = 8
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}   # OWASP's minimum for scrypt; ~50 ms per check here


class AccessError(AssistantError, ValueError):
    """A users-file or account problem, written for the administrator."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    salt: str
    hash: str

    def to_dict(self) -> dict:
        return {"role": self.role, "salt": self.salt, "hash": self.hash}


def _hash(password: str, salt: str) -> str:
    return hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), **_SCRYPT).hex()


def make_account(name: str, password: str, role: str) -> Account:
    name = clean_external(name, what="用户名", max_chars=64)
    if not name or any(c in name for c in ":/\\ "):
        raise AccessError("用户名不能为空，也不能含有空格、冒号或斜杠。")
    if role not in ROLES:
        raise AccessError(f"未知角色 {role!r}：只能是 {' 或 '.join(ROLES)}。")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccessError(f"密码至少 {MIN_PASSWORD_CHARS} 位。")
    salt = secrets.token_hex(16)
    return Account(name, role, salt, _hash(password, salt))


def read_accounts(path: Path) -> dict[str, Account]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: Account(name, entry["role"], entry["salt"], entry["hash"])
                for name, entry in data["users"].items() if entry["role"] in ROLES}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AccessError(f"用户文件 {path} 无法读取（{exc}）：请修复或删除后用 `assistant users add` 重建。") from exc


def write_accounts(path: Path, accounts: dict[str, Account]) -> None:
    data = {"users": {name: a.to_dict() for name, a in sorted(accounts.items())}}
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    path.chmod(0o600)


class AccessControl:
    """The accounts the app accepts and the lock-out state; one per running app."""

    def __init__(self, settings: Settings, *, clock=time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._quick: tuple[str, str] | None = None
        if settings.app.auth_user and settings.app.auth_password:
            self._quick = (settings.app.auth_user, settings.app.auth_password)
        self._accounts = read_accounts(settings.paths.users_file)

    @property
    def enabled(self) -> bool:
        """Whether a login is required (any account configured)."""
        return bool(self._quick or self._accounts)

    def role_of(self, user: str | None) -> str | None:
        if user is None:
            return None
        if self._quick and user == self._quick[0]:
            return ADMIN
        account = self._accounts.get(user)
        return account.role if account else None

    def is_admin(self, user: str | None) -> bool:
        return self.role_of(user) == ADMIN

    def locked(self, user: str) -> bool:
        with self._lock:
            return self._locked_until.get(user, 0.0) > self._clock()

    def check(self, user: str, password: str) -> bool:
        """Gradio's auth callable: True lets the user in. Counts failures and locks the name."""
        if not isinstance(user, str) or not isinstance(password, str) or len(user) > 256 or len(password) > 1024:
            return False
        if self.locked(user):
            return False
        ok = self._verify(user, password)
        with self._lock:
            if ok:
                self._failures.pop(user, None)
                return True
            now = self._clock()
            window = [t for t in self._failures.get(user, []) if now - t < self.settings.app.login_lockout_s]
            window.append(now)
            self._failures[user] = window
            if len(window) >= self.settings.app.login_max_failures:
                self._locked_until[user] = now + self.settings.app.login_lockout_s
                self._failures.pop(user, None)
            return False

    def _verify(self, user: str, password: str) -> bool:
        if self._quick and user == self._quick[0]:
            return hmac.compare_digest(password.encode("utf-8", "surrogatepass"),
                                       self._quick[1].encode("utf-8", "surrogatepass"))
        account = self._accounts.get(user)
        try:
            candidate = _hash(password, account.salt if account else "00" * 16)  # same cost for unknown names
        except (UnicodeEncodeError, ValueError):
            return False
        return account is not None and hmac.compare_digest(candidate, account.hash)


# --- `assistant users` ---------------------------------------------------------------------------

def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("密码：")
    if getpass.getpass("再输入一次：") != first:
        raise AccessError("两次输入的密码不一致。")
    return first


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.paths.users_file
    accounts = read_accounts(path)
    if args.users_command == "add":
        accounts[args.name] = make_account(args.name, _read_password(args), args.role)
        write_accounts(path, accounts)
        print(f"已保存用户 {args.name}（{args.role}）：{path}")
    elif args.users_command == "remove":
        if accounts.pop(args.name, None) is None:
            raise AccessError(f"没有用户 {args.name}。")
        write_accounts(path, accounts)
        print(f"已删除用户 {args.name}。")
    else:
        for account in accounts.values():
            print(f"{account.name}\t{account.role}")
        if not accounts:
            print(f"（{path} 中没有用户）")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="reader and administrator accounts of the web app")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add an account or change its password/role")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default=READER)
    add.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    remove = users_sub.add_parser("remove", help="remove an account")
    remove.add_argument("name")
    users_sub.add_parser("list", help="list accounts and roles")
    for parser in (users, add, remove):
        parser.set_defaults(func=cmd_users)
    users_sub.choices["list"].set_defaults(func=cmd_users)
