"""The one access rule (promptcore.domain.access) and the use cases that ask it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptcore.domain.access import (
    Actor,
    may_change,
    may_manage_account,
    may_manage_users,
    may_read,
    require_change,
    require_manage_account,
    require_manage_users,
    require_read,
)
from promptcore.domain.errors import Forbidden, NotFound
from promptcore.domain.users import Role
from promptcore.services.admin import Admin
from tests.fakes import FakeClock, FakeStore, FakeUnitOfWork

ids = st.integers(min_value=1, max_value=2**63 - 1)
roles = st.sampled_from(list(Role))
scopes = st.one_of(st.none(), st.frozensets(st.sampled_from(["prompts:read", "prompts:write"])))


@given(ids, ids, roles, scopes)
def test_only_the_owner_reads_or_changes_and_strangers_get_not_found(actor_id, owner_id, role, granted):
    actor = Actor(actor_id, role, scopes=granted)
    assert may_read(actor, owner_id) == (actor_id == owner_id)
    assert may_change(actor, owner_id) == (actor_id == owner_id)
    if actor_id != owner_id:
        with pytest.raises(NotFound):
            require_read(actor, owner_id)
        with pytest.raises(NotFound):  # never 403: a stranger cannot tell the id exists
            require_change(actor, owner_id)
    else:
        require_read(actor, owner_id)
        require_change(actor, owner_id)


@given(ids, roles, scopes)
def test_users_are_managed_by_signed_in_administrators_only(actor_id, role, granted):
    actor = Actor(actor_id, role, scopes=granted)
    allowed = role is Role.ADMIN and granted is None
    assert may_manage_users(actor) == allowed
    if allowed:
        require_manage_users(actor)
    else:
        with pytest.raises(Forbidden):
            require_manage_users(actor)


@given(ids, roles, scopes)
def test_the_account_is_managed_only_with_its_own_sign_in_never_a_scoped_key(actor_id, role, granted):
    actor = Actor(actor_id, role, scopes=granted)
    assert may_manage_account(actor) == (granted is None)
    if granted is None:
        assert require_manage_account(actor) == actor_id
    else:
        with pytest.raises(Forbidden):
            require_manage_account(actor)


def test_nobody_owns_a_missing_owner():
    assert not may_read(Actor(1), None)


def test_the_admin_use_case_checks_the_rule_itself():
    """Before the rule, Admin.update_user trusted the view's decorator and checked nothing."""
    store = FakeStore()
    admin = Admin(lambda: FakeUnitOfWork(store), FakeClock())
    with pytest.raises(Forbidden):
        admin.update_user(Actor(1, Role.USER), 2, {"role": "admin"})
    with pytest.raises(Forbidden):
        admin.list_users(Actor(1, Role.USER))
    with pytest.raises(Forbidden):  # an administrator's scoped key cannot either
        admin.list_users(Actor(1, Role.ADMIN, scopes=frozenset({"prompts:read"})))
    with pytest.raises(NotFound):
        admin.update_user(Actor(1, Role.ADMIN), 2, {"role": "admin"})
