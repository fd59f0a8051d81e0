"""Request and response schemas: the API contract, independent of the tables."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from promptcore.domain.users import EMAIL_MAX, LANGUAGES, NAME_MAX, PASSWORD_MAX, THEMES


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


Email = lambda **kw: fields.String(required=True, validate=validate.Length(min=1, max=EMAIL_MAX), **kw)  # noqa: E731
Password = lambda **kw: fields.String(required=True, validate=validate.Length(min=1, max=PASSWORD_MAX * 4), **kw)  # noqa: E731


class RegisterIn(StrictSchema):
    email = Email(metadata={"example": "ada@example.com"})
    password = Password(metadata={"example": "correct horse battery"})
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=NAME_MAX))


class EmailIn(StrictSchema):
    email = Email()


class TokenIn(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=2048))


class LoginIn(StrictSchema):
    email = Email()
    password = Password()


class RefreshIn(StrictSchema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=512))


class ResetPasswordIn(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    password = Password()


class TokenFormIn(Schema):
    """RFC 6749 token request; checked by the view so errors answer in RFC form."""

    class Meta:
        unknown = EXCLUDE

    grant_type = fields.String(metadata={"enum": ["password", "refresh_token"]})
    username = fields.String()
    password = fields.String()
    refresh_token = fields.String()
    scope = fields.String()


class TokenPairOut(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True)
    refresh_token = fields.String(required=True)


class OAuthErrorOut(Schema):
    error = fields.String(required=True)
    error_description = fields.String()


class SettingsSchema(StrictSchema):
    language = fields.String(allow_none=True, validate=validate.OneOf(LANGUAGES))
    theme = fields.String(validate=validate.OneOf(THEMES))
    default_style = fields.String(allow_none=True, validate=validate.Length(max=32))
    preferred_model = fields.String(allow_none=True, validate=validate.Length(max=200))


class ProfileOut(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(allow_none=True)
    is_email_confirmed = fields.Boolean(required=True)
    role = fields.String(required=True, metadata={"enum": ["user", "admin"]})
    daily_limit = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    settings = fields.Nested(SettingsSchema, required=True)


class ProfilePatchIn(StrictSchema):
    name = fields.String(allow_none=True, validate=validate.Length(max=NAME_MAX))
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
    message = fields.String(required=True)


class ErrorOut(Schema):
    code = fields.Integer(required=True)
    status = fields.String(required=True)
    error = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    quota = fields.Dict()


class StyleOut(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)


class ModelOut(Schema):
    id = fields.String(required=True, metadata={"example": "openai/gpt-4o-mini"})
    default = fields.Boolean(required=True)


class QuotaOut(Schema):
    used = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    remaining = fields.Integer(required=True)
    resets_at = fields.DateTime(required=True, allow_none=True)
    window = fields.String(required=True, metadata={"enum": ["rolling", "calendar"]})


class PromptIn(StrictSchema):
    prompt = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100_000),
                           metadata={"example": "write a post about our new coffee machine"})
    style = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"example": "general"})
    model = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    parent_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                               validate=validate.Range(min=1, max=2**62))
    feedback = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))


class RecordOut(Schema):
    id = fields.Integer(required=True)
    original_prompt = fields.String(required=True)
    style = fields.String(required=True)
    model = fields.String(allow_none=True)
    generated_prompt = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": ["pending", "succeeded", "failed"]})
    parent_id = fields.Integer(allow_none=True)
    feedback = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    latency_ms = fields.Integer(allow_none=True)
    usage = fields.Dict(allow_none=True)
    quota = fields.Nested(QuotaOut, allow_none=True)


class HistoryQuery(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    style = fields.String(load_default=None, validate=validate.Length(max=32))
    q = fields.String(load_default=None, validate=validate.Length(max=200))


class HistoryOut(Schema):
    items = fields.List(fields.Nested(RecordOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ExportQuery(StrictSchema):
    format = fields.String(load_default="json", validate=validate.OneOf(["csv", "json"]))


class DayCount(Schema):
    date = fields.Date(required=True)
    count = fields.Integer(required=True)


class StatsOut(Schema):
    quota = fields.Nested(QuotaOut, required=True)
    total = fields.Integer(required=True)
    by_style = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_day = fields.List(fields.Nested(DayCount), required=True)


class AdminUsersQuery(StrictSchema):
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=30))


class AdminUserOut(ProfileOut):
    is_active = fields.Boolean(required=True)


class AdminUsersOut(Schema):
    items = fields.List(fields.Nested(AdminUserOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class AdminUserPatchIn(StrictSchema):
    daily_limit = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))
    role = fields.String(validate=validate.OneOf(["user", "admin"]))
    is_active = fields.Boolean()
