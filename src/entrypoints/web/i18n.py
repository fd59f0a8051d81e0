"""Languages and themes for the pages: Flask-Babel set-up and the choice of language and theme.

The compiled catalogues (translations/*/LC_MESSAGES/messages.mo) are committed beside their .po
sources and compiled again by the build (``make translations``, ``make install``, the Docker
build stage: ``pybabel compile``). The app only reads them; it never writes into its package."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, g, request
from flask_babel import Babel, get_locale

from promptcore.domain.users import LANGUAGES, THEMES

log = logging.getLogger("promptcore.web")

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANG_COOKIE = "promptcore_lang"
THEME_COOKIE = "promptcore_theme"
COOKIE_MAX_AGE = 365 * 24 * 3600


def missing_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """The messages.po without a messages.mo beside it. Only reads: the .mo files are committed
    and compiled again at build time (``make install``, the Docker build), never at run time."""
    return [po for po in sorted(directory.glob("*/LC_MESSAGES/messages.po"))
            if not po.with_suffix(".mo").is_file()]


def _user_settings():
    from .session import current_user

    try:
        user = current_user()
    except Exception:  # noqa: BLE001 - an error page must render even when the database is down
        return None
    return user.settings if user is not None else None


def select_locale() -> str:
    settings = _user_settings()
    if settings is not None and settings.language in LANGUAGES:
        return settings.language
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return request.accept_languages.best_match(LANGUAGES) or "en"


def current_language() -> str:
    try:
        return str(get_locale() or "en")
    except Exception:  # noqa: BLE001 - outside a request: the default language
        return "en"


def current_theme() -> str:
    if "theme" not in g:
        settings = _user_settings()
        theme = settings.theme if settings is not None else request.cookies.get(THEME_COOKIE)
        g.theme = theme if theme in THEMES else "system"
    return g.theme


def init_app(app: Flask) -> None:
    # Read-only: the package may be installed where this process cannot write (and must not).
    for po in missing_catalogues(TRANSLATIONS):
        log.warning("no compiled catalogue beside %s: its pages are in English "
                    "(run `make install` or `pybabel compile -d %s`)", po, TRANSLATIONS)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale)


def fill_english(directory: Path = TRANSLATIONS) -> None:
    """English is the source language: its catalogue repeats each msgid (``make translations``)."""
    from babel.messages.pofile import read_po, write_po

    path = directory / "en" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    for message in catalog:
        if message.id and not message.string:
            message.string = message.id
        message.flags.discard("fuzzy")
    with path.open("wb") as fh:
        write_po(fh, catalog, no_location=True, sort_output=True, width=100)


if __name__ == "__main__":
    fill_english()
