"""Personal API keys (SPEC §15.1): the key format, its scopes, and the rules of a key's life.

A key is ``pc_`` followed by 43 URL-safe characters (``secrets.token_urlsafe(32)``: 32 random
bytes). It is shown once, when it is made; what is stored is its SHA-256 (``key_hash``) and a short
visible prefix (``pc_`` and the first 8 random characters) so the owner can tell keys apart.

A key acts for its user within its scopes, and only on the operations that declare one of them
(the API's table, entrypoints/api/scopes.py); account, key, billing, team and admin operations
declare none, so no key ever reaches them. A key stops working when it is revoked or expires;
its user being deactivated or deleted stops it too.

The rules here are plain functions: the format check (a string that cannot be a key is refused
before any lookup), the hash, the validation of a new key's name, scopes and expiry, and when a
use may be written down (``last_used_at`` at most once a minute per key).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import ValidationFailed, gather

__all__ = [
    "EXPIRY_MAX", "KEPT_MAX", "KEY_PREFIX", "MAX_ACTIVE_KEYS", "NAME_MAX", "PREFIX_CHARS", "PROMPTS_READ",
    "PROMPTS_WRITE", "SCOPES", "TEMPLATES_READ", "TEMPLATES_WRITE", "TOUCH_INTERVAL", "ApiKey", "NewKey",
    "clean_expiry", "clean_key_name", "clean_scopes", "format_scopes", "generate_key", "is_key_like", "key_hash",
    "looks_like_key", "parse_scopes", "validate_new_key", "visible_prefix",
]

KEY_PREFIX = "pc_"
_RANDOM_BYTES = 32  # secrets.token_urlsafe(32): 43 characters of [A-Za-z0-9_-]
_RANDOM_CHARS = 43
PREFIX_CHARS = 8  # random characters shown after pc_ in lists
_KEY = re.compile(rf"pc_[A-Za-z0-9_-]{{{_RANDOM_CHARS}}}")

PROMPTS_READ = "prompts:read"
PROMPTS_WRITE = "prompts:write"
TEMPLATES_READ = "templates:read"
TEMPLATES_WRITE = "templates:write"
# In the order they are listed everywhere (the form, the API, the stored column).
SCOPES = (PROMPTS_READ, PROMPTS_WRITE, TEMPLATES_READ, TEMPLATES_WRITE)

MAX_ACTIVE_KEYS = 20  # keys neither revoked nor expired, per user
KEPT_MAX = 100  # keys a user keeps listed (expired ones stay until revoked)
NAME_MAX = 100
EXPIRY_MAX = timedelta(days=366)  # an expiry is at most a year ahead (or there is none)
TOUCH_INTERVAL = timedelta(minutes=1)  # last_used_at is written at most this often per key


def generate_key() -> str:
    """A new raw key: ``pc_`` + 32 random bytes, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def looks_like_key(raw: Any) -> bool:
    """Whether ``raw`` has the exact shape of a key (anything else is refused without a lookup)."""
    return isinstance(raw, str) and _KEY.fullmatch(raw) is not None


def is_key_like(raw: Any) -> bool:
    """Whether a bearer credential is meant as an API key (starts with ``pc_``), well formed or not;
    access tokens (JWTs) never start so."""
    return isinstance(raw, str) and raw.startswith(KEY_PREFIX)


def key_hash(raw: str) -> str:
    """What is stored of a key: its SHA-256, hex."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def visible_prefix(raw: str) -> str:
    """The part of a key shown in lists: ``pc_`` and the first PREFIX_CHARS random characters."""
    return raw[: len(KEY_PREFIX) + PREFIX_CHARS]


# -- validation of a new key ------------------------------------------------------------------------

# The zero-width joiners are how several scripts spell words (as in team names); every other control
# or format character is refused.
_JOINERS = str.maketrans("", "", "\u200c\u200d")


def clean_key_name(raw: Any, field_name: str = "name") -> str:
    if not isinstance(raw, str):
        raise ValidationFailed.on(field_name, "Enter the key's name as text.")
    name = " ".join(raw.split())
    if not name.translate(_JOINERS).strip():
        raise ValidationFailed.on(field_name, "Name the key, so you can tell it from the others.")
    if len(name) > NAME_MAX:
        raise ValidationFailed.on(field_name, f"Use at most {NAME_MAX} characters (got {len(name)}).")
    if not name.translate(_JOINERS).isprintable():
        raise ValidationFailed.on(field_name, "The name contains control characters.")
    return name


def clean_scopes(raw: Any, field_name: str = "scopes") -> frozenset[str]:
    """A non-empty set of known scopes; duplicates collapse."""
    if not isinstance(raw, (list, tuple, set, frozenset)) or not all(isinstance(s, str) for s in raw):
        raise ValidationFailed.on(field_name, "Give the scopes as a list of names.")
    unknown = sorted({s for s in raw if s not in SCOPES})
    if unknown:
        raise ValidationFailed.on(field_name, f"Unknown scopes: {', '.join(unknown)}; choose from {', '.join(SCOPES)}.")
    if not raw:
        raise ValidationFailed.on(field_name, "Choose at least one scope.")
    return frozenset(raw)


def clean_expiry(raw: Any, now: datetime, field_name: str = "expires_at") -> datetime | None:
    """None (the key does not expire) or an aware time later than now and at most EXPIRY_MAX ahead,
    in UTC."""
    if raw is None:
        return None
    if not isinstance(raw, datetime) or raw.tzinfo is None or raw.utcoffset() is None:
        raise ValidationFailed.on(field_name, "Give the expiry as a date and time with its offset.")
    if raw <= now:
        raise ValidationFailed.on(field_name, "The expiry must be in the future.")
    if raw - now > EXPIRY_MAX:
        raise ValidationFailed.on(field_name, "Choose an expiry within a year, or none.")
    return raw.astimezone(timezone.utc)


def format_scopes(scopes: frozenset[str] | set[str]) -> str:
    """The stored form: known scopes in SCOPES order, separated by spaces (as OAuth writes them)."""
    return " ".join(s for s in SCOPES if s in scopes)


def parse_scopes(stored: str) -> frozenset[str]:
    return frozenset(s for s in stored.split() if s in SCOPES)


# -- the key ----------------------------------------------------------------------------------------


@dataclass
class ApiKey:
    user_id: int
    name: str
    prefix: str
    key_hash: str
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    id: int | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and not self.is_expired(now)

    def use_is_due(self, now: datetime) -> bool:
        """Whether a use now should be written down (the last one is a minute old or more)."""
        return self.last_used_at is None or now - self.last_used_at >= TOUCH_INTERVAL

    def sorted_scopes(self) -> list[str]:
        return [s for s in SCOPES if s in self.scopes]


@dataclass(frozen=True)
class NewKey:
    """A key just made: the stored key and the raw secret, which is shown this once."""

    key: ApiKey
    secret: str


def validate_new_key(name: Any, scopes: Any, expires_at: Any, now: datetime) -> tuple[str, frozenset[str],
                                                                                       datetime | None]:
    """Every field of a new key checked at once (a form shows every problem together)."""
    values = gather({
        "name": lambda: clean_key_name(name),
        "scopes": lambda: clean_scopes(scopes),
        "expires_at": lambda: clean_expiry(expires_at, now),
    })
    return values["name"], values["scopes"], values["expires_at"]

