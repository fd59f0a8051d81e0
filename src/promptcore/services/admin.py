"""Administration: list users, change a user's limit, role or active flag."""

from __future__ import annotations

from typing import Any, Callable

from ..domain.access import Actor, require_manage_users
from ..domain.errors import NotFound, ValidationFailed
from ..domain.users import Role, User, validate_daily_limit
from ..ports import Clock, UnitOfWork

PAGE = 50


class Admin:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def list_users(self, actor: Actor, query: str | None = None, cursor: str | None = None, limit: int = PAGE
                   ) -> tuple[list[User], str | None]:
        require_manage_users(actor)
        after = None
        if cursor:
            if not cursor.isdigit() or len(cursor) > 18:
                raise ValidationFailed.on("cursor", "The cursor is not valid; start from the first page.")
            after = int(cursor)
        limit = max(1, min(PAGE, limit))
        with self._uow() as uow:
            users = uow.users.search((query or "").strip() or None, after, limit + 1)
        next_cursor = str(users[limit - 1].id) if len(users) > limit else None
        return users[:limit], next_cursor

    def update_user(self, actor: Actor, user_id: int, changes: dict[str, Any]) -> User:
        require_manage_users(actor)
        with self._uow() as uow:
            user = uow.users.lock(user_id)
            if user is None:
                raise NotFound("No such user.")
            if "daily_limit" in changes:  # the per-user override; None clears it
                user.daily_limit = validate_daily_limit(changes["daily_limit"])
            if "role" in changes:
                try:
                    role = Role(changes["role"])
                except ValueError:
                    raise ValidationFailed.on("role", "Choose user or admin.") from None
                if user.id == actor.user_id and role is not Role.ADMIN:
                    raise ValidationFailed.on("role", "You cannot remove your own administrator role.")
                user.role = role
            if "is_active" in changes:
                active = changes["is_active"]
                if not isinstance(active, bool):
                    raise ValidationFailed.on("is_active", "Use true or false.")
                if user.id == actor.user_id and not active:
                    raise ValidationFailed.on("is_active", "You cannot deactivate your own account.")
                if user.is_active and not active:
                    # Deactivation ends every session and token; reactivation revives none of them.
                    user.end_sessions()
                    uow.refresh_tokens.revoke_user(user.id, self._clock.now())
                user.is_active = active
            user.updated_at = self._clock.now()
            uow.users.update(user)
            uow.commit()
            return user
