"""Languages and themes for the pages: Flask-Babel set-up, the choice of language and theme,
and the catalogues compiled from their .po sources when the .mo files are missing or stale."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from flask import Flask, g, request
from flask_babel import Babel, get_locale

from promptcore.domain.users import LANGUAGES, THEMES

log = logging.getLogger("promptcore.web")

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANG_COOKIE = "promptcore_lang"
THEME_COOKIE = "promptcore_theme"
COOKIE_MAX_AGE = 365 * 24 * 3600


def compile_catalogues(directory: Path = TRANSLATIONS) -> None:
    """Write messages.mo next to every messages.po that is newer (a fresh clone needs no step)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in directory.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        try:
            if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=po.parent.parent.name)
            fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalog)
            os.replace(tmp, mo)  # atomic: concurrent workers never read half a file
        except OSError as exc:  # a read-only install keeps the committed .mo
            log.warning("could not compile %s: %s", po, exc)


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
    compile_catalogues()
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
