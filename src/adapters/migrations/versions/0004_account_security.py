"""Account security: security stamp and session generation, ids never reused, mail requests,
outbox message kinds.

Revision ID: 0004_account_security
Revises: 0003_styles_and_usage
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime

revision = "0004_account_security"
down_revision = "0003_styles_and_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite the table is rebuilt with AUTOINCREMENT so a deleted account's id is never given
    # to the next registration (env.py turns foreign keys off around the rebuild, so dropping
    # the old table does not cascade).
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("users", recreate="always" if sqlite else "auto",
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("security_stamp", sa.String(32)))
        batch.add_column(sa.Column("session_generation", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("kind", sa.String(32)))
    op.create_index("ix_outbox_to_kind_created", "outbox", ["to_addr", "kind", "created_at"])
    op.create_table(
        "mail_requests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("locked_until", UtcDateTime),
        sa.Column("done_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_mail_requests"),
    )
    op.create_index("ix_mail_requests_open", "mail_requests", ["done_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_mail_requests_open", "mail_requests")
    op.drop_table("mail_requests")
    op.drop_index("ix_outbox_to_kind_created", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
        batch.drop_column("security_stamp")
