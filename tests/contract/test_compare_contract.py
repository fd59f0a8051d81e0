"""The comparisons kept with records (Try it, SPEC §15.3): the fake and the SQL repository agree."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta

from promptcore.domain.compare import Comparison, Side, SideStatus
from tests.contract.support import MOSCOW, T0, add_user, new_record


def _comparison(record_id: int, user_id: int, **changes) -> Comparison:
    made = Comparison(
        record_id=record_id, user_id=user_id, model="openai/gpt-4o-mini", input="Ваш текст: «чай»",
        a=Side(SideStatus.SUCCEEDED, "Answer to the original", "openai/gpt-4o-mini", None, 812,
               {"total_tokens": 40, "cost": 0.0001}),
        b=Side(SideStatus.FAILED, "Partial ans", "openai/gpt-4o-mini", "LlmUnavailable", 1500, None),
        created_at=T0.astimezone(MOSCOW))
    return replace(made, **changes)


def _records(backend):
    with backend.uow() as uow:
        ann, bob = add_user(uow), add_user(uow, "bob@example.com")
        first = uow.prompts.add(new_record(ann)).id
        second = uow.prompts.add(new_record(ann, prompt="another")).id
        uow.commit()
    return ann, bob, first, second


def test_a_comparison_is_kept_with_its_record_and_read_by_its_owner_only(backend):
    ann, bob, first, second = _records(backend)
    kept = _comparison(first, ann)
    with backend.uow() as uow:
        assert uow.comparisons.get(ann, first) is None
        uow.comparisons.put(kept)
        uow.commit()
    with backend.uow() as uow:
        got = uow.comparisons.get(ann, first)
        assert uow.comparisons.get(bob, first) is None
        assert uow.comparisons.get(ann, second) is None
        assert uow.comparisons.get(ann, 987654) is None
    assert asdict(got) == asdict(kept)
    assert got.created_at.utcoffset() == timedelta(0)


def test_a_new_comparison_replaces_the_one_kept_before(backend):
    ann, _bob, first, second = _records(backend)
    with backend.uow() as uow:
        uow.comparisons.put(_comparison(first, ann))
        uow.comparisons.put(_comparison(second, ann, input=None))
        uow.commit()
    newer = _comparison(first, ann, model="m/2", input=None, created_at=T0 + timedelta(minutes=5),
                        b=Side(SideStatus.SUCCEEDED, "Now it answered", "m/2", None, 10, {"total_tokens": 1}))
    with backend.uow() as uow:
        uow.comparisons.put(newer)
        uow.commit()
    with backend.uow() as uow:
        assert asdict(uow.comparisons.get(ann, first)) == asdict(newer)
        assert uow.comparisons.get(ann, second).input is None


def test_uncommitted_comparisons_are_lost(backend):
    ann, _bob, first, _second = _records(backend)
    with backend.uow() as uow:
        uow.comparisons.put(_comparison(first, ann))
    with backend.uow() as uow:
        assert uow.comparisons.get(ann, first) is None


def test_a_comparison_goes_with_its_record(backend):
    ann, _bob, first, second = _records(backend)
    with backend.uow() as uow:
        uow.comparisons.put(_comparison(first, ann))
        uow.comparisons.put(_comparison(second, ann))
        uow.commit()
    with backend.uow() as uow:  # deleting a record (its texts erased) deletes its comparison
        assert uow.prompts.soft_delete(ann, first, T0)
        uow.comparisons.delete(first)
        uow.comparisons.delete(987654)  # nothing there: nothing happens
        uow.commit()
    with backend.uow() as uow:
        assert uow.comparisons.get(ann, first) is None
        assert uow.comparisons.get(ann, second) is not None
    with backend.uow() as uow:  # a soft-deleted record shows none, even if one were left behind
        uow.comparisons.put(_comparison(first, ann))
        uow.commit()
    with backend.uow() as uow:
        assert uow.comparisons.get(ann, first) is None
    with backend.uow() as uow:  # the account goes: its records and their comparisons with it
        uow.users.delete(ann)
        uow.commit()
    with backend.uow() as uow:
        assert uow.comparisons.get(ann, second) is None
