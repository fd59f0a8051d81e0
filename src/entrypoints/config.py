"""Settings from the environment (and a ``.env`` file), validated once at start-up (SPEC §3)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from promptcore.services.billing import DEFAULT_WEBHOOK_NETWORKS, parse_networks

ENVS = ("development", "production", "test")
BILLING_MODES = ("yookassa", "dev-checkout", "off")
# In dev-checkout mode the built-in checkout posts webhooks from this machine.
LOOPBACK_NETWORKS = ("127.0.0.1/32", "::1/128")
# The dummy shop the YooKassa adapter presents to the development checkout (HTTP Basic auth).
DEV_CHECKOUT_SHOP_ID = "dev"
DEV_CHECKOUT_SECRET_KEY = "dev-checkout"


class ConfigError(Exception):
    """A bad setting; the message is one line naming the variable."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = "sqlite:///var/promptcore.db"
    secret_key: str = field(default="", repr=False)
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str = "promptcore@localhost"
    daily_limit: int = 3
    quota_window: str = "rolling"
    quota_timezone: str = "UTC"
    max_prompt_chars: int = 8000
    llm: str = "offline"
    openrouter_api_key: str | None = field(default=None, repr=False)
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    llm_models: tuple[str, ...] = ("openai/gpt-4o-mini",)
    llm_timeout: float = 60.0
    ratelimit_storage_url: str = "memory://"
    trusted_proxies: int = 0
    auth_rate_limit: str = "30/minute"
    mail_rate_limit: str = "300/minute"
    db_pool_size: int = 20
    log_format: str = "text"
    log_level: str = "INFO"
    sentry_dsn: str | None = field(default=None, repr=False)
    var_dir: str = "var"
    billing: str = "off"
    yookassa_shop_id: str | None = None
    yookassa_secret_key: str | None = field(default=None, repr=False)
    yookassa_api_url: str = "https://api.yookassa.ru/v3"
    yookassa_webhook_networks: tuple[str, ...] = DEFAULT_WEBHOOK_NETWORKS
    yookassa_vat_code: int = 1
    billing_grace_days: int = 3

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def model_choices(self) -> tuple[str, ...]:
        return ("offline",) if self.llm == "offline" else self.llm_models


def load_dotenv_file(path: str = ".env") -> None:
    """Read KEY=VALUE lines from ``.env``; real environment variables win."""
    try:
        from dotenv import dotenv_values
    except ImportError:  # pragma: no cover
        return
    if os.path.exists(path):
        for key, value in dotenv_values(path).items():
            if value is not None:
                os.environ.setdefault(key, value)


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must look like {default}, got {value!r}") from None
    return value


def _dev_secret(var_dir: str) -> str:
    path = Path(var_dir) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    name = env.get("PROMPTCORE_ENV", "development") or "development"
    if name not in ENVS:
        raise ConfigError(f"PROMPTCORE_ENV must be one of {', '.join(ENVS)}, got {name!r}")
    var_dir = env.get("PROMPTCORE_VAR_DIR", "var") or "var"

    database_url = env.get("PROMPTCORE_DATABASE_URL") or f"sqlite:///{var_dir}/promptcore.db"
    if "://" not in database_url:
        raise ConfigError("PROMPTCORE_DATABASE_URL must be an SQLAlchemy URL such as postgresql+psycopg://...")
    if database_url.startswith(("postgres://", "postgresql://")):
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]

    secret = env.get("PROMPTCORE_SECRET_KEY") or ""
    if name == "production":
        if len(secret) < 32:
            raise ConfigError("PROMPTCORE_SECRET_KEY is required in production and must be at least 32 characters")
    elif not secret:
        secret = _dev_secret(var_dir) if name == "development" else "test-secret-key-" + "x" * 32
    elif len(secret) < 16:
        raise ConfigError("PROMPTCORE_SECRET_KEY must be at least 16 characters")

    base_url = (env.get("PROMPTCORE_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
    if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
        raise ConfigError(f"PROMPTCORE_BASE_URL must be an http(s) URL, got {base_url!r}")

    smtp_url = env.get("PROMPTCORE_SMTP_URL") or None
    if smtp_url:
        parts = urlsplit(smtp_url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError("PROMPTCORE_SMTP_URL must look like smtp://user:pass@host:port or smtps://host:port")
        try:
            _ = parts.port  # urlsplit validates the port lazily
        except ValueError:
            raise ConfigError("PROMPTCORE_SMTP_URL has an invalid port") from None
    elif name == "production":
        raise ConfigError("PROMPTCORE_SMTP_URL is required in production")

    mail_from = env.get("PROMPTCORE_MAIL_FROM") or "promptcore@localhost"
    if "@" not in mail_from:
        raise ConfigError(f"PROMPTCORE_MAIL_FROM must be an e-mail address, got {mail_from!r}")

    window = env.get("PROMPTCORE_QUOTA_WINDOW") or "rolling"
    if window not in ("rolling", "calendar"):
        raise ConfigError(f"PROMPTCORE_QUOTA_WINDOW must be rolling or calendar, got {window!r}")
    zone = env.get("PROMPTCORE_QUOTA_TIMEZONE") or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"PROMPTCORE_QUOTA_TIMEZONE must be an IANA time zone, got {zone!r}") from None

    key = env.get("OPENROUTER_API_KEY") or None
    llm = env.get("PROMPTCORE_LLM") or ""
    if llm and llm not in ("openrouter", "offline"):
        raise ConfigError(f"PROMPTCORE_LLM must be openrouter or offline, got {llm!r}")
    if not llm:
        if key:
            llm = "openrouter"
        elif name == "production":
            raise ConfigError("OPENROUTER_API_KEY is not set: set it, or set PROMPTCORE_LLM=offline explicitly")
        else:
            llm = "offline"
    if llm == "openrouter" and not key:
        raise ConfigError("PROMPTCORE_LLM=openrouter needs OPENROUTER_API_KEY")

    raw_models = env.get("PROMPTCORE_LLM_MODELS") or "openai/gpt-4o-mini"
    models = tuple(m.strip() for m in raw_models.split(",") if m.strip())
    if not models:
        raise ConfigError("PROMPTCORE_LLM_MODELS must name at least one model")
    timeout_raw = env.get("PROMPTCORE_LLM_TIMEOUT") or "60"
    try:
        timeout = float(timeout_raw)
    except ValueError:
        raise ConfigError(f"PROMPTCORE_LLM_TIMEOUT must be a number of seconds, got {timeout_raw!r}") from None
    if not 1 <= timeout <= 600:
        raise ConfigError("PROMPTCORE_LLM_TIMEOUT must be between 1 and 600 seconds")

    openrouter_base = (env.get("OPENROUTER_BASE_URL") or "https://openrouter.ai/api/v1").rstrip("/")
    if urlsplit(openrouter_base).scheme not in ("http", "https"):
        raise ConfigError("OPENROUTER_BASE_URL must be an http(s) URL")

    storage = env.get("PROMPTCORE_RATELIMIT_STORAGE_URL") or "memory://"
    if "://" not in storage:
        raise ConfigError("PROMPTCORE_RATELIMIT_STORAGE_URL must be a URL such as memory:// or redis://host:6379")

    auth_limit = _rate_limit(env, "PROMPTCORE_AUTH_RATE_LIMIT", "30/minute")
    mail_limit = _rate_limit(env, "PROMPTCORE_MAIL_RATE_LIMIT", "300/minute")

    log_format = env.get("PROMPTCORE_LOG_FORMAT") or ("json" if name == "production" else "text")
    if log_format not in ("json", "text"):
        raise ConfigError(f"PROMPTCORE_LOG_FORMAT must be json or text, got {log_format!r}")
    log_level = (env.get("PROMPTCORE_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"PROMPTCORE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    sentry_dsn = env.get("SENTRY_DSN") or None
    if sentry_dsn:
        try:
            import sentry_sdk  # noqa: F401
        except ImportError:
            raise ConfigError(
                "SENTRY_DSN is set but sentry-sdk is not installed: pip install 'promptcore[sentry]'") from None

    billing = _billing(env, name)

    return Settings(
        **billing,
        env=name,
        database_url=database_url,
        secret_key=secret,
        base_url=base_url,
        smtp_url=smtp_url,
        mail_from=mail_from,
        daily_limit=_int(env, "PROMPTCORE_DAILY_LIMIT", 3, 0, 100_000),
        quota_window=window,
        quota_timezone=zone,
        max_prompt_chars=_int(env, "PROMPTCORE_MAX_PROMPT_CHARS", 8000, 1, 100_000),
        llm=llm,
        openrouter_api_key=key,
        openrouter_base_url=openrouter_base,
        llm_models=models,
        llm_timeout=timeout,
        ratelimit_storage_url=storage,
        trusted_proxies=_int(env, "PROMPTCORE_TRUSTED_PROXIES", 0, 0, 10),
        auth_rate_limit=auth_limit,
        mail_rate_limit=mail_limit,
        db_pool_size=_int(env, "PROMPTCORE_DB_POOL_SIZE", 20, 1, 500),
        log_format=log_format,
        log_level=log_level,
        sentry_dsn=sentry_dsn,
        var_dir=var_dir,
    )


def _billing(env: Mapping[str, str], name: str) -> dict:
    """PROMPTCORE_BILLING and the YooKassa settings (SPEC §3, §12.5)."""
    shop_id = (env.get("PROMPTCORE_YOOKASSA_SHOP_ID") or "").strip() or None
    secret = (env.get("PROMPTCORE_YOOKASSA_SECRET_KEY") or "").strip() or None
    mode = (env.get("PROMPTCORE_BILLING") or "").strip()
    if mode and mode not in BILLING_MODES:
        raise ConfigError(f"PROMPTCORE_BILLING must be one of {', '.join(BILLING_MODES)}, got {mode!r}")
    if not mode:
        mode = "yookassa" if shop_id else ("dev-checkout" if name == "development" else "off")
    if mode == "dev-checkout" and name == "production":
        raise ConfigError("PROMPTCORE_BILLING=dev-checkout is refused in production: set a YooKassa shop or use off")
    if shop_id is not None and (":" in shop_id or not shop_id.isascii()):
        raise ConfigError("PROMPTCORE_YOOKASSA_SHOP_ID must be the shop id YooKassa shows (digits)")
    if mode == "yookassa" and not shop_id:
        raise ConfigError("PROMPTCORE_BILLING=yookassa needs PROMPTCORE_YOOKASSA_SHOP_ID")
    if mode == "yookassa" and not secret:
        raise ConfigError("PROMPTCORE_YOOKASSA_SECRET_KEY is required with a YooKassa shop")

    api_url = (env.get("PROMPTCORE_YOOKASSA_API_URL") or "https://api.yookassa.ru/v3").rstrip("/")
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"PROMPTCORE_YOOKASSA_API_URL must be an http(s) URL, got {api_url!r}")

    raw_networks = env.get("PROMPTCORE_YOOKASSA_WEBHOOK_NETWORKS")
    if raw_networks is None or not raw_networks.strip():
        networks = DEFAULT_WEBHOOK_NETWORKS + (LOOPBACK_NETWORKS if mode == "dev-checkout" else ())
    else:
        networks = tuple(n.strip() for n in raw_networks.split(",") if n.strip())
        try:
            parse_networks(networks)
        except ValueError as exc:
            raise ConfigError(f"PROMPTCORE_YOOKASSA_WEBHOOK_NETWORKS: {exc}") from None

    return dict(
        billing=mode,
        yookassa_shop_id=shop_id,
        yookassa_secret_key=secret,
        yookassa_api_url=api_url,
        yookassa_webhook_networks=networks,
        yookassa_vat_code=_int(env, "PROMPTCORE_YOOKASSA_VAT_CODE", 1, 1, 12),
        billing_grace_days=_int(env, "PROMPTCORE_BILLING_GRACE_DAYS", 3, 0, 60),
    )
