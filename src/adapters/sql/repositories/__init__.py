"""Repositories: SQL statements in, domain objects out, a module per capability. They never commit."""

from __future__ import annotations

from .accounts import SqlLoginFailureRepository, SqlRefreshTokenRepository, SqlUserRepository
from .api_keys import SqlApiKeyRepository
from .billing import (
    SqlBillingEventRepository,
    SqlPaymentRepository,
    SqlPlanRepository,
    SqlRefundRepository,
    SqlSubscriptionRepository,
)
from .compare import SqlComparisonRepository
from .library import SqlCustomStyleRepository, SqlTemplateRepository
from .mail import SqlMailRequestRepository, SqlOutbox
from .notifications import SqlNotificationRepository
from .prompts import DELETED_RECORD_BLANKS, SqlPromptRepository, SqlStyleRepository
from .quota import SqlQuotaLedger
from .sharing import SqlSharedRecordRepository
from .teams import SqlInvitationRepository, SqlTeamRepository

__all__ = [
    "SqlApiKeyRepository",
    "SqlBillingEventRepository",
    "SqlPaymentRepository",
    "SqlPlanRepository",
    "SqlRefundRepository",
    "SqlSubscriptionRepository",
    "SqlTemplateRepository",
    "DELETED_RECORD_BLANKS",
    "SqlComparisonRepository",
    "SqlCustomStyleRepository",
    "SqlInvitationRepository",
    "SqlSharedRecordRepository",
    "SqlLoginFailureRepository",
    "SqlMailRequestRepository",
    "SqlNotificationRepository",
    "SqlOutbox",
    "SqlPromptRepository",
    "SqlQuotaLedger",
    "SqlRefreshTokenRepository",
    "SqlStyleRepository",
    "SqlTeamRepository",
    "SqlUserRepository",
]
