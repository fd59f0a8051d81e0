"""The SQL unit of work: one connection and one transaction per ``with`` block."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from promptcore.domain.errors import ServiceUnavailable
from promptcore.ports import UnitOfWork

from .engine import mark_read_only, mark_single_statement
from .repositories import (
    SqlApiKeyRepository,
    SqlBillingEventRepository,
    SqlComparisonRepository,
    SqlCustomStyleRepository,
    SqlInvitationRepository,
    SqlLoginFailureRepository,
    SqlMailRequestRepository,
    SqlNotificationRepository,
    SqlOutbox,
    SqlPaymentRepository,
    SqlPlanRepository,
    SqlPromptRepository,
    SqlQuotaLedger,
    SqlRefreshTokenRepository,
    SqlRefundRepository,
    SqlSharedRecordRepository,
    SqlStyleRepository,
    SqlSubscriptionRepository,
    SqlTeamRepository,
    SqlTemplateRepository,
    SqlUserRepository,
)


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class SqlUnitOfWork(UnitOfWork):
    """``read_only=True``: a unit that only reads (see engine.mark_read_only); it cannot commit.
    ``single_statement=True`` (read-only too): a unit that runs one statement, outside any
    transaction on PostgreSQL (engine.mark_single_statement), one round trip in all."""

    def __init__(self, engine: Engine, read_only: bool = False, single_statement: bool = False) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._committed = False
        self.read_only = read_only or single_statement
        self._single = single_statement

    def _connect(self) -> Connection:
        conn = self._engine.connect()
        if self._single and conn.dialect.name == "postgresql":
            return mark_single_statement(conn)
        return mark_read_only(conn) if self.read_only else conn

    def __enter__(self) -> "SqlUnitOfWork":
        try:
            conn = self._connect()
        except DBAPIError as exc:
            if is_outage(exc):
                raise ServiceUnavailable() from exc
            raise
        self._conn = conn
        self.users = SqlUserRepository(conn)
        self.refresh_tokens = SqlRefreshTokenRepository(conn)
        self.login_failures = SqlLoginFailureRepository(conn)
        self.outbox = SqlOutbox(conn)
        self.mail_requests = SqlMailRequestRepository(conn)
        self.styles = SqlStyleRepository(conn)
        self.prompts = SqlPromptRepository(conn)
        self.quota = SqlQuotaLedger(conn)
        self.plans = SqlPlanRepository(conn)
        self.subscriptions = SqlSubscriptionRepository(conn)
        self.payments = SqlPaymentRepository(conn)
        self.refunds = SqlRefundRepository(conn)
        self.billing_events = SqlBillingEventRepository(conn)
        self.notifications = SqlNotificationRepository(conn)
        self.templates = SqlTemplateRepository(conn)
        self.custom_styles = SqlCustomStyleRepository(conn)
        self.teams = SqlTeamRepository(conn)
        self.invitations = SqlInvitationRepository(conn)
        self.api_keys = SqlApiKeyRepository(conn)
        self.comparisons = SqlComparisonRepository(conn)
        self.shared_records = SqlSharedRecordRepository(conn)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        except DBAPIError:
            pass
        finally:
            conn.close()
        if exc is not None and isinstance(exc, DBAPIError) and is_outage(exc):
            raise ServiceUnavailable() from exc

    def commit(self) -> None:
        assert self._conn is not None, "commit outside a with block"
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        try:
            self._conn.commit()
        except DBAPIError as exc:
            if is_outage(exc):
                raise ServiceUnavailable() from exc
            raise

    def rollback(self) -> None:
        if self._conn is not None and self._conn.in_transaction():
            self._conn.rollback()
