"""Prompts: style catalogue and prompt requests.

Revision ID: 0002_prompts
Revises: 0001_accounts
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime

revision = "0002_prompts"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt_styles",
        sa.Column("slug", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title_en", sa.String(100), nullable=False),
        sa.Column("title_ru", sa.String(100), nullable=False),
        sa.Column("description_en", sa.Text, nullable=False),
        sa.Column("description_ru", sa.Text, nullable=False),
        sa.Column("instructions", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("slug", name="pk_prompt_styles"),
    )
    op.create_table(
        "prompt_requests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE",
                                               name="fk_prompt_requests_user_id_users"), nullable=False),
        sa.Column("original_prompt", sa.Text, nullable=False),
        sa.Column("style", sa.String(32), nullable=False),
        sa.Column("generated_prompt", sa.Text),
        sa.Column("model", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parent_id", Id, sa.ForeignKey("prompt_requests.id", ondelete="SET NULL",
                                                 name="fk_prompt_requests_parent_id_prompt_requests")),
        sa.Column("feedback", sa.Text),
        sa.Column("latency_ms", sa.Integer),
        sa.Column("usage", sa.JSON),
        sa.Column("error", sa.String(64)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("deleted_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_prompt_requests"),
    )
    op.create_index("ix_prompt_requests_user_created", "prompt_requests", ["user_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_table("prompt_requests")
    op.drop_table("prompt_styles")
