"""Accounts: e-mail and password rules, roles, settings, the user entity."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from .errors import ValidationFailed

PASSWORD_MIN = 8
PASSWORD_MAX = 128
EMAIL_MAX = 254
NAME_MAX = 100

# Lifetimes of everything a user is handed.
ACCESS_TOKEN_TTL = timedelta(minutes=15)
REFRESH_TOKEN_TTL = timedelta(days=30)
CONFIRMATION_TOKEN_TTL = timedelta(hours=48)
RESET_TOKEN_TTL = timedelta(hours=1)
EMAIL_CHANGE_TOKEN_TTL = timedelta(hours=24)
# A browser session ends this long after sign-in, however active it is.
SESSION_MAX_AGE = timedelta(days=14)
# Mail that anyone can make us send to an address (confirmation, reset, "already registered",
# address change) goes to one recipient at most once per kind in this time.
RECIPIENT_COOLDOWN = timedelta(minutes=2)

# Per-account sign-in throttling (SPEC §5).
LOGIN_FAILURE_LIMIT = 10
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)

COMMON_PASSWORDS = frozenset(
    """
    12345678 123456789 1234567890 password password1 password123 qwerty123 qwertyuiop
    11111111 00000000 iloveyou 1q2w3e4r 1q2w3e4r5t qwerty12 abc12345 abcd1234 sunshine
    princess football baseball welcome1 letmein1 admin123 administrator passw0rd
    p@ssw0rd trustno1 superman 87654321 12341234 88888888 12121212 qazwsxedc
    zaq12wsx 1qaz2wsx monkey123 dragon123 master123 changeme changeme1 whatever
    starwars computer internet samsung1 michael1 jennifer 123qwe123 q1w2e3r4
    йцукенгш пароль123 qwertyui asdfghjk zxcvbnm1 asdf1234 password! welcome123
    """.split()
)

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE = re.compile(rf"^{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")


class Role(str, Enum):
    USER = "user"
    ADMIN = "admin"


LANGUAGES = ("en", "ru")
THEMES = ("system", "light", "dark")


def normalize_email(raw: str) -> str:
    """Trim and lower-case: addresses are compared case-insensitively."""
    return (raw or "").strip().lower()


def validate_email(raw: str, field_name: str = "email") -> str:
    """Return the normalised address or raise ValidationFailed."""
    email = normalize_email(raw)
    if not email:
        raise ValidationFailed.on(field_name, "Enter an e-mail address.")
    if len(email) > EMAIL_MAX or len(email.split("@", 1)[0]) > 64 or not _EMAIL_RE.match(email):
        raise ValidationFailed.on(field_name, "Enter a valid e-mail address.")
    return email


def password_problem(password: str, email: str = "") -> str | None:
    """Why a password is not acceptable, or None. Length is counted in characters."""
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        return f"Use at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"Use at most {PASSWORD_MAX} characters."
    lowered = password.strip().lower()
    if email and lowered == normalize_email(email):
        return "The password must not be your e-mail address."
    if lowered in COMMON_PASSWORDS:
        return "This password is too common; choose another."
    return None


def validate_password(password: str, email: str = "", field_name: str = "password") -> str:
    problem = password_problem(password, email)
    if problem:
        raise ValidationFailed.on(field_name, problem)
    return password


def validate_name(name: str | None) -> str | None:
    if name is None:
        return None
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise ValidationFailed.on("name", f"Use at most {NAME_MAX} characters.")
    if any(ord(c) < 32 for c in name):
        raise ValidationFailed.on("name", "The name contains control characters.")
    return name or None


@dataclass(frozen=True)
class UserSettings:
    language: str | None = None
    theme: str = "system"
    default_style: str | None = None
    preferred_model: str | None = None
    notify_limit: bool = True  # the e-mail when the daily limit is reached (SPEC §12.7)

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "theme": self.theme,
            "default_style": self.default_style,
            "preferred_model": self.preferred_model,
            "notify_limit": self.notify_limit,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "UserSettings":
        data = data or {}
        return cls(
            language=data.get("language"),
            theme=data.get("theme") or "system",
            default_style=data.get("default_style"),
            preferred_model=data.get("preferred_model"),
            notify_limit=data.get("notify_limit") is not False,  # on unless turned off
        )

    def updated(
        self,
        changes: dict[str, Any],
        styles: frozenset[str] | set[str],
        models: tuple[str, ...] | list[str],
    ) -> "UserSettings":
        errors: dict[str, list[str]] = {}
        known = {"language", "theme", "default_style", "preferred_model", "notify_limit"}
        for key in changes:
            if key not in known:
                errors.setdefault(key, []).append("Unknown setting.")
        lang = changes.get("language", self.language)
        if lang is not None and lang not in LANGUAGES:
            errors.setdefault("language", []).append("Choose one of: " + ", ".join(LANGUAGES) + ".")
        theme = changes.get("theme", self.theme) or "system"
        if theme not in THEMES:
            errors.setdefault("theme", []).append("Choose one of: " + ", ".join(THEMES) + ".")
        style = changes.get("default_style", self.default_style)
        if style is not None and style not in styles:
            errors.setdefault("default_style", []).append("Unknown style.")
        model = changes.get("preferred_model", self.preferred_model)
        if model is not None and model not in models:
            errors.setdefault("preferred_model", []).append("This model is not offered.")
        notify_limit = changes.get("notify_limit", self.notify_limit)
        if not isinstance(notify_limit, bool):
            errors.setdefault("notify_limit", []).append("Must be true or false.")
        if errors:
            raise ValidationFailed({f"settings.{k}": v for k, v in errors.items()})
        return UserSettings(language=lang, theme=theme, default_style=style, preferred_model=model,
                            notify_limit=notify_limit)


@dataclass
class User:
    email: str
    password_hash: str
    name: str | None = None
    id: int | None = None
    is_email_confirmed: bool = False
    role: Role = Role.USER
    is_active: bool = True
    # An administrator's per-user override of the daily limit; None follows the plan or the
    # default (domain.quota.effective_daily_limit decides).
    daily_limit: int | None = None
    settings: UserSettings = field(default_factory=UserSettings)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Changes on every password change or reset and every address change: e-mailed links
    # (reset, address change) carry a fingerprint of it and stop working when it moves.
    security_stamp: str | None = None
    # Bumped by sign-out, password change or reset and deactivation: access tokens and browser
    # sessions carry the generation they were issued in and end when it moves.
    session_generation: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def confirm_email(self) -> None:
        self.is_email_confirmed = True

    def rotate_security_stamp(self) -> None:
        self.security_stamp = secrets.token_hex(16)

    def end_sessions(self) -> None:
        self.session_generation += 1

    def change_password(self, password_hash: str, now: datetime) -> None:
        """A new password ends every session and every mailed link issued before it."""
        self.password_hash = password_hash
        self.rotate_security_stamp()
        self.end_sessions()
        self.updated_at = now

    def change_email(self, email: str, now: datetime) -> None:
        self.email = email
        self.is_email_confirmed = True
        self.rotate_security_stamp()
        self.updated_at = now

    def link_fingerprint(self, purpose: str) -> str:
        """Bound into mailed reset and address-change links: the address, the password and the
        security stamp all change it, so such a link works at most once and never after any of them
        moved."""
        material = f"{purpose}|{self.id}|{self.email}|{self.password_hash}|{self.security_stamp or ''}"
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]

    def accepts_credential(self, issued_at: datetime | float | int, generation: object) -> bool:
        """Whether an access token or browser session issued at ``issued_at`` in ``generation``
        still stands: the account is active, nothing since has ended its sessions, and it was issued
        to this account, not to an earlier one with the same id."""
        if not self.is_active or generation != self.session_generation or isinstance(generation, bool):
            return False
        stamp = issued_at.timestamp() if isinstance(issued_at, datetime) else float(issued_at)
        created = self.created_at.timestamp() if self.created_at is not None else 0.0
        return stamp >= math.floor(created)

    def accepts_session(self, issued_at: object, generation: object, now: datetime) -> bool:
        """A browser session also ends SESSION_MAX_AGE after sign-in."""
        if isinstance(issued_at, bool) or not isinstance(issued_at, (int, float)):
            return False
        if now.timestamp() - issued_at >= SESSION_MAX_AGE.total_seconds() or issued_at > now.timestamp() + 60:
            return False
        return self.accepts_credential(issued_at, generation)


def validate_daily_limit(value: int | None) -> int | None:
    """A per-user override: a whole number from 0 to 100000, or None for no override."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 100_000:
        raise ValidationFailed.on("daily_limit", "Use a whole number from 0 to 100000.")
    return value


def throttle_retry_after(failures: list[datetime], now: datetime) -> int | None:
    """Seconds until sign-in is allowed again, or None when it is allowed now.

    ``failures`` are the times of failed attempts for one account. Once LOGIN_FAILURE_LIMIT
    of them fall inside the window, attempts are refused until the oldest of the most recent
    LOGIN_FAILURE_LIMIT leaves it.
    """
    recent = sorted(t for t in failures if now - t < LOGIN_FAILURE_WINDOW)
    if len(recent) < LOGIN_FAILURE_LIMIT:
        return None
    oldest_counted = recent[-LOGIN_FAILURE_LIMIT]
    wait = (oldest_counted + LOGIN_FAILURE_WINDOW - now).total_seconds()
    return max(1, math.ceil(wait))
