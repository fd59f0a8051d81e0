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
