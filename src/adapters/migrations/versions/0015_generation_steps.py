"""A generation's two writes as one statement each, on PostgreSQL (issue 15).

A generation reserved its unit in a transaction of six round trips (BEGIN, the user's lock, the
plan, the usage, the pending record, the unit, COMMIT) and recorded its outcome in another of five.
These functions run the same steps inside the server, each called as one statement outside any
transaction (autocommit), so each is one round trip:

- ``promptcore_plan_limit(kind, owner_id, now)``: the daily limit of the plan that counts for a
  user's or a team's subscription at ``now`` (NULL for the free plan or none) — the SQL twin of
  ``Subscription.effective_plan`` + ``plans.daily_limit``, held equal to it by a property test
  (tests/integration/test_generation_steps.py).
- ``promptcore_reserve_generation(...)``: the common case of ``Quota.reserve`` for a generation:
  lock the user's row; an active, confirmed account (and, for a request whose access token was
  not checked against the account yet, that the account still accepts it: the sign-in check of
  the request folded into this statement); the limit (override, else plan, else the
  default passed in) and the usage counted as ``SqlQuotaLedger.usage`` counts it; with a team, the
  team's row locked after the user's, the membership, the pool's plan and the member's cap. When
  the unit is safely below the limit — for a personal limit at least two units left, so the unit
  that reaches the limit (and the limit e-mail that goes with it, §12.7) never takes this way — it
  writes the pending record and the unit and answers ``reserved``; otherwise it writes nothing and
  answers ``general``, and the caller runs ``Quota.reserve``, which decides everything again and
  raises the right error. Each statement in a plpgsql function takes a new snapshot, so the usage
  is read after the lock is held: two requests of one user are counted one after the other.
- ``promptcore_finish_generation(...)``: the outcome of ``Prompts._finish``: the record's answer
  (only its status when it was deleted meanwhile), and the unit kept with the day's usage counter
  on success, else released.

SQLite: nothing; it runs the general path (its transactions are local calls, not round trips).

Revision ID: 0015_generation_steps
Revises: 0014_history_search
"""
from alembic import op

revision = "0015_generation_steps"
down_revision = "0014_history_search"
branch_labels = None
depends_on = None

PLAN_LIMIT = """
CREATE OR REPLACE FUNCTION promptcore_plan_limit(p_kind text, p_owner bigint, p_now timestamptz)
RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT p.daily_limit
    FROM subscriptions s JOIN plans p ON p.slug = s.plan_slug
    WHERE s.owner_kind = p_kind AND s.owner_id = p_owner AND s.plan_slug <> 'free'
      AND ((s.status = 'active'
            AND (p_now < s.period_end OR (s.payment_method_id IS NOT NULL AND NOT s.cancel_at_period_end)))
           OR (s.status = 'past_due' AND s.grace_until IS NOT NULL AND p_now < s.grace_until))
$$
"""

# The usage of SqlQuotaLedger._newest: of the counted units (kept, or pending and not stale) since
# the window start, the newest p_limit: their number and the oldest of them.
RESERVE = """
CREATE OR REPLACE FUNCTION promptcore_reserve_generation(
    p_user_id bigint, p_team_id bigint, p_now timestamptz, p_since timestamptz, p_stale_before timestamptz,
    p_default_limit integer, p_original text, p_style text, p_model text, p_parent_id bigint, p_feedback text,
    p_source text, p_token_issued_at double precision, p_token_generation integer,
    OUT outcome text, OUT quota_limit integer, OUT used integer, OUT oldest timestamptz,
    OUT record_id bigint, OUT unit_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_active boolean;
    v_confirmed boolean;
    v_override integer;
    v_cap integer;
    v_drawn integer;
    v_generation integer;
    v_created timestamptz;
BEGIN
    outcome := 'general';
    SELECT is_active, is_email_confirmed, daily_limit, session_generation, created_at
        INTO v_active, v_confirmed, v_override, v_generation, v_created
        FROM users WHERE id = p_user_id FOR UPDATE;
    IF NOT FOUND OR NOT v_active OR NOT v_confirmed THEN
        RETURN;
    END IF;
    -- An access token not checked yet (User.accepts_credential): issued in the account's current
    -- session generation, and not before the account was made.
    IF p_token_generation IS NOT NULL AND (v_generation <> p_token_generation
            OR p_token_issued_at IS NULL OR p_token_issued_at < floor(extract(epoch FROM v_created))) THEN
        RETURN;
    END IF;
    IF p_team_id IS NULL THEN
        quota_limit := coalesce(v_override, promptcore_plan_limit('user', p_user_id, p_now), p_default_limit);
        IF quota_limit < 2 THEN
            RETURN;
        END IF;
        SELECT count(*), min(n.created_at) INTO used, oldest FROM (
            SELECT q.created_at FROM quota_units q
            WHERE q.user_id = p_user_id AND q.team_id IS NULL AND q.created_at >= p_since
              AND (q.status = 'kept' OR (q.status = 'pending' AND q.created_at >= p_stale_before))
            ORDER BY q.created_at DESC LIMIT quota_limit) n;
        IF used + 2 > quota_limit THEN  -- the last unit, or none left: the general path
            RETURN;
        END IF;
    ELSE
        PERFORM 1 FROM teams WHERE id = p_team_id FOR UPDATE;
        SELECT daily_cap INTO v_cap FROM team_members WHERE team_id = p_team_id AND user_id = p_user_id;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        quota_limit := coalesce(promptcore_plan_limit('team', p_team_id, p_now), 0);
        IF quota_limit <= 0 THEN
            RETURN;
        END IF;
        SELECT count(*), min(n.created_at) INTO used, oldest FROM (
            SELECT q.created_at FROM quota_units q
            WHERE q.team_id = p_team_id AND q.created_at >= p_since
              AND (q.status = 'kept' OR (q.status = 'pending' AND q.created_at >= p_stale_before))
            ORDER BY q.created_at DESC LIMIT quota_limit) n;
        IF used >= quota_limit THEN
            RETURN;
        END IF;
        IF v_cap IS NOT NULL THEN
            IF v_cap <= 0 THEN
                RETURN;
            END IF;
            SELECT count(*) INTO v_drawn FROM (
                SELECT 1 FROM quota_units q
                WHERE q.team_id = p_team_id AND q.user_id = p_user_id AND q.created_at >= p_since
                  AND (q.status = 'kept' OR (q.status = 'pending' AND q.created_at >= p_stale_before))
                LIMIT v_cap) n;
            IF v_drawn >= v_cap THEN
                RETURN;
            END IF;
        END IF;
    END IF;
    INSERT INTO prompt_requests (user_id, original_prompt, style, model, status, parent_id, feedback, created_at,
                                 source)
        VALUES (p_user_id, p_original, p_style, p_model, 'pending', p_parent_id, p_feedback, p_now, p_source)
        RETURNING id INTO record_id;
    INSERT INTO quota_units (user_id, created_at, status, source_kind, source_id, team_id)
        VALUES (p_user_id, p_now, 'pending', 'generation', record_id, p_team_id)
        RETURNING id INTO unit_id;
    outcome := 'reserved';
END
$$
"""

FINISH = """
CREATE OR REPLACE FUNCTION promptcore_finish_generation(
    p_record_id bigint, p_unit_id bigint, p_status text, p_generated text, p_model text, p_latency_ms integer,
    p_usage json, p_error text, p_user_id bigint, p_day date, p_style text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE prompt_requests SET status = p_status, generated_prompt = p_generated, model = p_model,
                               latency_ms = p_latency_ms, usage = p_usage, error = p_error
        WHERE id = p_record_id AND deleted_at IS NULL;
    IF NOT FOUND THEN  -- deleted while generating: only the status, no text comes back
        UPDATE prompt_requests SET status = p_status WHERE id = p_record_id;
    END IF;
    IF p_status = 'succeeded' THEN
        INSERT INTO usage_counters (user_id, day, style, count) VALUES (p_user_id, p_day, p_style, 1)
            ON CONFLICT (user_id, day, style) DO UPDATE SET count = usage_counters.count + 1;
        UPDATE quota_units SET status = 'kept' WHERE id = p_unit_id AND status = 'pending';
    ELSE
        DELETE FROM quota_units WHERE id = p_unit_id AND status = 'pending';
    END IF;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(PLAN_LIMIT)
    op.execute(RESERVE)
    op.execute(FINISH)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS promptcore_finish_generation(bigint, bigint, text, text, text, integer, json, "
               "text, bigint, date, text)")
    op.execute("DROP FUNCTION IF EXISTS promptcore_reserve_generation(bigint, bigint, timestamptz, timestamptz, "
               "timestamptz, integer, text, text, text, bigint, text, text, double precision, integer)")
    op.execute("DROP FUNCTION IF EXISTS promptcore_plan_limit(text, bigint, timestamptz)")
