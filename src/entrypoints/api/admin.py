"""Administration endpoints (admins only, by the core's access rule; everyone else gets 403)."""

from __future__ import annotations

from flask.views import MethodView

from promptcore.domain.users import User

from ..deps import services
from .accounts import profile_dict
from .auth import BEARER, current_actor, login_required
from .parsing import Blueprint
from .schemas import (
    ID_CONVERTER,
    AdminUserOut,
    AdminUserPatchIn,
    AdminUsersOut,
    AdminUsersQuery,
    ErrorOut,
)

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Administration (admins only)")


def admin_user_dict(user: User) -> dict:
    return {**profile_dict(user), "is_active": user.is_active, "daily_limit_override": user.daily_limit}


@blp.route("/users")
class Users(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(AdminUsersQuery, location="query")
    @blp.response(200, AdminUsersOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut)
    def get(self, args):
        """Users by id, optionally searched by e-mail or name, 50 a page."""
        users, cursor = services().admin().list_users(current_actor(), args.get("q"), args.get("cursor"))
        return {"items": [admin_user_dict(u) for u in users], "next_cursor": cursor}


@blp.route(f"/users/<{ID_CONVERTER}:user_id>")
class UserItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(AdminUserPatchIn)
    @blp.response(200, AdminUserOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def patch(self, data, user_id):
        """Change a user's daily limit, role or active flag."""
        return admin_user_dict(services().admin().update_user(current_actor(), user_id, data))
