"""Teams (SPEC §14): teams, their members with roles and e-mail invitations.

A membership goes with its team or its user (ON DELETE CASCADE); a team outlives its creator
(``created_by`` is emptied), and an invitation its inviter. An invitation's address is stored
lower-cased and its token only as a SHA-256 (``token_hash``, unique).

Revision ID: 0009_teams
Revises: 0008_library
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime

revision = "0009_teams"
down_revision = "0008_library"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_by", Id),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL", name="fk_teams_created_by_users"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_teams_created_by", "teams", ["created_by"])

    op.create_table(
        "team_members",
        sa.Column("team_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("daily_cap", sa.Integer),
        sa.Column("joined_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_team_members"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE", name="fk_team_members_team_id_teams"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE", name="fk_team_members_user_id_users"),
    )
    op.create_index("ix_team_members_user_id", "team_members", ["user_id"])

    op.create_table(
        "team_invitations",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("team_id", Id, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("invited_by", Id),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("accepted_at", UtcDateTime),
        sa.Column("revoked_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_team_invitations"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE",
                                name="fk_team_invitations_team_id_teams"),
        sa.ForeignKeyConstraint(["invited_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_team_invitations_invited_by_users"),
        sa.UniqueConstraint("token_hash", name="uq_team_invitations_token_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_team_invitations_team_email", "team_invitations", ["team_id", "email"])
    op.create_index("ix_team_invitations_invited_by", "team_invitations", ["invited_by"])


def downgrade() -> None:
    op.drop_index("ix_team_invitations_invited_by", "team_invitations")
    op.drop_index("ix_team_invitations_team_email", "team_invitations")
    op.drop_table("team_invitations")
    op.drop_index("ix_team_members_user_id", "team_members")
    op.drop_table("team_members")
    op.drop_index("ix_teams_created_by", "teams")
    op.drop_table("teams")
