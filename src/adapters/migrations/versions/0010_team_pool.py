"""Team pools (SPEC §14): a unit of the quota ledger may be drawn from a team's pooled limit.

``quota_units.team_id`` names the team whose pool a unit was drawn from (NULL: the user's own
limit); the units go with their team. The pool's usage is read from its own index.

Revision ID: 0010_team_pool
Revises: 0009_teams
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id

revision = "0010_team_pool"
down_revision = "0009_teams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quota_units") as batch:
        batch.add_column(sa.Column("team_id", Id))
        batch.create_foreign_key("fk_quota_units_team_id_teams", "teams", ["team_id"], ["id"], ondelete="CASCADE")
        batch.create_index("ix_quota_units_team_created", ["team_id", "created_at", "status"])


def downgrade() -> None:
    with op.batch_alter_table("quota_units") as batch:
        batch.drop_index("ix_quota_units_team_created")
        batch.drop_constraint("fk_quota_units_team_id_teams", type_="foreignkey")
        batch.drop_column("team_id")
