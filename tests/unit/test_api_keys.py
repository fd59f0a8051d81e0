"""Personal API keys (SPEC §15.1): the key's rules (format, hash, validation) as properties, and the
ApiKeys use case on the fakes — made and shown once, listed, revoked, and authenticated into an
Actor with the key's scopes; everything that is not a live key is Unauthenticated."""

from __future__ import annotations

import hashlib
import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptcore.domain.access import Actor, may_manage_users, require_scope
from promptcore.domain.api_keys import (
    EXPIRY_MAX,
    KEPT_MAX,
    MAX_ACTIVE_KEYS,
    NAME_MAX,
    SCOPES,
    TOUCH_INTERVAL,
    clean_expiry,
    clean_key_name,
    clean_scopes,
    format_scopes,
    generate_key,
    is_key_like,
    key_hash,
    looks_like_key,
    parse_scopes,
    visible_prefix,
)
from promptcore.domain.errors import (
    EmailNotConfirmed,
    Forbidden,
    InsufficientScope,
    LimitReached,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from promptcore.domain.teams import Team
from promptcore.domain.users import Role, User, UserSettings
from promptcore.services.api_keys import INVALID_KEY, ApiKeys
from tests.fakes import FakeUnitOfWork

ALPHABET = string.ascii_letters + string.digits + "-_"
READ_WRITE = ["prompts:read", "prompts:write"]


# -- the key's rules --------------------------------------------------------------------------------

def test_a_generated_key_is_pc_and_43_url_safe_characters():
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("pc_") and len(key) == 46 and set(key[3:]) <= set(ALPHABET)
        assert looks_like_key(key) and is_key_like(key)
        assert visible_prefix(key) == key[:11]
        assert key_hash(key) == hashlib.sha256(key.encode()).hexdigest() and key not in key_hash(key)


@given(st.text(alphabet=ALPHABET, min_size=43, max_size=43))
def test_every_43_url_safe_characters_after_pc_look_like_a_key(body):
    assert looks_like_key("pc_" + body)


@given(st.text(max_size=80))
def test_anything_else_is_not_a_key(text):
    if len(text) == 46 and text.startswith("pc_") and set(text[3:]) <= set(ALPHABET):
        return
    assert not looks_like_key(text)


@pytest.mark.parametrize("raw", [
    "pc_", "pc_" + "a" * 42, "pc_" + "a" * 44, "PC_" + "a" * 43, "pc-" + "a" * 43, "pc_" + "a" * 42 + "=",
    "pc_" + "a" * 42 + "\n", " pc_" + "a" * 43, "pc_" + "а" * 43, None, 42, b"pc_" + b"a" * 43,
])
def test_forged_keys_do_not_look_like_keys(raw):
    assert not looks_like_key(raw)


@given(st.sets(st.sampled_from(SCOPES), min_size=1))
def test_scopes_are_stored_in_one_order_and_read_back(scopes):
    stored = format_scopes(scopes)
    assert parse_scopes(stored) == scopes
    assert stored.split() == [s for s in SCOPES if s in scopes]


@pytest.mark.parametrize("raw, problem", [
    (None, "Enter the key's name as text."),
    ("   \n\t", "Name the key, so you can tell it from the others."),
    ("\u200d", "Name the key, so you can tell it from the others."),
    ("x" * (NAME_MAX + 1), f"Use at most {NAME_MAX} characters (got {NAME_MAX + 1})."),
    ("bad\u202ename", "The name contains control characters."),
])
def test_bad_names(raw, problem):
    with pytest.raises(ValidationFailed) as caught:
        clean_key_name(raw)
    assert caught.value.errors == {"name": [problem]}


def test_names_are_trimmed_with_spaces_collapsed():
    assert clean_key_name("  Build \n server ") == "Build server"
    assert clean_key_name("x" * NAME_MAX) == "x" * NAME_MAX


@pytest.mark.parametrize("raw, problem", [
    ([], "Choose at least one scope."),
    ("prompts:read", "Give the scopes as a list of names."),
    ([1], "Give the scopes as a list of names."),
    (["prompts:read", "admin"], "Unknown scopes: admin; choose from prompts:read, prompts:write, templates:read, "
                                "templates:write."),
    (["PROMPTS:READ"], "Unknown scopes: PROMPTS:READ; choose from prompts:read, prompts:write, templates:read, "
                       "templates:write."),
])
def test_bad_scopes(raw, problem):
    with pytest.raises(ValidationFailed) as caught:
        clean_scopes(raw)
    assert caught.value.errors == {"scopes": [problem]}


def test_duplicate_scopes_collapse():
    assert clean_scopes(["prompts:read", "prompts:read"]) == frozenset({"prompts:read"})


NOW = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("raw, problem", [
    (NOW, "The expiry must be in the future."),
    (NOW - timedelta(days=1), "The expiry must be in the future."),
    (NOW + EXPIRY_MAX + timedelta(seconds=1), "Choose an expiry within a year, or none."),
    (datetime(2026, 6, 1), "Give the expiry as a date and time with its offset."),
    ("2026-06-01T00:00:00Z", "Give the expiry as a date and time with its offset."),
])
def test_bad_expiries(raw, problem):
    with pytest.raises(ValidationFailed) as caught:
        clean_expiry(raw, NOW)
    assert caught.value.errors == {"expires_at": [problem]}


def test_good_expiries():
    assert clean_expiry(None, NOW) is None
    assert clean_expiry(NOW + EXPIRY_MAX, NOW) == NOW + EXPIRY_MAX
    moscow = timezone(timedelta(hours=3))
    assert clean_expiry(datetime(2026, 1, 15, 15, 1, tzinfo=moscow), NOW) == NOW + timedelta(minutes=1)


def test_require_scope_lets_sessions_through_and_holds_keys_to_their_scopes():
    require_scope(Actor(1), "templates:write")
    require_scope(Actor(1, scopes=frozenset({"templates:write"})), "templates:write")
    with pytest.raises(InsufficientScope):
        require_scope(Actor(1, scopes=frozenset({"templates:read"})), "templates:write")
    assert issubclass(InsufficientScope, Forbidden)


# -- the use case -----------------------------------------------------------------------------------

@pytest.fixture
def keys(store, clock):
    return ApiKeys(lambda: FakeUnitOfWork(store), clock, read_uow=lambda: FakeUnitOfWork(store, read_only=True))


def add_user(store, email="ann@example.com", confirmed=True, active=True, role=Role.USER) -> Actor:
    with FakeUnitOfWork(store) as uow:
        user = uow.users.add(User(email=email, password_hash="x", is_email_confirmed=confirmed, is_active=active,
                                  role=role, settings=UserSettings(), created_at=NOW, updated_at=NOW))
        uow.commit()
    return Actor(user.id, role=role)


@pytest.fixture
def ann(store):
    return add_user(store)


def test_a_key_is_made_shown_once_and_stored_as_a_hash(keys, store, ann, clock):
    made = keys.create(ann, "  CI  server ", READ_WRITE, clock.now() + timedelta(days=30))
    assert looks_like_key(made.secret)
    key = made.key
    assert (key.name, key.user_id, key.scopes, key.created_at) == ("CI server", ann.user_id, frozenset(READ_WRITE),
                                                                   clock.now())
    assert key.prefix == made.secret[:11] and key.key_hash == key_hash(made.secret)
    stored = store.api_keys[key.id]
    assert made.secret not in repr(stored) and stored.key_hash == key_hash(made.secret)
    listed = keys.list(ann)
    assert [k.id for k in listed] == [key.id] and made.secret not in repr(listed)


def test_authenticate_answers_the_user_and_an_actor_with_the_keys_scopes(keys, store, ann):
    with FakeUnitOfWork(store) as uow:  # a team membership, for the Actor's teams
        team = uow.teams.add(Team(name="T", created_by=ann.user_id), ann.user_id, NOW)
        uow.commit()
    secret = keys.create(ann, "ci", ["templates:read"]).secret
    user, actor = keys.authenticate(secret)
    assert user.id == ann.user_id and user.email == "ann@example.com"
    assert actor == Actor(ann.user_id, role=Role.USER, teams={team.id: "owner"}, scopes=frozenset({"templates:read"}))
    assert actor.has_scope("templates:read") and not actor.has_scope("templates:write")


def test_an_administrators_key_cannot_manage_users(keys, store):
    admin = add_user(store, "root@example.com", role=Role.ADMIN)
    _user, actor = keys.authenticate(keys.create(admin, "ci", SCOPES).secret)
    assert actor.is_admin and not may_manage_users(actor)


@pytest.mark.parametrize("raw", ["", "pc_", "pc_" + "a" * 42, "pc_" + "a" * 44, "pc_" + "!" * 43, "Bearer x",
                                 generate_key()])
def test_forged_and_unknown_keys_are_unauthenticated(keys, ann, raw):
    keys.create(ann, "real", READ_WRITE)
    with pytest.raises(Unauthenticated) as caught:
        keys.authenticate(raw)
    assert caught.value.message == INVALID_KEY


def test_a_revoked_key_stops_at_once_and_cannot_be_revoked_again(keys, ann):
    made = keys.create(ann, "ci", READ_WRITE)
    keys.authenticate(made.secret)
    revoked = keys.revoke(ann, made.key.id)
    assert revoked.revoked_at is not None and revoked.name == "ci"
    with pytest.raises(Unauthenticated):
        keys.authenticate(made.secret)
    with pytest.raises(NotFound):
        keys.revoke(ann, made.key.id)
    assert keys.list(ann) == []


def test_an_expired_key_is_unauthenticated_and_listed_until_revoked(keys, ann, clock):
    made = keys.create(ann, "short", READ_WRITE, clock.now() + timedelta(hours=1))
    clock.advance(minutes=59, seconds=59)
    keys.authenticate(made.secret)
    clock.advance(seconds=1)
    with pytest.raises(Unauthenticated):
        keys.authenticate(made.secret)
    (listed,) = keys.list(ann)
    assert listed.is_expired(clock.now()) and not listed.is_active(clock.now())
    keys.revoke(ann, made.key.id)
    assert keys.list(ann) == []


def test_a_deactivated_or_deleted_account_stops_its_keys(keys, store, ann):
    secret = keys.create(ann, "ci", READ_WRITE).secret
    with FakeUnitOfWork(store) as uow:
        user = uow.users.get(ann.user_id)
        user.is_active = False
        uow.users.update(user)
        uow.commit()
    with pytest.raises(Unauthenticated):
        keys.authenticate(secret)
    with FakeUnitOfWork(store) as uow:
        uow.users.delete(ann.user_id)
        uow.commit()
    assert store.api_keys == {}
    with pytest.raises(Unauthenticated):
        keys.authenticate(secret)


def test_another_users_key_is_not_found_and_stays(keys, store, ann):
    bob = add_user(store, "bob@example.com")
    made = keys.create(ann, "ann's", READ_WRITE)
    for key_id in (made.key.id, made.key.id + 1000, "1", True, None):
        with pytest.raises(NotFound):
            keys.revoke(bob, key_id)
        with pytest.raises(NotFound):
            keys.get(bob, key_id)
    assert keys.list(bob) == []
    keys.authenticate(made.secret)


def test_a_key_can_neither_make_nor_list_nor_revoke_keys(keys, ann):
    made = keys.create(ann, "ci", SCOPES)
    _user, actor = keys.authenticate(made.secret)
    for call in (lambda: keys.create(actor, "more", READ_WRITE), lambda: keys.list(actor),
                 lambda: keys.revoke(actor, made.key.id), lambda: keys.get(actor, made.key.id)):
        with pytest.raises(Forbidden):
            call()
    assert [k.id for k in keys.list(ann)] == [made.key.id]


def test_an_unconfirmed_address_cannot_make_keys(keys, store):
    new = add_user(store, "new@example.com", confirmed=False)
    with pytest.raises(EmailNotConfirmed):
        keys.create(new, "ci", READ_WRITE)
    assert store.api_keys == {}


def test_every_bad_field_is_reported_at_once_and_nothing_is_made(keys, store, ann, clock):
    with pytest.raises(ValidationFailed) as caught:
        keys.create(ann, "", ["nope"], clock.now() - timedelta(seconds=1))
    assert set(caught.value.errors) == {"name", "scopes", "expires_at"}
    assert store.api_keys == {}


def test_the_21st_active_key_is_refused_but_expired_and_revoked_ones_do_not_count(keys, store, ann, clock):
    made = [keys.create(ann, f"key {n}", READ_WRITE) for n in range(MAX_ACTIVE_KEYS)]
    with pytest.raises(LimitReached) as caught:
        keys.create(ann, "one too many", READ_WRITE)
    assert caught.value.message == "You can have at most 20 active API keys; revoke one first."
    assert len(store.api_keys) == MAX_ACTIVE_KEYS
    keys.revoke(ann, made[0].key.id)
    short = keys.create(ann, "short", READ_WRITE, clock.now() + timedelta(minutes=5))
    clock.advance(minutes=5)
    keys.create(ann, "after the short one expired", READ_WRITE)
    assert len(keys.list(ann)) == MAX_ACTIVE_KEYS + 1  # the expired one is listed, not counted
    assert short.key.id in {k.id for k in keys.list(ann)}
    bob = add_user(store, "bob@example.com")  # the cap is per user
    keys.create(bob, "bob's", READ_WRITE)


def test_at_most_a_hundred_keys_are_kept_expired_ones_included(keys, store, ann, clock):
    for n in range(KEPT_MAX):
        keys.create(ann, f"k{n}", READ_WRITE, clock.now() + timedelta(minutes=1))
        if n % MAX_ACTIVE_KEYS == MAX_ACTIVE_KEYS - 1:
            clock.advance(minutes=1)
    clock.advance(minutes=1)
    with pytest.raises(LimitReached) as caught:
        keys.create(ann, "k100", READ_WRITE)
    assert "expired ones included" in caught.value.message
    keys.revoke(ann, keys.list(ann)[0].id)
    keys.create(ann, "k100", READ_WRITE)


def test_last_used_is_written_at_most_once_a_minute(keys, store, ann, clock):
    secret = keys.create(ann, "busy", READ_WRITE).secret
    first = clock.now()
    for _ in range(5):
        keys.authenticate(secret)
    assert store.api_key_touches == 1
    clock.advance(seconds=59)
    for _ in range(5):
        keys.authenticate(secret)
    assert store.api_key_touches == 1
    (listed,) = keys.list(ann)
    assert listed.last_used_at == first
    clock.advance(seconds=1)
    keys.authenticate(secret)
    keys.authenticate(secret)
    assert store.api_key_touches == 2
    assert keys.list(ann)[0].last_used_at == first + TOUCH_INTERVAL


def test_the_list_is_newest_first(keys, ann, clock):
    for name in ("a", "b", "c"):
        keys.create(ann, name, READ_WRITE)
        clock.advance(seconds=1)
    assert [k.name for k in keys.list(ann)] == ["c", "b", "a"]
