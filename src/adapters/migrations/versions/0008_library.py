"""The library (SPEC §13): templates with their versions and tags, custom styles, and the source
of a history record.

``templates`` holds every user's templates and the built-in quick templates (no owner, a
``builtin`` key and a language), seeded here from ``promptcore.domain.quick_templates`` as the code
has them when this revision runs; ``promptcore db upgrade`` keeps them equal to the code's
afterwards (adapters/sql/library_sync.py). A title is unique per owner regardless of case through
``title_key``, the casefolded title. ``prompt_requests.source`` tells records made here
("generation") from imported ones ("import").

Revision ID: 0008_library
Revises: 0007_billing
"""
import sqlalchemy as sa
from alembic import op

from adapters.sql.tables import Id, UtcDateTime
from promptcore.domain.clock import utcnow
from promptcore.domain.quick_templates import QUICK_TEMPLATES

revision = "0008_library"
down_revision = "0007_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prompt_requests") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="generation"))

    templates = op.create_table(
        "templates",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("owner_id", Id),
        sa.Column("builtin", sa.String(64)),
        sa.Column("language", sa.String(8)),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_key", sa.String(600), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("favourite", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE", name="fk_templates_owner_id_users"),
        sa.UniqueConstraint("owner_id", "title_key", name="uq_templates_owner_id_title_key"),
        sa.UniqueConstraint("builtin", "language", name="uq_templates_builtin_language"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_templates_owner_updated", "templates", ["owner_id", "updated_at", "id"])

    versions = op.create_table(
        "template_versions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("template_id", Id, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author_id", Id),
        sa.Column("note", sa.String(200)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_template_versions"),
        sa.ForeignKeyConstraint(["template_id"], ["templates.id"], ondelete="CASCADE",
                                name="fk_template_versions_template_id_templates"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_template_versions_author_id_users"),
        sa.UniqueConstraint("template_id", "number", name="uq_template_versions_template_id_number"),
    )
    op.create_index("ix_template_versions_author_id", "template_versions", ["author_id"])

    tags = op.create_table(
        "template_tags",
        sa.Column("template_id", Id, nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("template_id", "tag", name="pk_template_tags"),
        sa.ForeignKeyConstraint(["template_id"], ["templates.id"], ondelete="CASCADE",
                                name="fk_template_tags_template_id_templates"),
    )
    op.create_index("ix_template_tags_tag", "template_tags", ["tag"])

    op.create_table(
        "custom_styles",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("owner_id", Id, nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("title_key", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("instructions", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_custom_styles"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_custom_styles_owner_id_users"),
        sa.UniqueConstraint("owner_id", "title_key", name="uq_custom_styles_owner_id_title_key"),
        sqlite_autoincrement=True,
    )

    # The quick templates, each with its first version and its tags.
    bind = op.get_bind()
    now = utcnow()
    for quick in QUICK_TEMPLATES:
        template_id = bind.execute(templates.insert().values(
            owner_id=None, builtin=quick.key, language=quick.language, position=quick.position,
            title=quick.title, title_key=quick.title.casefold(), description=quick.description, body=quick.body,
            version=1, favourite=False, created_at=now, updated_at=now,
        )).inserted_primary_key[0]
        bind.execute(versions.insert().values(template_id=template_id, number=1, body=quick.body, author_id=None,
                                              note=None, created_at=now))
        for tag in sorted(set(quick.tags)):
            bind.execute(tags.insert().values(template_id=template_id, tag=tag))


def downgrade() -> None:
    op.drop_table("custom_styles")
    op.drop_index("ix_template_tags_tag", "template_tags")
    op.drop_table("template_tags")
    op.drop_index("ix_template_versions_author_id", "template_versions")
    op.drop_table("template_versions")
    op.drop_index("ix_templates_owner_updated", "templates")
    op.drop_table("templates")
    with op.batch_alter_table("prompt_requests") as batch:
        batch.drop_column("source")
