"""The account page: profile, settings, e-mail and password change, stats, delete."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from promptcore.domain.errors import ValidationFailed

from ..deps import services
from .forms import (
    DeleteAccountForm,
    EmailChangeForm,
    PasswordChangeForm,
    ProfileForm,
    SettingsForm,
    apply_errors,
)
from .i18n import COOKIE_MAX_AGE, LANG_COOKIE, THEME_COOKIE, current_language
from .session import current_actor, current_user, forget_session, login_required, refresh_user
from .views import bp, model_label

CHART_HEIGHT = 120


def _settings_form(user) -> SettingsForm:
    form = SettingsForm()
    language = current_language()
    form.language.choices = [("", _("Automatic")), ("en", "English"), ("ru", "Русский")]
    form.theme.choices = [("system", _("As the system")), ("light", _("Light")), ("dark", _("Dark"))]
    form.default_style.choices = [("", _("General (default)"))] + [
        (s.slug, s.title_in(language)) for s in services().catalogue().list()]
    models = services().prompts().models
    form.preferred_model.choices = [("", _("The first offered"))] + [(m, model_label(m)) for m in models]
    if request.method == "GET" or form.language.data is None:
        settings = user.settings
        form.language.data = settings.language or ""
        form.theme.data = settings.theme or "system"
        form.default_style.data = settings.default_style or ""
        form.preferred_model.data = settings.preferred_model or ""
        form.notify_limit.data = settings.notify_limit
    return form


def day_chart(by_day: list[tuple[str, int]]) -> dict[str, Any]:
    """Bars for the last days, scaled into an SVG of fixed height (no chart library)."""
    peak = max([count for _day, count in by_day] + [1])
    width, gap = 10, 4
    bars = []
    for index, (day, count) in enumerate(by_day):
        height = round(count / peak * (CHART_HEIGHT - 4)) if count else 0
        label = format_date(date.fromisoformat(day), "d MMM")
        bars.append({"x": index * (width + gap), "y": CHART_HEIGHT - max(height, 2), "h": max(height, 2),
                     "w": width, "count": count, "label": label, "empty": count == 0})
    return {"bars": bars, "width": len(by_day) * (width + gap) - gap, "height": CHART_HEIGHT, "peak": peak,
            "first": bars[0]["label"] if bars else "", "last": bars[-1]["label"] if bars else ""}


def style_chart(by_style: dict[str, int]) -> list[dict[str, Any]]:
    language = current_language()
    titles = {s.slug: s.title_in(language) for s in services().catalogue().list()}
    peak = max(list(by_style.values()) + [1])
    rows = sorted(by_style.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"slug": slug, "title": titles.get(slug, slug), "count": count, "peak": peak}
            for slug, count in rows if count]


def _render(user, status: int = 200, **forms: Any):
    stats = services().prompts().stats(current_actor())
    profile_form = forms.get("profile_form") or ProfileForm(name=user.name or "")
    context = {
        "user": user,
        "profile_form": profile_form,
        "settings_form": forms.get("settings_form") or _settings_form(user),
        "email_form": forms.get("email_form") or EmailChangeForm(formdata=None),
        "password_form": forms.get("password_form") or PasswordChangeForm(formdata=None),
        "delete_form": forms.get("delete_form") or DeleteAccountForm(formdata=None),
        "stats": stats,
        "day_chart": day_chart(stats.by_day),
        "style_chart": style_chart(stats.by_style),
        "last30": sum(count for _day, count in stats.by_day),
    }
    return render_template("account.html", **context), status


@bp.get("/account")
@login_required
def account():
    return _render(current_user())


@bp.post("/account/profile")
@login_required
def account_profile():
    user = current_user()
    form = ProfileForm()
    form.validate()
    try:
        refresh_user(services().accounts().update_profile(current_actor(), name=form.name.data or None))
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _render(user, 422, profile_form=form)
    flash(_("Your profile is saved."), "success")
    return redirect(url_for("web.account") + "#profile", 303)


@bp.post("/account/settings")
@login_required
def account_settings():
    user = current_user()
    form = _settings_form(user)
    form.validate()
    changes = {
        "language": form.language.data or None,
        "theme": form.theme.data or "system",
        "default_style": form.default_style.data or None,
        "preferred_model": form.preferred_model.data or None,
        "notify_limit": bool(form.notify_limit.data),
    }
    try:
        user = services().accounts().update_profile(current_actor(), settings=changes)
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _render(user, 422, settings_form=form)
    refresh_user(user)
    flash(_("Your settings are saved."), "success")
    response = redirect(url_for("web.account") + "#settings", 303)
    secure = current_app.config["SESSION_COOKIE_SECURE"]
    if changes["language"]:
        response.set_cookie(LANG_COOKIE, changes["language"], max_age=COOKIE_MAX_AGE, samesite="Lax",
                            httponly=True, secure=secure)
    else:
        response.delete_cookie(LANG_COOKIE)
    response.set_cookie(THEME_COOKIE, changes["theme"], max_age=COOKIE_MAX_AGE, samesite="Lax",
                        httponly=True, secure=secure)
    return response


@bp.post("/account/email")
@login_required
def account_email():
    user = current_user()
    form = EmailChangeForm()
    form.validate()
    try:
        services().accounts().request_email_change(current_actor(), form.new_email.data or "", form.password.data or "")
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _render(user, 422, email_form=form)
    flash(_("We sent a confirmation link to %(email)s. The change applies once you open it.",
            email=(form.new_email.data or "").strip()), "success")
    return redirect(url_for("web.account") + "#email", 303)


@bp.post("/account/password")
@login_required
def account_password():
    user = current_user()
    form = PasswordChangeForm()
    form.validate()
    try:
        user = services().accounts().change_password(current_actor(), form.current_password.data or "",
                                                     form.new_password.data or "")
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _render(user, 422, password_form=form)
    refresh_user(user)  # this session stays, the others end
    flash(_("Your password is changed. Other sessions were signed out."), "success")
    return redirect(url_for("web.account") + "#password", 303)


@bp.post("/account/delete")
@login_required
def account_delete():
    user = current_user()
    form = DeleteAccountForm()
    form.validate()
    try:
        services().accounts().delete_account(current_actor(), form.password.data or "")
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _render(user, 422, delete_form=form)
    forget_session()
    flash(_("Your account and its history were deleted."), "success")
    return redirect(url_for("web.landing"), 303)
