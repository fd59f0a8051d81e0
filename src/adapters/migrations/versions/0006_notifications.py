"""Notifications sent (SPEC §12.7): at most one limit e-mail per user per 24 hours.

``notifications_sent`` records each notification with a period key; the unique (user_id, kind,
period_key) lets exactly one of several racing requests insert it, and only that one queues the
e-mail (promptcore/domain/notifications.py explains the keys). Rows go with their user.

Revision ID: 0006_notifications
Revises: 0005_quota_ledger
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime

revision = "0006_notifications"
down_revision = "0005_quota_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications_sent",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE",
                                               name="fk_notifications_sent_user_id_users"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("period_key", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications_sent"),
        sa.UniqueConstraint("user_id", "kind", "period_key",
                            name="uq_notifications_sent_user_id_kind_period_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notifications_sent_user_kind_created", "notifications_sent",
                    ["user_id", "kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_sent_user_kind_created", "notifications_sent")
    op.drop_table("notifications_sent")
