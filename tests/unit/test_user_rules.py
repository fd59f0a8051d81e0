import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import example, given
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


def _recent(failures, now):
    return [f for f in failures if now - f < rules.LOGIN_FAILURE_WINDOW]


def check_throttle(throttle_retry_after, failures, now) -> None:
    """What ``throttle_retry_after`` means, checked without re-deriving its arithmetic: with k
    failures in the window, sign-in is refused iff k >= LIMIT; a refusal's wait is exactly long
    enough, and no longer: one second before it ends the account is still refused, when it
    ends it is allowed (the oldest of the newest LIMIT failures has left the window)."""
    k = len(_recent(failures, now))
    wait = throttle_retry_after(failures, now)
    if k < rules.LOGIN_FAILURE_LIMIT:
        assert wait is None, f"{k} failures in the window must not refuse"
        return
    assert isinstance(wait, int) and 1 <= wait <= rules.LOGIN_FAILURE_WINDOW.total_seconds(), wait
    later = now + timedelta(seconds=wait)
    assert len(_recent(failures, later)) < rules.LOGIN_FAILURE_LIMIT, "the wait is not long enough"
    assert throttle_retry_after(failures, later) is None
    just_before = later - timedelta(seconds=1)
    assert len(_recent(failures, just_before)) >= rules.LOGIN_FAILURE_LIMIT, "the wait is longer than needed"
    assert throttle_retry_after(failures, just_before) is not None


# Failures up to twice the window ago (so some have left it), with sub-second times (so the
# rounding of the wait matters), often several at the same instant.
failure_ages = st.lists(
    st.one_of(st.integers(min_value=0, max_value=1800), st.floats(min_value=0, max_value=1800)),
    max_size=3 * rules.LOGIN_FAILURE_LIMIT,
)


@given(failure_ages, st.integers(min_value=0, max_value=3))
@example([60.9995] * rules.LOGIN_FAILURE_LIMIT, 0)  # a wait of 839.0005 s must be 840, not 839
def test_throttle_refuses_at_the_limit_and_waits_exactly_until_a_failure_leaves_the_window(ages, repeat):
    failures = [NOW - timedelta(seconds=a) for a in ages for _ in range(1 + repeat % 2)]
    check_throttle(rules.throttle_retry_after, failures, NOW)


@pytest.mark.parametrize("k", [0, rules.LOGIN_FAILURE_LIMIT - 1, rules.LOGIN_FAILURE_LIMIT,
                               rules.LOGIN_FAILURE_LIMIT + 5])
def test_throttle_at_and_around_the_limit(k):
    failures = [NOW - timedelta(seconds=60 + i) for i in range(k)]
    check_throttle(rules.throttle_retry_after, failures, NOW)
    assert (rules.throttle_retry_after(failures, NOW) is None) == (k < rules.LOGIN_FAILURE_LIMIT)


def _always_one_second(failures, now):
    return None if len(_recent(failures, now)) < rules.LOGIN_FAILURE_LIMIT else 1


def _oldest_of_all_recent(failures, now):
    recent = sorted(_recent(failures, now))
    if len(recent) < rules.LOGIN_FAILURE_LIMIT:
        return None
    return max(1, int((recent[0] + rules.LOGIN_FAILURE_WINDOW - now).total_seconds() + 0.999))


def _rounded_down(failures, now):
    recent = sorted(_recent(failures, now))
    if len(recent) < rules.LOGIN_FAILURE_LIMIT:
        return None
    return max(1, int((recent[-rules.LOGIN_FAILURE_LIMIT] + rules.LOGIN_FAILURE_WINDOW - now).total_seconds()))


def _one_failure_too_many(failures, now):
    recent = sorted(_recent(failures, now))
    if len(recent) <= rules.LOGIN_FAILURE_LIMIT:
        return None
    return rules.throttle_retry_after(failures, now)


@pytest.mark.parametrize("mutant", [_always_one_second, _oldest_of_all_recent, _rounded_down, _one_failure_too_many])
def test_the_throttle_property_fails_wrong_implementations(mutant):
    """The property above can fail: each of these near-misses breaks it on a plain case."""
    limit = rules.LOGIN_FAILURE_LIMIT
    cases = [
        [NOW - timedelta(minutes=1)] * limit,  # k = LIMIT, all a minute ago
        [NOW - timedelta(minutes=1, seconds=i) for i in range(limit + 3)],  # more than LIMIT, spread out
        [NOW - timedelta(seconds=60.5 + i) for i in range(limit)],  # sub-second times
    ]
    failed = 0
    for failures in cases:
        check_throttle(rules.throttle_retry_after, failures, NOW)  # the real one passes
        try:
            check_throttle(mutant, failures, NOW)
        except AssertionError:
            failed += 1
    assert failed, f"{mutant.__name__} passes the throttle property"


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
