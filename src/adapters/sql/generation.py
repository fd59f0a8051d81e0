"""A generation's two writes on PostgreSQL, one round trip each: migration 0015's functions,
called outside any transaction (autocommit: the call is its own transaction, no BEGIN or COMMIT
to wait for). A database that has gone away is ServiceUnavailable, as in SqlUnitOfWork, and the
pool drops its connections (SQLAlchemy invalidates the pool on a disconnect), so requests are
served again once the database is back."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from promptcore.domain.access import UncheckedToken
from promptcore.domain.errors import ServiceUnavailable
from promptcore.domain.prompts import PromptRecord
from promptcore.ports import GenerationSteps, Reserved

from .uow import is_outage

RESERVE = ("SELECT outcome, quota_limit, used, oldest, record_id, unit_id FROM promptcore_reserve_generation("
           "%(user_id)s, %(team_id)s, %(now)s, %(since)s, %(stale_before)s, %(default_limit)s, %(original)s, "
           "%(style)s, %(model)s, %(parent_id)s, %(feedback)s, %(source)s, %(token_issued_at)s, %(token_generation)s)")
FINISH = ("SELECT promptcore_finish_generation(%(record_id)s, %(unit_id)s, %(status)s, %(generated)s, %(model)s, "
          "%(latency_ms)s, %(usage)s::json, %(error)s, %(user_id)s, %(day)s, %(style)s)")


class PgGenerationSteps(GenerationSteps):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def _one(self, sql: str, params: dict[str, Any]) -> Any:
        try:
            with self._engine.connect() as conn:
                return conn.exec_driver_sql(sql, params).first()
        except DBAPIError as exc:
            if is_outage(exc):
                raise ServiceUnavailable() from exc
            raise

    def reserve(self, user_id: int, team_id: int | None, record: PromptRecord, now: datetime, since: datetime,
                stale_before: datetime, default_limit: int, token: UncheckedToken | None = None
                ) -> Reserved | None:
        row = self._one(RESERVE, {
            "user_id": user_id, "team_id": team_id, "now": now, "since": since, "stale_before": stale_before,
            "default_limit": default_limit, "original": record.original_prompt, "style": record.style,
            "model": record.model, "parent_id": record.parent_id, "feedback": record.feedback,
            "source": record.source,
            "token_issued_at": float(token.issued_at) if token is not None else None,
            "token_generation": token.generation if token is not None else None,
        })
        if row is None or row.outcome != "reserved":
            return None
        oldest = row.oldest.astimezone(timezone.utc) if row.oldest is not None else None
        return Reserved(int(row.quota_limit), int(row.used), oldest, int(row.record_id), int(row.unit_id))

    def finish(self, record: PromptRecord, unit_id: int) -> None:
        assert record.created_at is not None, "a reserved record has its creation time"
        self._one(FINISH, {
            "record_id": record.id, "unit_id": unit_id, "status": record.status.value,
            "generated": record.generated_prompt, "model": record.model, "latency_ms": record.latency_ms,
            "usage": json.dumps(record.usage) if record.usage is not None else None, "error": record.error,
            "user_id": record.user_id, "day": record.created_at.astimezone(timezone.utc).date(),
            "style": record.style,
        })


def generation_steps(engine: Engine) -> GenerationSteps | None:
    """The one-step writes where the database has them (PostgreSQL); None elsewhere."""
    return PgGenerationSteps(engine) if engine.dialect.name == "postgresql" else None

