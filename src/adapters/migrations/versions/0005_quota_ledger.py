"""The quota ledger and the per-user limit as an override.

``users.daily_limit`` becomes nullable: NULL means "no override" (the user follows their plan, or
PROMPTCORE_DAILY_LIMIT). Until now registration copied the default into every row, so a value
equal to the default at migration time is taken for such a copy and cleared; any other value is an
administrator's explicit override and stays. (An override that an administrator set to exactly the
default cannot be told from a copy; it becomes "follow the default", which gives the same limit
until the default changes.) The default is read from PROMPTCORE_DAILY_LIMIT in the environment of
the process that migrates (``promptcore db upgrade`` reads ``.env`` first), else 3.

``quota_units`` is the ledger: each unit a user spends. It is filled from today's counting
history rows (succeeded ones, and pending ones, deleted ones included) so that nobody's quota
changes at deploy.

Revision ID: 0005_quota_ledger
Revises: 0004_account_security
"""
import os

import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime

revision = "0005_quota_ledger"
down_revision = "0004_account_security"
branch_labels = None
depends_on = None


def _default_limit() -> int:
    raw = os.environ.get("PROMPTCORE_DAILY_LIMIT", "").strip()
    return int(raw) if raw else 3


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # On SQLite the rebuilt table must keep AUTOINCREMENT (0004): ids are never reused.
    with op.batch_alter_table("users", recreate="always" if sqlite else "auto",
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("daily_limit", existing_type=sa.Integer, nullable=True)
    op.execute(sa.text("UPDATE users SET daily_limit = NULL WHERE daily_limit = :default")
               .bindparams(default=_default_limit()))

    op.create_table(
        "quota_units",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE",
                                               name="fk_quota_units_user_id_users"), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_kind", sa.String(32), nullable=False),
        sa.Column("source_id", Id),
        sa.PrimaryKeyConstraint("id", name="pk_quota_units"),
    )
    op.create_index("ix_quota_units_user_created", "quota_units", ["user_id", "created_at", "status"])
    op.execute(
        "INSERT INTO quota_units (user_id, created_at, status, source_kind, source_id) "
        "SELECT user_id, created_at, CASE WHEN status = 'succeeded' THEN 'kept' ELSE 'pending' END, "
        "'generation', id FROM prompt_requests WHERE status IN ('succeeded', 'pending') ORDER BY id"
    )


def downgrade() -> None:
    op.drop_index("ix_quota_units_user_created", "quota_units")
    op.drop_table("quota_units")
    op.execute(sa.text("UPDATE users SET daily_limit = :default WHERE daily_limit IS NULL")
               .bindparams(default=_default_limit()))
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("users", recreate="always" if sqlite else "auto",
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("daily_limit", existing_type=sa.Integer, nullable=False)
