"""The dependency-injector container: one per deployable, built from Settings."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.mail import JinjaMailTemplates, MailboxMailer, SmtpMailer
from adapters.security import Argon2PasswordHasher, ItsdangerousTokenCodec, JwtAccessTokenCodec
from adapters.sql.engine import build_engine
from adapters.sql.uow import SqlUnitOfWork
from promptcore.domain.quota import QuotaPolicy, QuotaWindow
from promptcore.services.accounts import Accounts
from promptcore.services.admin import Admin
from promptcore.services.improvement import Prompts, StyleCatalogue

from .config import Settings


def _openrouter(settings: Settings):
    from adapters.metrics import InstrumentedImprover, count_retry
    from adapters.openrouter import OpenRouterImprover

    return InstrumentedImprover(OpenRouterImprover(
        api_key=settings.openrouter_api_key or "",
        base_url=settings.openrouter_base_url,
        models=settings.llm_models,
        referer=settings.base_url,
        title="promptcore",
        timeout=settings.llm_timeout,
        on_retry=count_retry,
    ))


def _offline():
    from adapters.metrics import InstrumentedImprover
    from adapters.offline import OfflineImprover

    return InstrumentedImprover(OfflineImprover())


def _count_quota_rejection() -> None:
    from adapters.metrics import QUOTA_REJECTIONS

    QUOTA_REJECTIONS.inc()


def _quota_policy(settings: Settings) -> QuotaPolicy:
    from datetime import timedelta

    # The longest a call can take: the upstream deadline plus a margin for our own work.
    ttl = timedelta(seconds=settings.llm_timeout * 2 + 60)
    return QuotaPolicy(QuotaWindow(settings.quota_window), settings.quota_timezone, ttl)


def _mailer_kind(settings: Settings) -> str:
    return "smtp" if settings.smtp_url else "mailbox"


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.ThreadSafeSingleton(SystemClock)
    engine = providers.ThreadSafeSingleton(build_engine, url=settings.provided.database_url,
                                           pool_size=settings.provided.db_pool_size)
    uow = providers.Factory(SqlUnitOfWork, engine=engine)

    hasher = providers.ThreadSafeSingleton(Argon2PasswordHasher)
    access_tokens = providers.ThreadSafeSingleton(JwtAccessTokenCodec, secret=settings.provided.secret_key)
    signed_tokens = providers.ThreadSafeSingleton(ItsdangerousTokenCodec, secret=settings.provided.secret_key)
    mail_templates = providers.ThreadSafeSingleton(JinjaMailTemplates)
    mailer = providers.Selector(
        providers.Callable(_mailer_kind, settings),
        smtp=providers.ThreadSafeSingleton(SmtpMailer, url=settings.provided.smtp_url,
                                           sender=settings.provided.mail_from),
        mailbox=providers.ThreadSafeSingleton(MailboxMailer),
    )
    improver = providers.Selector(
        settings.provided.llm,
        openrouter=providers.ThreadSafeSingleton(_openrouter, settings),
        offline=providers.ThreadSafeSingleton(_offline),
    )
    quota_policy = providers.ThreadSafeSingleton(_quota_policy, settings)

    catalogue = providers.ThreadSafeSingleton(StyleCatalogue, uow=uow.provider, clock=clock)

    accounts = providers.ThreadSafeSingleton(
        Accounts,
        uow=uow.provider,
        hasher=hasher,
        access_tokens=access_tokens,
        signed_tokens=signed_tokens,
        mail=mail_templates,
        clock=clock,
        base_url=settings.provided.base_url,
        default_daily_limit=settings.provided.daily_limit,
        styles=catalogue.provided.slugs,
        models=settings.provided.model_choices,
    )
    prompts = providers.ThreadSafeSingleton(
        Prompts,
        uow=uow.provider,
        improver=improver,
        catalogue=catalogue,
        clock=clock,
        policy=quota_policy,
        models=settings.provided.model_choices,
        max_chars=settings.provided.max_prompt_chars,
        on_quota_exceeded=_count_quota_rejection,
    )
    admin = providers.ThreadSafeSingleton(Admin, uow=uow.provider, clock=clock)


def build_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    return container
