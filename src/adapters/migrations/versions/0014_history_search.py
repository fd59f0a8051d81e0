"""History search that scales (issue 15), and personal quota usage read from one index.

History search (``SqlPromptRepository.page`` with a query) keeps a user's records whose
``lower(original_prompt)`` or ``lower(generated_prompt)`` holds the words (LIKE '%words%'). With no
index for that, PostgreSQL read every record of the user when few matched: 350 ms for a user with
100 000 records against 10 ms for one with 100.

- PostgreSQL: the pg_trgm extension and one GIN trigram index on the text search looks in,
  ``lower(original_prompt) || E'\\x01' || lower(coalesce(generated_prompt, ''))``
  (tables.history_search_text). On PostgreSQL the search asks that one text for the words: words
  without U+0001 (every query but one holding that character, which is asked as before) found in
  it lie within one of the two texts, so the results are the same, and one index scan finds the
  candidates. (Asking both, the columns and the joined text, made the planner multiply their
  selectivities and take the index for words every eighth record holds: 80 ms instead of 8.) pg_trgm is a trusted
  extension (PostgreSQL 13+): a database owner without superuser rights may create it. For a
  query too short for trigrams (one or two letters), or one most records hold, the planner still
  reads ix_prompt_requests_user_created newest first and stops at the page's last match.
- SQLite: nothing. It has no trigram index (FTS5 would need a separate table kept in step by
  triggers and a query of another shape, with other results for parts of words); the search
  stays a scan of the user's own records through ix_prompt_requests_user_created, newest first.

The index costs writes: a generation (its record inserted, then updated with the answer) spent
about 0.2 ms more of PostgreSQL's time with it, measured; GIN's pending list (fastupdate, on by
default) keeps that small and is merged now and then by the write that fills it, or by autovacuum.

Personal quota usage (``SqlQuotaLedger.usage``) counts a user's units with ``team_id IS NULL``;
ix_quota_units_user_created (user_id, created_at, status) could not tell personal units from the
team-pool units the same user draws, so a member who spends a team's pool had every pool unit of
the window read from the table and thrown away. ix_quota_units_user_team_created (user_id,
team_id, created_at, status) replaces it: the condition on team_id is in the index (IS NULL for
personal usage, = for a member's share of a pool), one index as before, so a generation writes
no more index entries than it did. Both backends.

Revision ID: 0014_history_search
Revises: 0013_compare
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_history_search"
down_revision = "0013_compare"
branch_labels = None
depends_on = None

# A record's iterations point at it (ON DELETE SET NULL): without an index on parent_id, deleting
# each record read the whole table for its children, so deleting an account with 100 000 records
# took longer than a quarter of an hour. Only iterations have a parent: the index holds just those.
PARENT_WHERE = {f"{dialect}_where": sa.text("parent_id IS NOT NULL") for dialect in ("postgresql", "sqlite")}

# tables.history_search_text, as SQL
SEARCH_TEXT = "(lower(original_prompt) || E'\\x01' || lower(coalesce(generated_prompt, '')))"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index("ix_prompt_requests_search_trgm", "prompt_requests", [sa.text(f"{SEARCH_TEXT} gin_trgm_ops")],
                        postgresql_using="gin")
    op.create_index("ix_quota_units_user_team_created", "quota_units", ["user_id", "team_id", "created_at", "status"])
    op.drop_index("ix_quota_units_user_created", table_name="quota_units")
    op.create_index("ix_prompt_requests_parent", "prompt_requests", ["parent_id"], **PARENT_WHERE)


def downgrade() -> None:
    op.drop_index("ix_prompt_requests_parent", table_name="prompt_requests")
    op.create_index("ix_quota_units_user_created", "quota_units", ["user_id", "created_at", "status"])
    op.drop_index("ix_quota_units_user_team_created", table_name="quota_units")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_prompt_requests_search_trgm", table_name="prompt_requests")
        # pg_trgm stays: other objects in the database may use it, and unused it costs nothing.
