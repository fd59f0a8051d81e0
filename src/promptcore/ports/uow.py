"""The unit of work: one transaction over every repository."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .accounts import LoginFailureRepository, RefreshTokenRepository, UserRepository
from .api_keys import ApiKeyRepository
from .billing import (
    BillingEventRepository,
    PaymentRepository,
    PlanRepository,
    RefundRepository,
    SubscriptionRepository,
)
from .compare import ComparisonRepository
from .library import CustomStyleRepository, TemplateRepository
from .mail import MailRequestRepository, Outbox
from .notifications import NotificationRepository
from .prompts import PromptRepository, StyleRepository
from .quota import QuotaLedger
from .sharing import SharedRecordRepository
from .teams import InvitationRepository, TeamRepository


class UnitOfWork(ABC):
    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    login_failures: LoginFailureRepository
    outbox: Outbox
    mail_requests: MailRequestRepository
    styles: StyleRepository
    prompts: PromptRepository
    quota: QuotaLedger
    plans: PlanRepository
    subscriptions: SubscriptionRepository
    payments: PaymentRepository
    refunds: RefundRepository
    billing_events: BillingEventRepository
    notifications: NotificationRepository
    templates: TemplateRepository
    custom_styles: CustomStyleRepository
    teams: TeamRepository
    invitations: InvitationRepository
    api_keys: ApiKeyRepository
    shared_records: SharedRecordRepository
    comparisons: ComparisonRepository

    def __enter__(self) -> "UnitOfWork":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.rollback()

    @abstractmethod
    def commit(self) -> None: ...
    @abstractmethod
    def rollback(self) -> None: ...
