"""Bench users and history, written with the project's own code (container, tables, token codec).

Password hashing (argon2id, 64 MiB) is done once, for one admin made by
``Accounts.create_admin``; the other users are bulk-inserted rows that share that hash,
confirmed, with a daily limit to spare. Access tokens are issued by the app's own JWT codec
with the same secret as the server, so no login (and no argon2 verify) is needed per user; one
real API login checks that path once.
"""

from __future__ import annotations

import json
import random
import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, text

from .stack import Stack

DOMAIN = "bench.promptcore.dev"
BENCH_LIMIT = 100_000  # the largest daily limit the app accepts

_TOPICS = ["a haiku about tea", "a SQL query for monthly revenue", "a cover letter for a data engineer",
           "unit tests for a date parser", "a product description for running shoes",
           "a lesson plan on fractions", "a bash script that rotates logs", "a polite refund e-mail"]


class Seeder:
    def __init__(self, stack: Stack) -> None:
        from entrypoints.container import build_container

        self.stack = stack
        self.container = build_container(stack.settings())
        self.engine = self.container.engine()
        self.styles = sorted(self.container.catalogue().slugs())
        self._hash: str | None = None

    def close(self) -> None:
        self.engine.dispose()

    def admin(self) -> tuple[str, str]:
        """One confirmed admin through Accounts.create_admin (argon2 once); (email, password)."""
        email, password = f"bench-admin@{DOMAIN}", "bench-" + secrets.token_urlsafe(18)
        accounts = self.container.accounts()
        user = accounts.create_admin(email, password)
        accounts.set_daily_limit(email, BENCH_LIMIT)
        self._hash = user.password_hash
        return email, password

    def users(self, prefix: str, count: int, daily_limit: int = BENCH_LIMIT) -> list[int]:
        """``count`` confirmed users (bulk insert through the users table); their ids in order."""
        from adapters.sql import tables as t
        from promptcore.domain.users import UserSettings

        assert self._hash is not None, "call admin() first"
        now = datetime.now(UTC)
        rows = [{
            "email": f"{prefix}-{i:05d}@{DOMAIN}", "password_hash": self._hash, "name": None,
            "is_email_confirmed": True, "role": "user", "is_active": True, "daily_limit": daily_limit,
            "settings": UserSettings().to_dict(), "created_at": now, "updated_at": now,
        } for i in range(count)]
        with self.engine.begin() as conn:
            conn.execute(insert(t.users), rows)
            found = conn.execute(select(t.users.c.id, t.users.c.email)
                                 .where(t.users.c.email.like(f"{prefix}-%@{DOMAIN}"))
                                 .order_by(t.users.c.email)).all()
        return [r.id for r in found]

    def tokens(self, user_ids: list[int]) -> list[str]:
        codec = self.container.access_tokens()
        now = datetime.now(UTC)
        return [codec.issue(uid, "user", now) for uid in user_ids]

    def history(self, user_id: int, count: int, days: int = 365, seed: int = 5) -> None:
        """``count`` succeeded prompt_requests over the last ``days`` days, mixed styles, and the
        matching usage_counters rows, with COPY (psycopg) in one transaction."""
        rng = random.Random(seed * 1_000_003 + user_id)
        now = datetime.now(UTC)
        span = days * 86400
        counters: Counter = Counter()
        usage = json.dumps({"prompt_tokens": 42, "completion_tokens": 180, "total_tokens": 222, "cost": 0.0001})
        raw = self.engine.raw_connection()
        try:
            dbapi = raw.driver_connection
            with dbapi.cursor() as cur:
                with cur.copy("COPY prompt_requests (user_id, original_prompt, style, generated_prompt, model, "
                              "status, latency_ms, usage, created_at) FROM STDIN") as copy:
                    for i in range(count):
                        at = now - timedelta(seconds=rng.uniform(60, span))
                        style = self.styles[rng.randrange(len(self.styles))]
                        topic = _TOPICS[i % len(_TOPICS)]
                        original = f"write {topic} (history item {i}, user {user_id})"
                        generated = (f"You are an expert. Task: write {topic}. Context: item {i}. "
                                     "Constraints: be specific, state assumptions, keep it under 300 words. "
                                     "Output format: a titled section per part, then a short checklist. " * 3)
                        copy.write_row((user_id, original, style, generated, "openai/gpt-4o-mini", "succeeded",
                                        rng.randrange(300, 4000), usage, at))
                        counters[(at.date(), style)] += 1
                with cur.copy("COPY usage_counters (user_id, day, style, count) FROM STDIN") as copy:
                    for (day, style), n in counters.items():
                        copy.write_row((user_id, day, style, n))
            dbapi.commit()
        finally:
            raw.close()

    def analyze(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
