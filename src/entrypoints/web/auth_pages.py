"""Register, sign in and out, confirmation resend, forgotten and reset passwords."""

from __future__ import annotations

import math

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from promptcore.domain.errors import (
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    ValidationFailed,
)

from ..deps import services
from ..limits import mail_limit, signin_limit
from .forms import (
    ForgotForm,
    LoginForm,
    RegisterForm,
    ResendForm,
    ResetForm,
    apply_errors,
)
from .i18n import current_language
from .messages import translate
from .session import current_user, forget_session, safe_next, sign_in, sign_out
from .views import bp

# The per-IP limit of the API's credential endpoints, shared, on the POSTs of these pages.


@bp.route("/register", methods=["GET", "POST"])
@mail_limit
def register():
    form = RegisterForm()
    if request.method == "POST" and form.validate():
        try:
            services().accounts().register_user(form.email.data or "", form.password.data or "",
                                                form.name.data or None, language=current_language())
        except ValidationFailed as exc:
            apply_errors(form, exc)
            return render_template("register.html", form=form), 422
        email = (form.email.data or "").strip()
        return render_template("check_inbox.html", email=email, resend_form=ResendForm(email=email))
    return render_template("register.html", form=form), 422 if request.method == "POST" else 200


@bp.route("/login", methods=["GET", "POST"])
@signin_limit
def login():
    form = LoginForm()
    if request.method == "GET":
        if current_user() is not None:
            return redirect(safe_next(request.args.get("next")))
        form.next.data = request.args.get("next", "")
        return render_template("login.html", form=form)
    status = 422
    if form.validate():
        try:
            user = services().accounts().authenticate(form.email.data or "", form.password.data or "")
        except InvalidCredentials as exc:
            form.form_errors.append(translate(exc.message))
            status = 401
        except LoginThrottled as exc:
            minutes = max(1, math.ceil(exc.retry_after / 60))
            form.form_errors.append(_("Too many failed attempts for this account. Try again in %(minutes)s min.",
                                      minutes=minutes))
            response = render_template("login.html", form=form), 429, {"Retry-After": str(exc.retry_after)}
            return response
        except Forbidden as exc:
            form.form_errors.append(translate(exc.message))
            status = 403
        else:
            sign_in(user)
            return redirect(safe_next(form.next.data), 303)
    return render_template("login.html", form=form), status


@bp.post("/logout")
def logout():
    sign_out()
    flash(_("You have signed out."), "success")
    return redirect(url_for("web.landing"), 303)


@bp.post("/resend-confirmation")
@mail_limit
def resend_confirmation():
    user = current_user()
    email = user.email if user is not None else (request.form.get("email") or "")
    try:
        services().accounts().resend_confirmation(email, current_language())
    except ValidationFailed:
        pass  # generic answer whatever the address
    flash(_("If the address still needs confirming, a new link is on its way."), "success")
    if user is not None:
        return redirect(url_for("web.generator"), 303)
    return render_template("check_inbox.html", email=email, resend_form=ResendForm(email=email))


@bp.route("/forgot-password", methods=["GET", "POST"])
@mail_limit
def forgot_password():
    form = ForgotForm()
    if request.method == "POST" and form.validate():
        try:
            services().accounts().forgot_password(form.email.data or "", current_language())
        except ValidationFailed as exc:
            apply_errors(form, exc)
            return render_template("forgot.html", form=form), 422
        return render_template(
            "message.html", title=_("Check your inbox"), tone="success",
            message=_("If an account uses this address, we sent it a link to choose a new password. "
                      "The link works once, for one hour."),
            action=(url_for("web.login"), _("Back to sign in")))
    return render_template("forgot.html", form=form)


@bp.route("/reset-password", methods=["GET", "POST"])
@mail_limit
def reset_password():
    form = ResetForm()
    if request.method == "GET":
        form.token.data = request.args.get("token", "")
        return render_template("reset.html", form=form)
    if form.validate():
        try:
            services().accounts().reset_password(form.token.data or "", form.password.data or "")
        except InvalidToken as exc:
            return render_template("message.html", title=_("This link is not valid"), tone="error",
                                   message=translate(exc.message),
                                   action=(url_for("web.forgot_password"), _("Ask for a new link"))), 400
        except ValidationFailed as exc:
            apply_errors(form, exc)
            return render_template("reset.html", form=form), 422
        forget_session()  # the reset itself ended every session of that account
        return render_template("message.html", title=_("Password changed"), tone="success",
                               message=_("Your new password is set and other sessions were signed out."),
                               action=(url_for("web.login"), _("Sign in")))
    return render_template("reset.html", form=form), 400


