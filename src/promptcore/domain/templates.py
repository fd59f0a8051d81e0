"""Templates (SPEC §13.1): a body with ``{{variables}}``, immutable versions, rendering and diffs.

One parser reads variables everywhere: ``parse`` splits a body into literal text and variable
slots, or reports every malformed spot. A variable is ``{{name}}`` with 1-64 letters of any
alphabet (and the combining marks they carry), digits, ``_``, ``-`` or ``.``, with spaces allowed
inside the braces (``{{ name }}``). A ``{{`` that is never closed, a ``}}`` that closes nothing,
``{{}}`` and a name with other characters are errors.

Rendering puts each value in as plain text in one pass and never reads the result again. So that
a rendered text can never hold a variable of its own, a value may not contain ``{{`` or ``}}`` and
may not start or end with a brace (two such edges side by side would make a new ``{{``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

from .errors import ValidationFailed

__all__ = [
    "BODY_MAX", "DESCRIPTION_MAX", "NAME_MAX", "TAGS_MAX", "TAG_MAX", "TEMPLATES_PER_OWNER", "TITLE_MAX",
    "DiffLine", "Slot", "Template", "TemplateVersion", "clean_body", "clean_description", "clean_tags",
    "clean_title", "diff_lines", "find_variables", "parse", "render", "variables",
]

BODY_MAX = 16_000
TITLE_MAX = 200
DESCRIPTION_MAX = 1_000
TAG_MAX = 32
TAGS_MAX = 20
NAME_MAX = 64
TEMPLATES_PER_OWNER = 500
VALUE_MAX = 16_000

_NAME_CHARS = re.compile(r"[^\w.\-]")
# Combining marks (Devanagari and Thai vowel signs, a decomposed accent ...): many alphabets cannot
# spell a word without them, and ``\w`` does not match them; allowed after the first character.
_MARKS = frozenset({"Mn", "Mc"})


def _bad_name_char(name: str) -> str | None:
    """The first character a variable name may not hold, or None when every one is allowed."""
    for bad in _NAME_CHARS.finditer(name):
        if bad.start() == 0 or unicodedata.category(bad.group(0)) not in _MARKS:
            return bad.group(0)
    return None


_OPEN, _CLOSE = "{{", "}}"


@dataclass(frozen=True)
class Slot:
    """A variable in a body: its name and where the whole ``{{ ... }}`` sits."""

    name: str
    start: int
    end: int


def _scan(body: str) -> tuple[list[Slot], list[str]]:
    """The well-formed variables of ``body`` and a message for every malformed spot."""
    slots: list[Slot] = []
    problems: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        opened = body.find(_OPEN, i)
        closed = body.find(_CLOSE, i)
        if closed != -1 and (opened == -1 or closed < opened):
            problems.append(f"'}}}}' at character {closed + 1} closes no '{{{{'.")
            i = closed + 2
            continue
        if opened == -1:
            break
        end = body.find(_CLOSE, opened + 2)
        if end == -1:
            problems.append(f"'{{{{' at character {opened + 1} is never closed with '}}}}'.")
            break
        inner = body[opened + 2:end]
        nested = inner.find(_OPEN)
        if nested != -1:
            problems.append(f"'{{{{' at character {opened + 1} is never closed with '}}}}'.")
            i = opened + 2 + nested
            continue
        name = inner.strip(" ")
        if not name:
            problems.append(f"'{body[opened:end + 2]}' at character {opened + 1} has no variable name.")
        elif len(name) > NAME_MAX:
            problems.append(f"The variable name at character {opened + 1} is {len(name)} characters long; "
                            f"use at most {NAME_MAX}.")
        elif (bad := _bad_name_char(name)) is not None:
            what = repr(bad)
            problems.append(f"The variable name '{name}' at character {opened + 1} contains {what}; use letters, "
                            "digits, '_', '-' or '.'.")
        else:
            slots.append(Slot(name, opened, end + 2))
        i = end + 2
    return slots, problems


def parse(body: str, field_name: str = "body") -> list[Slot]:
    """The variable slots of ``body``, in order; ValidationFailed listing every malformed spot."""
    slots, problems = _scan(body)
    if problems:
        raise ValidationFailed({field_name: problems}, problems[0])
    return slots


def variables(body: str) -> list[str]:
    """The distinct variable names of a valid body, in order of first appearance."""
    return list(dict.fromkeys(slot.name for slot in parse(body)))


def find_variables(text: str) -> list[str]:
    """The distinct well-formed variable names in any text, ignoring malformed spots (for judging
    what a model wrote, which need not be a valid body)."""
    slots, _ = _scan(text)
    return list(dict.fromkeys(slot.name for slot in slots))


def _check_value(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationFailed.on(f"values.{name}", "Enter the value as text.")
    if "\x00" in value:
        raise ValidationFailed.on(f"values.{name}", "The value contains a NUL character.")
    if len(value) > VALUE_MAX:
        raise ValidationFailed.on(f"values.{name}", f"Use at most {VALUE_MAX} characters.")
    if _OPEN in value or _CLOSE in value or value[:1] in ("{", "}") or value[-1:] in ("{", "}"):
        raise ValidationFailed.on(
            f"values.{name}",
            "A value cannot contain '{{' or '}}' or start or end with a brace: values are plain text, "
            "not variables.")
    return value


def render(body: str, values: dict[str, Any]) -> str:
    """The body with every variable replaced by its value, in one pass.

    A missing or empty value is a ValidationFailed naming each one (``values.<name>``); values are
    plain text and are never parsed again; values for names the body does not use are ignored."""
    if not isinstance(values, dict):
        raise ValidationFailed.on("values", "Give the values as an object of name to text.")
    slots = parse(body)
    missing = [name for name in dict.fromkeys(s.name for s in slots)
               if not isinstance(values.get(name), str) or not values[name].strip()]
    if missing:
        errors = {f"values.{name}": ["Fill in this variable."] for name in missing}
        raise ValidationFailed(errors, "Fill in every variable: " + ", ".join(missing) + ".")
    checked = {name: _check_value(name, values[name]) for name in dict.fromkeys(s.name for s in slots)}
    out: list[str] = []
    at = 0
    for slot in slots:
        out.append(body[at:slot.start])
        out.append(checked[slot.name])
        at = slot.end
    out.append(body[at:])
    return "".join(out)


# -- fields ---------------------------------------------------------------------------------------

def _text(raw: Any, field_name: str, limit: int, required: bool, label: str) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise ValidationFailed.on(field_name, f"Enter the {label} as text.")
    if "\x00" in raw:
        raise ValidationFailed.on(field_name, f"The {label} contains a NUL character.")
    text = raw.strip()
    if required and not text:
        raise ValidationFailed.on(field_name, f"Enter a {label}.")
    if len(text) > limit:
        raise ValidationFailed.on(field_name, f"Use at most {limit} characters (got {len(text)}).")
    return text


def clean_title(raw: Any, field_name: str = "title") -> str:
    text = _text(raw, field_name, TITLE_MAX, True, "title")
    if any(ch in text for ch in "\r\n\t"):
        raise ValidationFailed.on(field_name, "Write the title on one line.")
    return text


def clean_description(raw: Any, field_name: str = "description", limit: int = DESCRIPTION_MAX) -> str:
    return _text(raw, field_name, limit, False, "description")


def clean_body(raw: Any, field_name: str = "body") -> str:
    """A template body: text of 1..BODY_MAX characters whose variables are all well formed.
    Only the ends' blank lines are trimmed; inner layout is kept."""
    if not isinstance(raw, str):
        raise ValidationFailed.on(field_name, "Enter the template text.")
    if "\x00" in raw:
        raise ValidationFailed.on(field_name, "The text contains a NUL character.")
    text = raw.strip()
    if not text:
        raise ValidationFailed.on(field_name, "Enter the template text.")
    if len(text) > BODY_MAX:
        raise ValidationFailed.on(field_name, f"Use at most {BODY_MAX} characters (got {len(text)}).")
    parse(text, field_name)
    return text


def clean_tags(raw: Any, field_name: str = "tags") -> tuple[str, ...]:
    """Tags: distinct (case-insensitively), trimmed, lower-cased words of 1..TAG_MAX characters,
    at most TAGS_MAX; a comma-separated string is accepted too."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [part for part in raw.split(",")]
    if not isinstance(raw, (list, tuple)):
        raise ValidationFailed.on(field_name, "Give the tags as a list of words.")
    tags: dict[str, None] = {}
    for item in raw:
        if not isinstance(item, str):
            raise ValidationFailed.on(field_name, "Each tag is a word of text.")
        tag = " ".join(item.split()).lower()
        if not tag:
            continue
        if len(tag) > TAG_MAX:
            raise ValidationFailed.on(field_name, f"A tag has at most {TAG_MAX} characters.")
        if any(ch in tag for ch in ",\x00") or not tag.isprintable():
            raise ValidationFailed.on(field_name, "A tag cannot contain commas or control characters.")
        tags[tag] = None
    if len(tags) > TAGS_MAX:
        raise ValidationFailed.on(field_name, f"Use at most {TAGS_MAX} tags.")
    return tuple(tags)


# -- entities -------------------------------------------------------------------------------------

@dataclass
class TemplateVersion:
    """One immutable state of a template's body."""

    template_id: int
    number: int
    body: str
    author_id: int | None
    created_at: datetime
    note: str | None = None  # "restored from 3", "imported", "improved (technical)"

    @property
    def variables(self) -> list[str]:
        return find_variables(self.body)


@dataclass
class Template:
    """A user's template; ``body`` and ``version`` are the latest version's. Quick templates
    (SPEC §13.2) have no owner and a ``builtin`` key and a language. A team's template (SPEC §14)
    has no owner but its ``team_id``; ``author_id`` is who made it (None once their account is
    gone: the template stays with the team)."""

    title: str
    body: str
    owner_id: int | None
    description: str = ""
    tags: tuple[str, ...] = ()
    favourite: bool = False
    version: int = 1
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    builtin: str | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    team_id: int | None = None
    author_id: int | None = None

    @property
    def variables(self) -> list[str]:
        return find_variables(self.body)


@dataclass(frozen=True)
class DiffLine:
    """A line of a version diff: ``op`` is " " (both), "-" (only the older) or "+" (only the newer)."""

    op: str
    text: str
    old_number: int | None
    new_number: int | None


def diff_lines(old: str, new: str) -> list[DiffLine]:
    """A line diff of two bodies, every line of both present once, in reading order."""
    a, b = old.splitlines(), new.splitlines()
    out: list[DiffLine] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.extend(DiffLine(" ", a[i1 + k], i1 + k + 1, j1 + k + 1) for k in range(i2 - i1))
            continue
        out.extend(DiffLine("-", a[i], i + 1, None) for i in range(i1, i2))
        out.extend(DiffLine("+", b[j], None, j + 1) for j in range(j1, j2))
    return out
