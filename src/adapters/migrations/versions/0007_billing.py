"""Billing (SPEC §12): plans, subscriptions, payments, refunds and billing events.

``plans`` is seeded with ``domain.billing.SEED_PLANS`` as they are at this revision (free, pro,
team); later changes go through ``promptcore plans set``. Money is integer minor units plus a
currency code.

Revision ID: 0007_billing
Revises: 0006_notifications
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime

revision = "0007_billing"
down_revision = "0006_notifications"
branch_labels = None
depends_on = None

# The seed, written out so that this revision always inserts the same rows.
SEED = [
    dict(slug="free", title_ru="Бесплатный", title_en="Free", daily_limit=3, price_minor=0, currency="RUB",
         period_days=30, is_public=True, is_team=False),
    dict(slug="pro", title_ru="Про", title_en="Pro", daily_limit=100, price_minor=490_00, currency="RUB",
         period_days=30, is_public=True, is_team=False),
    dict(slug="team", title_ru="Команда", title_en="Team", daily_limit=500, price_minor=1_990_00, currency="RUB",
         period_days=30, is_public=True, is_team=True),
]


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("slug", sa.String(32), nullable=False),
        sa.Column("title_ru", sa.String(64), nullable=False),
        sa.Column("title_en", sa.String(64), nullable=False),
        sa.Column("daily_limit", sa.Integer, nullable=False),
        sa.Column("price_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("period_days", sa.Integer, nullable=False),
        sa.Column("is_public", sa.Boolean, nullable=False),
        sa.Column("is_team", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("slug", name="pk_plans"),
    )
    op.bulk_insert(plans, SEED)

    op.create_table(
        "subscriptions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("owner_kind", sa.String(8), nullable=False),
        sa.Column("owner_id", Id, nullable=False),
        sa.Column("plan_slug", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("period_start", UtcDateTime, nullable=False),
        sa.Column("period_end", UtcDateTime, nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False),
        sa.Column("payment_method_id", sa.String(64)),
        sa.Column("payment_method_title", sa.String(100)),
        sa.Column("grace_until", UtcDateTime),
        sa.Column("renewal_attempt", sa.Integer, nullable=False),
        sa.Column("next_renewal_at", UtcDateTime),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(["plan_slug"], ["plans.slug"], name="fk_subscriptions_plan_slug_plans"),
        sa.UniqueConstraint("owner_kind", "owner_id", name="uq_subscriptions_owner_kind_owner_id"),
    )
    op.create_index("ix_subscriptions_status_period_end", "subscriptions", ["status", "period_end"])

    op.create_table(
        "payments",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("owner_kind", sa.String(8), nullable=False),
        sa.Column("owner_id", Id, nullable=False),
        sa.Column("user_id", Id),
        sa.Column("plan_slug", sa.String(32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("idempotence_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("provider_id", sa.String(64)),
        sa.Column("confirmation_url", sa.String(2048)),
        sa.Column("cancellation_reason", sa.String(64)),
        sa.Column("canceled_by_us", sa.Boolean, nullable=False),
        sa.Column("refunded_minor", sa.BigInteger, nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("save_method", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.ForeignKeyConstraint(["plan_slug"], ["plans.slug"], name="fk_payments_plan_slug_plans"),
        sa.UniqueConstraint("idempotence_key", name="uq_payments_idempotence_key"),
        sa.UniqueConstraint("provider_id", name="uq_payments_provider_id"),
    )
    op.create_index("ix_payments_owner", "payments", ["owner_kind", "owner_id", "id"])
    op.create_index("ix_payments_user_status", "payments", ["user_id", "status"])
    op.create_index("ix_payments_status_created", "payments", ["status", "created_at"])

    op.create_table(
        "refunds",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("payment_id", Id, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("provider_id", sa.String(64)),
        sa.Column("idempotence_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name="fk_refunds_payment_id_payments"),
        sa.UniqueConstraint("provider_id", name="uq_refunds_provider_id"),
        sa.UniqueConstraint("idempotence_key", name="uq_refunds_idempotence_key"),
    )
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])

    op.create_table(
        "billing_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billing_events"),
        sa.UniqueConstraint("event_key", name="uq_billing_events_event_key"),
    )


def downgrade() -> None:
    op.drop_table("billing_events")
    op.drop_index("ix_refunds_payment_id", "refunds")
    op.drop_table("refunds")
    for name in ("ix_payments_status_created", "ix_payments_user_status", "ix_payments_owner"):
        op.drop_index(name, "payments")
    op.drop_table("payments")
    op.drop_index("ix_subscriptions_status_period_end", "subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("plans")
