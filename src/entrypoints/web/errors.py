"""Error pages for the browser side."""

from __future__ import annotations

from flask import render_template
from werkzeug.exceptions import HTTPException

from promptcore.domain.errors import PromptcoreError

from ..api.errors import lookup


def page_error(error: Exception):
    if isinstance(error, PromptcoreError):
        status, _ = lookup(error)
        message = error.message
    elif isinstance(error, HTTPException):
        status = error.code or 500
        message = error.description if status < 500 else None
    else:
        status, message = 500, None
    if status >= 500:
        message = "Something went wrong on our side. Try again in a moment."
    return render_template("error.html", status=status, message=message), status
