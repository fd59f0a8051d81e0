"""Administration: users with search, and each one's daily limit, role and active flag."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from promptcore.domain.errors import ValidationFailed

from ..deps import services
from .forms import CsrfForm
from .messages import translate
from .session import current_actor, current_user, login_required, safe_next
from .team_pages import admin_teams
from .views import bp


@bp.get("/admin")
@login_required
def admin():
    query = (request.args.get("q") or "").strip()[:200]
    cursor = request.args.get("cursor") or None
    try:
        users, next_cursor = services().admin().list_users(current_actor(), query or None, cursor)
    except ValidationFailed:
        users, next_cursor = services().admin().list_users(current_actor(), query or None, None)
    quota = services().quota()
    teams, teams_next = admin_teams()
    return render_template("admin.html", users=users, next_cursor=next_cursor, query=query,
                           row_form=CsrfForm(), me=current_user(), limits={u.id: quota.limit_of(u) for u in users},
                           teams=teams, teams_next=teams_next)


@bp.post("/admin/users/<int:user_id>")
@login_required
def admin_update(user_id: int):
    changes: dict = {}
    raw_limit = request.form.get("daily_limit")
    back = safe_next(request.form.get("back"), url_for("web.admin"))
    if raw_limit is not None:  # the per-user override; an empty box clears it (the default applies)
        raw_limit = raw_limit.strip()
        if raw_limit and (not raw_limit.isdigit() or len(raw_limit) > 7):
            flash(_("Use a whole number from 0 to 100000."), "error")
            return redirect(back, 303)
        changes["daily_limit"] = int(raw_limit) if raw_limit else None
    if request.form.get("role") in ("user", "admin"):
        changes["role"] = request.form["role"]
    changes["is_active"] = request.form.get("is_active") == "y"
    try:
        user = services().admin().update_user(current_actor(), user_id, changes)
    except ValidationFailed as exc:
        for messages in exc.errors.values():
            for message in messages:
                flash(translate(message), "error")
        return redirect(back, 303)
    flash(_("Saved changes for %(email)s.", email=user.email), "success")
    return redirect(back, 303)
