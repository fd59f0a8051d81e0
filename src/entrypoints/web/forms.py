"""The page forms (Flask-WTF: CSRF token on every one). Validation rules live in the core; a
ValidationFailed is mapped back onto the fields it names, so errors show next to them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)

from promptcore.domain.errors import ValidationFailed

from .messages import translate


class Form(FlaskForm):
    class Meta:
        locales = False


class CsrfForm(Form):
    """A form that carries only the CSRF token (logout, delete, resend ...)."""


class RegisterForm(Form):
    name = StringField(_l("Name (optional)"))
    email = EmailField(_l("E-mail"))
    password = PasswordField(_l("Password"))


class LoginForm(Form):
    email = EmailField(_l("E-mail"))
    password = PasswordField(_l("Password"))
    next = HiddenField()


class ForgotForm(Form):
    email = EmailField(_l("E-mail"))


class ResendForm(Form):
    email = HiddenField()


class ResetForm(Form):
    token = HiddenField()
    password = PasswordField(_l("New password"))


class GenerateForm(Form):
    prompt = TextAreaField(_l("Your prompt"))
    style = RadioField(_l("Style"), validate_choice=False)
    model = SelectField(_l("Model"), validate_choice=False)
    parent_id = HiddenField()
    feedback = StringField(_l("What should change?"))
    preset = HiddenField()


class ProfileForm(Form):
    name = StringField(_l("Name"))


class SettingsForm(Form):
    language = SelectField(_l("Language"), validate_choice=False)
    theme = SelectField(_l("Theme"), validate_choice=False)
    default_style = SelectField(_l("Default style"), validate_choice=False)
    preferred_model = SelectField(_l("Model"), validate_choice=False)
    notify_limit = BooleanField(_l("E-mail me when I reach my daily limit (at most once a day)"))


class EmailChangeForm(Form):
    new_email = EmailField(_l("New e-mail"))
    password = PasswordField(_l("Current password"))


class PasswordChangeForm(Form):
    current_password = PasswordField(_l("Current password"))
    new_password = PasswordField(_l("New password"))


class DeleteAccountForm(Form):
    password = PasswordField(_l("Password"))


class AdminUserForm(Form):
    daily_limit = StringField(_l("Daily limit"))
    role = SelectField(_l("Role"), validate_choice=False)
    is_active = BooleanField(_l("Active"))


def apply_errors(form: Form, error: ValidationFailed, aliases: dict[str, str] | None = None) -> None:
    """Put the core's field errors next to the fields; the rest go to the top of the form."""
    aliases = aliases or {}
    for key, messages in (error.errors or {}).items():
        name = aliases.get(key, key.split(".")[-1])
        texts = [translate(m) for m in messages]
        field = form._fields.get(name)
        if field is not None and not isinstance(field, HiddenField):
            field.errors = list(field.errors or []) + texts
        else:
            form.form_errors.extend(texts)
    if not error.errors:
        form.form_errors.append(translate(error.message))
