import re

import pytest

from promptcore.domain.access import Actor
from promptcore.domain.errors import (
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    Unauthenticated,
    ValidationFailed,
)
from promptcore.services.accounts import InvalidRefreshToken
from tests.fakes import outbox_messages

PW = "correct horse battery"


def token_from(message):
    return re.search(r"token=([^\s&]+)", message.text).group(1)


def register_confirmed(accounts, store, email="ada@example.com"):
    accounts.register_user(email, PW, "Ada")
    accounts.confirm_email(token_from(outbox_messages(store)[-1]))
    return accounts.authenticate(email, PW)


def test_register_queues_a_confirmation_in_the_users_language(accounts, store):
    accounts.register_user("  Ada@Example.COM ", PW, "Ada", "ru")
    [message] = outbox_messages(store)
    assert message.to == "ada@example.com"
    assert message.subject == "confirm_email:ru"
    assert "http://test.local/confirm-email?token=" in message.text
    [user] = store.users.values()
    assert user.password_hash != PW and not user.is_email_confirmed
    assert user.daily_limit is None, "no override: the user follows the default (issue 10)"


def test_register_taken_address_answers_the_same_and_warns_the_owner(accounts, store):
    accounts.register_user("ada@example.com", PW)
    assert accounts.register_user("ADA@example.com", "another password 1") is None
    assert len(store.users) == 1
    assert [m.subject.split(":")[0] for m in outbox_messages(store)] == ["confirm_email", "already_registered"]


def test_register_validates_fields(accounts, store):
    with pytest.raises(ValidationFailed) as info:
        accounts.register_user("not-an-email", PW)
    assert "email" in info.value.errors
    with pytest.raises(ValidationFailed) as info:
        accounts.register_user("ada@example.com", "short")
    assert "password" in info.value.errors
    assert not store.users and not store.outbox


def test_confirm_email_is_idempotent_and_purpose_bound(accounts, store, signed):
    accounts.register_user("ada@example.com", PW)
    token = token_from(outbox_messages(store)[0])
    assert accounts.confirm_email(token).is_email_confirmed
    assert accounts.confirm_email(token).is_email_confirmed  # twice is harmless
    reset_like = signed.dumps("reset-password", {"uid": 1, "email": "ada@example.com"})
    with pytest.raises(InvalidToken):
        accounts.confirm_email(reset_like)


def test_confirmation_expires_after_48_hours(accounts, store, clock):
    accounts.register_user("ada@example.com", PW)
    token = token_from(outbox_messages(store)[0])
    clock.advance(hours=48, seconds=1)
    with pytest.raises(InvalidToken):
        accounts.confirm_email(token)


def test_wrong_password_and_unknown_email_fail_alike(accounts, store, hasher):
    accounts.register_user("ada@example.com", PW)
    with pytest.raises(InvalidCredentials) as wrong:
        accounts.login("ada@example.com", "wrong password")
    with pytest.raises(InvalidCredentials) as unknown:
        accounts.login("nobody@example.com", PW)
    assert wrong.value.message == unknown.value.message
    assert hasher.dummy_calls == 1


def test_eleventh_failure_is_throttled_until_the_window_passes(accounts, store, clock):
    accounts.register_user("ada@example.com", PW)
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            accounts.login("ada@example.com", "wrong password")
    with pytest.raises(LoginThrottled) as info:
        accounts.login("ada@example.com", PW)  # even the right password waits
    assert 0 < info.value.retry_after <= 15 * 60
    clock.advance(minutes=15, seconds=1)
    assert accounts.login("ada@example.com", PW).access_token


def test_unknown_addresses_are_throttled_too(accounts):
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            accounts.login("ghost@example.com", "wrong password")
    with pytest.raises(LoginThrottled):
        accounts.login("ghost@example.com", "wrong password")


def test_refresh_rotates_and_reuse_revokes_the_family(accounts, store):
    register_confirmed(accounts, store)
    first = accounts.login("ada@example.com", PW)
    second = accounts.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    with pytest.raises(InvalidRefreshToken):
        accounts.refresh(first.refresh_token)  # reuse
    with pytest.raises(InvalidRefreshToken):
        accounts.refresh(second.refresh_token)  # the whole family is gone


def test_logout_revokes_the_family(accounts, store):
    register_confirmed(accounts, store)
    pair = accounts.login("ada@example.com", PW)
    accounts.logout(pair.refresh_token)
    with pytest.raises(InvalidRefreshToken):
        accounts.refresh(pair.refresh_token)


def test_login_rehashes_when_parameters_change(accounts, store, hasher):
    register_confirmed(accounts, store)
    hasher.scheme = "v2"
    accounts.login("ada@example.com", PW)
    [user] = store.users.values()
    assert user.password_hash.startswith("v2$")


def test_reset_password_works_once_and_revokes_sessions(accounts, store):
    register_confirmed(accounts, store)
    pair = accounts.login("ada@example.com", PW)
    accounts.forgot_password("ada@example.com")
    accounts.process_mail_requests()
    token = token_from(outbox_messages(store)[-1])
    accounts.reset_password(token, "a brand new secret")
    with pytest.raises(InvalidToken):
        accounts.reset_password(token, "yet another secret")
    with pytest.raises(InvalidRefreshToken):
        accounts.refresh(pair.refresh_token)
    assert accounts.login("ada@example.com", "a brand new secret")


def test_reset_link_expires_after_an_hour(accounts, store, clock):
    register_confirmed(accounts, store)
    accounts.forgot_password("ada@example.com")
    accounts.process_mail_requests()
    token = token_from(outbox_messages(store)[-1])
    clock.advance(hours=1, seconds=1)
    with pytest.raises(InvalidToken):
        accounts.reset_password(token, "a brand new secret")


def test_forgot_password_for_unknown_address_sends_nothing(accounts, store):
    accounts.forgot_password("ghost@example.com")
    assert accounts.process_mail_requests() == 1
    assert not store.outbox


def test_change_password_checks_the_current_one_and_revokes_tokens(accounts, store):
    user = register_confirmed(accounts, store)
    pair = accounts.login("ada@example.com", PW)
    with pytest.raises(ValidationFailed) as info:
        accounts.change_password(Actor(user.id), "not it at all", "something new 1")
    assert "current_password" in info.value.errors
    accounts.change_password(Actor(user.id), PW, "something new 1")
    with pytest.raises(InvalidRefreshToken):
        accounts.refresh(pair.refresh_token)


def test_email_change_applies_after_confirmation_once(accounts, store):
    user = register_confirmed(accounts, store)
    accounts.request_email_change(Actor(user.id), "lovelace@example.com", PW)
    message = outbox_messages(store)[-1]
    assert message.to == "lovelace@example.com"
    token = token_from(message)
    assert accounts.confirm_email_change(token).email == "lovelace@example.com"
    with pytest.raises(InvalidToken):
        accounts.confirm_email_change(token)
    assert outbox_messages(store)[-1].to == "ada@example.com"  # the old address is told


def test_email_change_to_a_taken_address_reveals_nothing(accounts, store):
    user = register_confirmed(accounts, store)
    accounts.register_user("taken@example.com", PW)
    accounts.request_email_change(Actor(user.id), "taken@example.com", PW)
    assert outbox_messages(store)[-1].subject.startswith("already_registered")


def test_profile_update_and_delete(accounts, store):
    user = register_confirmed(accounts, store)
    updated = accounts.update_profile(Actor(user.id), name="Ada L.", settings={"language": "ru", "theme": "dark"})
    assert (updated.name, updated.settings.language, updated.settings.theme) == ("Ada L.", "ru", "dark")
    with pytest.raises(ValidationFailed):
        accounts.delete_account(Actor(user.id), "not the password")
    accounts.delete_account(Actor(user.id), PW)
    assert not store.users
    with pytest.raises(Unauthenticated):
        accounts.get_profile(Actor(user.id))


def test_deactivated_users_cannot_sign_in_or_refresh(accounts, store):
    user = register_confirmed(accounts, store)
    pair = accounts.login("ada@example.com", PW)
    store.users[user.id].is_active = False
    with pytest.raises(Forbidden):
        accounts.login("ada@example.com", PW)
    with pytest.raises(InvalidRefreshToken):
        accounts.refresh(pair.refresh_token)
    with pytest.raises(Unauthenticated):
        accounts.user_from_access_token(pair.access_token)


def test_create_admin_and_set_limit(accounts, store):
    admin = accounts.create_admin("root@example.com", PW)
    assert admin.is_admin and admin.is_email_confirmed
    assert accounts.set_daily_limit("ROOT@example.com", 50).daily_limit == 50
    assert accounts.set_daily_limit("root@example.com", None).daily_limit is None
    with pytest.raises(ValidationFailed):
        accounts.set_daily_limit("root@example.com", -1)


# -- teams and account deletion (issue 13) ------------------------------------------------------------

def _team_of(store, owner_id, *members):
    from datetime import datetime, timezone

    from promptcore.domain.teams import Member, Team, TeamRole
    from tests.fakes import FakeUnitOfWork

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with FakeUnitOfWork(store) as uow:
        team = uow.teams.add(Team(name="Crew", created_by=owner_id), owner_id, now)
        for user_id, role in members:
            uow.teams.add_member(Member(team_id=team.id, user_id=user_id, role=role, joined_at=now))
        uow.commit()
    return team.id, TeamRole


def test_the_last_owner_of_a_team_with_members_cannot_delete_the_account(accounts, store):
    from promptcore.domain.errors import LastOwner

    ada = register_confirmed(accounts, store)
    bob = register_confirmed(accounts, store, "bob@example.com")
    ada_id, bob_id = ada.id, bob.id
    from promptcore.domain.teams import TeamRole

    team_id, _ = _team_of(store, ada_id, (bob_id, TeamRole.MEMBER))
    with pytest.raises(LastOwner):
        accounts.delete_account(Actor(ada_id), PW)
    assert ada_id in store.users and team_id in store.teams
    # with a second owner, the account goes and the team stays with its other owner
    store.team_members[(team_id, bob_id)].role = TeamRole.OWNER
    accounts.delete_account(Actor(ada_id), PW)
    assert ada_id not in store.users and team_id in store.teams


def test_a_team_of_one_goes_with_its_only_member(accounts, store):
    ada = register_confirmed(accounts, store)
    ada_id = ada.id
    team_id, _ = _team_of(store, ada_id)
    accounts.delete_account(Actor(ada_id), PW)
    assert ada_id not in store.users and team_id not in store.teams
