"""Personal API keys (SPEC §15.1): make one (shown once), list, revoke, and authenticate a request
that presents one.

Making, listing and revoking keys is account management: ``require_manage_account`` refuses any
scoped credential, so a key can never make, see or revoke keys. A new key is counted against the
per-user cap under the user's row lock (the lock other per-user caps take), so however many
creations race, no user ends up with more than MAX_ACTIVE_KEYS active keys.

``ApiKeys.authenticate`` is the one way in for every entrypoint that accepts keys (the API's bearer
header; the MCP server next): it answers the key's user and the request's ``Actor``, carrying the
key's scopes, or raises ``Unauthenticated`` (401) for anything that is not a live key — malformed,
unknown, revoked, expired, or of a deactivated account. It reads in a read-only unit and writes
``last_used_at`` at most once a minute per key, through a conditional UPDATE, so a busy key costs no
write per request and racing requests write once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.access import Actor, require_change, require_manage_account
from ..domain.api_keys import (
    KEPT_MAX,
    MAX_ACTIVE_KEYS,
    TOUCH_INTERVAL,
    ApiKey,
    NewKey,
    generate_key,
    key_hash,
    looks_like_key,
    validate_new_key,
    visible_prefix,
)
from ..domain.errors import EmailNotConfirmed, LimitReached, NotFound, Unauthenticated
from ..domain.users import User
from ..ports import Clock, UnitOfWork

__all__ = ["INVALID_KEY", "ApiKeys"]

INVALID_KEY = "The API key is invalid, expired or revoked."
_NOT_FOUND = "API key not found."


class ApiKeys:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock,
                 read_uow: Callable[[], UnitOfWork] | None = None) -> None:
        self._uow = uow
        self._read_uow = read_uow or uow
        self._clock = clock

    # -- the owner's side ---------------------------------------------------------------------------

    def create(self, actor: Actor, name: Any, scopes: Any, expires_at: Any = None) -> NewKey:
        """A new key for the actor's own account. The raw key is in the answer and nowhere else:
        only its hash and visible prefix are stored."""
        user_id = require_manage_account(actor)
        now = self._clock.now()
        clean_name, clean_scopes, expiry = validate_new_key(name, scopes, expires_at, now)
        secret = generate_key()
        with self._uow() as uow:
            user = uow.users.lock(user_id)  # one creation of a user's at a time: the cap holds
            if user is None or not user.is_active:
                raise NotFound("The account no longer exists.")
            if not user.is_email_confirmed:
                raise EmailNotConfirmed("Confirm your e-mail address before creating API keys.")
            if uow.api_keys.count_active(user_id, now) >= MAX_ACTIVE_KEYS:
                raise LimitReached(f"You can have at most {MAX_ACTIVE_KEYS} active API keys; revoke one first.")
            if uow.api_keys.count_kept(user_id) >= KEPT_MAX:
                raise LimitReached(f"You keep {KEPT_MAX} API keys, expired ones included; revoke the expired ones "
                                   "first.")
            key = uow.api_keys.add(ApiKey(
                user_id=user_id, name=clean_name, prefix=visible_prefix(secret), key_hash=key_hash(secret),
                scopes=clean_scopes, created_at=now, expires_at=expiry))
            uow.commit()
        return NewKey(key, secret)

    def list(self, actor: Actor) -> list[ApiKey]:
        """The actor's keys that are not revoked, newest first (expired ones too, marked by their
        expiry)."""
        user_id = require_manage_account(actor)
        with self._read_uow() as uow:
            return uow.api_keys.of_user(user_id)

    def get(self, actor: Actor, key_id: Any) -> ApiKey:
        """One of the actor's keys that is not revoked; NotFound for anyone else's."""
        require_manage_account(actor)
        with self._read_uow() as uow:
            return self._own(uow, actor, key_id)

    def revoke(self, actor: Actor, key_id: Any) -> ApiKey:
        """Revoke one of the actor's keys: it stops working at once. Another user's id, an unknown
        one and an already revoked one are all NotFound."""
        require_manage_account(actor)
        now = self._clock.now()
        with self._uow() as uow:
            key = self._own(uow, actor, key_id)
            if not uow.api_keys.revoke(key.id, now):  # revoked a moment ago by another request
                raise NotFound(_NOT_FOUND)
            uow.commit()
        key.revoked_at = now
        return key

    @staticmethod
    def _own(uow: UnitOfWork, actor: Actor, key_id: Any) -> ApiKey:
        valid = isinstance(key_id, int) and not isinstance(key_id, bool)
        key = uow.api_keys.get(key_id) if valid else None
        require_change(actor, key.user_id if key is not None and key.revoked_at is None else None, _NOT_FOUND)
        assert key is not None
        return key

    # -- a request that presents a key --------------------------------------------------------------

    def authenticate(self, raw: str) -> tuple[User, Actor]:
        """The user a raw key (``pc_...``) acts for, and the request's Actor: the user's id and
        role, their team memberships as of now, and the key's scopes (``Actor.scopes``; entrypoints
        check ``Actor.has_scope`` / ``domain.access.require_scope`` before each operation).

        Raises Unauthenticated for a string that is not a key, an unknown key, a revoked or expired
        key, and a key of a deactivated or deleted account — all with the same message. Writes the
        key's ``last_used_at`` when the stored one is a minute old or more."""
        if not looks_like_key(raw):
            raise Unauthenticated(INVALID_KEY)
        now = self._clock.now()
        with self._read_uow() as uow:
            key = uow.api_keys.by_hash(key_hash(raw))
            user = uow.users.get(key.user_id) if key is not None else None
            if key is None or key.id is None or not key.is_active(now) or user is None or not user.is_active:
                raise Unauthenticated(INVALID_KEY)
            teams = uow.teams.roles_of(user.id)
        if key.use_is_due(now):
            with self._uow() as uow:
                if uow.api_keys.touch(key.id, now, now - TOUCH_INTERVAL):
                    uow.commit()
        return user, Actor(user_id=user.id, role=user.role, teams=teams, scopes=frozenset(key.scopes))
