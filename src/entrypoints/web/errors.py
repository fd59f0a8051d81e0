"""Error pages for the browser side (the API's handlers call page_error for other paths)."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from promptcore.domain.errors import PromptcoreError, ServiceBusy

from ..api.errors import lookup


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood.")),
        401: (_("Sign in to continue"), _("This page needs you to be signed in.")),
        403: (_("Not allowed"), _("Your account cannot open this page.")),
        404: (_("Page not found"), _("There is nothing at this address, or it is not yours to see.")),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
        413: (_("Too large"), _("What you sent is larger than the service accepts.")),
        422: (_("Check the details"), _("Some of the details are not valid.")),
        429: (_("Slow down"), _("Too many requests. Wait a moment and try again.")),
    }


def page_error(error: Exception):
    from .messages import translate

    titles = _titles()
    if isinstance(error, PromptcoreError):
        status, _slug = lookup(error)
        message = translate(error.message)
    elif isinstance(error, CSRFError):
        status = 400
        message = _("The form has expired or was not sent from this site. Reload the page and try again.")
    elif isinstance(error, HTTPException):
        status = error.code or 500
        message = titles.get(status, ("", ""))[1] or None
    else:
        status, message = 500, None
    headers = {"Retry-After": str(error.retry_after)} if getattr(error, "retry_after", None) else {}
    if isinstance(error, ServiceBusy):
        title = _("Busy right now")  # message: the error's own, translated; nothing went wrong
    elif status >= 500:
        title = _("Something went wrong")
        message = _("Something went wrong on our side. Try again in a moment.")
    else:
        title = titles.get(status, (_("Something is not right"), ""))[0]
    try:
        return render_template("error.html", status=status, title=title, message=message), status, headers
    except Exception:  # noqa: BLE001 - never fail while reporting a failure
        return f"{status} {title}", status, {**headers, "Content-Type": "text/plain; charset=utf-8"}
