"""The core speaks English; the pages translate its messages through the catalogue.

Every message the core can raise is listed here with ``N_`` so that extraction puts it in the
catalogue; messages with numbers or lists in them are matched by pattern."""

from __future__ import annotations

import re

from flask_babel import gettext


def N_(text: str) -> str:
    return text


CORE_MESSAGES = (
    # errors.py defaults
    N_("The request could not be completed."),
    N_("Some fields are invalid."),
    N_("Wrong e-mail or password."),
    N_("Too many failed sign-in attempts. Try again later."),
    N_("The link or token is invalid or has expired."),
    N_("Sign in to continue."),
    N_("You are not allowed to do that."),
    N_("Not found."),
    N_("Confirm your e-mail address before generating prompts."),
    N_("You have used all your improvements for today."),
    N_("The model provider rejected this prompt."),
    N_("The language model is unavailable right now. Try again in a moment."),
    N_("The service is temporarily unavailable. Try again in a moment."),
    N_("The service is busy right now. Try again in a few seconds."),
    N_("The mail server did not accept the message."),
    # users and accounts
    N_("Enter an e-mail address."),
    N_("Enter a valid e-mail address."),
    N_("The password must not be your e-mail address."),
    N_("This password is too common; choose another."),
    N_("The name contains control characters."),
    N_("Unknown setting."),
    N_("Unknown style."),
    N_("This model is not offered."),
    N_("Must be true or false."),
    N_("Use a whole number from 0 to 100000."),
    N_("The password is not correct."),
    N_("This is already your address."),
    N_("This account has been deactivated."),
    N_("No account has that e-mail address."),
    N_("That address is now used by another account."),
    # administration
    N_("No such user."),
    N_("Choose user or admin."),
    N_("You cannot remove your own administrator role."),
    N_("Use true or false."),
    N_("You cannot deactivate your own account."),
    # prompts
    N_("Enter the prompt as text."),
    N_("Enter a prompt to improve."),
    N_("The prompt contains a NUL character."),
    N_("Enter the feedback as text."),
    N_("Say what to change in this version."),
    N_("The feedback contains a NUL character."),
    N_("Feedback needs the version it applies to (parent_id)."),
    N_("The version to iterate on was not found."),
    N_("The account no longer exists."),
    N_("No such prompt in your history."),
    N_("The model's answer ended early."),
    N_("The cursor is not valid; start from the first page."),
)

_PATTERNS = (
    (re.compile(r"^Use at most (\d+) characters \(got (\d+)\)\.$"),
     N_("Use at most %(max)s characters (got %(got)s)."), ("max", "got")),
    (re.compile(r"^Use at least (\d+) characters\.$"), N_("Use at least %(n)s characters."), ("n",)),
    (re.compile(r"^Use at most (\d+) characters\.$"), N_("Use at most %(n)s characters."), ("n",)),
    (re.compile(r"^Unknown style; choose one of: (.*)\.$"), N_("Unknown style; choose one of: %(choices)s."),
     ("choices",)),
    (re.compile(r"^This model is not offered; choose one of: (.*)\.$"),
     N_("This model is not offered; choose one of: %(choices)s."), ("choices",)),
    (re.compile(r"^Choose one of: (.*)\.$"), N_("Choose one of: %(choices)s."), ("choices",)),
)


def translate(message: str) -> str:
    """The core's English message in the page's language (unknown text passes through)."""
    for pattern, template, names in _PATTERNS:
        match = pattern.match(message)
        if match:
            return gettext(template, **dict(zip(names, match.groups(), strict=True)))
    return gettext(message)
