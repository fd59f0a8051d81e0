"""Migration 0014 (issue 15): history search answered from a trigram index on PostgreSQL, and
personal quota usage from an index that holds team_id. Each test asks the database's planner
about the very statement the repository sends (caught on the engine), so a change to the query's
expressions that the indexes no longer fit fails here. The search's results on both backends are
the contract tests' (tests/contract/test_prompts_contract.py, also on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert, text

from adapters.sql import tables as t
from tests.contract.backends import SqlBackend
from tests.contract.support import add_user, new_record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOPICS = ["a haiku about tea", "a SQL query for monthly revenue", "a bash script that rotates logs",
          "a polite refund e-mail"]


def _statement(engine, call) -> tuple[str, object]:
    """The last SELECT that ``call`` sent, with its parameters, as the driver got them."""
    sent: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return [s for s in sent if s[0].lstrip().upper().startswith("SELECT")][-1]


def _plan(engine, statement: str, parameters, without: tuple[str, ...] = ()) -> str:
    """The plan of ``statement``; on PostgreSQL without reading the whole table, nor the indexes
    ``without`` (dropped in a transaction that is rolled back): with the few rows here another
    path would be cheapest, and the question is whether the index fits the statement at all."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            for name in without:
                conn.exec_driver_sql(f"DROP INDEX {name}")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        conn.rollback()
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def _seed_history(backend, records: int) -> tuple[int, int]:
    with backend.uow() as uow:
        ann, bob = add_user(uow, "ann@example.com"), add_user(uow, "bob@example.com")
        uow.commit()
    rows = []
    for user_id, count in ((ann, records), (bob, 50)):
        for i in range(count):
            topic = TOPICS[i % len(TOPICS)]
            rows.append({"user_id": user_id, "original_prompt": f"write {topic} (history item {i})",
                         "style": "general", "status": "succeeded", "model": "m/1",
                         "generated_prompt": f"You are an expert. Task: write {topic}. Context: item {i}. " * 3,
                         "created_at": NOW - timedelta(minutes=i)})
    with backend.engine.begin() as conn:
        conn.execute(insert(t.prompt_requests), rows)
        conn.execute(text("ANALYZE"))
    return ann, bob


def test_history_search_uses_the_trigram_index_on_postgresql(postgres_url):
    backend = SqlBackend(postgres_url)
    try:
        with backend.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").scalar() == 1
            definitions = {name: definition for name, definition in conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'prompt_requests'").all()
                if name.endswith("_trgm")}
        assert definitions == {"ix_prompt_requests_search_trgm": (
            "CREATE INDEX ix_prompt_requests_search_trgm ON public.prompt_requests USING gin "
            "((((lower(original_prompt) || '\x01'::text) || lower(COALESCE(generated_prompt, ''::text))))"
            " gin_trgm_ops)")}
        ann, bob = _seed_history(backend, 2000)

        def search(user_id: int, query: str) -> list[str]:
            with backend.uow(read_only=True) as uow:
                return [r.original_prompt for r in uow.prompts.page(user_id, 20, None, None, query)]

        statement, parameters = _statement(backend.engine, lambda: search(ann, "Item 42."))
        plan = _plan(backend.engine, statement, parameters,
                     without=("ix_prompt_requests_user_created", "ix_prompt_requests_user_style_created"))
        assert "Bitmap Index Scan on ix_prompt_requests_search_trgm" in plan, plan

        assert search(ann, "Item 42.") == ["write a bash script that rotates logs (history item 42)"]
        assert search(bob, "item 42.") == ["write a bash script that rotates logs (history item 42)"]
        assert search(ann, "ITEM 1999.") == ["write a polite refund e-mail (history item 1999)"]
        assert search(bob, "item 1999.") == []
        assert len(search(ann, "haiku")) == 20
    finally:
        backend.close()


def test_personal_quota_usage_reads_the_index_that_holds_team_id(database_url):
    backend = SqlBackend(database_url)
    try:
        with backend.uow() as uow:
            ann, *others = [add_user(uow, f"user{i}@example.com") for i in range(6)]
            uow.commit()
        with backend.engine.begin() as conn:
            team = conn.execute(insert(t.teams).values(name="Crew", created_by=ann,
                                                       created_at=NOW)).inserted_primary_key[0]
            # Ann spends the team's pool mostly (nine units in ten); the others their own limits.
            units = [(ann, i, team if i % 10 else None) for i in range(300)]
            units += [(other, i, None) for other in others for i in range(300)]
            conn.execute(insert(t.quota_units), [
                {"user_id": user_id, "created_at": NOW - timedelta(minutes=i), "status": "kept",
                 "source_kind": "generation", "team_id": team_id} for user_id, i, team_id in units])
            conn.execute(text("ANALYZE"))

        def usage():
            with backend.uow(read_only=True) as uow:
                return uow.quota.usage(ann, NOW - timedelta(days=1), NOW - timedelta(minutes=10), 1000)

        statement, parameters = _statement(backend.engine, usage)
        plan = _plan(backend.engine, statement, parameters)
        assert "ix_quota_units_user_team_created" in plan, plan
        if backend.engine.dialect.name == "postgresql":
            assert "team_id IS NULL" in plan.split("ix_quota_units_user_team_created", 1)[1].split("\n", 2)[1], plan
        else:
            assert "(user_id=? AND team_id=?" in plan, plan  # SQLite's plan writes IS NULL as =
        assert usage()[0] == 30
    finally:
        backend.close()


def test_history_search_finds_words_within_one_text_only_on_both_backends(database_url):
    """PostgreSQL asks one text joined by U+0001 (tables.history_search_text); SQLite each text.
    Words that would run from the original into the improved text are found on neither."""
    backend = SqlBackend(database_url)
    try:
        with backend.uow() as uow:
            ann = add_user(uow)
            tea = uow.prompts.add(new_record(ann, prompt="A haiku about TEA", generated="You are a poet.", at=NOW)).id
            odd = uow.prompts.add(new_record(ann, prompt="one\x01two", generated=None, at=NOW - timedelta(hours=1))).id
            bare = uow.prompts.add(new_record(ann, prompt="Plain", generated=None, at=NOW - timedelta(hours=2))).id
            uow.commit()

        def search(query: str) -> list[int]:
            with backend.uow(read_only=True) as uow:
                return [r.id for r in uow.prompts.page(ann, 10, None, None, query)]

        assert search("about tea") == [tea] and search("you are") == [tea] and search("poet.") == [tea]
        assert search("tea you") == [] and search("tea\x01you") == [] and search("tea you are") == []
        assert search("one\x01two") == [odd] and search("\x01") == [odd]  # asked of each text, as before
        assert search("plain") == [bare] and search("plain\x01") == []
        assert search("a") == [tea, bare]
    finally:
        backend.close()
