"""Token codecs and mail templates: each fake and its adapter agree (same clock for both)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.mail import JinjaMailTemplates
from adapters.security import ItsdangerousTokenCodec, JwtAccessTokenCodec
from promptcore.domain.errors import InvalidToken, Unauthenticated
from promptcore.domain.users import ACCESS_TOKEN_TTL
from tests.fakes import FakeAccessTokenCodec, FakeClock, FakeMailTemplates, FakeSignedTokenCodec

SECRET = "s" * 40


@pytest.fixture
def clock():
    return FakeClock()


# -- access tokens ------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "jwt"])
def access(request, clock):
    if request.param == "fake":
        return FakeAccessTokenCodec(clock=clock)
    return JwtAccessTokenCodec(SECRET, clock=clock)


def test_an_access_token_carries_user_role_issue_time_and_generation(access, clock):
    claims = access.verify(access.issue(42, "admin", clock.now(), generation=3))
    assert {k: claims[k] for k in ("sub", "role", "iat", "gen")} == {
        "sub": "42", "role": "admin", "iat": int(clock.now().timestamp()), "gen": 3}


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "access:1:user:x:0", "access:1:user:0",
                                   "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"])
def test_a_bad_access_token_is_unauthenticated_not_an_invalid_link(access, token):
    with pytest.raises(Unauthenticated) as caught:
        access.verify(token)
    assert not isinstance(caught.value, InvalidToken)  # 401 with WWW-Authenticate, not 400 invalid_token


def test_an_access_token_expires_after_its_lifetime_within_the_leeway(access, clock):
    token = access.issue(1, "user", clock.now())
    clock.advance(seconds=ACCESS_TOKEN_TTL.total_seconds() + 4)
    assert access.verify(token)["sub"] == "1"
    clock.advance(seconds=1)
    with pytest.raises(Unauthenticated):
        access.verify(token)


def test_an_access_token_from_the_future_is_refused(access, clock):
    token = access.issue(1, "user", clock.now() + timedelta(minutes=1))
    with pytest.raises(Unauthenticated):
        access.verify(token)
    assert access.verify(access.issue(1, "user", clock.now() + timedelta(seconds=5)))["sub"] == "1"


# -- e-mailed tokens ----------------------------------------------------------------------------


@pytest.fixture(params=["fake", "itsdangerous"])
def signed(request, clock):
    if request.param == "fake":
        return FakeSignedTokenCodec(clock)
    return ItsdangerousTokenCodec(SECRET, clock=clock)


def test_a_signed_token_gives_back_its_payload_for_its_purpose_only(signed):
    token = signed.dumps("reset", {"uid": 7, "fp": "abc"})
    assert signed.loads("reset", token, timedelta(hours=1)) == {"uid": 7, "fp": "abc"}
    with pytest.raises(InvalidToken):
        signed.loads("confirm", token, timedelta(hours=1))


@pytest.mark.parametrize("token", ["", "garbage", "tok999", "x" * 3000, None, 12])
def test_a_bad_signed_token_is_an_invalid_token(signed, token):
    with pytest.raises(InvalidToken):
        signed.loads("reset", token, timedelta(hours=1))


def test_a_signed_token_expires_after_max_age_in_whole_seconds(signed, clock):
    token = signed.dumps("reset", {"uid": 7})
    clock.advance(seconds=3600)
    assert signed.loads("reset", token, timedelta(hours=1)) == {"uid": 7}
    clock.advance(seconds=1)
    with pytest.raises(InvalidToken):
        signed.loads("reset", token, timedelta(hours=1))


# -- mail templates -----------------------------------------------------------------------------


def test_the_fake_knows_the_same_kinds_as_the_templates():
    assert FakeMailTemplates.KINDS == JinjaMailTemplates.KINDS


@pytest.fixture(params=["fake", "jinja"])
def templates(request):
    return FakeMailTemplates() if request.param == "fake" else JinjaMailTemplates()


LINK = "http://promptcore.test/reset-password?token=abc.def"
CONTEXT = {"link": LINK, "name": "Ann", "login_url": "http://promptcore.test/login",
           "reset_url": "http://promptcore.test/forgot-password", "new_email": "new@example.com",
           "limit": 3, "resets_at": datetime(2026, 1, 16, 9, 5, tzinfo=timezone.utc),
           "upgrade_url": "http://promptcore.test/pricing", "amount": "490.00 ₽", "plan": "Pro",
           "period_end": datetime(2026, 2, 14, 12, 0, tzinfo=timezone.utc),
           "grace_until": datetime(2026, 2, 17, 12, 0, tzinfo=timezone.utc),
           "team": "Support desk", "inviter": "bob@example.com", "role": "admin",
           "expires_at": datetime(2026, 1, 23, 9, 5, tzinfo=timezone.utc)}


def test_the_fake_needs_the_same_context_as_the_templates():
    assert FakeMailTemplates.CONTEXT_KEYS == JinjaMailTemplates.CONTEXT_KEYS


@pytest.mark.parametrize("kind", sorted(JinjaMailTemplates.KINDS))
def test_a_kind_without_its_context_is_a_value_error(templates, kind):
    for key in JinjaMailTemplates.CONTEXT_KEYS[kind]:
        with pytest.raises(ValueError):
            templates.render(kind, "en", "ann@example.com", {k: v for k, v in CONTEXT.items() if k != key})


@pytest.mark.parametrize("kind", sorted(JinjaMailTemplates.KINDS))
def test_every_kind_renders_a_message_to_the_address_with_the_link(templates, kind):
    message = templates.render(kind, "ru", "ann@example.com", CONTEXT)
    assert (message.to, message.kind) == ("ann@example.com", kind)
    assert message.subject and message.text and message.html
    if kind in ("confirm_email", "reset_password", "change_email", "team_invitation"):  # the kinds with a link
        assert LINK in message.text and LINK in message.html
    assert message.subject != templates.render(kind, "en", "ann@example.com", CONTEXT).subject


def test_an_unknown_language_is_english(templates):
    english = templates.render("reset_password", "en", "ann@example.com", CONTEXT)
    assert templates.render("reset_password", "de", "ann@example.com", CONTEXT) == english


@pytest.mark.parametrize("kind", ["welcome", "", "CONFIRM_EMAIL"])
def test_an_unknown_kind_is_a_value_error(templates, kind):
    with pytest.raises(ValueError):
        templates.render(kind, "en", "ann@example.com", CONTEXT)
