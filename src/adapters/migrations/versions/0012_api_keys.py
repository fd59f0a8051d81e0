"""Personal API keys (SPEC §15.1).

A key is stored as its SHA-256 (``key_hash``, unique) with the few characters shown in lists
(``prefix``); the raw key is never stored. Scopes are space-separated names. Keys go with their
user (ON DELETE CASCADE); a revoked key keeps its row with ``revoked_at``.

Revision ID: 0012_api_keys
Revises: 0011_team_library
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime

revision = "0012_api_keys"
down_revision = "0011_team_library"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime),
        sa.Column("last_used_at", UtcDateTime),
        sa.Column("revoked_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE", name="fk_api_keys_user_id_users"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.create_index("ix_api_keys_user_id", ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_user_id")
    op.drop_table("api_keys")
