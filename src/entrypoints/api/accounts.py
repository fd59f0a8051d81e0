"""/auth/* and /profile* endpoints (SPEC §7)."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from promptcore.domain.errors import Forbidden, InvalidCredentials, LoginThrottled, ServiceBusy
from promptcore.domain.users import User
from promptcore.services.accounts import InvalidRefreshToken, TokenPair

from ..deps import services
from ..limits import mail_limit, signin_limit
from .auth import BEARER, current_actor, current_user, login_required
from .parsing import Blueprint
from .schemas import (
    AcceptedOut,
    EmailChangeIn,
    EmailIn,
    ErrorOut,
    LoginIn,
    OAuthErrorOut,
    PasswordChangeIn,
    PasswordIn,
    ProfileOut,
    ProfilePatchIn,
    RefreshIn,
    RegisterIn,
    ResetPasswordIn,
    TokenFormIn,
    TokenIn,
    TokenPairOut,
)

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Accounts, sign-in and tokens")

GENERIC_REGISTER = "If the address can be registered, a confirmation e-mail is on its way."
GENERIC_RESEND = "If the address has an unconfirmed account, a new confirmation e-mail is on its way."
GENERIC_FORGOT = "If the address has an account, a password reset e-mail is on its way."


def request_language() -> str:
    return request.accept_languages.best_match(["en", "ru"]) or "en"


def profile_dict(user: User) -> dict:
    """The profile; ``daily_limit`` is the effective limit (the override, else the plan's or the default)."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "is_email_confirmed": user.is_email_confirmed,
        "role": user.role.value,
        "daily_limit": services().quota().limit_of(user),
        "created_at": user.created_at,
        "settings": user.settings.to_dict(),
    }


def pair_dict(pair: TokenPair) -> dict:
    return {"access_token": pair.access_token, "token_type": pair.token_type,
            "expires_in": pair.expires_in, "refresh_token": pair.refresh_token}


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@blp.route("/auth/register")
class Register(MethodView):
    decorators = [mail_limit]

    @blp.arguments(RegisterIn)
    @blp.response(202, AcceptedOut)
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data):
        """Create an account; the answer is the same whether or not the address is taken."""
        services().accounts().register_user(data["email"], data["password"], data.get("name"), request_language())
        return {"message": GENERIC_REGISTER}


@blp.route("/auth/confirm-email")
class ConfirmEmail(MethodView):
    @blp.arguments(TokenIn)
    @blp.response(200, ProfileOut)
    @blp.alt_response(400, schema=ErrorOut)
    def post(self, data):
        """Confirm an e-mail address with the token from the confirmation mail."""
        return profile_dict(services().accounts().confirm_email(data["token"]))


@blp.route("/auth/confirm-email-change")
class ConfirmEmailChange(MethodView):
    @blp.arguments(TokenIn)
    @blp.response(200, ProfileOut)
    @blp.alt_response(400, schema=ErrorOut)
    def post(self, data):
        """Apply an e-mail change with the token sent to the new address."""
        return profile_dict(services().accounts().confirm_email_change(data["token"]))


@blp.route("/auth/resend-confirmation")
class ResendConfirmation(MethodView):
    decorators = [mail_limit]

    @blp.arguments(EmailIn)
    @blp.response(202, AcceptedOut)
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data):
        """Send the confirmation mail again (generic answer)."""
        services().accounts().resend_confirmation(data["email"], request_language())
        return {"message": GENERIC_RESEND}


def _oauth_error(status: int, error: str, description: str, headers: dict | None = None):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return _no_store(response)


@blp.route("/auth/token")
class Token(MethodView):
    decorators = [signin_limit]

    @blp.arguments(TokenFormIn, location="form")
    @blp.response(200, TokenPairOut)
    @blp.alt_response(400, schema=OAuthErrorOut)
    @blp.alt_response(429, schema=OAuthErrorOut)
    @blp.alt_response(503, schema=OAuthErrorOut)
    def post(self, data):
        """OAuth2 token endpoint (RFC 6749 §4.3 password grant, §6 refresh).

        First-party sign-in only: the password grant exists so standard OAuth2 clients and
        Swagger UI's Authorize button work; third-party applications must not collect passwords.
        """
        grant = data.get("grant_type")
        accounts = services().accounts()
        if any("\x00" in value for value in data.values() if isinstance(value, str)):
            # PostgreSQL cannot compare text with NUL in it: refuse before any lookup (was a 500).
            return _oauth_error(400, "invalid_request", "The form fields must not contain NUL characters.")
        try:
            if grant == "password":
                if not data.get("username") or not data.get("password"):
                    return _oauth_error(400, "invalid_request", "username and password are required.")
                pair = accounts.login(data["username"], data["password"])
            elif grant == "refresh_token":
                if not data.get("refresh_token"):
                    return _oauth_error(400, "invalid_request", "refresh_token is required.")
                pair = accounts.refresh(data["refresh_token"])
            elif not grant:
                return _oauth_error(400, "invalid_request", "grant_type is required.")
            else:
                return _oauth_error(400, "unsupported_grant_type", "Use grant_type=password or refresh_token.")
        except LoginThrottled as exc:
            return _oauth_error(429, "too_many_attempts", exc.message, {"Retry-After": str(exc.retry_after)})
        except ServiceBusy as exc:  # every password-hashing slot is taken (RFC 6749's code for a 503)
            return _oauth_error(503, "temporarily_unavailable", exc.message, {"Retry-After": str(exc.retry_after)})
        except (InvalidCredentials, InvalidRefreshToken, Forbidden) as exc:
            return _oauth_error(400, "invalid_grant", exc.message)
        return _no_store(jsonify(pair_dict(pair)))


@blp.route("/auth/login")
class Login(MethodView):
    decorators = [signin_limit]

    @blp.arguments(LoginIn)
    @blp.response(200, TokenPairOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(429, schema=ErrorOut)
    @blp.alt_response(503, schema=ErrorOut)
    def post(self, data):
        """Sign in with e-mail and password; returns an access and refresh token pair."""
        pair = services().accounts().login(data["email"], data["password"])
        return _no_store(jsonify(pair_dict(pair)))


@blp.route("/auth/refresh-token")
class RefreshToken(MethodView):
    @blp.arguments(RefreshIn)
    @blp.response(200, TokenPairOut)
    @blp.alt_response(401, schema=ErrorOut)
    def post(self, data):
        """Rotate a refresh token. Presenting a rotated one again revokes its whole family."""
        return _no_store(jsonify(pair_dict(services().accounts().refresh(data["refresh_token"]))))


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.arguments(RefreshIn)
    @blp.response(204)
    def post(self, data):
        """Revoke the refresh token's family (sign out of this session)."""
        services().accounts().logout(data["refresh_token"])


@blp.route("/auth/forgot-password")
class ForgotPassword(MethodView):
    decorators = [mail_limit]

    @blp.arguments(EmailIn)
    @blp.response(202, AcceptedOut)
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data):
        """Send a password reset link (generic answer)."""
        services().accounts().forgot_password(data["email"], request_language())
        return {"message": GENERIC_FORGOT}


@blp.route("/auth/reset-password")
class ResetPassword(MethodView):
    decorators = [mail_limit]

    @blp.arguments(ResetPasswordIn)
    @blp.response(204)
    @blp.alt_response(400, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data):
        """Set a new password with the token from the reset mail (works once, for one hour)."""
        services().accounts().reset_password(data["token"], data["password"])


@blp.route("/profile")
class Profile(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, ProfileOut)
    @blp.alt_response(401, schema=ErrorOut)
    def get(self):
        """The signed-in user's profile."""
        return profile_dict(current_user())

    @blp.doc(security=BEARER)
    @blp.arguments(ProfilePatchIn)
    @blp.response(200, ProfileOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def patch(self, data):
        """Change the name or settings (language, theme, default style, preferred model, notify_limit:
        the e-mail when the daily limit is reached, on by default)."""
        kwargs = {}
        if "name" in data:
            kwargs["name"] = data["name"]
        user = services().accounts().update_profile(current_actor(), settings=data.get("settings"), **kwargs)
        return profile_dict(user)

    @blp.doc(security=BEARER)
    @blp.arguments(PasswordIn)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(409, schema=ErrorOut, description="last_owner: the last owner of a team with other members; "
                                                        "team_has_paid_plan or conflict: the only member of a team "
                                                        "with an active paid plan or a payment in progress")
    @blp.alt_response(422, schema=ErrorOut)
    def delete(self, data):
        """Delete the account and its whole history (asks for the password). A team you alone
        belong to goes with it — not while it has an active paid plan or a payment in progress."""
        services().accounts().delete_account(current_actor(), data["password"])


@blp.route("/profile/password")
class ProfilePassword(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(PasswordChangeIn)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data):
        """Change the password; every refresh token of the account is revoked."""
        services().accounts().change_password(current_actor(), data["current_password"], data["new_password"])


@blp.route("/profile/email")
class ProfileEmail(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(EmailChangeIn)
    @blp.response(202, AcceptedOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data):
        """Ask to change the e-mail address; applied once the new address is confirmed."""
        services().accounts().request_email_change(current_actor(), data["new_email"], data["password"])
        return {"message": "Check the new address for a confirmation link."}
