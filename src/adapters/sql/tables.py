"""Table definitions. Schema changes go through Alembic migrations in adapters/migrations."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("name", String(100)),
    Column("is_email_confirmed", Boolean, nullable=False, default=False),
    Column("role", String(16), nullable=False, default="user"),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("daily_limit", Integer, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("security_stamp", String(32)),
    Column("session_generation", Integer, nullable=False, server_default="0"),
    # Ids are never reused (SQLite would reuse the highest one after a deletion otherwise).
    sqlite_autoincrement=True,
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("family_id", String(32), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_key", String(64), nullable=False),
    Column("failed_at", UtcDateTime, nullable=False),
    Index("ix_login_failures_key_at", "account_key", "failed_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("to_addr", String(254), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
    Column("sent_at", UtcDateTime),
    Column("last_error", String(500)),
    Column("kind", String(32)),
    Index("ix_outbox_due", "sent_at", "next_attempt_at"),
    Index("ix_outbox_to_kind_created", "to_addr", "kind", "created_at"),
)

mail_requests = Table(
    "mail_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("email", String(254), nullable=False),
    Column("language", String(8), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
    Column("done_at", UtcDateTime),
    Index("ix_mail_requests_open", "done_at", "id"),
)

prompt_styles = Table(
    "prompt_styles",
    metadata,
    Column("slug", String(32), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Column("title_en", String(100), nullable=False),
    Column("title_ru", String(100), nullable=False),
    Column("description_en", Text, nullable=False),
    Column("description_ru", Text, nullable=False),
    Column("instructions", Text, nullable=False),
)

prompt_requests = Table(
    "prompt_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("original_prompt", Text, nullable=False),
    Column("style", String(32), nullable=False),
    Column("generated_prompt", Text),
    Column("model", String(200)),
    Column("status", String(16), nullable=False),
    Column("parent_id", Id, ForeignKey("prompt_requests.id", ondelete="SET NULL")),
    Column("feedback", Text),
    Column("latency_ms", Integer),
    Column("usage", JSON),
    Column("error", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime),
    Index("ix_prompt_requests_user_created", "user_id", "created_at", "id"),
    Index("ix_prompt_requests_user_style_created", "user_id", "style", "created_at", "id"),
)

usage_counters = Table(
    "usage_counters",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("style", String(32), primary_key=True),
    Column("count", Integer, nullable=False),
)
