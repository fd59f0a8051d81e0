"""Security review, Medium 3: argon2 needs memory_cost KiB per running hash, so concurrent
sign-ins for unknown addresses could exhaust a server's memory. The hasher admits a bounded
number of hashes per process, waits briefly for a slot, then refuses with ServiceBusy."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.security import Argon2PasswordHasher, default_hash_slots
from entrypoints.api.errors import lookup
from promptcore.domain.errors import PromptcoreError, ServiceBusy
from tests.conftest import FAST_HASH


def busy_hasher(**extra) -> Argon2PasswordHasher:
    return Argon2PasswordHasher(**FAST_HASH, max_concurrent=1, slot_wait=0.05, **extra)


def test_the_default_bound_is_the_cpu_count():
    hasher = Argon2PasswordHasher(**FAST_HASH)
    assert hasher.max_concurrent == default_hash_slots() >= 1


@pytest.mark.parametrize("call", [
    lambda h, stored: h.hash("correct horse battery"),
    lambda h, stored: h.verify(stored, "correct horse battery"),
    lambda h, stored: h.verify(stored, "wrong password"),
    lambda h, stored: h.dummy_verify("whatever it is"),
])
def test_every_hash_and_verify_waits_for_a_slot_then_refuses(call):
    hasher = busy_hasher()
    stored = hasher.hash("correct horse battery")
    with hasher.slot():  # someone else's hash holds the only slot
        started = time.monotonic()
        with pytest.raises(ServiceBusy) as info:
            call(hasher, stored)
        assert time.monotonic() - started >= 0.04, "it waited briefly before refusing"
    assert isinstance(info.value, PromptcoreError) and info.value.retry_after >= 1
    assert hasher.slots_in_use == 0
    call(hasher, stored)  # the slot is free again


def test_a_second_concurrent_hash_is_refused():
    # Production-sized work (64 MiB, t=3) takes long enough for the second caller to find the slot taken.
    hasher = Argon2PasswordHasher(max_concurrent=1, slot_wait=0.01)
    outcome: dict[str, object] = {}
    first = threading.Thread(target=lambda: outcome.setdefault("first", hasher.hash("first password")))
    first.start()
    deadline = time.monotonic() + 5
    while hasher.slots_in_use == 0 and first.is_alive() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert hasher.slots_in_use == 1, "the first hash took the slot"
    with pytest.raises(ServiceBusy):
        hasher.hash("second password")
    first.join()
    assert str(outcome["first"]).startswith("$argon2id$")
    assert hasher.slots_in_use == 0


def test_never_more_hashes_at_once_than_slots():
    hasher = Argon2PasswordHasher(time_cost=3, memory_cost=8192, parallelism=1, max_concurrent=2, slot_wait=30)
    seen: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            seen.append(hasher.slots_in_use)

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=hasher.hash, args=(f"password number {i}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    sampler.join()
    # Never more than the slots; how close a loaded machine's scheduler lets the sampler see it
    # come to the bound varies, so the exact peak is not asserted.
    assert 1 <= max(seen) <= 2 and hasher.slots_in_use == 0


def test_a_failing_hash_gives_its_slot_back():
    hasher = busy_hasher()
    assert hasher.verify("not an argon2 hash", "password") is False
    with pytest.raises((TypeError, AttributeError)):
        hasher.hash(None)  # type: ignore[arg-type]
    assert hasher.slots_in_use == 0


def test_busy_is_a_503_with_a_stable_slug():
    assert lookup(ServiceBusy(3)) == (503, "service_busy")
    assert ServiceBusy(0).retry_after == 1
