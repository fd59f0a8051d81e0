"""The limit and subscription e-mails (SPEC §12.7) as JinjaMailTemplates writes them: both
languages, dates and times for the language in UTC, the button, and HTML-escaped values."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from adapters.mail import CONTEXT_KEYS, JinjaMailTemplates

RESETS = datetime(2026, 1, 16, 9, 5, tzinfo=timezone.utc)
BILLING = "https://promptcore.example/account/billing"
PRICING = "https://promptcore.example/pricing"


@pytest.fixture(scope="module")
def templates():
    return JinjaMailTemplates()


def test_the_limit_mail_says_the_limit_the_reset_time_and_how_to_upgrade(templates):
    context = {"name": "Ann", "limit": 3, "resets_at": RESETS, "upgrade_url": PRICING}
    en = templates.render("limit_reached", "en", "ann@example.com", context)
    ru = templates.render("limit_reached", "ru", "ann@example.com", context)
    assert en.subject == "You have reached your daily promptcore limit"
    assert ru.subject == "Дневной лимит promptcore исчерпан"
    assert "(3 of 3)" in en.text and "16 January 2026, 09:05 UTC" in en.text
    assert "(3 из 3)" in ru.text and "16 января 2026, 09:05 UTC" in ru.text
    for message, label in ((en, "See the plans"), (ru, "Посмотреть тарифы")):
        assert f"{label}: {PRICING}" in message.text
        assert f'href="{PRICING}"' in message.html and label in message.html
        assert "Hello Ann," in message.text or "Здравствуйте, Ann!" in message.text


@pytest.mark.parametrize("kind, context, english, russian", [
    ("payment_received",
     {"amount": "490.00 ₽", "plan": "Pro", "period_end": datetime(2026, 2, 14, 12, 0, tzinfo=timezone.utc)},
     ["490.00 ₽", "the Pro plan", "until 14 February 2026, 12:00 UTC"],
     ["490.00 ₽", "тариф «Pro»", "до 14 февраля 2026, 12:00 UTC"]),
    ("renewal_failed", {"plan": "Pro", "grace_until": date(2026, 2, 17)},
     ["renew the Pro plan", "until 17 February 2026."], ["тариф «Pro»", "до 17 февраля 2026."]),
    ("ends_soon", {"plan": "Team", "period_end": date(2026, 3, 1)},
     ["Your Team plan ends on 1 March 2026"], ["Тариф «Team» закончится 1 марта 2026"]),
    ("subscription_expired", {"plan": "Pro"}, ["Your Pro plan has ended"], ["Тариф «Pro» закончился"]),
])
def test_the_subscription_mails_in_both_languages(templates, kind, context, english, russian):
    for language, expected in (("en", english), ("ru", russian)):
        message = templates.render(kind, language, "ann@example.com", {**context, "link": BILLING})
        assert message.kind == kind
        for part in expected:
            assert part in message.text, (language, part, message.text)
        assert f'href="{BILLING}"' in message.html
    without_link = templates.render(kind, "en", "ann@example.com", context)
    assert "href=" not in without_link.html and BILLING not in without_link.text


def test_values_are_escaped_in_the_html(templates):
    message = templates.render("subscription_expired", "en", "ann@example.com", {"plan": "<b>Pro</b>"})
    assert "<b>Pro</b>" not in message.html and "&lt;b&gt;Pro&lt;/b&gt;" in message.html
    assert "<b>Pro</b>" in message.text  # the text part is plain text


def test_every_kind_has_its_context_documented():
    assert set(CONTEXT_KEYS) == JinjaMailTemplates.KINDS
