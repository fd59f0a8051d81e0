"""Account security rules with in-memory fakes (issue 9): mailed links bound to the account's
security stamp, session generations, the per-account throttle taken before the password check,
mail requests handled by the worker, and the per-recipient cooldown."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from promptcore.domain import users as rules
from promptcore.domain.access import Actor
from promptcore.domain.errors import InvalidCredentials, InvalidToken, LoginThrottled, Unauthenticated
from promptcore.services.accounts import InvalidRefreshToken
from promptcore.services.admin import Admin
from tests.fakes import FakeUnitOfWork, outbox_messages

PW = "correct horse battery"


def token_from(message):
    return re.search(r"token=([^\s&]+)", message.text).group(1)


def register_confirmed(accounts, store, email="ada@example.com", name="Ada"):
    accounts.register_user(email, PW, name)
    accounts.confirm_email(token_from(outbox_messages(store)[-1]))
    return accounts.authenticate(email, PW)


def mails(store, kind):
    return [m for m in outbox_messages(store) if m.kind == kind]


def reset_token(accounts, store, clock, email="ada@example.com"):
    clock.advance(minutes=3)  # past the recipient's cooldown
    accounts.forgot_password(email)
    accounts.process_mail_requests()
    return token_from(mails(store, "reset_password")[-1])


def change_token(accounts, store, user_id, new_email, password=PW):
    accounts.request_email_change(Actor(user_id), new_email, password)
    return token_from([m for m in mails(store, "change_email") if m.to == new_email][-1])


# -- mail requests: the request path does the same work for known and unknown addresses -----


def test_forgot_password_and_resend_only_queue_a_request_whatever_the_address(accounts, store):
    register_confirmed(accounts, store)
    accounts.register_user("new@example.com", PW)
    before = len(store.outbox)
    for email in ("ada@example.com", "ghost@example.com"):
        accounts.forgot_password(email)
    for email in ("new@example.com", "nobody@example.com"):
        accounts.resend_confirmation(email)
    assert len(store.outbox) == before  # nothing rendered or looked up in the request
    assert sorted((r["kind"], r["email"]) for r in store.mail_requests.values()) == [
        ("confirm_email", "new@example.com"), ("confirm_email", "nobody@example.com"),
        ("reset_password", "ada@example.com"), ("reset_password", "ghost@example.com")]


def test_the_worker_turns_requests_into_mail_for_accounts_that_exist(accounts, store, clock):
    register_confirmed(accounts, store)
    accounts.register_user("new@example.com", PW)
    clock.advance(minutes=3)
    accounts.forgot_password("ada@example.com")
    accounts.forgot_password("ghost@example.com")
    accounts.resend_confirmation("new@example.com")
    accounts.resend_confirmation("ada@example.com")  # already confirmed: nothing to send
    assert accounts.process_mail_requests() == 4
    assert accounts.process_mail_requests() == 0  # each request is handled once
    assert [m.to for m in mails(store, "reset_password")] == ["ada@example.com"]
    assert [m.to for m in mails(store, "confirm_email")].count("new@example.com") == 2
    assert not [m for m in outbox_messages(store) if m.to == "ghost@example.com"]


# -- the per-recipient cooldown and no stranger's words in mail --------------------------


def test_a_burst_of_reset_requests_sends_one_mail_per_cooldown(accounts, store, clock):
    register_confirmed(accounts, store)
    clock.advance(minutes=3)
    for _ in range(100):
        accounts.forgot_password("ada@example.com")
    accounts.process_mail_requests(batch=200)
    assert len(mails(store, "reset_password")) == 1
    clock.advance(seconds=rules.RECIPIENT_COOLDOWN.total_seconds() + 1)
    accounts.forgot_password("ada@example.com")
    accounts.process_mail_requests()
    assert len(mails(store, "reset_password")) == 2


def test_mail_to_an_unconfirmed_address_carries_no_name_chosen_by_the_registrant(accounts, store, clock):
    phishing = "Claim your prize at evil.example"
    accounts.register_user("victim@example.com", PW, phishing)
    clock.advance(minutes=3)
    accounts.forgot_password("victim@example.com")
    accounts.process_mail_requests()
    for kind in ("confirm_email", "reset_password"):
        [message] = mails(store, kind)
        assert phishing not in message.text
    # the address-change mail goes to an address nobody has confirmed yet either
    user = register_confirmed(accounts, store, "owner@example.com", phishing)
    accounts.update_profile(Actor(user.id), name=phishing)
    change_token(accounts, store, user.id, "target@example.com")
    [message] = [m for m in mails(store, "change_email") if m.to == "target@example.com"]
    assert phishing not in message.text


# -- mailed links bound to the security stamp ---------------------------------------------


def test_an_address_change_link_dies_with_a_password_reset(accounts, store, clock):
    user = register_confirmed(accounts, store)
    link = change_token(accounts, store, user.id, "attacker@example.com")  # the attacker knew the password
    accounts.reset_password(reset_token(accounts, store, clock), "the owner's new secret")
    with pytest.raises(InvalidToken):
        accounts.confirm_email_change(link)
    assert accounts.get_profile(Actor(user.id)).email == "ada@example.com"


def test_a_used_address_change_link_fails_even_after_the_address_moves_back(accounts, store, clock):
    user = register_confirmed(accounts, store)
    away = change_token(accounts, store, user.id, "away@example.com")
    accounts.confirm_email_change(away)
    with pytest.raises(InvalidToken):
        accounts.confirm_email_change(away)
    clock.advance(minutes=3)
    back = change_token(accounts, store, user.id, "ada@example.com")
    accounts.confirm_email_change(back)
    with pytest.raises(InvalidToken):
        accounts.confirm_email_change(away)
    assert accounts.get_profile(Actor(user.id)).email == "ada@example.com"


def test_a_reset_link_dies_when_the_address_changes(accounts, store, clock):
    user = register_confirmed(accounts, store)
    link = reset_token(accounts, store, clock)
    accounts.confirm_email_change(change_token(accounts, store, user.id, "moved@example.com"))
    with pytest.raises(InvalidToken):
        accounts.reset_password(link, "a brand new secret")


def test_a_reset_link_dies_when_the_password_changes(accounts, store, clock):
    user = register_confirmed(accounts, store)
    link = reset_token(accounts, store, clock)
    accounts.change_password(Actor(user.id), PW, "changed in the meantime")
    with pytest.raises(InvalidToken):
        accounts.reset_password(link, "a brand new secret")


# -- access tokens and sessions end with the account's generation -------------------------


def test_access_tokens_end_at_logout_password_change_and_reset(accounts, store, clock):
    user = register_confirmed(accounts, store)
    pair = accounts.login("ada@example.com", PW)
    assert accounts.user_from_access_token(pair.access_token).id == user.id
    accounts.logout(pair.refresh_token)
    with pytest.raises(Unauthenticated):
        accounts.user_from_access_token(pair.access_token)

    pair = accounts.login("ada@example.com", PW)
    accounts.change_password(Actor(user.id), PW, "a second secret")
    with pytest.raises(Unauthenticated):
        accounts.user_from_access_token(pair.access_token)

    pair = accounts.login("ada@example.com", "a second secret")
    accounts.reset_password(reset_token(accounts, store, clock), "a third secret")
    with pytest.raises(Unauthenticated):
        accounts.user_from_access_token(pair.access_token)
    with pytest.raises(InvalidRefreshToken):
        accounts.refresh(pair.refresh_token)
    fresh = accounts.login("ada@example.com", "a third secret")
    assert accounts.user_from_access_token(fresh.access_token).id == user.id


def test_tokens_and_sessions_from_before_a_deactivation_stay_dead_after_reactivation(accounts, store, clock):
    user = register_confirmed(accounts, store)
    admin = accounts.create_admin("boss@example.com", PW)
    pair = accounts.login("ada@example.com", PW)
    generation, signed_in = user.session_generation, clock.now().timestamp()
    assert accounts.user_for_session(user.id, generation, signed_in) is not None
    staff = Admin(lambda: FakeUnitOfWork(store), clock)
    staff.update_user(Actor.of(admin), user.id, {"is_active": False})
    staff.update_user(Actor.of(admin), user.id, {"is_active": True})
    with pytest.raises(Unauthenticated):
        accounts.user_from_access_token(pair.access_token)
    assert accounts.user_for_session(user.id, generation, signed_in) is None


def test_a_session_ends_at_sign_out_and_after_its_absolute_lifetime(accounts, store, clock):
    user = register_confirmed(accounts, store)
    signed_in = clock.now().timestamp()
    assert accounts.user_for_session(user.id, user.session_generation, signed_in) is not None
    clock.advance(seconds=rules.SESSION_MAX_AGE.total_seconds() - 1)
    assert accounts.user_for_session(user.id, user.session_generation, signed_in) is not None
    clock.advance(seconds=2)
    assert accounts.user_for_session(user.id, user.session_generation, signed_in) is None

    signed_in = clock.now().timestamp()
    accounts.end_sessions(Actor(user.id))
    assert accounts.user_for_session(user.id, user.session_generation, signed_in) is None
    assert accounts.user_for_session(user.id, user.session_generation + 1, signed_in) is not None
    for forged in (None, "0", True, 1.5):
        assert accounts.user_for_session(user.id, forged, signed_in) is None


def test_a_token_issued_before_the_account_existed_is_refused(accounts, store, clock):
    user = register_confirmed(accounts, store)
    old = accounts.login("ada@example.com", PW)
    # Another account later holds the same id (what SQLite did before ids stopped being reused).
    clock.advance(hours=1)
    store.users[user.id].created_at = clock.now()
    with pytest.raises(Unauthenticated):
        accounts.user_from_access_token(old.access_token)
    assert accounts.user_for_session(user.id, 0, (clock.now() - timedelta(minutes=5)).timestamp()) is None


# -- the per-account throttle takes the attempt before checking the password --------------


def test_an_attempt_is_counted_before_the_password_is_checked(accounts, store, hasher):
    register_confirmed(accounts, store)
    seen = []
    real_verify = hasher.verify

    def verify(password_hash, password):
        seen.append(len(store.failures))  # committed while the hash is being checked
        return real_verify(password_hash, password)

    hasher.verify = verify
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("ada@example.com", "wrong password")
    assert seen == [1] and len(store.failures) == 1
    accounts.authenticate("ada@example.com", PW)
    assert seen == [1, 2] and store.failures == []  # success clears the account's failures


def test_after_ten_failures_even_the_right_password_waits(accounts, store):
    register_confirmed(accounts, store)
    for _ in range(rules.LOGIN_FAILURE_LIMIT):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("ada@example.com", "wrong password")
    with pytest.raises(LoginThrottled):
        accounts.authenticate("ada@example.com", PW)
    assert len(store.failures) == rules.LOGIN_FAILURE_LIMIT  # a refused attempt is not stored
