"""Style catalogue seed, usage counters for stats, history index by style.

Revision ID: 0003_styles_and_usage
Revises: 0002_prompts
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id
from promptcore.domain.catalogue import STYLES

revision = "0003_styles_and_usage"
down_revision = "0002_prompts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE",
                                               name="fk_usage_counters_user_id_users"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("style", sa.String(32), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", "style", name="pk_usage_counters"),
    )
    op.create_index("ix_prompt_requests_user_style_created", "prompt_requests",
                    ["user_id", "style", "created_at", "id"])
    styles = sa.table(
        "prompt_styles",
        sa.column("slug", sa.String), sa.column("position", sa.Integer),
        sa.column("title_en", sa.String), sa.column("title_ru", sa.String),
        sa.column("description_en", sa.Text), sa.column("description_ru", sa.Text),
        sa.column("instructions", sa.Text),
    )
    op.bulk_insert(styles, [
        {"slug": s.slug, "position": s.position, "title_en": s.title["en"], "title_ru": s.title["ru"],
         "description_en": s.description["en"], "description_ru": s.description["ru"],
         "instructions": s.instructions}
        for s in STYLES
    ])


def downgrade() -> None:
    op.execute("DELETE FROM prompt_styles")
    op.drop_index("ix_prompt_requests_user_style_created", "prompt_requests")
    op.drop_table("usage_counters")
