"""Account use cases: registration, confirmation, sign-in, tokens, profile, password."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable
from urllib.parse import quote

from ..domain import users as rules
from ..domain.access import Actor, UncheckedToken, require_manage_account
from ..domain.errors import (
    Conflict,
    Forbidden,
    HasPaidPlan,
    InvalidCredentials,
    InvalidToken,
    LastOwner,
    LoginThrottled,
    NotFound,
    TokenNoLongerValid,
    Unauthenticated,
    ValidationFailed,
)
from ..domain.teams import TeamRole
from ..domain.users import Role, User, UserSettings
from ..ports import (
    AccessTokenCodec,
    Clock,
    DuplicateEmail,
    MailTemplates,
    PasswordHasher,
    SignedTokenCodec,
    UnitOfWork,
)

CONFIRM = "confirm-email"
RESET = "reset-password"
EMAIL_CHANGE = "change-email"

# Mail kinds a stranger can make us send to any address: at most one per recipient and kind per
# RECIPIENT_COOLDOWN.
_LIMITED_KINDS = frozenset({"confirm_email", "already_registered", "reset_password", "change_email"})
MAIL_REQUEST_LEASE = timedelta(minutes=5)


class InvalidRefreshToken(Unauthenticated):
    default_message = "The refresh token is invalid, expired or already used."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Accounts:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        hasher: PasswordHasher,
        access_tokens: AccessTokenCodec,
        signed_tokens: SignedTokenCodec,
        mail: MailTemplates,
        clock: Clock,
        base_url: str,
        styles: Callable[[], frozenset[str]] = lambda: frozenset(),
        models: tuple[str, ...] = (),
        team_has_paid_plan: Callable[[UnitOfWork, int], bool] | None = None,
        team_has_pending_payment: Callable[[UnitOfWork, int], bool] | None = None,
        lookup_uow: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        self._uow = uow
        # For the one read that checks a credential on every request (one statement; see the container).
        self._lookup = lookup_uow or uow
        self._hasher = hasher
        self._access = access_tokens
        self._signed = signed_tokens
        self._mail = mail
        self._clock = clock
        self._base_url = base_url.rstrip("/")
        self._styles = styles
        self._models = models
        # A team of one goes with its member's account, but not one that is paid for or being paid
        # for (billing decides, as for Teams.delete; wired by the container).
        self._team_has_paid_plan = team_has_paid_plan or (lambda uow, team_id: False)
        self._team_has_pending_payment = team_has_pending_payment or (lambda uow, team_id: False)

    # -- helpers ---------------------------------------------------------------------------

    def _link(self, path: str, token: str) -> str:
        return f"{self._base_url}{path}?token={quote(token)}"

    def _queue(self, uow: UnitOfWork, kind: str, to: str, language: str | None, **context: Any) -> None:
        now = self._clock.now()
        if kind in _LIMITED_KINDS and uow.outbox.queued_since(to, kind, now - rules.RECIPIENT_COOLDOWN):
            return  # the recipient got this kind of mail moments ago: no floods of mail
        message = self._mail.render(kind, language or "en", to, context)
        uow.outbox.add(message, now)

    @staticmethod
    def _greeting(user: User) -> str | None:
        """The name to greet with: only on a confirmed address, so nobody can put words of their own
        into mail sent to an address they do not own."""
        return user.name if user.is_email_confirmed else None

    def _issue_pair(self, uow: UnitOfWork, user: User, family_id: str | None = None) -> TokenPair:
        now = self._clock.now()
        raw = secrets.token_urlsafe(32)
        uow.refresh_tokens.add(
            user.id, family_id or uuid.uuid4().hex, _sha256(raw), now + rules.REFRESH_TOKEN_TTL, now
        )
        access = self._access.issue(user.id, user.role.value, now, user.session_generation)
        return TokenPair(access, raw, int(rules.ACCESS_TOKEN_TTL.total_seconds()))

    def _require_user(self, uow: UnitOfWork, user_id: int) -> User:
        user = uow.users.get(user_id)
        if user is None or not user.is_active:
            raise Unauthenticated()
        return user

    # -- registration and confirmation ----------------------------------------------------

    def register_user(self, email: str, password: str, name: str | None = None, language: str = "en") -> None:
        """Create an account, or tell the owner of a taken address; the caller cannot tell which."""
        email = rules.validate_email(email)
        rules.validate_password(password, email)
        name = rules.validate_name(name)
        language = language if language in rules.LANGUAGES else "en"
        password_hash = self._hasher.hash(password)  # always, so both paths take the same time
        with self._uow() as uow:
            existing = uow.users.get_by_email(email)
            if existing is not None:
                self._queue(uow, "already_registered", email, existing.settings.language or language,
                            name=self._greeting(existing), login_url=f"{self._base_url}/login",
                            reset_url=f"{self._base_url}/forgot-password")
                uow.commit()
                return
            now = self._clock.now()
            try:
                user = uow.users.add(User(
                    email=email, password_hash=password_hash, name=name,
                    settings=UserSettings(language=language), created_at=now, updated_at=now,
                ))
            except DuplicateEmail:
                return  # a concurrent registration of the same address won
            token = self._signed.dumps(CONFIRM, {"uid": user.id, "email": email})
            self._queue(uow, "confirm_email", email, language, link=self._link("/confirm-email", token))
            uow.commit()

    def confirm_email(self, token: str) -> User:
        data = self._signed.loads(CONFIRM, token, rules.CONFIRMATION_TOKEN_TTL)
        with self._uow() as uow:
            user = uow.users.get(_int(data.get("uid")))
            if user is None or user.email != data.get("email"):
                raise InvalidToken()
            if not user.is_email_confirmed:
                user.confirm_email()
                user.updated_at = self._clock.now()
                uow.users.update(user)
                uow.commit()
            return user

    def _request_mail(self, kind: str, email: str, language: str) -> None:
        """Queue a mail request. The same work whether or not the address has an account: the
        worker looks the account up (process_mail_requests), so timing tells a caller nothing."""
        email = rules.validate_email(email)
        language = language if language in rules.LANGUAGES else "en"
        with self._uow() as uow:
            uow.mail_requests.add(kind, email, language, self._clock.now())
            uow.commit()

    def resend_confirmation(self, email: str, language: str = "en") -> None:
        self._request_mail("confirm_email", email, language)

    def process_mail_requests(self, batch: int = 20) -> int:
        """The worker's half of resend and forgot-password: look each address up and queue the mail
        it should get, if any. Returns how many requests were handled."""
        with self._uow() as uow:
            requests = uow.mail_requests.claim(self._clock.now(), MAIL_REQUEST_LEASE, batch)
            uow.commit()
        for request in requests:
            with self._uow() as uow:
                user = uow.users.get_by_email(request.email)
                if user is not None and user.is_active:
                    if request.kind == "confirm_email" and not user.is_email_confirmed:
                        token = self._signed.dumps(CONFIRM, {"uid": user.id, "email": user.email})
                        self._queue(uow, "confirm_email", user.email, user.settings.language or request.language,
                                    link=self._link("/confirm-email", token))
                    elif request.kind == "reset_password":
                        token = self._signed.dumps(RESET, {"uid": user.id, "fp": user.link_fingerprint(RESET)})
                        self._queue(uow, "reset_password", user.email, user.settings.language or request.language,
                                    name=self._greeting(user), link=self._link("/reset-password", token))
                uow.mail_requests.mark_done(request.id, self._clock.now())
                uow.commit()
        return len(requests)

    # -- sign-in and tokens ----------------------------------------------------------------

    def authenticate(self, email: str, password: str) -> User:
        """Check e-mail and password with per-account throttling; the user on success.

        The attempt is taken before the password is checked: under a per-account lock it is
        counted against the limit and stored as a failure, and only a correct password removes it.
        So however many attempts arrive at once, at most LOGIN_FAILURE_LIMIT are ever checked."""
        email = rules.normalize_email(email)
        key = _sha256(email)
        now = self._clock.now()
        with self._uow() as uow:
            uow.login_failures.lock(key)
            wait = rules.throttle_retry_after(
                uow.login_failures.since(key, now - rules.LOGIN_FAILURE_WINDOW), now)
            if wait is not None:
                raise LoginThrottled(wait)
            attempt = uow.login_failures.record(key, now)
            user = uow.users.get_by_email(email) if email else None
            uow.commit()
        # Verify outside any transaction: hashing is slow and must not hold locks.
        if user is None:
            self._hasher.dummy_verify(password or "")
            ok = False
        else:
            ok = self._hasher.verify(user.password_hash, password or "")
        if not ok:
            raise InvalidCredentials()  # the attempt stays recorded as a failure
        with self._uow() as uow:
            if not user.is_active:
                uow.login_failures.remove(attempt)
                uow.commit()
                raise Forbidden("This account has been deactivated.")
            uow.login_failures.clear(key)
            if self._hasher.needs_rehash(user.password_hash):
                user.password_hash = self._hasher.hash(password)
                uow.users.update(user)
            uow.commit()
        return user

    def login(self, email: str, password: str) -> TokenPair:
        user = self.authenticate(email, password)
        with self._uow() as uow:
            pair = self._issue_pair(uow, user)
            uow.commit()
            return pair

    def refresh(self, raw_token: str) -> TokenPair:
        now = self._clock.now()
        if not raw_token or not isinstance(raw_token, str):
            raise InvalidRefreshToken()
        with self._uow() as uow:
            row = uow.refresh_tokens.get_by_hash(_sha256(raw_token))
            if row is None:
                raise InvalidRefreshToken()
            if row.used_at is not None or row.revoked_at is not None:
                # A rotated token came back: whoever holds the family may be an attacker.
                uow.refresh_tokens.revoke_family(row.family_id, now)
                uow.commit()
                raise InvalidRefreshToken()
            if row.expires_at <= now:
                raise InvalidRefreshToken()
            user = uow.users.get(row.user_id)
            if user is None or not user.is_active:
                raise InvalidRefreshToken()
            if not uow.refresh_tokens.mark_used(row.id, now):
                uow.refresh_tokens.revoke_family(row.family_id, now)
                uow.commit()
                raise InvalidRefreshToken()
            pair = self._issue_pair(uow, user, row.family_id)
            uow.commit()
            return pair

    def logout(self, raw_token: str) -> None:
        """Revoke the refresh token's family and end the account's access tokens and sessions."""
        with self._uow() as uow:
            row = uow.refresh_tokens.get_by_hash(_sha256(raw_token or ""))
            if row is not None:
                uow.refresh_tokens.revoke_family(row.family_id, self._clock.now())
                self._end_sessions(uow, row.user_id)
                uow.commit()

    def end_sessions(self, actor: Actor) -> None:
        """Sign-out on the pages: every browser session and access token issued so far stops working."""
        user_id = require_manage_account(actor)
        with self._uow() as uow:
            self._end_sessions(uow, user_id)
            uow.commit()

    def _end_sessions(self, uow: UnitOfWork, user_id: int) -> None:
        user = uow.users.lock(user_id)
        if user is not None:
            user.end_sessions()
            user.updated_at = self._clock.now()
            uow.users.update(user)

    def user_from_access_token(self, token: str) -> User:
        user_id, unchecked = self.unchecked_token(token)
        with self._lookup() as uow:
            user = self._require_user(uow, user_id)
        if not user.accepts_credential(unchecked.issued_at, unchecked.generation):
            raise TokenNoLongerValid()
        return user

    def unchecked_token(self, token: str) -> tuple[int, UncheckedToken]:
        """The user id and the credential of a well-signed, current access token, without reading the
        account: the caller hands them to a use case that checks them under the account's row lock
        (access.UncheckedToken). Unauthenticated for a token that is forged, expired or malformed,
        or whose claims no account could accept."""
        claims = self._access.verify(token)
        user_id = _int(claims.get("sub"))
        iat, generation = claims.get("iat"), claims.get("gen")
        if isinstance(iat, bool) or not isinstance(iat, (int, float)) or type(generation) is not int:
            raise TokenNoLongerValid()
        return user_id, UncheckedToken(float(iat), generation)

    def user_for_session(self, user_id: int, generation: Any, issued_at: Any) -> User | None:
        """The user of a browser session, or None when the session has ended (sign-out, password
        change, deactivation, its absolute lifetime, or an account that is not the one it was
        issued to)."""
        with self._lookup() as uow:
            user = uow.users.get(user_id)
        if user is None or not user.accepts_session(issued_at, generation, self._clock.now()):
            return None
        return user

    # -- password reset --------------------------------------------------------------------

    def forgot_password(self, email: str, language: str = "en") -> None:
        self._request_mail("reset_password", email, language)

    def reset_password(self, token: str, password: str) -> None:
        data = self._signed.loads(RESET, token, rules.RESET_TOKEN_TTL)
        with self._uow() as uow:
            user = uow.users.get(_int(data.get("uid")))
            if user is None or data.get("fp") != user.link_fingerprint(RESET):
                raise InvalidToken()
        rules.validate_password(password, user.email)
        new_hash = self._hasher.hash(password)
        with self._uow() as uow:
            user = uow.users.lock(user.id)
            if user is None or data.get("fp") != user.link_fingerprint(RESET):
                raise InvalidToken()
            now = self._clock.now()
            user.change_password(new_hash, now)
            uow.users.update(user)
            uow.refresh_tokens.revoke_user(user.id, now)
            uow.login_failures.clear(_sha256(user.email))
            self._queue(uow, "password_changed", user.email, user.settings.language, name=self._greeting(user))
            uow.commit()

    # -- profile ---------------------------------------------------------------------------

    def get_profile(self, actor: Actor) -> User:
        user_id = actor.user_id
        with self._uow() as uow:
            return self._require_user(uow, user_id)

    def update_profile(self, actor: Actor, name: Any = ..., settings: dict[str, Any] | None = None) -> User:
        user_id = require_manage_account(actor)
        styles = self._styles() if settings else frozenset()  # read before taking the write lock
        with self._uow() as uow:
            user = self._require_user(uow, user_id)
            if name is not ...:
                user.name = rules.validate_name(name)
            if settings:
                user.settings = user.settings.updated(settings, styles, self._models)
            user.updated_at = self._clock.now()
            uow.users.update(user)
            uow.commit()
            return user

    def _check_password(self, user: User, password: str, field: str = "password") -> None:
        if not self._hasher.verify(user.password_hash, password or ""):
            raise ValidationFailed.on(field, "The password is not correct.")

    def change_password(self, actor: Actor, current_password: str, new_password: str) -> User:
        """Set a new password. Every other session, token and mailed link ends; the returned user
        carries the new session generation, for the session that made the change."""
        user_id = require_manage_account(actor)
        user = self.get_profile(actor)
        self._check_password(user, current_password, "current_password")
        rules.validate_password(new_password, user.email, "new_password")
        new_hash = self._hasher.hash(new_password)
        with self._uow() as uow:
            user = uow.users.lock(user_id)
            if user is None or not user.is_active:
                raise Unauthenticated()
            now = self._clock.now()
            user.change_password(new_hash, now)
            uow.users.update(user)
            uow.refresh_tokens.revoke_user(user.id, now)
            self._queue(uow, "password_changed", user.email, user.settings.language, name=self._greeting(user))
            uow.commit()
            return user

    def request_email_change(self, actor: Actor, new_email: str, password: str) -> None:
        require_manage_account(actor)
        user = self.get_profile(actor)
        self._check_password(user, password)
        new_email = rules.validate_email(new_email, "new_email")
        if new_email == user.email:
            raise ValidationFailed.on("new_email", "This is already your address.")
        with self._uow() as uow:
            taken = uow.users.get_by_email(new_email)
            if taken is not None:
                self._queue(uow, "already_registered", new_email, taken.settings.language,
                            name=self._greeting(taken), login_url=f"{self._base_url}/login",
                            reset_url=f"{self._base_url}/forgot-password")
            else:
                token = self._signed.dumps(EMAIL_CHANGE, {"uid": user.id, "new": new_email,
                                                          "fp": user.link_fingerprint(EMAIL_CHANGE)})
                self._queue(uow, "change_email", new_email, user.settings.language,
                            link=self._link("/confirm-email-change", token))
            uow.commit()

    def confirm_email_change(self, token: str) -> User:
        data = self._signed.loads(EMAIL_CHANGE, token, rules.EMAIL_CHANGE_TOKEN_TTL)
        with self._uow() as uow:
            user = uow.users.lock(_int(data.get("uid")))
            # The fingerprint moves with every address or password change: a used link, or one
            # issued before a password reset, is refused.
            if user is None or data.get("fp") != user.link_fingerprint(EMAIL_CHANGE) or not isinstance(
                    data.get("new"), str):
                raise InvalidToken()
            old = user.email
            user.change_email(rules.validate_email(data["new"]), self._clock.now())
            try:
                uow.users.update(user)
            except DuplicateEmail:
                raise InvalidToken("That address is now used by another account.") from None
            self._queue(uow, "email_changed", old, user.settings.language, name=self._greeting(user),
                        new_email=user.email)
            uow.commit()
            return user

    def delete_account(self, actor: Actor, password: str) -> None:
        user_id = require_manage_account(actor)
        user = self.get_profile(actor)
        self._check_password(user, password)
        with self._uow() as uow:
            # the user's row first, then each team's: the order a pool reservation takes them in
            # (services/quota.py), so the two can never wait on each other
            uow.users.lock(user_id)
            for team, role in uow.teams.of_user(user_id):
                if role is not TeamRole.OWNER or team.id is None:
                    continue
                uow.teams.lock_team(team.id)
                if uow.teams.count_owners(team.id) > 1:
                    continue
                if uow.teams.count_members(team.id) > 1:
                    raise LastOwner("You are the last owner of a team with other members: make one of them an owner, "
                                    "or delete the team, before deleting your account.")
                # a team of one goes with its only member — as Teams.delete, not while it is paid for
                if self._team_has_paid_plan(uow, team.id):
                    raise HasPaidPlan("You are the only member of a team with an active paid plan: cancel the plan "
                                      "and wait for it to end before deleting your account.")
                if self._team_has_pending_payment(uow, team.id):
                    raise Conflict("A payment for a team you alone belong to is in progress: wait until it is paid "
                                   "or canceled before deleting your account.")
                uow.teams.delete(team.id)
            uow.users.delete(user_id)
            uow.commit()

    # -- operators -------------------------------------------------------------------------

    def create_admin(self, email: str, password: str) -> User:
        email = rules.validate_email(email)
        rules.validate_password(password, email)
        password_hash = self._hasher.hash(password)
        now = self._clock.now()
        with self._uow() as uow:
            user = uow.users.get_by_email(email)
            if user is None:
                user = uow.users.add(User(
                    email=email, password_hash=password_hash, role=Role.ADMIN, is_email_confirmed=True,
                    created_at=now, updated_at=now,
                ))
            else:
                user.role = Role.ADMIN
                user.is_email_confirmed = True
                user.is_active = True
                user.password_hash = password_hash
                user.updated_at = now
                uow.users.update(user)
            uow.commit()
            return user

    def set_daily_limit(self, email: str, limit: int | None) -> User:
        """Set a user's per-user override of the daily limit; None clears it (the user then follows
        their plan or the default)."""
        rules.validate_daily_limit(limit)
        with self._uow() as uow:
            user = uow.users.get_by_email(rules.normalize_email(email))
            if user is None:
                raise NotFound("No account has that e-mail address.")
            user.daily_limit = limit
            user.updated_at = self._clock.now()
            uow.users.update(user)
            uow.commit()
            return user


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidToken() from None
