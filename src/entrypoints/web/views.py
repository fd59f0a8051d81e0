"""The page blueprint and its shared pieces: landing, preferences, e-mail links, dev mailbox.

Pages are a driving adapter of their own: they call the same use cases as the REST API, never
the API over HTTP. The other pages live in auth_pages, generator, history, account, admin_pages."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime, format_timedelta
from flask_babel import gettext as _

from promptcore.domain.errors import InvalidToken, PromptcoreError
from promptcore.domain.users import LANGUAGES, THEMES

from ..deps import services
from .forms import CsrfForm
from .i18n import (
    COOKIE_MAX_AGE,
    LANG_COOKIE,
    THEME_COOKIE,
    current_language,
    current_theme,
)
from .messages import translate
from .session import current_actor, current_user, refresh_user, safe_next

log = logging.getLogger("promptcore.web")

bp = Blueprint("web", __name__)

SAMPLES = {
    "en": ("write a post about our new coffee machine", "marketing"),
    "ru": ("напиши пост про нашу новую кофемашину", "marketing"),
}


# -- shared helpers -----------------------------------------------------------------------


def styles_by_slug() -> dict:
    return {s.slug: s for s in services().catalogue().list()}


def style_title(slug: str) -> str:
    style = styles_by_slug().get(slug)
    if style is None and slug.startswith("custom:"):  # one of the user's own styles (SPEC §13.3)
        from .library_pages import custom_style_titles

        return custom_style_titles().get(slug, slug)
    return style.title_in(current_language()) if style else slug


def model_label(model: str | None) -> str:
    if model == "offline":
        return _("offline improver")
    return model or "—"


def reset_text(resets_at: datetime | None) -> str:
    """"14 Mar, 09:05 UTC (in 3 hours)" for a quota reset time."""
    if resets_at is None:
        return ""
    now = services().clock().now()
    when = format_datetime(resets_at, "d MMM, HH:mm") + " UTC"
    delta = resets_at - now
    if delta.total_seconds() <= 0:
        return when
    return _("%(when)s (%(relative)s)", when=when,
             relative=format_timedelta(delta, add_direction=True, threshold=1.1))


def landing_example() -> tuple[str, str, str]:
    """A real before/after pair from the offline improver, computed once per language."""
    language = current_language()
    cache = current_app.extensions.setdefault("promptcore.web.examples", {})
    if language not in cache:
        prompt, style = SAMPLES.get(language, SAMPLES["en"])
        try:
            from adapters.offline import OfflineImprover
            from promptcore.services.improvement import improve_once

            text = improve_once(OfflineImprover(), services().catalogue(), prompt, style).text
        except Exception:  # the landing page must show even if the catalogue is unreachable
            log.exception("could not build the landing example")
            return prompt, style, ""
        cache[language] = (prompt, style, text)
    return cache[language]


@bp.app_context_processor
def _page_context():
    try:
        user = current_user()
    except Exception:  # noqa: BLE001 - an error page must render even when the database is down
        user = None
    return {
        "current_user": user,
        "lang": current_language(),
        "theme": current_theme(),
        "prefs_form": CsrfForm(),
        "style_title": style_title,
        "model_label": model_label,
        "reset_text": reset_text,
        "is_development": services().settings().is_development,
    }


@bp.app_template_filter("when")
def _when(moment: datetime | None) -> str:
    return format_datetime(moment, "d MMM y, HH:mm") if moment else ""


# -- landing and preferences --------------------------------------------------------------


@bp.get("/")
def landing():
    prompt, style, improved = landing_example()
    return render_template("landing.html", example_prompt=prompt, example_style=style,
                           example_improved=improved, styles=services().catalogue().list())


@bp.post("/preferences")
def preferences():
    """The language and theme switches in the header; cookies for everyone, settings when signed in."""
    language = request.form.get("language")
    theme = request.form.get("theme")
    changes: dict = {}
    if language is not None and (language in LANGUAGES or language == ""):
        changes["language"] = language or None
    if theme in THEMES:
        changes["theme"] = theme
    target = safe_next(request.form.get("next"), url_for("web.landing"))
    response = redirect(target, 303)
    user = current_user()
    if user is not None and changes:
        refresh_user(services().accounts().update_profile(current_actor(), settings=changes))
    if "language" in changes:
        if changes["language"]:
            response.set_cookie(LANG_COOKIE, changes["language"], max_age=COOKIE_MAX_AGE, samesite="Lax",
                                httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"])
        else:
            response.delete_cookie(LANG_COOKIE)
    if "theme" in changes:
        response.set_cookie(THEME_COOKIE, changes["theme"], max_age=COOKIE_MAX_AGE, samesite="Lax",
                            httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


# -- links from e-mails -------------------------------------------------------------------


@bp.get("/confirm-email")
def confirm_email():
    token = request.args.get("token", "")
    try:
        user = services().accounts().confirm_email(token)
    except InvalidToken as exc:
        return render_template("message.html", title=_("This link is not valid"), message=translate(exc.message),
                               tone="error", action=(url_for("web.login"), _("Sign in"))), 400
    signed_in = current_user() is not None
    return render_template(
        "message.html", title=_("Address confirmed"), tone="success",
        message=_("%(email)s is confirmed. You can start improving prompts.", email=user.email),
        action=(url_for("web.generator"), _("Open the generator")) if signed_in
        else (url_for("web.login"), _("Sign in")))


@bp.get("/confirm-email-change")
def confirm_email_change():
    token = request.args.get("token", "")
    try:
        user = services().accounts().confirm_email_change(token)
    except InvalidToken as exc:
        return render_template("message.html", title=_("This link is not valid"), message=translate(exc.message),
                               tone="error"), 400
    signed_in = current_user()
    if signed_in is not None and signed_in.id == user.id:
        refresh_user(user)
    return render_template("message.html", title=_("Address changed"), tone="success",
                           message=_("Your account now signs in with %(email)s.", email=user.email),
                           action=(url_for("web.account"), _("Open your account")))


# -- development mailbox ------------------------------------------------------------------


@bp.get("/dev/mailbox")
def dev_mailbox():
    if not services().settings().is_development:
        abort(404)
    with services().uow() as uow:
        messages = uow.outbox.recent(50)
    return render_template("mailbox.html", messages=messages)


def flash_error(error: PromptcoreError) -> None:
    flash(translate(error.message), "error")
