"""Pages. The full web UI builds on these."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from promptcore.domain.errors import InvalidToken

from ..deps import services

bp = Blueprint("web", __name__)


@bp.get("/")
def landing():
    return render_template("landing.html")


@bp.get("/confirm-email")
def confirm_email():
    token = request.args.get("token", "")
    try:
        user = services().accounts().confirm_email(token)
    except InvalidToken as exc:
        return render_template("message.html", title="Link not valid", message=exc.message), 400
    return render_template("message.html", title="Address confirmed",
                           message=f"{user.email} is confirmed. You can sign in and start improving prompts.")


@bp.get("/confirm-email-change")
def confirm_email_change():
    token = request.args.get("token", "")
    try:
        user = services().accounts().confirm_email_change(token)
    except InvalidToken as exc:
        return render_template("message.html", title="Link not valid", message=exc.message), 400
    return render_template("message.html", title="Address changed",
                           message=f"Your account now signs in with {user.email}.")


@bp.get("/dev/mailbox")
def dev_mailbox():
    if not services().settings().is_development:
        abort(404)
    with services().uow() as uow:
        messages = uow.outbox.recent(50)
    return render_template("mailbox.html", messages=messages)
