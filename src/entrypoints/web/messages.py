"""The core speaks English; the pages translate its messages through the catalogue.

Every message the core can raise is listed here with ``N_`` so that extraction puts it in the
catalogue; messages with numbers or lists in them are matched by pattern. Every page translates
them through ``translate``; a template version's note goes through ``note_text``."""

from __future__ import annotations

import re
from collections.abc import Callable

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
    # templates
    N_("Template not found."),
    N_("Quick templates are read-only; copy one to your library to change it."),
    N_("Record not found."),
    N_("Give a version number (1 or more)."),
    N_("Enter the title as text."),
    N_("The title contains a NUL character."),
    N_("Enter a title."),
    N_("Write the title on one line."),
    N_("Enter the description as text."),
    N_("The description contains a NUL character."),
    N_("Enter the template text."),
    N_("The text contains a NUL character."),
    N_("Give the tags as a list of words."),
    N_("Each tag is a word of text."),
    N_("A tag cannot contain commas or control characters."),
    N_("Enter the value as text."),
    N_("The value contains a NUL character."),
    N_("A value cannot contain '{{' or '}}' or start or end with a brace: values are plain text, not variables."),
    N_("Fill in this variable."),
    N_("You already have one with this title; choose another title."),
    # custom styles
    N_("Style not found."),
    N_("A custom style is written custom:<id>, with the id of one of your styles."),
    N_("Enter the style's instructions as text."),
    N_("The instructions contain a NUL character."),
    N_("Describe how this style should rewrite prompts."),
    # library import and export
    N_("You have reached the limit for these items; delete some first."),
    N_("The file was not imported: some items are invalid. Nothing was written."),
    N_("Choose a file to import."),
    N_("The file contains NUL characters; it is not a text export."),
    N_("Choose json or csv."),
    N_("The file is empty."),
    N_("The file is not valid JSON."),
    N_("The cell starts like a spreadsheet formula (=, +, -, @); put an apostrophe before it to keep it as text."),
    N_("This looks like a history export; import it on the history page (POST /api/v1/prompts/import)."),
    N_("This looks like a library export; import it on the templates page (POST /api/v1/templates/import)."),
    N_("This is not a promptcore library export."),
    N_("Give a list."),
    N_("Each item is an object."),
    N_("Write template or style."),
    N_("Write true or false."),
    N_("Give true or false."),
    N_("Templates have no instructions."),
    N_("Styles have no body, tags or favourite."),
    N_("The file holds no templates or styles."),
    N_("Choose rename, skip or replace."),
    N_("The file holds no records."),
    N_("The time is in the future."),
    N_("Give the text."),
    N_("The text is too long."),
    N_("Only succeeded records are imported."),
    N_("Give the style's slug (at most 32 characters)."),
    N_("Give the model as text of at most 200 characters."),
    N_("Give a whole number of milliseconds."),
    N_("Give an object."),
    N_("Give a whole number."),
    # teams
    N_("Team not found."),
    N_("Choose owner, admin or member."),
    N_("Enter the team's name as text."),
    N_("Enter a name for the team."),
    N_("Confirm your e-mail address before creating a team."),
    N_("No such member in this team."),
    N_("Your role in this team does not allow that."),
    N_("A team needs an owner: make someone else an owner first."),
    N_("The last owner cannot leave or be removed: make someone else an owner first, or delete the team."),
    N_("This team has an active paid plan; cancel it and wait for it to end before deleting the team."),
    N_("A payment for this team is in progress; wait until it is paid or canceled (an unfinished checkout is "
       "dropped within an hour) before deleting the team."),
    N_("You are the only member of a team with an active paid plan: cancel the plan and wait for it to end before "
       "deleting your account."),
    N_("A payment for a team you alone belong to is in progress: wait until it is paid or canceled before deleting "
       "your account."),
    N_("You are the last owner of a team with other members: make one of them an owner, or delete the team, before "
       "deleting your account."),
    N_("Only the team's owners set an owner's cap."),
    N_("The invitation was not found."),
    N_("Confirm your e-mail address before inviting people."),
    N_("This address already belongs to a member of the team."),
    N_("This address already has a pending invitation; resend or revoke it."),
    N_("The invitation was sent moments ago; wait a minute before sending it again."),
    N_("The invitation link is invalid, expired or already used."),
    N_("Confirm your e-mail address before joining a team."),
    N_("You are already a member of this team."),
    # the team pool
    N_("This team has no plan with a shared daily limit yet; an owner can upgrade the team, "
       "or generate in your personal workspace."),
    N_("The team has used its shared limit for today."),
    N_("You have used your daily share of the team's limit."),
    N_("Administrators only."),
    # the team's shared library and shared prompts
    N_("Only the team's owners and admins and the author can change this."),
    N_("Give the id of one of your teams."),
    N_("This prompt is not shared with the team."),
    N_("This prompt is not shared."),
    N_("Only a finished prompt can be shared."),
    N_("Only the team's owners and admins and the author can remove a shared prompt."),
    N_("Give an id (a whole number, 1 or more)."),
    # Try it (SPEC §15.3)
    N_("Try it needs a language model; the offline improver cannot answer prompts."),
    N_("Enter the extra text as text."),
    N_("The extra text contains a NUL character."),
    # personal API keys
    N_("This API key does not have the scope this operation needs."),
    N_("The API key is invalid, expired or revoked."),
    N_("API key not found."),
    N_("Enter the key's name as text."),
    N_("Name the key, so you can tell it from the others."),
    N_("Give the scopes as a list of names."),
    N_("Choose at least one scope."),
    N_("Give the expiry as a date and time with its offset."),
    N_("The expiry must be in the future."),
    N_("Choose an expiry within a year, or none."),
    N_("Enter the date as YYYY-MM-DD."),
    N_("Confirm your e-mail address before creating API keys."),
)

# Each: how the message is matched (a compiled pattern's match, or fullmatch where the whole text
# must match), the msgid, and the names of the groups in the msgid. Where two could match one
# message, the more specific stands first.
_PATTERNS: tuple[tuple[Callable[[str], re.Match[str] | None], str, tuple[str, ...]], ...] = (
    (re.compile(r"^Use at most (\d+) characters \(got (\d+)\)\.$").match,
     N_("Use at most %(max)s characters (got %(got)s)."), ("max", "got")),
    (re.compile(r"^Use at least (\d+) characters\.$").match, N_("Use at least %(n)s characters."), ("n",)),
    (re.compile(r"^Use at most (\d+) characters\.$").match, N_("Use at most %(n)s characters."), ("n",)),
    (re.compile(r"^Unknown style; choose one of: (.*)\.$").match, N_("Unknown style; choose one of: %(choices)s."),
     ("choices",)),
    (re.compile(r"^This model is not offered; choose one of: (.*)\.$").match,
     N_("This model is not offered; choose one of: %(choices)s."), ("choices",)),
    (re.compile(r"^Choose one of: (.*)\.$").match, N_("Choose one of: %(choices)s."), ("choices",)),
    # templates
    (re.compile(r"^'\}\}' at character (\d+) closes no '\{\{'\.$").match,
     N_("'}}' at character %(at)s closes no '{{'."), ("at",)),
    (re.compile(r"^'\{\{' at character (\d+) is never closed with '\}\}'\.$").match,
     N_("'{{' at character %(at)s is never closed with '}}'."), ("at",)),
    (re.compile(r"^'(.*)' at character (\d+) has no variable name\.$", re.S).match,
     N_("'%(text)s' at character %(at)s has no variable name."), ("text", "at")),
    (re.compile(r"^The variable name at character (\d+) is (\d+) characters long; use at most (\d+)\.$").match,
     N_("The variable name at character %(at)s is %(length)s characters long; use at most %(max)s."),
     ("at", "length", "max")),
    (re.compile(r"^The variable name '(.*)' at character (\d+) contains (.+); use letters, digits, "
                r"'_', '-' or '\.'\.$", re.S).match,
     N_("The variable name '%(name)s' at character %(at)s contains %(what)s; use letters, digits, '_', '-' or '.'."),
     ("name", "at", "what")),
    (re.compile(r"^A tag has at most (\d+) characters\.$").match, N_("A tag has at most %(max)s characters."),
     ("max",)),
    (re.compile(r"^Use at most (\d+) tags\.$").match, N_("Use at most %(max)s tags."), ("max",)),
    (re.compile(r"^Version (\d+) of this template was not found\.$").match,
     N_("Version %(number)s of this template was not found."), ("number",)),
    (re.compile(r"^A library holds at most (\d+) templates; delete some first\.$").match,
     N_("A library holds at most %(max)s templates; delete some first."), ("max",)),
    (re.compile(r"^Fill in every variable: (.*)\.$", re.S).match, N_("Fill in every variable: %(names)s."),
     ("names",)),
    # custom styles
    (re.compile(r"You can have at most (\d+) styles; delete some first\.").fullmatch,
     N_("You can have at most %(n)s styles; delete some first."), ("n",)),
    # library import and export
    (re.compile(r"The file is larger than (\d+) MiB\.").fullmatch, N_("The file is larger than %(n)s MiB."), ("n",)),
    (re.compile(r"The file is larger than (\d+) MiB; split it and import the parts\.").fullmatch,
     N_("The file is larger than %(n)s MiB; split it and import the parts."), ("n",)),
    (re.compile(r"The file is not UTF-8 text \(byte (\d+)\); save it as UTF-8 and try again\.").fullmatch,
     N_("The file is not UTF-8 text (byte %(n)s); save it as UTF-8 and try again."), ("n",)),
    (re.compile(r"The file is not valid JSON: (.*) \(line (\d+)\)\.").fullmatch,
     N_("The file is not valid JSON: %(reason)s (line %(line)s)."), ("reason", "line")),
    (re.compile(r"This is not a promptcore library export: its first row must name the columns (.*)\.").fullmatch,
     N_("This is not a promptcore library export: its first row must name the columns %(columns)s."),
     ("columns",)),
    (re.compile(r"Line (\d+) has (\d+) cells; (\d+) expected\.").fullmatch,
     N_("Line %(line)s has %(got)s cells; %(want)s expected."), ("line", "got", "want")),
    (re.compile(r"The CSV file cannot be read: (.*)\.").fullmatch, N_("The CSV file cannot be read: %(reason)s."),
     ("reason",)),
    (re.compile(r"Unsupported schema_version (.*); this server reads version (\d+)\.").fullmatch,
     N_("Unsupported schema_version %(got)s; this server reads version %(want)s."), ("got", "want")),
    (re.compile(r"Unknown keys: (.*)\.").fullmatch, N_("Unknown keys: %(names)s."), ("names",)),
    (re.compile(r"Unknown fields: (.*)\.").fullmatch, N_("Unknown fields: %(names)s."), ("names",)),
    (re.compile(r"The title is used by another item of this file \(template (\d+)\); titles in one file must "
                r"differ\.").fullmatch,
     N_("The title is used by template %(n)s of this file; titles in one file must differ."), ("n",)),
    (re.compile(r"The title is used by another item of this file \(style (\d+)\); titles in one file must "
                r"differ\.").fullmatch,
     N_("The title is used by style %(n)s of this file; titles in one file must differ."), ("n",)),
    (re.compile(r"Nothing was imported: (\d+) problem\(s\) in the file\. Fix them and import again\.").fullmatch,
     N_("Nothing was imported: %(n)s problem(s) in the file. Fix them and import again."), ("n",)),
    (re.compile(r"After this import the library would hold more than (\d+) templates; nothing was "
                r"imported\.").fullmatch,
     N_("After this import the library would hold more than %(n)s templates; nothing was imported."), ("n",)),
    (re.compile(r"After this import you would have more than (\d+) styles; nothing was imported\.").fullmatch,
     N_("After this import you would have more than %(n)s styles; nothing was imported."), ("n",)),
    (re.compile(r"This is not a promptcore history export: (.*)\.").fullmatch,
     N_("This is not a promptcore history export: %(reason)s."), ("reason",)),
    (re.compile(r"Import at most (\d+) records at a time\.").fullmatch, N_("Import at most %(n)s records at a time."),
     ("n",)),
    (re.compile(r"Not a time: (.*)\.").fullmatch, N_("Not a time: %(reason)s."), ("reason",)),
    # teams
    (re.compile(r"You can create at most (\d+) teams\.").fullmatch, N_("You can create at most %(n)s teams."), ("n",)),
    (re.compile(r"A team has at most (\d+) members and pending invitations\.").fullmatch,
     N_("A team has at most %(n)s members and pending invitations."), ("n",)),
    (re.compile(r"Use a whole number from 0 to (\d+), or null for no cap\.").fullmatch,
     N_("Use a whole number from 0 to %(max)s, or leave the box empty for no cap."), ("max",)),
    # personal API keys
    (re.compile(r"Unknown scopes: (.*); choose from (.*)\.").fullmatch,
     N_("Unknown scopes: %(names)s; choose from %(choices)s."), ("names", "choices")),
    (re.compile(r"You can have at most (\d+) active API keys; revoke one first\.").fullmatch,
     N_("You can have at most %(n)s active API keys; revoke one first."), ("n",)),
    (re.compile(r"You keep (\d+) API keys, expired ones included; revoke the expired ones first\.").fullmatch,
     N_("You keep %(n)s API keys, expired ones included; revoke the expired ones first."), ("n",)),
)

# templates: the notes the core writes on a version. A note may also be a person's own text (the
# API takes one), so only these are translated; any other note is shown as it is.
_NOTE_PATTERNS = (
    (re.compile(r"restored from version (\d+)").fullmatch, N_("restored from version %(n)s")),
    (re.compile(r"copied from template (\d+)").fullmatch, N_("copied from template %(n)s")),
    (re.compile(r"from history record (\d+)").fullmatch, N_("from history record %(n)s")),
)
_NOTES = {"improved": N_("improved"), "imported": N_("imported")}


def translate(message: str) -> str:
    """The core's English message in the page's language (unknown text passes through)."""
    for matcher, template, names in _PATTERNS:
        match = matcher(message)
        if match:
            return gettext(template, **dict(zip(names, match.groups(), strict=True)))
    return gettext(message)


def note_text(note: str | None) -> str:
    """A template version's note in the page's language: the core's own notes translated, a
    person's note as it is."""
    if not note:
        return ""
    for matcher, template in _NOTE_PATTERNS:
        match = matcher(note)
        if match:
            return gettext(template, n=match.group(1))
    return gettext(_NOTES[note]) if note in _NOTES else note
