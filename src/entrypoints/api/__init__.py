"""The REST API under /api/v1 (flask-smorest)."""

from __future__ import annotations

from flask_smorest import Api


def register_api(api: Api) -> None:
    from . import (
        accounts,
        admin,
        billing,
        compare,  # Try it (SPEC §15.3)
        library,
        prompts,
        sharing,
        teams,
    )

    api.register_blueprint(accounts.blp)
    api.register_blueprint(prompts.blp)
    api.register_blueprint(compare.blp)
    api.register_blueprint(admin.blp)
    api.register_blueprint(billing.blp)
    api.register_blueprint(library.blp)
    api.register_blueprint(library.styles_blp)
    api.register_blueprint(teams.blp)
    from . import api_keys  # personal API keys (SPEC §15.1)

    api.register_blueprint(api_keys.blp)
    api.register_blueprint(sharing.blp)
