"""The outbound HTTP transport on its own (adapters/http.py; SPEC §6.3, §12.3), against a
scripted server on loopback. Waits are observed through a fake timer, not by waiting; only the
deadline that must cut off a hanging upstream is checked in real time."""

from __future__ import annotations

import socket
import time
from email.utils import formatdate

import pytest
import requests

from adapters.http import MIN_ATTEMPT_SECONDS, HttpTransport, TransportFailed, new_idempotence_key
from tests.integration.http_standin import FakeTimer, HttpStandin, Reply, Retries, http_standin

standin = http_standin  # one fresh server per test

BODY = b'{"amount": {"value": "490.00", "currency": "RUB"}}'


def make(server: HttpStandin, timer: FakeTimer | None = None, **kw) -> HttpTransport:
    kw.setdefault("timeout", 30.0)
    kw.setdefault("backoff_base", 0.5)
    return HttpTransport(server.base_url, name="Upstream", timer=timer or FakeTimer(), **kw)


def post(transport: HttpTransport, key: str | None = None, **kw):
    return transport.send("POST", "/payments", data=BODY, headers={"Content-Type": "application/json"},
                          idempotence_key=key, **kw)


def test_every_retry_of_one_operation_carries_the_same_idempotence_key(standin):
    retries = Retries()
    standin.enqueue(Reply(503), Reply(500), Reply(200, {"id": "pay-1"}))
    transport = make(standin, on_retry=retries)

    answer = post(transport, key="renewal-7-2026-02")

    assert answer.status == 200 and answer.body == b'{"id": "pay-1"}' and answer.ok
    assert retries.calls == [(1, "503"), (2, "500")]
    assert [s.path for s in standin.seen] == ["/v3/payments"] * 3
    assert [s.header("Idempotence-Key") for s in standin.seen] == ["renewal-7-2026-02"] * 3
    assert {s.body for s in standin.seen} == {BODY}

    # Another operation gets its own key; without one no header is sent.
    first, second = new_idempotence_key(), new_idempotence_key()
    assert first != second
    post(transport, key=first)
    post(transport)
    assert standin.seen[3].header("Idempotence-Key") == first
    assert standin.seen[4].header("Idempotence-Key") is None


def test_the_idempotence_header_name_is_configurable(standin):
    standin.enqueue(Reply(502))
    post(make(standin, idempotence_header="X-Request-Id"), key="k-1")
    assert [s.header("X-Request-Id") for s in standin.seen] == ["k-1", "k-1"]


def test_retry_after_seconds_is_waited_exactly(standin):
    timer = FakeTimer()
    standin.enqueue(Reply(429, headers={"Retry-After": "7"}))
    assert post(make(standin, timer)).status == 200
    assert timer.sleeps == [7.0]
    assert standin.count == 2


def test_retry_after_as_an_http_date_is_waited_until_that_time(standin):
    timer = FakeTimer()
    standin.enqueue(Reply(503, headers={"Retry-After": formatdate(timer.time() + 12, usegmt=True)}))
    assert post(make(standin, timer)).status == 200
    assert timer.sleeps == [12.0]


def test_retry_after_past_the_deadline_gives_up_without_waiting(standin):
    timer = FakeTimer()
    standin.enqueue(Reply(429, headers={"Retry-After": "45"}))
    with pytest.raises(TransportFailed) as info:
        post(make(standin, timer, timeout=30.0))
    assert timer.sleeps == []
    assert standin.count == 1
    assert "429" in info.value.reason and info.value.attempts == 1


def test_unreadable_retry_after_falls_back_to_the_backoff(standin):
    timer = FakeTimer()
    standin.enqueue(Reply(503, headers={"Retry-After": "soon"}))
    post(make(standin, timer, backoff_base=0.5, jitter=lambda lo, hi: 0.0))
    assert timer.sleeps == [0.5]


def test_backoff_doubles_and_adds_jitter_up_to_the_base(standin):
    standin.enqueue(*[Reply(503)] * 4)
    timer = FakeTimer()
    with pytest.raises(TransportFailed):
        post(make(standin, timer, max_attempts=4, backoff_base=0.5, jitter=lambda lo, hi: hi))
    assert timer.sleeps == [1.0, 1.5, 2.5]  # 0.5·2^(n-1) + the largest jitter, 0.5
    assert standin.count == 4

    standin.enqueue(*[Reply(503)] * 4)
    timer = FakeTimer()
    with pytest.raises(TransportFailed):
        post(make(standin, timer, max_attempts=4, backoff_base=0.5))  # random jitter
    for n, wait in enumerate(timer.sleeps, start=1):
        assert 0.5 * 2 ** (n - 1) <= wait <= 0.5 * 2 ** (n - 1) + 0.5


def test_the_deadline_bounds_all_attempts_and_waits(standin):
    # Each attempt takes 4 s (the server moves the fake clock on as it answers), the
    # backoff adds 1-2 s: within a 10 s deadline there is room for two attempts, not ten.
    timer = FakeTimer()
    started = timer.monotonic()
    starts: list[float] = []

    def slow_503(seen):
        starts.append(timer.monotonic())
        timer.advance(4.0)
        return Reply(503)

    standin.enqueue(*[slow_503] * 10)
    with pytest.raises(TransportFailed) as info:
        post(make(standin, timer, timeout=10.0, max_attempts=10, backoff_base=1.0))
    assert standin.count == len(starts) == info.value.attempts
    assert 2 <= len(starts) <= 3
    assert all(s < started + 10.0 - MIN_ATTEMPT_SECONDS for s in starts), "no attempt starts after the deadline"
    assert sum(timer.sleeps) < 10.0


def test_retries_stop_after_max_attempts(standin):
    retries = Retries()
    standin.enqueue(*[Reply(502)] * 5)
    with pytest.raises(TransportFailed) as info:
        post(make(standin, max_attempts=3, on_retry=retries))
    assert standin.count == 3 and info.value.attempts == 3
    assert [a for a, _ in retries.calls] == [1, 2]


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
def test_client_errors_come_back_unretried(standin, status):
    retries = Retries()
    timer = FakeTimer()
    standin.enqueue(Reply(status, {"type": "error", "code": "invalid_request"}))
    answer = post(make(standin, timer, on_retry=retries), key="k-1")
    assert answer.status == status and not answer.ok
    assert b"invalid_request" in answer.body  # for the caller's log and mapping
    assert standin.count == 1 and retries.calls == [] and timer.sleeps == []


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(standin, status):
    retries = Retries()
    standin.enqueue(Reply(status))
    assert post(make(standin, on_retry=retries)).status == 200
    assert retries.calls == [(1, str(status))]


def test_a_dropped_connection_is_retried_and_failures_carry_no_request(standin):
    retries = Retries()
    standin.enqueue(Reply(drop=True))
    assert post(make(standin, on_retry=retries)).status == 200
    assert retries.calls == [(1, "connection")]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = HttpTransport(f"http://127.0.0.1:{port}", timer=FakeTimer(), backoff_base=0.01)
    with pytest.raises(TransportFailed) as info:
        closed.send("POST", "/payments", data=BODY, auth=("shop", "SECRET-KEY"))
    seen: BaseException | None = info.value
    while seen is not None:  # a requests exception would hold the prepared request, credentials included
        assert not isinstance(seen, requests.RequestException) and "SECRET" not in repr(seen)
        seen = seen.__cause__ or seen.__context__


def test_a_failing_retry_hook_does_not_break_the_call(standin):
    def boom(attempt, reason):
        raise RuntimeError("metrics down")

    standin.enqueue(Reply(503))
    assert post(make(standin, on_retry=boom)).status == 200


def test_streamed_answers_come_back_open(standin):
    transport = make(standin)
    answer = transport.send("GET", "/payments/1", stream=True)
    try:
        assert answer.status == 200 and answer.body == b"" and answer.response is not None
        assert transport.read_body(answer.response, transport.deadline()) == b'{"ok": true}'
    finally:
        answer.close()


def test_one_pooled_session(standin):
    transport = make(standin)
    session = transport.session
    post(transport)
    assert transport.session is session
    assert session.get_adapter(standin.base_url)._pool_maxsize >= 16
    transport.close()
    assert transport.session is not session


def test_constructor_validation(standin):
    for bad in ({"timeout": 0}, {"max_attempts": 0}, {"backoff_base": -1}):
        with pytest.raises(ValueError):
            make(standin, **bad)


def test_a_hanging_upstream_is_cut_off_at_the_deadline(standin):
    # Real time is the subject here: the socket must give up when the deadline passes. The
    # upstream would answer after 30 s; the bounds are generous for a busy machine.
    standin.enqueue(*[Reply(200, delay=30.0)] * 3)
    transport = HttpTransport(standin.base_url, timeout=1.0, backoff_base=0.01)
    started = time.monotonic()
    with pytest.raises(TransportFailed):
        post(transport)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 10.0
    assert standin.count == 1  # the first attempt used up the whole deadline
