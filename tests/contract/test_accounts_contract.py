"""Users, refresh tokens and sign-in failures: the fake and the SQL repositories agree."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta

import pytest

from promptcore.domain.quota import UnitSource
from promptcore.domain.users import Role
from promptcore.ports import DuplicateEmail
from tests.contract.support import MOSCOW, T0, add_user, new_record, new_user

# -- the unit of work ---------------------------------------------------------------------------


def test_only_committed_work_is_kept(backend):
    with backend.uow() as uow:
        add_user(uow, "kept@example.com")
        uow.commit()
        add_user(uow, "after-commit@example.com")  # no second commit
    with backend.uow() as uow:
        add_user(uow, "never@example.com")  # no commit at all
    with backend.uow() as uow:
        add_user(uow, "rolled-back@example.com")
        uow.rollback()
        add_user(uow, "after-rollback@example.com")
        uow.commit()
    with backend.uow() as uow:
        found = {e: uow.users.get_by_email(e) is not None for e in (
            "kept@example.com", "after-commit@example.com", "never@example.com", "rolled-back@example.com",
            "after-rollback@example.com")}
    assert found == {"kept@example.com": True, "after-commit@example.com": False, "never@example.com": False,
                     "rolled-back@example.com": False, "after-rollback@example.com": True}


def test_a_read_only_unit_reads_committed_work_and_cannot_commit(backend):
    with backend.uow() as uow:
        user_id = add_user(uow)
        uow.commit()
    with backend.uow(read_only=True) as uow:
        assert uow.users.get(user_id).email == "ann@example.com"
        with pytest.raises(RuntimeError):
            uow.commit()


# -- users --------------------------------------------------------------------------------------


def test_a_user_comes_back_as_it_was_added(backend):
    user = new_user(name="Анна")
    user.role = Role.ADMIN
    user.is_email_confirmed = True
    user.security_stamp = "s" * 32
    user.session_generation = 4
    with backend.uow() as uow:
        added = uow.users.add(user)
        uow.commit()
    assert added is user and isinstance(user.id, int)
    with backend.uow() as uow:
        by_id, by_email, locked = uow.users.get(user.id), uow.users.get_by_email(user.email), uow.users.lock(user.id)
    assert asdict(by_id) == asdict(by_email) == asdict(locked) == asdict(user)


def test_unknown_users_are_none(backend):
    with backend.uow() as uow:
        assert uow.users.get(987654) is None
        assert uow.users.lock(987654) is None
        assert uow.users.get_by_email("nobody@example.com") is None


def test_times_come_back_in_utc(backend):
    local = T0.astimezone(MOSCOW)
    with backend.uow() as uow:
        user_id = add_user(uow, at=local)
        uow.commit()
    with backend.uow() as uow:
        user = uow.users.get(user_id)
    assert user.created_at == local and user.created_at.utcoffset() == timedelta(0)


def test_a_taken_address_is_refused_and_the_unit_goes_on(backend):
    with backend.uow() as uow:
        first = add_user(uow, "ann@example.com")
        with pytest.raises(DuplicateEmail):
            uow.users.add(new_user("ann@example.com", name="Other"))
        second = add_user(uow, "bob@example.com", name="Bob")
        with pytest.raises(DuplicateEmail):  # an update onto a taken address, too
            uow.users.update(replace(uow.users.get(second), email="ann@example.com"))
        uow.commit()
    with backend.uow() as uow:
        assert uow.users.get(first).name == "Ann"
        assert uow.users.get(second).email == "bob@example.com"
        assert [u.id for u in uow.users.search(None, None, 10)] == [first, second]


def test_update_stores_every_field(backend):
    with backend.uow() as uow:
        user_id = add_user(uow)
        uow.commit()
    with backend.uow() as uow:
        user = uow.users.lock(user_id)
        user.email, user.name, user.is_active, user.daily_limit = "new@example.com", None, False, 7
        user.session_generation += 1
        user.updated_at = T0 + timedelta(hours=1)
        uow.users.update(user)
        uow.commit()
    with backend.uow() as uow:
        assert asdict(uow.users.get(user_id)) == asdict(user)


def test_updating_an_unknown_user_changes_nothing(backend):
    ghost = replace(new_user("ghost@example.com"), id=987654)
    with backend.uow() as uow:
        uow.users.update(ghost)
        uow.commit()
    with backend.uow() as uow:
        assert uow.users.get(987654) is None and uow.users.get_by_email("ghost@example.com") is None


def test_deleting_a_user_takes_every_row_that_references_it(backend):
    """Every table with ON DELETE CASCADE to users (tests/contract/test_fake_coverage.py lists them)."""
    with backend.uow() as uow:
        gone, kept = add_user(uow, "gone@example.com"), add_user(uow, "kept@example.com")
        for user_id in (gone, kept):
            uow.refresh_tokens.add(user_id, f"family{user_id}", f"hash{user_id}", T0 + timedelta(days=30), T0)
            record = uow.prompts.add(new_record(user_id))
            hidden = uow.prompts.add(new_record(user_id, prompt="deleted one"))
            uow.prompts.soft_delete(user_id, hidden.id, T0)
            uow.prompts.count_success(user_id, T0, "general")
            uow.quota.keep(uow.quota.reserve(user_id, T0, UnitSource.GENERATION, record.id))
            uow.notifications.add_once(user_id, "limit_reached", "first", T0)
        uow.commit()
    with backend.uow() as uow:
        uow.users.delete(gone)
        uow.users.delete(987654)  # an unknown one: nothing happens
        uow.commit()
    with backend.uow() as uow:
        assert uow.users.get(gone) is None
        assert uow.refresh_tokens.get_by_hash(f"hash{gone}") is None
        assert uow.prompts.page(gone, 10, None, None, None) == []
        assert uow.prompts.stats(gone, T0 - timedelta(days=30)) == (0, {}, {})
        assert uow.quota.usage(gone, T0 - timedelta(days=1), T0 - timedelta(days=1), 10) == (0, None)
        assert uow.notifications.latest(gone, "limit_reached") is None
        # the other user's rows stay
        assert uow.refresh_tokens.get_by_hash(f"hash{kept}") is not None
        assert len(uow.prompts.page(kept, 10, None, None, None)) == 1
        assert uow.prompts.stats(kept, T0 - timedelta(days=30))[0] == 1
        assert uow.quota.usage(kept, T0 - timedelta(days=1), T0 - timedelta(days=1), 10) == (1, T0)
        assert uow.notifications.latest(kept, "limit_reached").period_key == "first"


def test_search_orders_by_id_and_pages_after_an_id(backend):
    with backend.uow() as uow:
        ids = [add_user(uow, f"user{n}@example.com", name=f"User {n}") for n in range(5)]
        uow.commit()
    with backend.uow() as uow:
        assert [u.id for u in uow.users.search(None, None, 3)] == ids[:3]
        assert [u.id for u in uow.users.search(None, ids[2], 3)] == ids[3:]
        assert [u.id for u in uow.users.search("user", ids[0], 2)] == ids[1:3]
        assert uow.users.search(None, ids[-1], 3) == []


@pytest.mark.parametrize("query, expected", [
    ("ANN", ["ann@example.com"]),           # the address, case-insensitively
    ("example.org", ["ivan@example.org"]),
    ("иван", ["ivan@example.org"]),         # the name, case-insensitively, beyond ASCII
    ("ПЕТРОВ", ["ivan@example.org"]),
    ("smith", ["ann@example.com"]),
    ("MIXED", ["Mixed.Case@example.com"]),  # (addresses are stored lower-cased; if one is not)
    ("%", []),                              # LIKE's wildcards are plain characters
    ("_", ["o_o@example.com"]),
    ("nobody", []),
])
def test_search_matches_address_and_name_case_insensitively(backend, query, expected):
    with backend.uow() as uow:
        add_user(uow, "ann@example.com", name="Ann Smith")
        add_user(uow, "ivan@example.org", name="Иван Петров")
        add_user(uow, "o_o@example.com", name=None)
        add_user(uow, "Mixed.Case@example.com", name=None)
        uow.commit()
    with backend.uow() as uow:
        assert [u.email for u in uow.users.search(query, None, 10)] == expected


# -- refresh tokens -----------------------------------------------------------------------------


def _token_user(backend) -> int:
    with backend.uow() as uow:
        user_id = add_user(uow)
        uow.refresh_tokens.add(user_id, "fam1", "h1", T0 + timedelta(days=30), T0)
        uow.refresh_tokens.add(user_id, "fam1", "h2", T0 + timedelta(days=30), T0)
        uow.refresh_tokens.add(user_id, "fam2", "h3", T0 + timedelta(days=30), T0)
        uow.commit()
    return user_id


def test_a_refresh_token_is_found_by_its_hash(backend):
    user_id = _token_user(backend)
    with backend.uow() as uow:
        row = uow.refresh_tokens.get_by_hash("h1")
        assert uow.refresh_tokens.get_by_hash("unknown") is None
    assert (row.user_id, row.family_id, row.expires_at, row.used_at, row.revoked_at) == (
        user_id, "fam1", T0 + timedelta(days=30), None, None)
    assert row.expires_at.utcoffset() == timedelta(0)


def test_a_refresh_token_is_used_once(backend):
    _token_user(backend)
    with backend.uow() as uow:
        token_id = uow.refresh_tokens.get_by_hash("h1").id
        assert uow.refresh_tokens.mark_used(token_id, T0) is True
        assert uow.refresh_tokens.mark_used(token_id, T0) is False
        assert uow.refresh_tokens.mark_used(987654, T0) is False  # an unknown id: False, no error
        uow.commit()
    with backend.uow() as uow:
        assert uow.refresh_tokens.get_by_hash("h1").used_at == T0


def test_revoking_keeps_the_first_revocation_and_ends_use(backend):
    user_id = _token_user(backend)
    later = T0 + timedelta(minutes=5)
    with backend.uow() as uow:
        uow.refresh_tokens.revoke_family("fam1", T0)
        uow.refresh_tokens.revoke_user(user_id, later)
        assert uow.refresh_tokens.mark_used(uow.refresh_tokens.get_by_hash("h2").id, later) is False
        uow.commit()
    with backend.uow() as uow:
        revoked = {h: uow.refresh_tokens.get_by_hash(h).revoked_at for h in ("h1", "h2", "h3")}
    assert revoked == {"h1": T0, "h2": T0, "h3": later}


def test_revoking_a_user_leaves_other_users_tokens(backend):
    user_id = _token_user(backend)
    with backend.uow() as uow:
        other = add_user(uow, "other@example.com")
        uow.refresh_tokens.add(other, "fam9", "h9", T0 + timedelta(days=30), T0)
        uow.refresh_tokens.revoke_user(user_id, T0)
        uow.refresh_tokens.revoke_family("unknown-family", T0)
        uow.commit()
    with backend.uow() as uow:
        assert uow.refresh_tokens.get_by_hash("h9").revoked_at is None


# -- sign-in failures ---------------------------------------------------------------------------


def test_failures_are_counted_per_key_since_a_time_in_order(backend):
    with backend.uow() as uow:
        uow.login_failures.lock("ann")
        ids = [uow.login_failures.record("ann", T0 + timedelta(minutes=m)) for m in (10, 0, 5)]
        uow.login_failures.record("bob", T0)
        uow.commit()
    assert len(set(ids)) == 3
    with backend.uow() as uow:
        assert uow.login_failures.since("ann", T0) == [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)]
        assert uow.login_failures.since("ann", T0 + timedelta(minutes=5)) == [T0 + timedelta(minutes=5),
                                                                            T0 + timedelta(minutes=10)]
        assert uow.login_failures.since("nobody", T0) == []
        assert all(at.utcoffset() == timedelta(0) for at in uow.login_failures.since("ann", T0))


def test_a_failure_can_be_removed_and_a_key_cleared(backend):
    with backend.uow() as uow:
        first = uow.login_failures.record("ann", T0)
        uow.login_failures.record("ann", T0 + timedelta(minutes=1))
        uow.login_failures.record("bob", T0)
        uow.login_failures.remove(first)
        uow.login_failures.remove(987654)  # unknown: nothing happens
        uow.commit()
    with backend.uow() as uow:
        assert uow.login_failures.since("ann", T0) == [T0 + timedelta(minutes=1)]
        uow.login_failures.clear("ann")
        uow.commit()
    with backend.uow() as uow:
        assert uow.login_failures.since("ann", T0) == []
        assert uow.login_failures.since("bob", T0) == [T0]
