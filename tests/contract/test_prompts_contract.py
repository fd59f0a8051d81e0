"""Styles, prompt records, usage counters and the quota ledger: the fake and the SQL repositories
agree."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime, timedelta

import pytest

from promptcore.domain.prompts import RecordStatus, Style
from promptcore.domain.quota import UnitSource
from tests.contract.support import MOSCOW, T0, add_user, new_record
from tests.fakes import sample_style

# -- styles -------------------------------------------------------------------------------------


def test_styles_are_listed_by_position_then_slug(backend):
    styles = [sample_style("writing", 2), sample_style("coding", 1), sample_style("analysis", 2),
              Style(slug="general", title={"en": "General", "ru": "Общий"}, description={"en": "d", "ru": "о"},
                    instructions="Be clear.", position=0)]
    backend.seed_styles(styles)
    with backend.uow() as uow:
        listed = uow.styles.list()
        assert uow.styles.get("coding") == styles[1]
        assert uow.styles.get("unknown") is None
    assert [s.slug for s in listed] == ["general", "coding", "analysis", "writing"]
    assert listed[0] == styles[3]


# -- records ------------------------------------------------------------------------------------


def _user(backend, email="ann@example.com") -> int:
    with backend.uow() as uow:
        user_id = add_user(uow, email)
        uow.commit()
    return user_id


def test_a_record_comes_back_to_its_owner_only(backend):
    ann, bob = _user(backend), _user(backend, "bob@example.com")
    record = new_record(ann, feedback="shorter", latency_ms=120, usage={"total_tokens": 10, "cost": 0.5},
                        at=T0.astimezone(MOSCOW))
    with backend.uow() as uow:
        parent = uow.prompts.add(new_record(ann))
        record.parent_id = parent.id
        added = uow.prompts.add(record)
        uow.commit()
    assert added is record and isinstance(record.id, int)
    with backend.uow() as uow:
        got = uow.prompts.get(ann, record.id)
        assert uow.prompts.get(bob, record.id) is None
        assert uow.prompts.get(ann, 987654) is None
    assert asdict(got) == asdict(record)
    assert got.created_at.utcoffset() == timedelta(0)


def test_finish_stores_the_outcome_only(backend):
    ann = _user(backend)
    with backend.uow() as uow:
        record = uow.prompts.add(new_record(ann, status=RecordStatus.PENDING, generated=None, feedback="why"))
        uow.commit()
    done = replace(record, status=RecordStatus.SUCCEEDED, generated_prompt="Better", model="m/2", latency_ms=50,
                   usage={"total_tokens": 3}, error=None,
                   # not the outcome: these stay as added
                   original_prompt="changed", feedback="changed", style="coding", created_at=T0 + timedelta(days=1))
    with backend.uow() as uow:
        uow.prompts.finish(done)
        uow.prompts.finish(replace(done, id=987654))  # unknown: nothing happens
        uow.commit()
    with backend.uow() as uow:
        got = uow.prompts.get(ann, record.id)
        assert uow.prompts.get(ann, 987654) is None
    assert asdict(got) == asdict(replace(done, original_prompt=record.original_prompt, feedback="why",
                                         style=record.style, created_at=record.created_at))


def test_a_record_deleted_while_generating_stays_deleted(backend):
    ann = _user(backend)
    with backend.uow() as uow:
        record = uow.prompts.add(new_record(ann, status=RecordStatus.PENDING, generated=None))
        assert uow.prompts.soft_delete(ann, record.id, T0) is True
        uow.prompts.finish(replace(record, status=RecordStatus.SUCCEEDED, generated_prompt="Better"))
        uow.commit()
    with backend.uow() as uow:
        assert uow.prompts.get(ann, record.id) is None
        assert uow.prompts.page(ann, 10, None, None, None) == []


def test_soft_delete_is_for_the_owner_and_once(backend):
    ann, bob = _user(backend), _user(backend, "bob@example.com")
    with backend.uow() as uow:
        record = uow.prompts.add(new_record(ann))
        uow.commit()
    with backend.uow() as uow:
        assert uow.prompts.soft_delete(bob, record.id, T0) is False
        assert uow.prompts.soft_delete(ann, 987654, T0) is False
        assert uow.prompts.soft_delete(ann, record.id, T0) is True
        assert uow.prompts.soft_delete(ann, record.id, T0) is False
        uow.commit()
    with backend.uow() as uow:
        assert uow.prompts.get(ann, record.id) is None


def _history(backend):
    ann, bob = _user(backend), _user(backend, "bob@example.com")
    with backend.uow() as uow:
        ids = {}
        ids["old"] = uow.prompts.add(new_record(ann, prompt="Old prompt", at=T0 - timedelta(hours=2))).id
        ids["tie1"] = uow.prompts.add(new_record(ann, prompt="Напиши ПРОМПТ", style="coding", at=T0)).id
        ids["tie2"] = uow.prompts.add(new_record(ann, prompt="50% off_sale", generated="Sale copy", at=T0)).id
        ids["new"] = uow.prompts.add(new_record(ann, prompt="New", generated="Про котов",
                                                at=T0 + timedelta(hours=1))).id
        uow.prompts.add(new_record(ann, prompt="failed", status=RecordStatus.FAILED, generated=None))
        uow.prompts.add(new_record(ann, prompt="pending", status=RecordStatus.PENDING, generated=None))
        gone = uow.prompts.add(new_record(ann, prompt="deleted"))
        uow.prompts.soft_delete(ann, gone.id, T0)
        uow.prompts.add(new_record(bob, prompt="Bob's"))
        uow.commit()
    return ann, ids


def test_history_is_succeeded_records_newest_first_then_by_id(backend):
    ann, ids = _history(backend)
    with backend.uow() as uow:
        page = uow.prompts.page(ann, 10, None, None, None)
        assert [r.id for r in page] == [ids["new"], ids["tie2"], ids["tie1"], ids["old"]]
        first = uow.prompts.page(ann, 2, None, None, None)
        last = first[-1]
        rest = uow.prompts.page(ann, 10, (last.created_at, last.id), None, None)
        assert [r.id for r in first + rest] == [r.id for r in page]
        assert [r.id for r in uow.prompts.page(ann, 10, None, "coding", None)] == [ids["tie1"]]


@pytest.mark.parametrize("query, expected", [
    ("old PROMPT", ["old"]),
    ("промпт", ["tie1"]),        # case-insensitively beyond ASCII, in the original text
    ("КОТОВ", ["new"]),          # and in the improved one
    ("50%", ["tie2"]),           # LIKE's wildcards are plain characters
    ("0%o", []),                 # (as a wildcard it would match "50% o")
    ("e_c", []),                 # (as a wildcard it would match "Sale copy")
    ("f_s", ["tie2"]),
    ("%", ["tie2"]),
    ("deleted", []),
    ("bob", []),
])
def test_history_search_is_case_insensitive_in_both_texts(backend, query, expected):
    ann, ids = _history(backend)
    with backend.uow() as uow:
        assert [r.id for r in uow.prompts.page(ann, 10, None, None, query)] == [ids[k] for k in expected]


def test_usage_counters_count_by_utc_day_and_style(backend):
    ann, bob = _user(backend), _user(backend, "bob@example.com")
    late_evening_utc = datetime(2026, 1, 15, 1, 30, tzinfo=MOSCOW)  # 2026-01-14 22:30 UTC
    with backend.uow() as uow:
        uow.prompts.count_success(ann, late_evening_utc, "general")
        uow.prompts.count_success(ann, T0, "general")
        uow.prompts.count_success(ann, T0, "coding")
        uow.prompts.count_success(ann, T0 - timedelta(days=40), "coding")
        uow.prompts.count_success(bob, T0, "general")
        uow.commit()
    with backend.uow() as uow:
        total, by_style, by_day = uow.prompts.stats(ann, T0 - timedelta(days=30))
        assert uow.prompts.stats(987654, T0) == (0, {}, {})
    assert (total, by_style) == (4, {"general": 2, "coding": 2})
    assert by_day == {"2026-01-14": 1, "2026-01-15": 2}


def test_deleting_history_leaves_the_counters(backend):
    ann = _user(backend)
    with backend.uow() as uow:
        record = uow.prompts.add(new_record(ann))
        uow.prompts.count_success(ann, T0, "general")
        uow.commit()
    with backend.uow() as uow:
        uow.prompts.soft_delete(ann, record.id, T0)
        uow.commit()
    with backend.uow() as uow:
        assert uow.prompts.stats(ann, T0) == (1, {"general": 1}, {"2026-01-15": 1})


# -- the quota ledger ---------------------------------------------------------------------------

DAY = timedelta(days=1)


def test_kept_units_count_and_released_ones_do_not(backend):
    ann = _user(backend)
    with backend.uow() as uow:
        kept = uow.quota.reserve(ann, T0, UnitSource.GENERATION, 1)
        released = uow.quota.reserve(ann, T0 + timedelta(minutes=1), UnitSource.GENERATION)
        uow.quota.keep(kept)
        uow.quota.release(released)
        uow.quota.release(kept)       # a kept unit stays
        uow.quota.keep(released)      # a released one is gone
        uow.quota.keep(987654)        # unknown ids: nothing happens
        uow.quota.release(987654)
        uow.commit()
    with backend.uow() as uow:
        assert uow.quota.usage(ann, T0 - DAY, T0 + DAY, 10) == (1, T0)


def test_a_pending_unit_counts_until_it_is_stale(backend):
    ann = _user(backend)
    with backend.uow() as uow:
        uow.quota.reserve(ann, T0, UnitSource.GENERATION)
        uow.commit()
    with backend.uow() as uow:
        assert uow.quota.usage(ann, T0 - DAY, T0, 10) == (1, T0)  # created at stale_before: counts
        assert uow.quota.usage(ann, T0 - DAY, T0 + timedelta(seconds=1), 10) == (0, None)


def test_usage_takes_the_newest_units_since_the_window_start(backend):
    ann, bob = _user(backend), _user(backend, "bob@example.com")
    times = [T0 + timedelta(minutes=m) for m in (0, 30, 10, 20)]
    with backend.uow() as uow:
        for at in times:
            uow.quota.keep(uow.quota.reserve(ann, at.astimezone(MOSCOW), UnitSource.GENERATION))
        uow.quota.keep(uow.quota.reserve(bob, T0, UnitSource.GENERATION))
        uow.commit()
    with backend.uow() as uow:
        assert uow.quota.usage(ann, T0, T0, 10) == (4, T0)
        assert uow.quota.usage(ann, T0, T0, 2) == (2, T0 + timedelta(minutes=20))
        assert uow.quota.usage(ann, T0 + timedelta(minutes=10), T0, 10) == (3, T0 + timedelta(minutes=10))
        assert uow.quota.usage(ann, T0, T0, 0) == (0, None)
        assert uow.quota.usage(ann, T0, T0, -1) == (0, None)
        used, oldest = uow.quota.usage(ann, T0, T0, 1)
    assert (used, oldest) == (1, T0 + timedelta(minutes=30))
    assert oldest.utcoffset() == timedelta(0)


# -- team pools (SPEC §14) ----------------------------------------------------------------------


def _pool_team(backend, owner: int, name: str = "Desk") -> int:
    from promptcore.domain.teams import Team

    with backend.uow() as uow:
        team_id = uow.teams.add(Team(name=name, created_by=owner), owner, T0).id
        uow.commit()
    return team_id


def test_pool_units_count_for_their_team_only_and_never_as_personal_usage(backend):
    ann, bob = _user(backend), _user(backend, "bob@example.com")
    desk, lab = _pool_team(backend, ann), _pool_team(backend, bob, "Lab")
    with backend.uow() as uow:
        for minutes, user, team in [(0, ann, desk), (10, bob, desk), (20, bob, desk), (30, ann, lab), (40, ann, None)]:
            at = (T0 + timedelta(minutes=minutes)).astimezone(MOSCOW)
            uow.quota.keep(uow.quota.reserve(user, at, UnitSource.GENERATION, None, team))
        pending = uow.quota.reserve(bob, T0 + timedelta(minutes=50), UnitSource.GENERATION, 7, desk)
        released = uow.quota.reserve(ann, T0 + timedelta(minutes=60), UnitSource.GENERATION, None, desk)
        uow.quota.release(released)
        uow.commit()
    with backend.uow() as uow:
        # personal usage ignores every pool unit
        assert uow.quota.usage(ann, T0, T0, 10) == (1, T0 + timedelta(minutes=40))
        assert uow.quota.usage(bob, T0, T0, 10) == (0, None)
        # the pool: kept units and the fresh pending one, newest first, up to the limit
        assert uow.quota.pool_usage(desk, T0, T0, 10) == (4, T0)
        assert uow.quota.pool_usage(desk, T0, T0, 2) == (2, T0 + timedelta(minutes=20))
        assert uow.quota.pool_usage(desk, T0 + timedelta(minutes=5), T0, 10) == (3, T0 + timedelta(minutes=10))
        assert uow.quota.pool_usage(desk, T0, T0 + timedelta(minutes=51), 10) == (3, T0), "a stale pending unit"
        assert uow.quota.pool_usage(desk, T0, T0, 0) == (0, None)
        assert uow.quota.pool_usage(lab, T0, T0, 10) == (1, T0 + timedelta(minutes=30))
        assert uow.quota.pool_usage(987654, T0, T0, 10) == (0, None)
        # one member's draw on the pool
        assert uow.quota.pool_usage(desk, T0, T0, 10, bob) == (3, T0 + timedelta(minutes=10))
        assert uow.quota.pool_usage(desk, T0, T0, 1, bob) == (1, T0 + timedelta(minutes=50))
        assert uow.quota.pool_usage(desk, T0, T0, 10, ann) == (1, T0)
        assert uow.quota.pool_usage(lab, T0, T0, 10, bob) == (0, None)
        used, oldest = uow.quota.pool_usage(lab, T0, T0, 10, ann)
        # by member
        assert uow.quota.pool_by_member(desk, T0, T0) == {ann: 1, bob: 3}
        assert uow.quota.pool_by_member(desk, T0 + timedelta(minutes=5), T0 + timedelta(minutes=51)) == {bob: 2}
        assert uow.quota.pool_by_member(lab, T0, T0) == {ann: 1}
        assert uow.quota.pool_by_member(987654, T0, T0) == {}
    assert (used, oldest) == (1, T0 + timedelta(minutes=30)) and oldest.utcoffset() == timedelta(0)
    with backend.uow() as uow:
        uow.quota.keep(pending)
        uow.commit()
    with backend.uow() as uow:
        assert uow.quota.pool_usage(desk, T0, T0 + timedelta(hours=1), 10) == (4, T0), "kept: no longer stale"


def test_a_deleted_team_takes_its_pool_units_along(backend):
    ann = _user(backend)
    desk = _pool_team(backend, ann)
    with backend.uow() as uow:
        uow.quota.keep(uow.quota.reserve(ann, T0, UnitSource.GENERATION, None, desk))
        uow.quota.keep(uow.quota.reserve(ann, T0, UnitSource.GENERATION))
        uow.commit()
    with backend.uow() as uow:
        uow.teams.delete(desk)
        uow.commit()
    with backend.uow() as uow:
        assert uow.quota.pool_usage(desk, T0, T0, 10) == (0, None)
        assert uow.quota.pool_by_member(desk, T0, T0) == {}
        assert uow.quota.usage(ann, T0, T0, 10) == (1, T0)
