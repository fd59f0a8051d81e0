"""The dependency-injector container: one per deployable, built from Settings."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.mail import JinjaMailTemplates, MailboxMailer, SmtpMailer
from adapters.security import Argon2PasswordHasher, ItsdangerousTokenCodec, JwtAccessTokenCodec
from adapters.sql.engine import build_engine
from adapters.sql.generation import generation_steps
from adapters.sql.uow import SqlUnitOfWork
from promptcore.domain.quota import QuotaPolicy, QuotaWindow
from promptcore.services.accounts import Accounts
from promptcore.services.admin import Admin
from promptcore.services.api_keys import ApiKeys
from promptcore.services.billing import Billing
from promptcore.services.compare import Compare
from promptcore.services.custom_styles import CustomStyles
from promptcore.services.exports import HistoryExport
from promptcore.services.history import History
from promptcore.services.improvement import Prompts
from promptcore.services.library_io import HistoryImport, LibraryTransfer
from promptcore.services.notifications import LimitNotices
from promptcore.services.quota import Quota
from promptcore.services.sharing import SharedRecords
from promptcore.services.styles import StyleCatalogue
from promptcore.services.teams import Teams
from promptcore.services.templates import Templates

from .config import Settings


def _openrouter(settings: Settings):
    """The one OpenRouter adapter (one session pool): the improver, inside the metrics wrapper,
    and Try it's answerer (SPEC §15.3) both use it."""
    from adapters.metrics import count_retry
    from adapters.openrouter import OpenRouterImprover

    return OpenRouterImprover(
        api_key=settings.openrouter_api_key or "",
        base_url=settings.openrouter_base_url,
        models=settings.llm_models,
        referer=settings.base_url,
        title="promptcore",
        timeout=settings.llm_timeout,
        on_retry=count_retry,
    )


def _offline():
    from adapters.offline import OfflineImprover

    return OfflineImprover()


def _instrumented(improver):
    from adapters.metrics import InstrumentedImprover

    return InstrumentedImprover(improver)


def _compare_wait(settings: Settings) -> float:
    """The longest Try it waits for both answers: the upstream deadline plus a margin (each side's
    call ends within the deadline on its own; this only bounds a side that somehow did not)."""
    return settings.llm_timeout + 30.0


def _count_quota_rejection() -> None:
    from adapters.metrics import QUOTA_REJECTIONS

    QUOTA_REJECTIONS.inc()


def _quota_policy(settings: Settings) -> QuotaPolicy:
    from datetime import timedelta

    # The longest a call can take: the upstream deadline plus a margin for our own work.
    ttl = timedelta(seconds=settings.llm_timeout * 2 + 60)
    return QuotaPolicy(QuotaWindow(settings.quota_window), settings.quota_timezone, ttl)


def _upgrade_url(settings: Settings) -> str:
    """Where a user over the limit buys a larger one (SPEC §12.7): the 429 body, the limit e-mail
    and the generator's Upgrade link all point here."""
    return settings.base_url.rstrip("/") + "/pricing"


def _yookassa(settings: Settings):
    """The YooKassa gateway (PROMPTCORE_BILLING=yookassa), or the same adapter pointed at the
    development checkout this app serves (dev-checkout, §12.5) with dummy credentials."""
    from adapters.yookassa import YooKassaGateway

    if settings.billing == "dev-checkout":
        from .config import DEV_CHECKOUT_SECRET_KEY, DEV_CHECKOUT_SHOP_ID

        return YooKassaGateway(DEV_CHECKOUT_SHOP_ID, DEV_CHECKOUT_SECRET_KEY,
                               f"{settings.base_url.rstrip('/')}/dev/checkout/api/v3",
                               vat_code=settings.yookassa_vat_code)
    return YooKassaGateway(settings.yookassa_shop_id or "", settings.yookassa_secret_key or "",
                           settings.yookassa_api_url, vat_code=settings.yookassa_vat_code)


def _billing_kind(settings: Settings) -> str:
    return "off" if settings.billing == "off" else "yookassa"


def _mailer_kind(settings: Settings) -> str:
    return "smtp" if settings.smtp_url else "mailbox"


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.ThreadSafeSingleton(SystemClock)
    engine = providers.ThreadSafeSingleton(build_engine, url=settings.provided.database_url,
                                           pool_size=settings.provided.db_pool_size)
    uow = providers.Factory(SqlUnitOfWork, engine=engine)
    # Units that only read: on SQLite a deferred transaction, no write lock (engine.mark_read_only).
    read_uow = providers.Factory(SqlUnitOfWork, engine=engine, read_only=True)
    # Units of one read (the credential check of every request): on PostgreSQL outside a transaction.
    lookup_uow = providers.Factory(SqlUnitOfWork, engine=engine, single_statement=True)
    # A generation's reservation and outcome in one round trip each, where the database can (PostgreSQL).
    steps = providers.ThreadSafeSingleton(generation_steps, engine=engine)

    hasher = providers.ThreadSafeSingleton(Argon2PasswordHasher)
    access_tokens = providers.ThreadSafeSingleton(JwtAccessTokenCodec, secret=settings.provided.secret_key,
                                                  clock=clock)
    signed_tokens = providers.ThreadSafeSingleton(ItsdangerousTokenCodec, secret=settings.provided.secret_key,
                                                  clock=clock)
    mail_templates = providers.ThreadSafeSingleton(JinjaMailTemplates)
    mailer = providers.Selector(
        providers.Callable(_mailer_kind, settings),
        smtp=providers.ThreadSafeSingleton(SmtpMailer, url=settings.provided.smtp_url,
                                           sender=settings.provided.mail_from),
        mailbox=providers.ThreadSafeSingleton(MailboxMailer),
    )
    openrouter = providers.ThreadSafeSingleton(_openrouter, settings)
    offline = providers.ThreadSafeSingleton(_offline)
    improver = providers.Selector(
        settings.provided.llm,
        openrouter=providers.ThreadSafeSingleton(_instrumented, openrouter),
        offline=providers.ThreadSafeSingleton(_instrumented, offline),
    )
    # Try it (SPEC §15.3): the same adapter answers prompts; the offline one refuses (no model).
    answerer = providers.Selector(settings.provided.llm, openrouter=openrouter, offline=offline)
    quota_policy = providers.ThreadSafeSingleton(_quota_policy, settings)
    upgrade_url = providers.Callable(_upgrade_url, settings)
    limit_notices = providers.ThreadSafeSingleton(LimitNotices, mail=mail_templates, upgrade_url=upgrade_url)

    catalogue = providers.ThreadSafeSingleton(StyleCatalogue, uow=read_uow.provider, clock=clock)
    quota = providers.ThreadSafeSingleton(
        Quota,
        uow=uow.provider,
        clock=clock,
        policy=quota_policy,
        default_limit=settings.provided.daily_limit,
        on_exceeded=_count_quota_rejection,
        notices=limit_notices,
        steps=steps,
    )
    history = providers.ThreadSafeSingleton(History, uow=uow.provider, clock=clock, quota=quota)

    custom_styles = providers.ThreadSafeSingleton(CustomStyles, uow=uow.provider, clock=clock)
    prompts = providers.ThreadSafeSingleton(
        Prompts,
        uow=uow.provider,
        improver=improver,
        catalogue=catalogue,
        clock=clock,
        quota=quota,
        models=settings.provided.model_choices,
        max_chars=settings.provided.max_prompt_chars,
        history=history,
        custom_styles=custom_styles,
        steps=steps,
    )
    templates = providers.ThreadSafeSingleton(Templates, uow=uow.provider, clock=clock, prompts=prompts)
    compare = providers.ThreadSafeSingleton(Compare, uow=uow.provider, answerer=answerer, quota=quota, clock=clock,
                                            models=settings.provided.model_choices,
                                            wait_seconds=providers.Callable(_compare_wait, settings))
    shared_records = providers.ThreadSafeSingleton(SharedRecords, uow=uow.provider, clock=clock)
    library = providers.ThreadSafeSingleton(LibraryTransfer, uow=uow.provider, clock=clock)
    history_import = providers.ThreadSafeSingleton(HistoryImport, uow=uow.provider, clock=clock,
                                                   max_chars=settings.provided.max_prompt_chars)
    exports = providers.ThreadSafeSingleton(HistoryExport, uow=read_uow.provider, clock=clock)
    admin = providers.ThreadSafeSingleton(Admin, uow=uow.provider, clock=clock)
    # Personal API keys (§15.1): authenticate reads in a read-only unit, writes only a due last use.
    api_keys = providers.ThreadSafeSingleton(ApiKeys, uow=uow.provider, clock=clock, read_uow=read_uow.provider)

    # Billing (§12): the gateway, or None when payments are off (the use cases answer 503).
    payment_gateway = providers.Selector(
        providers.Callable(_billing_kind, settings),
        yookassa=providers.ThreadSafeSingleton(_yookassa, settings),
        off=providers.Object(None),
    )
    billing = providers.ThreadSafeSingleton(
        Billing,
        uow=uow.provider,
        clock=clock,
        gateway=payment_gateway,
        mail=mail_templates,
        base_url=settings.provided.base_url,
        default_limit=settings.provided.daily_limit,
        grace_days=settings.provided.billing_grace_days,
        webhook_networks=settings.provided.yookassa_webhook_networks,
    )
    # A team with an active paid plan, or with a payment under way, cannot be deleted (§14): billing
    # answers for Teams.delete, and for deleting the account of a team's only member.
    teams = providers.ThreadSafeSingleton(Teams, uow=uow.provider, clock=clock, mail=mail_templates,
                                          base_url=settings.provided.base_url,
                                          has_paid_plan=billing.provided.team_has_paid_plan,
                                          has_pending_payment=billing.provided.team_has_pending_payment)
    accounts = providers.ThreadSafeSingleton(
        Accounts,
        uow=uow.provider,
        lookup_uow=lookup_uow.provider,
        hasher=hasher,
        access_tokens=access_tokens,
        signed_tokens=signed_tokens,
        mail=mail_templates,
        clock=clock,
        base_url=settings.provided.base_url,
        styles=catalogue.provided.slugs,
        models=settings.provided.model_choices,
        team_has_paid_plan=billing.provided.team_has_paid_plan,
        team_has_pending_payment=billing.provided.team_has_pending_payment,
    )


def build_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    return container
