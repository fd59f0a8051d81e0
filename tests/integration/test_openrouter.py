"""OpenRouterImprover against a real HTTP stand-in for OpenRouter (SPEC §6.3)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from adapters.openrouter import OpenRouterImprover
from promptcore.domain.errors import LlmUnavailable, PromptRejected
from promptcore.domain.prompting import build_messages
from promptcore.domain.prompts import Improvement, ImprovementRequest, Style
from tests.integration import openrouter_standin as so
from tests.integration.http_standin import FakeTimer, Retries
from tests.integration.openrouter_standin import DEFAULT_USAGE, OpenRouterStandin

standin = so.standin  # the stand-in fixture (one fresh server per test)

KEY = "sk-or-v1-TESTKEY-0123456789abcdef"
REFERER = "https://promptcore.example"
STYLE = Style(
    slug="general",
    title={"en": "General", "ru": "Общий"},
    description={"en": "d", "ru": "d"},
    instructions="STYLE-INSTRUCTIONS",
)
PROMPT = "write a post about our new coffee machine {{product_name}}"


def make(
    server: OpenRouterStandin, models: tuple[str, ...] = ("openai/gpt-4o-mini",), **kw
) -> OpenRouterImprover:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("backoff_base", 0.01)
    return OpenRouterImprover(
        api_key=KEY, base_url=server.base_url, models=models, referer=REFERER, **kw
    )


def req(prompt: str = PROMPT, model: str | None = None) -> ImprovementRequest:
    return ImprovementRequest(prompt=prompt, style=STYLE, model=model)


def drain(
    improver: OpenRouterImprover, request: ImprovementRequest
) -> tuple[list[str], Improvement]:
    items = list(improver.stream(request))
    deltas, final = items[:-1], items[-1]
    assert all(isinstance(d, str) for d in deltas)
    assert isinstance(final, Improvement)
    return deltas, final


def assert_clean_chain(exc: BaseException) -> None:
    """No requests exception (which would hold the prepared request, Authorization header
    included) hangs off what the adapter raises."""
    seen = exc
    while seen is not None:
        assert not isinstance(seen, requests.RequestException), repr(seen)
        assert KEY not in str(seen) and KEY not in repr(seen)
        seen = seen.__cause__ or seen.__context__


@pytest.fixture
def no_key_leak(caplog):
    """Every log record of the test, checked for the API key at the end."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    assert KEY not in caplog.text
    assert "TESTKEY" not in caplog.text


# -- request format -----------------------------------------------------------------------


def test_request_format_and_result(standin, no_key_leak):
    improver = make(standin)
    result = improver.improve(req())

    assert standin.count == 1
    sent = standin.last
    assert sent.method == "POST"
    assert sent.path == "/api/v1/chat/completions"
    assert sent.header("Authorization") == f"Bearer {KEY}"
    assert sent.header("HTTP-Referer") == REFERER
    assert sent.header("X-Title") == "promptcore"
    assert sent.header("Content-Type").startswith("application/json")
    body = sent.json
    assert body["model"] == "openai/gpt-4o-mini"
    assert "models" not in body  # a single configured model: no fallbacks
    assert not body.get("stream")
    assert body["messages"] == build_messages(req())
    system, user = body["messages"]
    assert system["role"] == "system" and "STYLE-INSTRUCTIONS" in system["content"]
    assert user["role"] == "user"
    assert f"<prompt_to_improve>\n{PROMPT}\n</prompt_to_improve>" in user["content"]
    assert PROMPT not in system["content"]

    assert result.text == so.improved_text(body)
    assert result.model == "openai/gpt-4o-mini"
    assert result.usage == DEFAULT_USAGE
    assert result.cost == pytest.approx(0.000123)


def test_custom_title_header(standin):
    make(standin, title="promptcore-staging").improve(req())
    assert standin.last.header("X-Title") == "promptcore-staging"


def test_fallback_models_when_several_configured(standin):
    models = (
        "openai/gpt-4o-mini",
        "anthropic/claude-3.5-haiku",
        "google/gemini-flash-1.5",
    )
    improver = make(standin, models=models)

    improver.improve(req())
    assert standin.last.json["model"] == models[0]
    assert standin.last.json["models"] == list(models)

    improver.improve(req(model="anthropic/claude-3.5-haiku"))
    assert standin.last.json["model"] == "anthropic/claude-3.5-haiku"
    assert standin.last.json["models"] == [
        "anthropic/claude-3.5-haiku",
        "openai/gpt-4o-mini",
        "google/gemini-flash-1.5",
    ]


def test_records_the_model_actually_used(standin):
    standin.enqueue(
        so.success(
            text="  Better prompt.  ",
            model="anthropic/claude-3.5-haiku",
            usage={
                "prompt_tokens": 5,
                "completion_tokens": 3,
                "total_tokens": 8,
                "cost": 0.5,
            },
        )
    )
    result = make(
        standin, models=("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku")
    ).improve(req())
    assert result == Improvement(
        text="Better prompt.",
        model="anthropic/claude-3.5-haiku",
        usage={
            "prompt_tokens": 5,
            "completion_tokens": 3,
            "total_tokens": 8,
            "cost": 0.5,
        },
        cost=0.5,
    )


def test_usage_without_cost_and_no_usage(standin):
    standin.enqueue(
        so.success(
            usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
        ),
        so.success(usage=None),
    )
    improver = make(standin)
    first = improver.improve(req())
    assert (
        first.usage == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
        and first.cost is None
    )
    second = improver.improve(req())
    assert second.usage is None and second.cost is None


def test_russian_prompt_round_trips(standin):
    prompt = "напиши пост о нашей новой кофемашине"
    result = make(standin).improve(req(prompt))
    assert prompt in standin.last.json["messages"][1]["content"]
    assert prompt in result.text


# -- retries ------------------------------------------------------------------------------


def test_502_then_503_then_success(standin, no_key_leak):
    retries = Retries()
    standin.enqueue(so.status_reply(502), so.status_reply(503))
    result = make(standin, on_retry=retries).improve(req())
    assert standin.count == 3
    assert retries.calls == [(1, "502"), (2, "503")]
    assert result.text == so.improved_text(standin.last.json)
    # every attempt is the same request
    assert len({r.raw for r in standin.received}) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 504])
def test_other_retryable_statuses(standin, status):
    retries = Retries()
    standin.enqueue(so.status_reply(status))
    make(standin, on_retry=retries).improve(req())
    assert standin.count == 2
    assert retries.calls == [(1, str(status))]


def test_exhausted_retries_become_llm_unavailable(standin, no_key_leak):
    retries = Retries()
    standin.enqueue(*[so.status_reply(503)] * 5)
    with pytest.raises(LlmUnavailable) as info:
        make(standin, on_retry=retries).improve(req())
    assert standin.count == 3  # max_attempts defaults to 3
    assert [a for a, _ in retries.calls] == [1, 2]
    assert_clean_chain(info.value)


def test_max_attempts_is_configurable(standin):
    standin.enqueue(*[so.status_reply(502)] * 5)
    with pytest.raises(LlmUnavailable):
        make(standin, max_attempts=2).improve(req())
    assert standin.count == 2
    standin.reset()
    standin.enqueue(so.status_reply(502))
    with pytest.raises(LlmUnavailable):
        make(standin, max_attempts=1).improve(req())
    assert standin.count == 1


def test_backoff_grows_between_attempts(standin):
    timer = FakeTimer()
    standin.enqueue(*[so.status_reply(503)] * 3)
    with pytest.raises(LlmUnavailable):
        make(standin, backoff_base=0.3, timeout=5.0, timer=timer).improve(req())
    assert standin.count == 3
    first, second = timer.sleeps  # what the backoff waited, without waiting
    assert 0.3 <= first <= 0.6  # base * 2^0 + jitter(0..base)
    assert 0.6 <= second <= 0.9  # base * 2^1 + jitter(0..base)


def test_retry_after_is_honoured(standin):
    retries = Retries()
    timer = FakeTimer()
    standin.enqueue(so.rate_limited(retry_after=1))
    result = make(standin, timeout=5.0, on_retry=retries, timer=timer).improve(req())
    assert result.text
    assert standin.count == 2
    assert retries.calls == [(1, "429")]
    assert timer.sleeps == [1.0]  # exactly what Retry-After said


def test_retry_after_beyond_the_deadline_gives_up_at_once(standin):
    timer = FakeTimer()
    standin.enqueue(so.rate_limited(retry_after=30))
    with pytest.raises(LlmUnavailable):
        make(standin, timeout=3.0, timer=timer).improve(req())
    assert timer.sleeps == []  # not waiting out the 3 s deadline
    assert standin.count == 1


def test_retry_after_as_http_date(standin):
    from email.utils import formatdate

    timer = FakeTimer()
    standin.enqueue(so.rate_limited(retry_after=formatdate(timer.time() + 2, usegmt=True)))
    make(standin, timeout=5.0, timer=timer).improve(req())
    assert timer.sleeps == [2.0]


@pytest.mark.parametrize(
    "reply, error, words",
    [
        (so.unauthorized(), LlmUnavailable, ("401", "key")),
        (so.no_credits(), LlmUnavailable, ("402", "credits")),
        (so.moderated(), PromptRejected, ("403",)),
        (so.bad_request(), LlmUnavailable, ("400",)),
    ],
    ids=["401", "402", "403", "400"],
)
def test_no_retry_on_client_errors(standin, no_key_leak, reply, error, words):
    retries = Retries()
    standin.enqueue(reply)
    with pytest.raises(error) as info:
        make(standin, on_retry=retries).improve(req())
    assert standin.count == 1
    assert retries.calls == []
    assert KEY not in str(info.value)
    records = [r for r in no_key_leak.records if r.name == "adapters.openrouter"]
    level = logging.INFO if error is PromptRejected else logging.ERROR
    assert any(
        r.levelno >= level and all(w in r.getMessage() for w in words) for r in records
    )


def test_key_echoed_by_upstream_is_redacted_in_logs(standin, no_key_leak):
    standin.enqueue(so.status_reply(401, message=f"Invalid key {KEY}"))
    with pytest.raises(LlmUnavailable):
        make(standin).improve(req())
    assert "***" in no_key_leak.text


def test_key_not_in_repr(standin):
    improver = make(standin)
    assert KEY not in repr(improver)
    assert KEY not in repr(improver.__dict__)


def test_server_checks_key(standin):
    standin.api_key = "another-key"
    with pytest.raises(LlmUnavailable):
        make(standin).improve(req())
    assert standin.count == 1


def test_dropped_connection_is_retried(standin):
    retries = Retries()
    standin.enqueue(so.disconnect())
    result = make(standin, on_retry=retries).improve(req())
    assert result.text
    assert standin.count == 2
    assert retries.calls == [(1, "connection")]


def test_connection_refused_is_retried_then_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    retries = Retries()
    improver = OpenRouterImprover(
        api_key=KEY,
        base_url=f"http://127.0.0.1:{port}/api/v1",
        models=("m/a",),
        referer=REFERER,
        timeout=2.0,
        backoff_base=0.01,
        on_retry=retries,
    )
    with pytest.raises(LlmUnavailable) as info:
        improver.improve(req())
    assert retries.calls == [(1, "connection"), (2, "connection")]
    assert_clean_chain(info.value)


def test_failing_on_retry_hook_does_not_break_the_call(standin):
    def boom(attempt, reason):
        raise RuntimeError("metrics down")

    standin.enqueue(so.status_reply(503))
    assert make(standin, on_retry=boom).improve(req()).text


# -- 200 answers that are failures --------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        so.error_in_body(),
        so.error_in_body(code="server_error"),
        so.empty_content(),
        so.no_choices(),
        so.not_json(),
        so.success(text="   \n  "),
    ],
    ids=[
        "error-in-body",
        "error-string-code",
        "empty-content",
        "no-choices",
        "not-json",
        "blank-content",
    ],
)
def test_bad_200_is_a_failure_not_an_empty_prompt(standin, no_key_leak, reply):
    standin.enqueue(reply)
    with pytest.raises(LlmUnavailable):
        make(standin).improve(req())
    assert standin.count == 1


# -- deadline -----------------------------------------------------------------------------


# Real time is the subject of the tests that cut off a hanging or trickling upstream: the
# socket reads must give up when the deadline passes. Their upstream would take 30 s or more;
# the upper bounds are generous for a busy machine. The others move a fake clock.


def test_slow_response_times_out_within_the_deadline(standin):
    standin.enqueue(*[so.slow(30.0)] * 3)
    started = time.monotonic()
    with pytest.raises(LlmUnavailable) as info:
        make(standin, timeout=1.0).improve(req())
    elapsed = time.monotonic() - started
    assert 0.95 <= elapsed < 10.0  # the reply would take 30 s
    assert_clean_chain(info.value)
    assert standin.count == 1  # the first attempt used up the whole deadline


def upstream_takes(timer: FakeTimer, seconds: float, reply: so.Scripted) -> so.Scripted:
    """``reply``, as if the upstream had taken ``seconds`` (the fake clock moves on)."""

    def build(body):
        timer.advance(seconds)
        return reply(body) if callable(reply) else reply

    return build


def test_deadline_covers_all_attempts(standin):
    timer = FakeTimer()
    standin.enqueue(*[upstream_takes(timer, 0.5, so.status_reply(503))] * 10)
    with pytest.raises(LlmUnavailable):
        make(standin, timeout=1.2, max_attempts=10, timer=timer).improve(req())
    # 0.5 s a attempt plus a little backoff: the third attempt starts just before the 1.2 s
    # deadline and no fourth one; ten attempts would take at least 5 s.
    assert standin.count == 3
    assert sum(timer.sleeps) < 1.2 - 2 * 0.5


def test_slow_then_fast_succeeds_when_time_remains(standin):
    # the first attempt gets a 503 after 0.6 of the 1 s deadline, the second answers at once
    timer = FakeTimer()
    standin.enqueue(upstream_takes(timer, 0.6, so.status_reply(503)))
    assert make(standin, timeout=1.0, timer=timer).improve(req()).text
    assert standin.count == 2


def test_trickling_stream_is_cut_at_the_deadline(standin):
    # 60 words, an event every 0.25 s: the whole stream would take over 15 s
    standin.enqueue(so.sse_success(text=" ".join(["word"] * 60), event_delay=0.25))
    started = time.monotonic()
    received: list[str] = []
    with pytest.raises(LlmUnavailable):
        for item in make(standin, timeout=2.0).stream(req()):
            received.append(item)
    elapsed = time.monotonic() - started
    assert received and all(isinstance(r, str) for r in received)  # cut mid-stream, not before it
    assert len(received) < 60
    assert 1.95 <= elapsed < 10.0


# -- streaming ----------------------------------------------------------------------------


def test_stream_yields_the_same_text_as_improve(standin, no_key_leak):
    improver = make(standin)
    plain = improver.improve(req())
    deltas, final = drain(improver, req())

    sent = standin.last
    assert sent.json["stream"] is True
    assert sent.header("Accept") == "text/event-stream"
    assert sent.header("Authorization") == f"Bearer {KEY}"
    assert sent.json["messages"] == build_messages(req())
    assert len(deltas) > 3  # really streamed, comments skipped
    assert not any("OPENROUTER" in d for d in deltas)
    assert "".join(deltas).strip() == plain.text
    assert final.text == plain.text
    assert final.model == "openai/gpt-4o-mini"
    assert final.usage == DEFAULT_USAGE
    assert final.cost == pytest.approx(0.000123)


def test_stream_with_fallbacks_and_model_used(standin):
    standin.enqueue(
        so.sse_success(text="Better.", model="anthropic/claude-3.5-haiku", usage=None)
    )
    deltas, final = drain(
        make(standin, models=("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku")),
        req(),
    )
    assert standin.last.json["models"] == [
        "openai/gpt-4o-mini",
        "anthropic/claude-3.5-haiku",
    ]
    assert deltas == ["Better."]
    assert final == Improvement(
        text="Better.", model="anthropic/claude-3.5-haiku", usage=None, cost=None
    )


def test_stream_is_lazy(standin):
    generator = make(standin).stream(req())
    assert standin.count == 0
    next(generator)
    assert standin.count == 1
    generator.close()


def test_stream_retries_before_the_first_byte(standin):
    retries = Retries()
    standin.enqueue(so.status_reply(502), so.rate_limited(retry_after=0))
    deltas, final = drain(make(standin, on_retry=retries), req())
    assert standin.count == 3
    assert retries.calls == [(1, "502"), (2, "429")]
    assert final.text == "".join(deltas).strip()


def test_stream_mid_stream_error_raises(standin, no_key_leak):
    standin.enqueue(so.sse_mid_stream_error(), so.success())
    stream = make(standin).stream(req())
    assert next(stream) == "Role: "
    assert next(stream) == "you are "
    with pytest.raises(LlmUnavailable):
        next(stream)
    assert standin.count == 1  # no retry once the stream has started


@pytest.mark.parametrize(
    "reply", [so.sse_without_done(), so.sse_empty()], ids=["no-done", "no-content"]
)
def test_stream_incomplete_or_empty_is_a_failure(standin, reply):
    standin.enqueue(reply)
    with pytest.raises(LlmUnavailable):
        drain(make(standin), req())


@pytest.mark.parametrize(
    "reply, error",
    [
        (so.unauthorized(), LlmUnavailable),
        (so.no_credits(), LlmUnavailable),
        (so.moderated(), PromptRejected),
        (so.bad_request(), LlmUnavailable),
    ],
    ids=["401", "402", "403", "400"],
)
def test_stream_client_errors(standin, reply, error):
    standin.enqueue(reply)
    with pytest.raises(error):
        drain(make(standin), req())
    assert standin.count == 1


def test_stream_answered_with_json_error_body(standin):
    standin.enqueue(so.error_in_body())
    with pytest.raises(LlmUnavailable):
        drain(make(standin), req())


def test_stream_slow_first_byte_times_out(standin):
    # real time is the subject (see the deadline tests above)
    standin.enqueue(*[so.slow(30.0)] * 3)
    started = time.monotonic()
    with pytest.raises(LlmUnavailable):
        drain(make(standin, timeout=1.0), req())
    assert 0.95 <= time.monotonic() - started < 10.0  # the reply would take 30 s
    assert standin.count == 1


def test_stream_crlf_and_split_lines(standin):
    # CRLF line endings, a comment, an event split over two HTTP chunks, multi-byte text
    data = '{"model":"m/x","choices":[{"index":0,"delta":{"content":"Привет, "}}]}'
    events = [
        ": OPENROUTER PROCESSING\r\n\r\n",
        "data: " + data[:20],
        data[20:] + "\r\n\r\n",
        'data: {"model":"m/x","choices":[{"index":0,"delta":{"content":"мир"}}]}\r\n\r\n',
        "data: [DONE]\r\n\r\n",
    ]
    standin.enqueue(so.Reply(events=events))
    deltas, final = drain(make(standin), req())
    assert deltas == ["Привет, ", "мир"]
    assert final.text == "Привет, мир" and final.model == "m/x"


# -- concurrency --------------------------------------------------------------------------


def test_one_pooled_session_shared_by_threads(standin):
    standin.latency = 0.05
    improver = make(standin)
    barrier = threading.Barrier(16)

    def call(i: int) -> str:
        barrier.wait()
        return improver.improve(req(f"prompt number {i}")).text

    with ThreadPoolExecutor(max_workers=16) as pool:
        texts = list(pool.map(call, range(16)))
    assert all(f"prompt number {i}" in t for i, t in enumerate(texts))
    assert standin.count == 16
    session = improver.session
    assert improver.session is session
    adapter = session.get_adapter(standin.base_url)
    assert adapter._pool_maxsize >= 16
    improver.close()


def test_connections_are_reused(standin):
    improver = make(standin)
    for _ in range(3):
        improver.improve(req())
    for _ in range(3):
        drain(improver, req())
    assert standin.connections_opened == 1
    # a failed stream drops its connection; the next call simply opens another
    standin.enqueue(so.sse_mid_stream_error())
    with pytest.raises(LlmUnavailable):
        drain(improver, req())
    assert improver.improve(req()).text
    assert standin.connections_opened <= 2


def test_abandoned_stream_releases_its_response(standin):
    improver = make(standin)
    generator = improver.stream(req())
    assert isinstance(next(generator), str)
    generator.close()  # e.g. the browser went away
    assert improver.improve(req()).text


def test_constructor_validation(standin):
    with pytest.raises(ValueError):
        make(standin, models=())
    with pytest.raises(ValueError):
        OpenRouterImprover(
            api_key="", base_url=standin.base_url, models=("m/a",), referer=REFERER
        )
    with pytest.raises(ValueError):
        make(standin, max_attempts=0)
