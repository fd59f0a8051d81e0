"""The shared library (SPEC §14): templates and custom styles of a team, records shared with a team.

A team's template or style has no owner but a ``team_id`` (it goes with the team) and an
``author_id`` (who made it; NULL once their account is gone). Titles are unique per team as they
are per owner. ``shared_records`` holds which record is shared with which team.

Revision ID: 0011_team_library
Revises: 0010_team_pool
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime

revision = "0011_team_library"
down_revision = "0010_team_pool"
branch_labels = None
depends_on = None


def _team_columns(table: str) -> None:
    with op.batch_alter_table(table) as batch:
        if table == "custom_styles":
            batch.alter_column("owner_id", existing_type=Id, nullable=True)
        batch.add_column(sa.Column("team_id", Id))
        batch.add_column(sa.Column("author_id", Id))
        batch.create_foreign_key(f"fk_{table}_team_id_teams", "teams", ["team_id"], ["id"], ondelete="CASCADE")
        batch.create_foreign_key(f"fk_{table}_author_id_users", "users", ["author_id"], ["id"], ondelete="SET NULL")
        batch.create_unique_constraint(f"uq_{table}_team_id_title_key", ["team_id", "title_key"])
    # what was made before teams was made by its owner
    op.execute(f"UPDATE {table} SET author_id = owner_id WHERE owner_id IS NOT NULL")


def _drop_team_columns(table: str) -> None:
    op.execute(f"DELETE FROM {table} WHERE team_id IS NOT NULL")
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(f"uq_{table}_team_id_title_key", type_="unique")
        batch.drop_constraint(f"fk_{table}_author_id_users", type_="foreignkey")
        batch.drop_constraint(f"fk_{table}_team_id_teams", type_="foreignkey")
        batch.drop_column("author_id")
        batch.drop_column("team_id")
        if table == "custom_styles":
            batch.alter_column("owner_id", existing_type=Id, nullable=False)


def upgrade() -> None:
    _team_columns("templates")
    op.create_index("ix_templates_team_updated", "templates", ["team_id", "updated_at", "id"])
    _team_columns("custom_styles")
    op.create_table(
        "shared_records",
        sa.Column("record_id", Id, nullable=False),
        sa.Column("team_id", Id, nullable=False),
        sa.Column("shared_by", Id),
        sa.Column("shared_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_shared_records"),
        sa.ForeignKeyConstraint(["record_id"], ["prompt_requests.id"], ondelete="CASCADE",
                                name="fk_shared_records_record_id_prompt_requests"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE", name="fk_shared_records_team_id_teams"),
        sa.ForeignKeyConstraint(["shared_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_shared_records_shared_by_users"),
    )
    op.create_index("ix_shared_records_team_shared", "shared_records", ["team_id", "shared_at", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_shared_records_team_shared", table_name="shared_records")
    op.drop_table("shared_records")
    _drop_team_columns("custom_styles")
    op.drop_index("ix_templates_team_updated", table_name="templates")
    _drop_team_columns("templates")
