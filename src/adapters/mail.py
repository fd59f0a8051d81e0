"""E-mail: message templates in English and Russian, and the SMTP mailer."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, StrictUndefined

from promptcore.domain.errors import DeliveryFailed
from promptcore.ports import Mailer, MailMessage, MailTemplates

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
}

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
    def __init__(self) -> None:
        self._env = Environment(autoescape=True, undefined=StrictUndefined)
        self._text_env = Environment(autoescape=False)
        self._html = self._env.from_string(_HTML)

    def render(self, kind: str, language: str, to: str, context: dict[str, Any]) -> MailMessage:
        texts = _TEXTS[kind]
        lang = language if language in texts else "en"
        subject, paragraphs, button = texts[lang]
        ctx = {"name": None, **context}
        rendered = [self._text_env.from_string(p).render(**ctx) for p in paragraphs]
        link = ctx.get("link")
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
