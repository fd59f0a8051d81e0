"""Core errors. Every failure a use case reports is one of these; the entrypoints map
each class to a status code and a stable slug in one table."""

from __future__ import annotations

from typing import Any


class PromptcoreError(Exception):
    """Base of every error the core raises on purpose."""

    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class ValidationFailed(PromptcoreError):
    default_message = "Some fields are invalid."

    def __init__(self, errors: dict[str, list[str]], message: str | None = None) -> None:
        self.errors = errors
        super().__init__(message)

    @classmethod
    def on(cls, field: str, text: str) -> "ValidationFailed":
        return cls({field: [text]}, text)


class InvalidCredentials(PromptcoreError):
    default_message = "Wrong e-mail or password."


class LoginThrottled(PromptcoreError):
    default_message = "Too many failed sign-in attempts. Try again later."

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__()


class InvalidToken(PromptcoreError):
    default_message = "The link or token is invalid or has expired."


class Unauthenticated(PromptcoreError):
    default_message = "Sign in to continue."


class TokenNoLongerValid(Unauthenticated):
    """A well-signed access token that its account no longer accepts (signed out, password
    changed, deactivated, or issued to an earlier account)."""

    default_message = "The access token is no longer valid; sign in again."


class Forbidden(PromptcoreError):
    default_message = "You are not allowed to do that."


class InsufficientScope(Forbidden):
    """A scoped credential (a personal API key, SPEC §15.1) used where none of its scopes reaches."""

    default_message = "This API key does not have the scope this operation needs."


class NotFound(PromptcoreError):
    default_message = "Not found."


class EmailNotConfirmed(PromptcoreError):
    default_message = "Confirm your e-mail address before generating prompts."


class QuotaExceeded(PromptcoreError):
    default_message = "You have used all your improvements for today."

    def __init__(self, quota: Any, retry_after: int, message: str | None = None) -> None:
        self.quota = quota
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)


class PromptRejected(PromptcoreError):
    default_message = "The model provider rejected this prompt."


class LlmUnavailable(PromptcoreError):
    default_message = "The language model is unavailable right now. Try again in a moment."


class ServiceUnavailable(PromptcoreError):
    default_message = "The service is temporarily unavailable. Try again in a moment."


class ServiceBusy(PromptcoreError):
    """Too much expensive work (password hashing) is already running; retry in a few seconds."""

    default_message = "The service is busy right now. Try again in a few seconds."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)


class DeliveryFailed(PromptcoreError):
    """A mail could not be handed to the SMTP server (the outbox retries it)."""

    default_message = "The mail server did not accept the message."


class Conflict(PromptcoreError):
    default_message = "This conflicts with something that already exists."


class TitleTaken(Conflict):
    default_message = "You already have one with this title; choose another title."


class LimitReached(Conflict):
    """An owner has as many of something as they may have (500 templates, 100 styles ...)."""

    default_message = "You have reached the limit for these items; delete some first."


class TeamPlanRequired(PromptcoreError):
    """Generating for a team whose plan has no pooled limit (SPEC §14)."""

    default_message = ("This team has no plan with a shared daily limit yet; an owner can upgrade the team, "
                       "or generate in your personal workspace.")


class LastOwner(Conflict):
    """A team would be left without an owner (SPEC §14)."""

    default_message = "A team needs an owner: make someone else an owner first."


class HasPaidPlan(Conflict):
    default_message = ("This team has an active paid plan; cancel it and wait for it to end before deleting "
                       "the team.")


class VariablesChanged(PromptcoreError):
    """The model dropped or invented a template variable, twice (SPEC §13.1)."""

    default_message = "The improved template did not keep the same variables; nothing was changed."

    def __init__(self, missing: list[str], added: list[str], message: str | None = None) -> None:
        self.missing = missing
        self.added = added
        # the error body's "errors": which variables went missing and which appeared
        self.errors = {"missing": list(missing), "added": list(added)}
        super().__init__(message)


class ImportRejected(ValidationFailed):
    """An import with at least one invalid item: nothing was written (SPEC §13.4)."""

    default_message = "The file was not imported: some items are invalid. Nothing was written."


def gather(checks: dict[str, Any]) -> dict[str, Any]:
    """Run every check (name → a callable returning the clean value) and report all their
    failures in one ValidationFailed, so a form shows every bad field at once."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationFailed as exc:
            for where, messages in exc.errors.items():
                errors.setdefault(where, []).extend(messages)
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(errors, first if len(errors) == 1 else "Some fields are invalid: "
                               + ", ".join(errors) + ".")
    return values
