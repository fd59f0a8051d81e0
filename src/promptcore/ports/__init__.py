"""The ports: what the core needs from the outside world, a module per capability. Adapters
implement them; tests/fakes.py holds in-memory versions of each."""

from __future__ import annotations

from .accounts import (
    AccessTokenCodec,
    DuplicateEmail,
    LoginFailureRepository,
    PasswordHasher,
    RefreshTokenRepository,
    RefreshTokenRow,
    SignedTokenCodec,
    UserRepository,
)
from .api_keys import ApiKeyRepository
from .billing import (
    BillingEventRepository,
    PaymentGateway,
    PaymentRepository,
    PlanRepository,
    ProviderPayment,
    ProviderRefund,
    RefundRecord,
    RefundRepository,
    SubscriptionRepository,
)
from .clock import Clock
from .compare import ComparisonRepository, PromptAnswerer
from .library import CustomStyleRepository, TemplateRepository
from .mail import Mailer, MailMessage, MailRequest, MailRequestRepository, MailTemplates, Outbox, OutboxItem
from .notifications import NotificationRepository
from .prompts import HistoryPage, PromptImprover, PromptRepository, StyleRepository
from .quota import GenerationSteps, QuotaLedger, Reserved
from .sharing import SharedRecordRepository
from .teams import InvitationRepository, TeamRepository
from .uow import UnitOfWork

__all__ = [
    "AccessTokenCodec",
    "ApiKeyRepository",
    "BillingEventRepository",
    "Clock",
    "ComparisonRepository",
    "CustomStyleRepository",
    "DuplicateEmail",
    "GenerationSteps",
    "HistoryPage",
    "InvitationRepository",
    "SharedRecordRepository",
    "LoginFailureRepository",
    "MailMessage",
    "MailRequest",
    "MailRequestRepository",
    "MailTemplates",
    "Mailer",
    "NotificationRepository",
    "Outbox",
    "OutboxItem",
    "PasswordHasher",
    "PaymentGateway",
    "PaymentRepository",
    "PlanRepository",
    "PromptAnswerer",
    "PromptImprover",
    "PromptRepository",
    "ProviderPayment",
    "ProviderRefund",
    "QuotaLedger",
    "Reserved",
    "RefreshTokenRepository",
    "RefreshTokenRow",
    "RefundRecord",
    "RefundRepository",
    "SignedTokenCodec",
    "StyleRepository",
    "SubscriptionRepository",
    "TeamRepository",
    "TemplateRepository",
    "UnitOfWork",
    "UserRepository",
]
