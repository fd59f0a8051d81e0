"""Shared by the fuzz and property suites: one PostgreSQL database per module, the app on it with
the OpenRouter stand-in upstream, and a fuzzed administrator whose bearer token is fresh per case."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.conftest import build_test_app, make_settings
from tests.integration.openrouter_standin import OpenRouterStandin
from tests.integration.yookassa_standin import YooKassaStandin

EMAIL = "fuzz-admin@example.com"
PASSWORD = "fuzzing horse battery staple"
HIGH_LIMIT = 100_000
MODELS = ["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"]


@dataclass
class FuzzedApp:
    app: object
    container: object
    standin: OpenRouterStandin
    restored: int = 0

    def ensure_account(self):
        """Put the fuzzed account back as it must be (exists, active, admin, confirmed, high
        limit) whatever the previous case did to it; the account (a new one if a case deleted it)."""
        container = self.container
        with container.uow() as uow:
            user = uow.users.get_by_email(EMAIL)
        healthy = (user is not None and user.is_active and user.is_admin and user.is_email_confirmed
                   and (user.daily_limit or 0) >= HIGH_LIMIT)
        if not healthy:
            if user is not None:
                self.restored += 1
            container.accounts().create_admin(EMAIL, PASSWORD)
            user = container.accounts().set_daily_limit(EMAIL, HIGH_LIMIT)
        return user

    def fresh_headers(self) -> dict[str, str]:
        """A bearer token minted now for the (restored) account, so no earlier logout, password
        change or deletion can have spoiled it."""
        user = self.ensure_account()
        token = self.container.access_tokens().issue(user.id, "admin", self.container.clock().now(),
                                                     user.session_generation)
        return {"Authorization": f"Bearer {token}"}


@contextmanager
def fuzzed_app(tmp_dir, database_url: str) -> Iterator[FuzzedApp]:
    # Billing runs against the YooKassa stand-in, so checkout and refunds answer for real.
    with OpenRouterStandin(max_recorded=50) as upstream, YooKassaStandin() as kassa:
        settings = make_settings(
            tmp_dir, PROMPTCORE_DATABASE_URL=database_url, PROMPTCORE_LLM="openrouter",
            OPENROUTER_API_KEY="sk-or-v1-fuzz", OPENROUTER_BASE_URL=upstream.base_url,
            PROMPTCORE_LLM_MODELS=",".join(MODELS), PROMPTCORE_LLM_TIMEOUT="3",
            PROMPTCORE_YOOKASSA_SHOP_ID=kassa.shop_id, PROMPTCORE_YOOKASSA_SECRET_KEY=kassa.secret_key,
            PROMPTCORE_YOOKASSA_API_URL=kassa.api_url)
        app, container = build_test_app(settings)
        try:
            yield FuzzedApp(app=app, container=container, standin=upstream)
        finally:
            container.engine().dispose()
