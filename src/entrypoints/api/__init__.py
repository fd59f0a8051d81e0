"""The REST API under /api/v1 (flask-smorest)."""

from __future__ import annotations

from flask_smorest import Api


def register_api(api: Api) -> None:
    from . import accounts

    api.register_blueprint(accounts.blp)
