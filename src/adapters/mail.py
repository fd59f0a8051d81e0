"""E-mail: message templates in English and Russian, and the SMTP mailer."""

from __future__ import annotations

import smtplib
import ssl
from datetime import date, datetime, timezone
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from babel.dates import format_date, format_datetime
from jinja2 import Environment, StrictUndefined

from promptcore.domain.errors import DeliveryFailed
from promptcore.ports import Mailer, MailMessage, MailTemplates
from promptcore.ports.mail import MAIL_KINDS

# kind -> language -> (subject, paragraphs, button label or None)
_TEXTS: dict[str, dict[str, tuple[str, list[str], str | None]]] = {
    "confirm_email": {
        "en": ("Confirm your promptcore address",
               ["Hello{{ ' ' + name if name }},",
                "Confirm your e-mail address to start improving prompts. The link is valid for 48 hours."],
               "Confirm my address"),
        "ru": ("Подтвердите адрес в promptcore",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Подтвердите адрес электронной почты, чтобы начать улучшать промпты. Ссылка действует 48 часов."],
               "Подтвердить адрес"),
    },
    "already_registered": {
        "en": ("Someone tried to register with your address",
               ["Hello{{ ' ' + name if name }},",
                "Someone tried to create a promptcore account with this address, which already has one. "
                "If it was you, sign in: {{ login_url }}. Forgot the password? Reset it: {{ reset_url }}.",
                "If it was not you, ignore this message: nothing has changed."],
               None),
        "ru": ("Кто-то пытался зарегистрироваться с вашим адресом",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Кто-то пытался создать аккаунт promptcore с этим адресом, но аккаунт уже существует. "
                "Если это были вы, войдите: {{ login_url }}. Забыли пароль? Сбросьте его: {{ reset_url }}.",
                "Если это были не вы, просто проигнорируйте письмо: ничего не изменилось."],
               None),
    },
    "reset_password": {
        "en": ("Reset your promptcore password",
               ["Hello{{ ' ' + name if name }},",
                "Someone asked to reset the password of your promptcore account. "
                "The link works once and for one hour. If it was not you, ignore this message."],
               "Choose a new password"),
        "ru": ("Сброс пароля promptcore",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Поступил запрос на сброс пароля вашего аккаунта promptcore. "
                "Ссылка сработает один раз и действует один час. Если это были не вы, проигнорируйте письмо."],
               "Задать новый пароль"),
    },
    "password_changed": {
        "en": ("Your promptcore password was changed",
               ["Hello{{ ' ' + name if name }},",
                "The password of your promptcore account was just changed and every other session was signed out. "
                "If it was not you, reset your password at once."],
               None),
        "ru": ("Пароль promptcore изменён",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Пароль вашего аккаунта promptcore только что изменён, все остальные сеансы завершены. "
                "Если это были не вы, немедленно сбросьте пароль."],
               None),
    },
    "change_email": {
        "en": ("Confirm your new promptcore address",
               ["Hello{{ ' ' + name if name }},",
                "Confirm that this address should become the sign-in address of your promptcore account. "
                "The link is valid for 24 hours."],
               "Use this address"),
        "ru": ("Подтвердите новый адрес promptcore",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Подтвердите, что этот адрес должен стать адресом для входа в ваш аккаунт promptcore. "
                "Ссылка действует 24 часа."],
               "Использовать этот адрес"),
    },
    "email_changed": {
        "en": ("Your promptcore address was changed",
               ["Hello{{ ' ' + name if name }},",
                "Your promptcore account now signs in with {{ new_email }}. If it was not you, contact support."],
               None),
        "ru": ("Адрес promptcore изменён",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Теперь для входа в аккаунт promptcore используется адрес {{ new_email }}. "
                "Если это были не вы, обратитесь в поддержку."],
               None),
    },
    # -- limit notifications and subscriptions (SPEC §12.7) --------------------------------------
    "limit_reached": {
        "en": ("You have reached your daily promptcore limit",
               ["Hello{{ ' ' + name if name }},",
                "You have used your whole daily limit of improvements ({{ limit }} of {{ limit }}). "
                "The next one frees up on {{ resets_at }}.",
                "Need more? A paid plan raises your limit at once.",
                "You get this e-mail at most once a day; you can turn it off in your account settings."],
               "See the plans"),
        "ru": ("Дневной лимит promptcore исчерпан",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Вы использовали весь дневной лимит улучшений ({{ limit }} из {{ limit }}). "
                "Следующее станет доступно {{ resets_at }}.",
                "Нужно больше? Платный тариф сразу увеличит лимит.",
                "Это письмо приходит не чаще раза в сутки; отключить его можно в настройках аккаунта."],
               "Посмотреть тарифы"),
    },
    "payment_received": {
        "en": ("We received your promptcore payment",
               ["Hello{{ ' ' + name if name }},",
                "We have received your payment of {{ amount }} for the {{ plan }} plan.",
                "Your plan is active until {{ period_end }}. Thank you for using promptcore!"],
               "Open billing"),
        "ru": ("Оплата promptcore получена",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Мы получили ваш платёж {{ amount }} за тариф «{{ plan }}».",
                "Тариф действует до {{ period_end }}. Спасибо, что пользуетесь promptcore!"],
               "Открыть оплату"),
    },
    "renewal_failed": {
        "en": ("We could not renew your promptcore plan",
               ["Hello{{ ' ' + name if name }},",
                "We could not charge your saved payment method to renew the {{ plan }} plan. "
                "We will try again every day.",
                "Your plan keeps working until {{ grace_until }}. To keep it after that, check your card "
                "or pay for the plan in your account."],
               "Open billing"),
        "ru": ("Не удалось продлить тариф promptcore",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Не удалось списать оплату с сохранённого способа оплаты, чтобы продлить тариф «{{ plan }}». "
                "Мы будем пробовать снова каждый день.",
                "Тариф продолжит действовать до {{ grace_until }}. Чтобы сохранить его и дальше, проверьте "
                "карту или оплатите тариф в аккаунте."],
               "Открыть оплату"),
    },
    "ends_soon": {
        "en": ("Your promptcore plan ends soon",
               ["Hello{{ ' ' + name if name }},",
                "Your {{ plan }} plan ends on {{ period_end }}: its renewal was cancelled. "
                "After that your account is back on the free plan.",
                "Changed your mind? Resume the subscription in your account before then."],
               "Manage the subscription"),
        "ru": ("Тариф promptcore скоро закончится",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Тариф «{{ plan }}» закончится {{ period_end }}: продление отменено. "
                "После этого аккаунт вернётся на бесплатный тариф.",
                "Передумали? Возобновите подписку в аккаунте до этой даты."],
               "Управлять подпиской"),
    },
    "subscription_expired": {
        "en": ("Your promptcore plan has ended",
               ["Hello{{ ' ' + name if name }},",
                "Your {{ plan }} plan has ended, and your account is back on the free plan with its daily "
                "limit. Your history is kept.",
                "You can subscribe again at any time."],
               "See the plans"),
        "ru": ("Тариф promptcore закончился",
               ["Здравствуйте{{ ', ' + name if name }}!",
                "Тариф «{{ plan }}» закончился, аккаунт вернулся на бесплатный тариф с его дневным лимитом. "
                "История запросов сохранена.",
                "Оформить подписку снова можно в любой момент."],
               "Посмотреть тарифы"),
    },
    # -- teams (SPEC §14) -------------------------------------------------------------------------
    # The team's name is the inviter's own text: it is a value here (never read as a template), the
    # HTML part escapes it, and the subject is kept to one line (see _one_line).
    "team_invitation": {
        "en": ("Invitation to the team “{{ team }}” on promptcore",
               ["Hello,",
                "{{ inviter }} invited you to join the team “{{ team }}” on promptcore as {{ role_name }}.",
                "The invitation is valid until {{ expires_at }} and works once, for the promptcore account with "
                "this address: sign in (or register with this address) and accept it.",
                "If you do not know the sender, ignore this message: nothing happens without you."],
               "Accept the invitation"),
        "ru": ("Приглашение в команду «{{ team }}» в promptcore",
               ["Здравствуйте!",
                "{{ inviter }} приглашает вас в команду «{{ team }}» в promptcore с ролью «{{ role_name }}».",
                "Приглашение действует до {{ expires_at }} и срабатывает один раз, для аккаунта promptcore с этим "
                "адресом: войдите (или зарегистрируйтесь с этим адресом) и примите его.",
                "Если вы не знаете отправителя, просто проигнорируйте письмо: без вас ничего не произойдёт."],
               "Принять приглашение"),
    },
}

# A team role as the team_invitation mail names it.
_ROLE_NAMES = {
    "en": {"owner": "an owner", "admin": "an admin", "member": "a member"},
    "ru": {"owner": "владелец", "admin": "администратор", "member": "участник"},
}

# The kinds and the context keys each needs are the port's contract: promptcore.ports.mail.MAIL_KINDS.
CONTEXT_KEYS = MAIL_KINDS


def _written(value: Any, language: str) -> Any:
    """A context value as the message shows it: dates and times for the language, times in UTC."""
    if isinstance(value, datetime):
        return format_datetime(value, "d MMMM y, HH:mm", tzinfo=timezone.utc, locale=language) + " UTC"
    if isinstance(value, date):
        return format_date(value, "d MMMM y", locale=language)
    return value

def _one_line(text: str, limit: int = 200) -> str:
    """A header value from text that may hold user input (a team's name): line breaks and other
    whitespace runs become one space, other control characters go, and it is cut to ``limit``
    characters, so it can never end the header or start another."""
    line = "".join(ch if ch.isprintable() or ch.isspace() else "" for ch in text)
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


_HTML = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2330">
<div style="max-width:520px;margin:0 auto;background:#fff;border-radius:12px;padding:28px">
<p style="font-weight:700;font-size:18px;margin:0 0 16px">promptcore</p>
{% for p in paragraphs %}<p style="line-height:1.5">{{ p }}</p>{% endfor %}
{% if link %}<p style="margin:24px 0"><a href="{{ link }}" style="background:#4f46e5;color:#fff;padding:12px 20px;border-radius:8px;text-decoration:none;display:inline-block">{{ button }}</a></p>
<p style="font-size:13px;color:#5b6170;word-break:break-all">{{ link }}</p>{% endif %}
</div></body></html>"""


class JinjaMailTemplates(MailTemplates):
    """The kinds in KINDS, in English or Russian (English for another language); any other kind,
    or a context without the keys CONTEXT_KEYS names for the kind, is a programming error:
    ValueError."""

    KINDS = frozenset(_TEXTS)
    CONTEXT_KEYS = CONTEXT_KEYS

    def __init__(self) -> None:
        self._env = Environment(autoescape=True, undefined=StrictUndefined)
        self._text_env = Environment(autoescape=False)
        self._html = self._env.from_string(_HTML)

    def render(self, kind: str, language: str, to: str, context: dict[str, Any]) -> MailMessage:
        texts = _TEXTS.get(kind)
        if texts is None:
            raise ValueError(f"unknown mail kind: {kind!r}")
        missing = CONTEXT_KEYS[kind] - set(context)
        if missing:
            raise ValueError(f"mail kind {kind!r} needs {', '.join(sorted(missing))}")
        lang = language if language in texts else "en"
        subject, paragraphs, button = texts[lang]
        ctx = {"name": None, **{key: _written(value, lang) for key, value in context.items()}}
        if "role" in ctx:
            ctx["role_name"] = _ROLE_NAMES[lang].get(ctx["role"], ctx["role"])
        subject = _one_line(self._text_env.from_string(subject).render(**ctx))
        rendered = [self._text_env.from_string(p).render(**ctx) for p in paragraphs]
        link = ctx.get("link") or ctx.get("upgrade_url")
        text = "\n\n".join(rendered)
        if link:
            text += f"\n\n{button}: {link}"
        text += "\n\n-- \npromptcore\n"
        html = self._html.render(lang=lang, subject=subject, paragraphs=rendered, link=link, button=button)
        return MailMessage(to=to, subject=subject, text=text, html=html, kind=kind)


class SmtpMailer(Mailer):
    """Delivers over SMTP: ``smtp://user:pass@host:port`` (``?starttls=1``) or ``smtps://``."""

    def __init__(self, url: str, sender: str, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("PROMPTCORE_SMTP_URL must look like smtp://user:pass@host:port or smtps://...")
        self._ssl = parts.scheme == "smtps"
        self._host = parts.hostname
        self._port = parts.port or (465 if self._ssl else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._starttls = "starttls=1" in (parts.query or "")
        self._sender = sender
        self._timeout = timeout

    def _build(self, message: MailMessage) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = formataddr(("promptcore", self._sender))
        msg["To"] = message.to
        msg["Subject"] = message.subject
        msg["Message-ID"] = make_msgid(domain=self._sender.rsplit("@", 1)[-1])
        msg.set_content(message.text)
        msg.add_alternative(message.html, subtype="html")
        return msg

    def send(self, message: MailMessage) -> None:
        try:
            if self._ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self._host, self._port, timeout=self._timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            with client:
                if self._starttls:
                    client.starttls(context=ssl.create_default_context())
                if self._user:
                    client.login(self._user, self._password or "")
                client.send_message(self._build(message))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from None


class MailboxMailer(Mailer):
    """Development without SMTP: the outbox itself is the mailbox shown at /dev/mailbox,
    so delivery only marks the message as handled."""

    def send(self, message: MailMessage) -> None:
        return None
