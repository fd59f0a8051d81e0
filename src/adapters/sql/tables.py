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
    UniqueConstraint,
    false,
    func,
    literal_column,
    text,
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


def postgresql_only(table: Table, index: Index) -> Index:
    """Add to ``table`` an index that only PostgreSQL has (a pg_trgm GIN index: SQLite has no such
    kind). Its migration builds it on PostgreSQL alone; ``metadata.create_all`` skips it elsewhere,
    and so does the comparison of these tables with a migrated database
    (adapters.migrations.include_object). Added explicitly: an index on an expression of several
    columns does not find its table by itself."""
    index.info["only_dialect"] = "postgresql"
    table.append_constraint(index.ddl_if(dialect="postgresql"))
    return index


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
    Column("daily_limit", Integer),  # an administrator's override; NULL follows the plan or the default
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
    # "generation" (made here) or "import" (read from an export file, SPEC §13.4)
    Column("source", String(16), nullable=False, server_default="generation"),
    Index("ix_prompt_requests_user_created", "user_id", "created_at", "id"),
    Index("ix_prompt_requests_user_style_created", "user_id", "style", "created_at", "id"),
    # the iterations of a record, for ON DELETE SET NULL (only iterations have a parent)
    Index("ix_prompt_requests_parent", "parent_id", postgresql_where=text("parent_id IS NOT NULL"),
          sqlite_where=text("parent_id IS NOT NULL")),
)

# What history search looks in, as one text (migration 0014): the original and the improved
# prompt, each lowered, joined by U+0001. Words found in it that do not hold U+0001 lie within one
# of the two, so on PostgreSQL the search asks this text alone, and its trigram index answers.
HISTORY_SEARCH_SEPARATOR = "\x01"
history_search_text = (func.lower(prompt_requests.c.original_prompt).concat(literal_column("E'\\x01'"))
                       .concat(func.lower(func.coalesce(prompt_requests.c.generated_prompt, literal_column("''")))))
postgresql_only(prompt_requests, Index("ix_prompt_requests_search_trgm", history_search_text.label("search_text"),
                                       postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"}))

# The quota ledger: one row per unit spent against a user's daily limit (SPEC §6.5). Pending while
# its spender runs, kept when it succeeded; a released unit is deleted. ``source_kind`` and
# ``source_id`` name the spender (a generation and its prompt_requests row, for now).
quota_units = Table(
    "quota_units",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("source_kind", String(32), nullable=False),
    Column("source_id", Id),
    # The team whose pool the unit was drawn from (SPEC §14); NULL: the user's own limit.
    Column("team_id", Id, ForeignKey("teams.id", ondelete="CASCADE")),
    # The usage queries: a user's newest units since the window start, personal (team_id IS NULL)
    # or drawn from one team's pool, read from the index alone (migration 0014).
    Index("ix_quota_units_user_team_created", "user_id", "team_id", "created_at", "status"),
    Index("ix_quota_units_team_created", "team_id", "created_at", "status"),
)

usage_counters = Table(
    "usage_counters",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("style", String(32), primary_key=True),
    Column("count", Integer, nullable=False),
)

# Notifications sent to a user at most once per period (SPEC §12.7): the unique key is what keeps
# racing requests from sending a second one (period keys: promptcore/domain/notifications.py).
notifications_sent = Table(
    "notifications_sent",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("period_key", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("user_id", "kind", "period_key"),
    # The newest of a user's notifications of a kind.
    Index("ix_notifications_sent_user_kind_created", "user_id", "kind", "created_at"),
    sqlite_autoincrement=True,
)


# -- billing (SPEC §12) -------------------------------------------------------------------------
# Money is integer minor units (kopecks) plus a currency code; never a float.

plans = Table(
    "plans",
    metadata,
    Column("slug", String(32), primary_key=True),
    Column("title_ru", String(64), nullable=False),
    Column("title_en", String(64), nullable=False),
    Column("daily_limit", Integer, nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period_days", Integer, nullable=False),
    Column("is_public", Boolean, nullable=False),
    Column("is_team", Boolean, nullable=False),
)

# One per owner (a user, or a team later): owner_id names a users row or a teams row, so there is
# no foreign key; the billing use cases treat a missing owner as gone.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner_kind", String(8), nullable=False),
    Column("owner_id", Id, nullable=False),
    Column("plan_slug", String(32), ForeignKey("plans.slug"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("period_start", UtcDateTime, nullable=False),
    Column("period_end", UtcDateTime, nullable=False),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("payment_method_id", String(64)),
    Column("payment_method_title", String(100)),
    Column("grace_until", UtcDateTime),
    Column("renewal_attempt", Integer, nullable=False),
    Column("next_renewal_at", UtcDateTime),
    Column("granted", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("owner_kind", "owner_id"),
    Index("ix_subscriptions_status_period_end", "status", "period_end"),
)

# Payments stay when the paying account is deleted (they are the shop's accounting records), so
# user_id is a plain column, not a foreign key.
payments = Table(
    "payments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner_kind", String(8), nullable=False),
    Column("owner_id", Id, nullable=False),
    Column("user_id", Id),
    Column("plan_slug", String(32), ForeignKey("plans.slug"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("idempotence_key", String(64), nullable=False, unique=True),
    Column("status", String(32), nullable=False),
    Column("provider_id", String(64), unique=True),
    Column("confirmation_url", String(2048)),
    Column("cancellation_reason", String(64)),
    Column("canceled_by_us", Boolean, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("save_method", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_payments_owner", "owner_kind", "owner_id", "id"),
    Index("ix_payments_user_status", "user_id", "status"),
    Index("ix_payments_status_created", "status", "created_at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("payment_id", Id, ForeignKey("payments.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("provider_id", String(64), unique=True),
    Column("idempotence_key", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Every provider notification applied (and every once-only billing mail), under a unique key: the
# provider's event, the object's id and the status it was fetched in. A duplicate changes nothing.
billing_events = Table(
    "billing_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_key", String(200), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)


# -- the library (SPEC §13) ---------------------------------------------------------------------
# A title is unique per owner regardless of case: ``title_key`` is the title casefolded, written
# by the repositories only. It is three times as long as the title because casefolding can
# lengthen a text ("ß" becomes "ss"). Built-in quick templates have no owner (NULL never equals
# NULL, so their titles never conflict) and a (builtin, language) key; adapters/sql/library_sync.py
# keeps them equal to promptcore.domain.quick_templates.QUICK_TEMPLATES.

templates = Table(
    "templates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner_id", Id, ForeignKey("users.id", ondelete="CASCADE")),
    Column("builtin", String(64)),
    Column("language", String(8)),
    Column("position", Integer, nullable=False, server_default="0"),
    Column("title", String(200), nullable=False),
    Column("title_key", String(600), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("body", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("favourite", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # A team's template (SPEC §14) has no owner; it goes with its team. Its author may go first.
    Column("team_id", Id, ForeignKey("teams.id", ondelete="CASCADE")),
    Column("author_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    UniqueConstraint("owner_id", "title_key"),
    UniqueConstraint("team_id", "title_key"),
    UniqueConstraint("builtin", "language"),
    # An owner's templates, most recently changed first (the library's list and its cursor).
    Index("ix_templates_owner_updated", "owner_id", "updated_at", "id"),
    Index("ix_templates_team_updated", "team_id", "updated_at", "id"),
    sqlite_autoincrement=True,
)

template_versions = Table(
    "template_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("template_id", Id, ForeignKey("templates.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("body", Text, nullable=False),
    # A version outlives its author's account (a team's template, later): the author becomes unknown.
    Column("author_id", Id, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("note", String(200)),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("template_id", "number"),
)

template_tags = Table(
    "template_tags",
    metadata,
    Column("template_id", Id, ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(32), primary_key=True),
    Index("ix_template_tags_tag", "tag"),
)

# The unique (owner_id, title_key) also serves every lookup by owner.
custom_styles = Table(
    "custom_styles",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner_id", Id, ForeignKey("users.id", ondelete="CASCADE")),
    Column("title", String(100), nullable=False),
    Column("title_key", String(300), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("instructions", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # A team's style (SPEC §14), like a team's template: no owner, its team, its author.
    Column("team_id", Id, ForeignKey("teams.id", ondelete="CASCADE")),
    Column("author_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    UniqueConstraint("owner_id", "title_key"),
    UniqueConstraint("team_id", "title_key"),
    sqlite_autoincrement=True,
)


# -- teams (SPEC §14) ---------------------------------------------------------------------------
# A deleted user's memberships go with them; a team whose last owner was deleted stays, ownerless
# (an administrator sees it in the admin list). Invitation addresses are stored lower-cased; only
# the SHA-256 of an invitation token is stored.

teams = Table(
    "teams",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("created_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", Id, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("role", String(16), nullable=False),
    Column("daily_cap", Integer),
    Column("joined_at", UtcDateTime, nullable=False),
)

team_invitations = Table(
    "team_invitations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("team_id", Id, ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(254), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("invited_by", Id, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("accepted_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Index("ix_team_invitations_team_email", "team_id", "email"),
    sqlite_autoincrement=True,
)

# A history record shared with a team (SPEC §14): at most one team per record; the record stays
# its author's (and goes with their account), the team's feed reads it newest share first.
shared_records = Table(
    "shared_records",
    metadata,
    Column("record_id", Id, ForeignKey("prompt_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", Id, ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
    Column("shared_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("shared_at", UtcDateTime, nullable=False),
    Index("ix_shared_records_team_shared", "team_id", "shared_at", "record_id"),
)

# Try it (SPEC §15.3): the latest comparison of a record — side ``a`` answered the original prompt,
# side ``b`` the improved one, both on ``model``, with the optional extra ``input`` appended. It goes
# with its record (ON DELETE CASCADE) and is deleted when the record's texts are erased.
prompt_comparisons = Table(
    "prompt_comparisons",
    metadata,
    Column("record_id", Id, ForeignKey("prompt_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("input", Text),
    *(column for side in ("a", "b") for column in (
        Column(f"{side}_status", String(16), nullable=False),
        Column(f"{side}_text", Text, nullable=False),
        Column(f"{side}_model", String(200)),
        Column(f"{side}_error", String(64)),
        Column(f"{side}_latency_ms", Integer),
        Column(f"{side}_usage", JSON),
    )),
    Column("created_at", UtcDateTime, nullable=False),
)

# Personal API keys (SPEC §15.1): only a key's SHA-256 is stored (unique), with the few characters
# shown in lists; scopes are space-separated names. Keys go with their user; a revoked key keeps its
# row (revoked_at) and never works again.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    sqlite_autoincrement=True,
)
