"""Try it (SPEC §15.3): the comparison of a record's original and improved prompt.

``prompt_comparisons`` keeps the latest comparison of a record, one row per record: the model, the
optional extra input, and for each side (``a``: the original prompt's answer, ``b``: the improved
prompt's) its status, text, model, error, latency and usage. It goes with its record.

Revision ID: 0013_compare
Revises: 0012_api_keys
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime

revision = "0013_compare"
down_revision = "0012_api_keys"
branch_labels = None
depends_on = None

SIDES = ("a", "b")


def _side_columns(side: str) -> list[sa.Column]:
    return [
        sa.Column(f"{side}_status", sa.String(16), nullable=False),
        sa.Column(f"{side}_text", sa.Text, nullable=False),
        sa.Column(f"{side}_model", sa.String(200)),
        sa.Column(f"{side}_error", sa.String(64)),
        sa.Column(f"{side}_latency_ms", sa.Integer),
        sa.Column(f"{side}_usage", sa.JSON),
    ]


def upgrade() -> None:
    op.create_table(
        "prompt_comparisons",
        sa.Column("record_id", Id, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("input", sa.Text),
        *(column for side in SIDES for column in _side_columns(side)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_prompt_comparisons"),
        sa.ForeignKeyConstraint(["record_id"], ["prompt_requests.id"], ondelete="CASCADE",
                                name="fk_prompt_comparisons_record_id_prompt_requests"),
    )


def downgrade() -> None:
    op.drop_table("prompt_comparisons")  # a new table: no batch (table copy) needed on SQLite either
