"""Personal API keys (SPEC §15.1): the fake and the SQL repositories agree, and on the SQL backends
the conditional updates and the per-user cap hold under concurrency (SQLite here; PostgreSQL in
tests/integration/test_contracts_postgres.py)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import timedelta

import pytest

from promptcore.domain.access import Actor
from promptcore.domain.api_keys import MAX_ACTIVE_KEYS, ApiKey, generate_key, key_hash, visible_prefix
from promptcore.domain.errors import LimitReached
from promptcore.domain.users import User, UserSettings
from promptcore.services.api_keys import ApiKeys
from tests.contract.backends import make_backend
from tests.contract.support import MOSCOW, T0, add_user
from tests.fakes import FakeClock

SCOPES_RW = frozenset({"prompts:read", "prompts:write"})


def _users(backend, *emails: str) -> list[int]:
    with backend.uow() as uow:
        ids = [add_user(uow, email) for email in emails]
        uow.commit()
    return ids


def _new(user_id: int, name: str = "ci", at=T0, **fields) -> ApiKey:
    raw = generate_key()
    return ApiKey(user_id=user_id, name=name, prefix=visible_prefix(raw), key_hash=key_hash(raw), scopes=SCOPES_RW,
                  created_at=at, **fields)


def _add(backend, *keys: ApiKey) -> list[int]:
    with backend.uow() as uow:
        ids = [uow.api_keys.add(key).id for key in keys]
        uow.commit()
    return ids


def test_a_key_is_stored_and_read_back_by_id_and_hash(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    key = _new(ann, "Build server", at=T0.astimezone(MOSCOW), expires_at=T0 + timedelta(days=30))
    key.scopes = frozenset({"templates:write", "prompts:read"})
    (key_id,) = _add(backend, key)
    assert key.id == key_id and isinstance(key_id, int)
    with backend.uow() as uow:
        by_id, by_hash = uow.api_keys.get(key_id), uow.api_keys.by_hash(key.key_hash)
        assert uow.api_keys.get(key_id + 1000) is None and uow.api_keys.by_hash("0" * 64) is None
    assert asdict(by_id) == asdict(by_hash) == asdict(key) | {"created_at": T0}
    assert by_id.created_at.utcoffset() == timedelta(0)
    assert by_id.sorted_scopes() == ["prompts:read", "templates:write"]


def test_an_uncommitted_key_is_gone(backend):
    (ann,) = _users(backend, "ann@example.com")
    key = _new(ann)
    with backend.uow() as uow:
        uow.api_keys.add(key)
    with backend.uow() as uow:
        assert uow.api_keys.by_hash(key.key_hash) is None and uow.api_keys.count_kept(ann) == 0


def test_a_hash_is_unique(backend):
    (ann,) = _users(backend, "ann@example.com")
    key = _new(ann)
    _add(backend, key)
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError in SQL, ValueError in the fake
        with backend.uow() as uow:
            uow.api_keys.add(ApiKey(**{**asdict(key), "id": None, "name": "twin"}))
            uow.commit()


def test_the_list_is_the_users_unrevoked_keys_newest_first(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    old, new, revoked, expired = _new(ann, "old"), _new(ann, "new", T0 + timedelta(minutes=2)), \
        _new(ann, "revoked", T0 + timedelta(minutes=3)), _new(ann, "expired", T0 + timedelta(minutes=1),
                                                              expires_at=T0 + timedelta(minutes=5))
    tie = _new(ann, "same time as old")
    _add(backend, old, new, revoked, expired, tie, _new(bob, "bob's"))
    now = T0 + timedelta(minutes=10)
    with backend.uow() as uow:
        assert uow.api_keys.revoke(revoked.id, now) is True
        uow.commit()
    with backend.uow() as uow:
        listed = [k.name for k in uow.api_keys.of_user(ann)]
        counts = (uow.api_keys.count_active(ann, now), uow.api_keys.count_kept(ann),
                  uow.api_keys.count_active(ann, T0 + timedelta(minutes=4)))
        revoked_row = uow.api_keys.get(revoked.id)
    assert listed == ["new", "expired", "same time as old", "old"]
    assert counts == (3, 4, 4)
    assert revoked_row.revoked_at == now


def test_revoking_is_conditional(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    (key_id,) = _add(backend, _new(ann))
    with backend.uow() as uow:
        assert uow.api_keys.revoke(key_id, T0) is True
        assert uow.api_keys.revoke(key_id, T0 + timedelta(hours=1)) is False
        assert uow.api_keys.revoke(key_id + 1000, T0) is False
        uow.commit()
    with backend.uow() as uow:
        assert uow.api_keys.get(key_id).revoked_at == T0


def test_a_use_is_written_only_when_the_last_one_is_stale(backend):
    (ann,) = _users(backend, "ann@example.com")
    (key_id,) = _add(backend, _new(ann))
    minute = timedelta(minutes=1)
    with backend.uow() as uow:
        assert uow.api_keys.touch(key_id, T0, T0 - minute) is True  # never used yet
        assert uow.api_keys.touch(key_id, T0 + timedelta(seconds=30), T0 - timedelta(seconds=30)) is False
        assert uow.api_keys.touch(key_id + 1000, T0, T0) is False
        uow.commit()
    with backend.uow() as uow:
        assert uow.api_keys.get(key_id).last_used_at == T0
        assert uow.api_keys.touch(key_id, T0 + minute, T0) is True  # exactly a minute later: due
        uow.commit()
    with backend.uow() as uow:
        assert uow.api_keys.get(key_id).last_used_at == T0 + minute


def test_deleting_a_user_takes_their_keys(backend):
    gone, kept = _users(backend, "gone@example.com", "kept@example.com")
    gone_key, kept_key = _new(gone), _new(kept)
    _add(backend, gone_key, kept_key)
    with backend.uow() as uow:
        uow.users.delete(gone)
        uow.commit()
    with backend.uow() as uow:
        assert uow.api_keys.by_hash(gone_key.key_hash) is None and uow.api_keys.get(gone_key.id) is None
        assert uow.api_keys.of_user(gone) == [] and uow.api_keys.count_kept(gone) == 0
        assert uow.api_keys.by_hash(kept_key.key_hash) is not None


# -- concurrency (the SQL backends) ---------------------------------------------------------------


@pytest.fixture
def sql_backend(tmp_path):
    """SQLite here; tests/integration/test_contracts_postgres.py overrides it with PostgreSQL."""
    made = make_backend("sqlite", tmp_path)
    yield made
    made.close()


def _confirmed(backend, email: str) -> int:
    with backend.uow() as uow:
        user = uow.users.add(User(email=email, password_hash="x", is_email_confirmed=True, settings=UserSettings(),
                                  created_at=T0, updated_at=T0))
        uow.commit()
    return user.id


def test_fifty_parallel_creations_make_at_most_twenty_keys(sql_backend):
    """The cap is counted under the user's row lock: racing creations run one after another."""
    user_id = _confirmed(sql_backend, "burst@example.com")
    other = _confirmed(sql_backend, "other@example.com")
    keys = ApiKeys(sql_backend.uow, FakeClock(T0))
    keys.create(Actor(user_id), "already there", ["prompts:read"])
    start = threading.Barrier(50)

    def create(n: int) -> str:
        start.wait(timeout=30)
        try:
            keys.create(Actor(user_id), f"parallel {n}", ["prompts:read"])
            return "made"
        except LimitReached:
            return "refused"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(create, range(50)))
    assert (outcomes.count("made"), outcomes.count("refused")) == (MAX_ACTIVE_KEYS - 1, 50 - MAX_ACTIVE_KEYS + 1)
    with sql_backend.uow() as uow:
        assert uow.api_keys.count_active(user_id, T0) == MAX_ACTIVE_KEYS
        assert uow.api_keys.count_kept(other) == 0


def test_racing_uses_write_the_last_use_once(sql_backend):
    (ann,) = _users(sql_backend, "ann@example.com")
    (key_id,) = _add(sql_backend, _new(ann))
    start = threading.Barrier(10)

    def touch(n: int) -> bool:
        start.wait(timeout=30)
        with sql_backend.uow() as uow:
            now = T0 + timedelta(milliseconds=n)
            wrote = uow.api_keys.touch(key_id, now, now - timedelta(minutes=1))
            uow.commit()
            return wrote

    with ThreadPoolExecutor(max_workers=10) as pool:
        writes = list(pool.map(touch, range(10)))
    assert writes.count(True) == 1


def test_racing_revocations_revoke_once(sql_backend):
    (ann,) = _users(sql_backend, "ann@example.com")
    (key_id,) = _add(sql_backend, _new(ann))
    start = threading.Barrier(8)

    def revoke(n: int) -> bool:
        start.wait(timeout=30)
        with sql_backend.uow() as uow:
            done = uow.api_keys.revoke(key_id, T0 + timedelta(seconds=n))
            uow.commit()
            return done

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(revoke, range(8))).count(True) == 1
