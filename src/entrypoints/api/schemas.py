"""Request and response schemas: the API contract, independent of the tables."""

from __future__ import annotations

import re

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from promptcore.domain.compare import INPUT_MAX as COMPARE_INPUT_MAX
from promptcore.domain.prompts import FEEDBACK_MAX
from promptcore.domain.users import EMAIL_MAX, LANGUAGES, NAME_MAX, PASSWORD_MAX, THEMES

from ..ids import MAX_ID

# Path ids: a row id is a positive PostgreSQL bigint; anything else cannot name a row and is 404
# from the router (an id past 2**63-1 used to reach the database and come back a 500).
ID_CONVERTER = f"int(min=1, max={MAX_ID})"

_SURROGATE = re.compile("[\ud800-\udfff]")


class Text(fields.String):
    """A string the database and UTF-8 can hold: no NUL, no lone surrogate.

    JSON may carry "\\u0000" and unpaired "\\ud800" escapes; PostgreSQL refuses NUL in text and
    no UTF-8 encoder takes a lone surrogate, so both are refused here with a 422, before any
    use case sees them (they were 500s: PATCH /profile, /auth/login, GET /prompts?q=...).
    """

    default_error_messages = {
        "nul": "Remove the NUL character (\\u0000).",
        "surrogate": "The text is not valid Unicode (it contains an unpaired surrogate).",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        if _SURROGATE.search(text):
            raise self.make_error("surrogate")
        return text


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


Email = lambda **kw: Text(required=True, validate=validate.Length(min=1, max=EMAIL_MAX), **kw)  # noqa: E731
Password = lambda **kw: Text(required=True, validate=validate.Length(min=1, max=PASSWORD_MAX * 4), **kw)  # noqa: E731


class RegisterIn(StrictSchema):
    email = Email(metadata={"example": "ada@example.com"})
    password = Password(metadata={"example": "correct horse battery"})
    name = Text(load_default=None, allow_none=True, validate=validate.Length(max=NAME_MAX))


class EmailIn(StrictSchema):
    email = Email()


class TokenIn(StrictSchema):
    token = Text(required=True, validate=validate.Length(min=1, max=2048))


class LoginIn(StrictSchema):
    email = Email()
    password = Password()


class RefreshIn(StrictSchema):
    refresh_token = Text(required=True, validate=validate.Length(min=1, max=512))


class ResetPasswordIn(StrictSchema):
    token = Text(required=True, validate=validate.Length(min=1, max=2048))
    password = Password()


class TokenFormIn(Schema):
    """RFC 6749 token request; checked by the view so errors answer in RFC form
    (plain strings: form values cannot carry surrogates; the view refuses NUL)."""

    class Meta:
        unknown = EXCLUDE

    grant_type = fields.String(metadata={"enum": ["password", "refresh_token"]})
    username = fields.String()
    password = fields.String()
    refresh_token = fields.String()
    scope = fields.String()


class TokenPairOut(Schema):
    access_token = Text(required=True)
    token_type = Text(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True)
    refresh_token = Text(required=True)


class OAuthErrorOut(Schema):
    error = Text(required=True)
    error_description = Text()


class SettingsSchema(StrictSchema):
    language = Text(allow_none=True, validate=validate.OneOf(LANGUAGES))
    theme = Text(validate=validate.OneOf(THEMES))
    default_style = Text(allow_none=True, validate=validate.Length(max=32))
    preferred_model = Text(allow_none=True, validate=validate.Length(max=200))
    notify_limit = fields.Boolean(truthy={True}, falsy={False}, metadata={
        "description": "E-mail me when I reach my daily limit (at most once a day). On by default."})


class ProfileOut(Schema):
    id = fields.Integer(required=True)
    email = Text(required=True)
    name = Text(allow_none=True)
    is_email_confirmed = fields.Boolean(required=True)
    role = Text(required=True, metadata={"enum": ["user", "admin"]})
    daily_limit = fields.Integer(required=True, metadata={
        "description": "The effective daily limit: the per-user override, else the plan's, else the default."})
    created_at = fields.DateTime(required=True)
    settings = fields.Nested(SettingsSchema, required=True)


class ProfilePatchIn(StrictSchema):
    name = Text(allow_none=True, validate=validate.Length(max=NAME_MAX))
    settings = fields.Nested(SettingsSchema)


class PasswordChangeIn(StrictSchema):
    current_password = Password()
    new_password = Password()


class EmailChangeIn(StrictSchema):
    new_email = Email()
    password = Password()


class PasswordIn(StrictSchema):
    password = Password()


class AcceptedOut(Schema):
    message = Text(required=True)


class ErrorOut(Schema):
    code = fields.Integer(required=True)
    status = Text(required=True)
    error = Text(required=True)
    message = Text(required=True)
    errors = fields.Dict(keys=Text(), values=fields.List(Text()))
    quota = fields.Dict(metadata={"description": "quota_exceeded only: the quota (see QuotaExceededOut)."})
    upgrade_url = Text(metadata={"description": "quota_exceeded only: where to buy a larger limit."})


class StyleOut(Schema):
    slug = Text(required=True)
    title = Text(required=True)
    description = Text(required=True)


class ModelOut(Schema):
    id = Text(required=True, metadata={"example": "openai/gpt-4o-mini"})
    default = fields.Boolean(required=True)


class QuotaOut(Schema):
    used = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    remaining = fields.Integer(required=True)
    resets_at = fields.DateTime(required=True, allow_none=True)
    window = Text(required=True, metadata={"enum": ["rolling", "calendar"]})


class QuotaExceededOut(ErrorOut):
    """The 429 quota_exceeded body (SPEC §6.5, §12.7): the error, the quota with the time a unit
    frees up (also in Retry-After), and the page where a larger limit is bought."""

    quota = fields.Nested(QuotaOut, required=True)
    upgrade_url = Text(required=True, metadata={"example": "https://promptcore.example/pricing"})


class PromptIn(StrictSchema):
    prompt = Text(load_default=None, allow_none=True, validate=validate.Length(max=100_000),
                           metadata={"example": "write a post about our new coffee machine"})
    style = Text(required=True, validate=validate.Length(min=1, max=32), metadata={"example": "general"})
    model = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    parent_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                               validate=validate.Range(min=1, max=2**62))
    feedback = Text(load_default=None, allow_none=True, validate=validate.Length(max=FEEDBACK_MAX))
    team_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                             validate=validate.Range(min=1, max=MAX_ID), metadata={
                                 "description": "Spend a unit of this team's pooled daily limit instead of "
                                                "your own (SPEC §14); you must be a member. Omitted or null: "
                                                "your personal workspace."})


class RecordOut(Schema):
    id = fields.Integer(required=True)
    original_prompt = Text(required=True)
    style = Text(required=True)
    model = Text(allow_none=True)
    generated_prompt = Text(allow_none=True)
    status = Text(required=True, metadata={"enum": ["pending", "succeeded", "failed"]})
    parent_id = fields.Integer(allow_none=True)
    feedback = Text(allow_none=True)
    created_at = fields.DateTime(required=True)
    latency_ms = fields.Integer(allow_none=True)
    usage = fields.Dict(allow_none=True)
    source = Text(required=True, metadata={"enum": ["generation", "import"], "description": (
        "import: read from a history export (POST /prompts/import); it spent no quota and is not in the stats.")})
    quota = fields.Nested(QuotaOut, allow_none=True)
    comparison = fields.Nested("ComparisonOut", allow_none=True, metadata={
        "description": "GET /prompts/{record_id} only: the comparison kept with the record (Try it, SPEC §15.3), "
                       "null when it was never compared."})


class HistoryQuery(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = Text(load_default=None, validate=validate.Length(max=200))
    style = Text(load_default=None, validate=validate.Length(max=32))
    q = Text(load_default=None, validate=validate.Length(max=200))


class HistoryOut(Schema):
    items = fields.List(fields.Nested(RecordOut), required=True)
    next_cursor = Text(allow_none=True, required=True)


class ExportQuery(StrictSchema):
    format = Text(load_default="json", validate=validate.OneOf(["csv", "json"]))


class DayCount(Schema):
    date = fields.Date(required=True)
    count = fields.Integer(required=True)


class StatsOut(Schema):
    quota = fields.Nested(QuotaOut, required=True)
    total = fields.Integer(required=True)
    by_style = fields.Dict(keys=Text(), values=fields.Integer(), required=True)
    by_day = fields.List(fields.Nested(DayCount), required=True)


class AdminUsersQuery(StrictSchema):
    q = Text(load_default=None, validate=validate.Length(max=200))
    cursor = Text(load_default=None, validate=validate.Length(max=30))


class AdminUserOut(ProfileOut):
    is_active = fields.Boolean(required=True)
    daily_limit_override = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The per-user override of the daily limit; null when the user follows the default."})


class AdminUsersOut(Schema):
    items = fields.List(fields.Nested(AdminUserOut), required=True)
    next_cursor = Text(allow_none=True, required=True)


class AdminUserPatchIn(StrictSchema):
    daily_limit = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=100_000),
                                 metadata={"description": "A per-user override; null clears it (the user then "
                                                          "follows their plan or the default)."})
    role = Text(validate=validate.OneOf(["user", "admin"]))
    is_active = fields.Boolean()


# -- Try it (SPEC §15.3): compare the answers to the original and the improved prompt -------------

class CompareIn(StrictSchema):
    model = Text(load_default=None, allow_none=True, validate=validate.Length(max=200), metadata={
        "description": "One of GET /models. Omitted or null: the record's model when it is still offered, else "
                       "the default model."})
    input = Text(load_default=None, allow_none=True, validate=validate.Length(max=COMPARE_INPUT_MAX), metadata={
        "description": f"Extra text (at most {COMPARE_INPUT_MAX} characters) appended to both prompts after a blank "
                       "line: the material the prompt works on.", "example": "Our machine brews in 30 seconds."})


class CompareErrorOut(Schema):
    error = Text(required=True, metadata={"example": "llm_unavailable"})
    message = Text(required=True)


class ComparisonSideOut(Schema):
    status = Text(required=True, metadata={"enum": ["succeeded", "failed"]})
    text = Text(required=True, metadata={"description": "The answer; for a failed side, the part written before "
                                                        "it failed (often empty)."})
    model = Text(allow_none=True, required=True)
    latency_ms = fields.Integer(allow_none=True, required=True)
    usage = fields.Dict(allow_none=True, required=True)
    error = fields.Nested(CompareErrorOut, allow_none=True, required=True,
                          metadata={"description": "Why a failed side failed; null when it answered."})


class ComparisonOut(Schema):
    record_id = fields.Integer(required=True)
    model = Text(required=True)
    input = Text(allow_none=True, required=True)
    status = Text(required=True, metadata={"enum": ["succeeded", "partial"], "description": (
        "succeeded: both sides answered and one quota unit was spent; partial: one side failed, the other's "
        "answer is kept and the unit was given back.")})
    spent = fields.Boolean(required=True, metadata={"description": "Whether this comparison spent a quota unit."})
    a = fields.Nested(ComparisonSideOut, required=True, metadata={"description": "The original prompt's answer."})
    b = fields.Nested(ComparisonSideOut, required=True, metadata={"description": "The improved prompt's answer."})
    created_at = fields.DateTime(required=True)
    quota = fields.Nested(QuotaOut, allow_none=True, metadata={
        "description": "POST /prompts/{record_id}/compare only: the quota after the comparison."})

