import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptcore.domain import users as rules
from promptcore.domain.errors import ValidationFailed
from promptcore.domain.users import UserSettings

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


@given(st.text(max_size=300))
def test_normalize_email_is_idempotent_and_trimmed(raw):
    once = rules.normalize_email(raw)
    assert rules.normalize_email(once) == once
    assert once == once.strip()
    assert once == once.lower()


@given(st.from_regex(r"[a-z0-9]{1,20}@[a-z]{1,10}\.[a-z]{2,6}", fullmatch=True),
       st.sampled_from(["", " ", "  \t"]))
def test_valid_addresses_are_accepted_whatever_the_case_and_spacing(address, pad):
    assert rules.validate_email(pad + address.upper() + pad) == address


@pytest.mark.parametrize("bad", ["", "plain", "a@b", "a@@b.com", "a b@c.com", "@x.com", "a@.com", "a@x.c",
                                 "a" * 65 + "@x.com", "a@" + "b" * 250 + ".com", "a@x.com\nbcc:b@y.com"])
def test_invalid_addresses_are_rejected_with_a_field_error(bad):
    with pytest.raises(ValidationFailed) as info:
        rules.validate_email(bad)
    assert "email" in info.value.errors


@given(st.text(min_size=rules.PASSWORD_MIN, max_size=rules.PASSWORD_MAX, alphabet=string.ascii_letters + "é漢字 "))
def test_passwords_in_length_range_are_accepted_unless_common(password):
    problem = rules.password_problem(password)
    if password.strip().lower() in rules.COMMON_PASSWORDS:
        assert problem
    else:
        assert problem is None


@given(st.text(max_size=rules.PASSWORD_MIN - 1))
def test_short_passwords_are_rejected(password):
    assert rules.password_problem(password) is not None


@given(st.text(min_size=rules.PASSWORD_MAX + 1, max_size=rules.PASSWORD_MAX + 50))
def test_long_passwords_are_rejected(password):
    assert "at most" in rules.password_problem(password)


def test_password_equal_to_email_or_common_is_rejected():
    assert rules.password_problem("Ada@Example.com", "ada@example.com")
    assert rules.password_problem("password123")
    assert rules.password_problem("correct horse battery", "ada@example.com") is None


@given(st.lists(st.integers(min_value=0, max_value=3600), max_size=30))
def test_throttle_allows_until_ten_recent_failures(offsets):
    failures = [NOW - timedelta(seconds=s) for s in offsets]
    recent = [f for f in failures if NOW - f < rules.LOGIN_FAILURE_WINDOW]
    wait = rules.throttle_retry_after(failures, NOW)
    if len(recent) < rules.LOGIN_FAILURE_LIMIT:
        assert wait is None
    else:
        assert 1 <= wait <= rules.LOGIN_FAILURE_WINDOW.total_seconds()
        # After waiting, one failure has left the window and sign-in is allowed again.
        later = NOW + timedelta(seconds=wait)
        still = [f for f in failures if later - f < rules.LOGIN_FAILURE_WINDOW]
        assert len(still) < rules.LOGIN_FAILURE_LIMIT or rules.throttle_retry_after(failures, later) is not None


def test_throttle_eleventh_attempt_waits_for_the_window():
    failures = [NOW - timedelta(minutes=1)] * 10
    assert rules.throttle_retry_after(failures, NOW) == 14 * 60


def test_settings_validation_names_the_field():
    s = UserSettings()
    with pytest.raises(ValidationFailed) as info:
        s.updated({"language": "fr", "theme": "neon", "default_style": "x", "bogus": 1}, {"general"}, ("m",))
    assert set(info.value.errors) == {"settings.language", "settings.theme", "settings.default_style", "settings.bogus"}
    ok = s.updated({"language": "ru", "theme": "dark", "default_style": "general", "preferred_model": "m"},
                   {"general"}, ("m",))
    assert ok == UserSettings("ru", "dark", "general", "m")


@pytest.mark.parametrize("name,expected", [("  Ada   Lovelace ", "Ada Lovelace"), ("", None), (None, None)])
def test_names_are_tidied(name, expected):
    assert rules.validate_name(name) == expected


def test_names_with_control_characters_or_too_long_are_rejected():
    for bad in ["a\x07b", "x" * 101]:
        with pytest.raises(ValidationFailed):
            rules.validate_name(bad)
