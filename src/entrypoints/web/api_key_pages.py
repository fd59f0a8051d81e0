"""Personal API keys on the pages (SPEC §15.1): /account/api-keys lists the keys and makes new ones;
/account/api-keys/<id>/revoke asks before revoking one.

A new key is shown once, in the answer to the form that made it (never through a redirect: the
flashed messages live in the signed, not encrypted, session cookie), with ``Cache-Control:
no-store`` so the browser keeps no copy. The pages call the same ApiKeys use case as the API;
its refusals (bad input, the limit of keys, an unconfirmed address) come back on the page in the
page's language with their status."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from flask import flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from promptcore.domain.api_keys import EXPIRY_MAX, MAX_ACTIVE_KEYS, NAME_MAX, SCOPES, validate_new_key
from promptcore.domain.errors import PromptcoreError, ValidationFailed

from ..api.errors import lookup
from ..deps import services
from .forms import CsrfForm, Form, apply_errors
from .messages import translate
from .session import current_actor, login_required
from .views import bp


def scope_labels() -> dict[str, tuple[str, str]]:
    """Each scope's title and what it allows, in the page's language."""
    return {
        "prompts:read": (_("Read prompts"), _("History, single records, stats and the history export.")),
        "prompts:write": (_("Improve prompts"), _("Improve and iterate (spends your quota), delete records, "
                                                  "import history.")),
        "templates:read": (_("Read templates"), _("Templates, versions, rendering, quick templates, custom styles "
                                                  "and the library export.")),
        "templates:write": (_("Change templates"), _("Create, edit, copy, restore and delete templates and "
                                                     "custom styles; import a library.")),
    }


class ApiKeyForm(Form):
    name = StringField(_l("Name"))
    scopes = SelectMultipleField(_l("Scopes"), choices=[(s, s) for s in SCOPES], validate_choice=False,
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    expires_on = StringField(_l("Expires on (optional)"))


def _expiry(name: str, scopes: list[str], raw: str | None) -> datetime | None:
    """The form's date as the end of that day in UTC; empty: no expiry. A date that cannot be read
    is reported together with the other fields' problems (the use case checks those)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        problem = ValidationFailed.on("expires_at", "Enter the date as YYYY-MM-DD.")
    try:
        validate_new_key(name, scopes, None, services().clock().now())
    except ValidationFailed as others:
        problem.errors = {**others.errors, **problem.errors}
    raise problem


def _page(form: ApiKeyForm | None = None, status: int = 200, new_key: Any = None):
    keys = services().api_keys().list(current_actor())
    now = services().clock().now()
    html = render_template("api_keys.html", keys=keys, now=now, form=form or ApiKeyForm(formdata=None),
                           new_key=new_key, labels=scope_labels(), scopes=SCOPES, max_keys=MAX_ACTIVE_KEYS,
                           name_max=NAME_MAX, base_url=services().settings().base_url.rstrip("/"),
                           # the last date the picker offers: its key ends at the next midnight (UTC)
                           latest=(now + EXPIRY_MAX - timedelta(days=1)).date(),
                           active=sum(1 for k in keys if k.is_active(now)))
    response = make_response(html, status)
    if new_key is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/account/api-keys")
@login_required
def account_api_keys():
    return _page()


@bp.post("/account/api-keys")
@login_required
def account_api_key_create():
    form = ApiKeyForm()
    name, scopes = form.name.data or "", list(form.scopes.data or [])
    try:
        made = services().api_keys().create(current_actor(), name, scopes, _expiry(name, scopes, form.expires_on.data))
    except ValidationFailed as exc:
        apply_errors(form, exc, aliases={"expires_at": "expires_on"})
        return _page(form, 422)
    except PromptcoreError as exc:  # the limit of keys, an unconfirmed address
        form.form_errors.append(translate(exc.message))
        return _page(form, lookup(exc)[0])
    return _page(new_key=made, status=201)


def _revoke_page(key_id: int, status: int = 200):
    key = services().api_keys().get(current_actor(), key_id)
    return render_template("api_key_revoke.html", key=key, form=CsrfForm()), status


@bp.get("/account/api-keys/<int:key_id>/revoke")
@login_required
def account_api_key_revoke_confirm(key_id: int):
    return _revoke_page(key_id)


@bp.post("/account/api-keys/<int:key_id>/revoke")
@login_required
def account_api_key_revoke(key_id: int):
    key = services().api_keys().revoke(current_actor(), key_id)
    flash(_("The key “%(name)s” (%(prefix)s…) was revoked. Programs that use it are refused from now on.",
            name=key.name, prefix=key.prefix), "success")
    return redirect(url_for("web.account_api_keys"), 303)
