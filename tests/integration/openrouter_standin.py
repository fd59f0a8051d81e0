"""A real HTTP server on loopback that stands in for OpenRouter's ``/chat/completions``.

It records every request (headers and JSON body) and answers from a queue of scripted
replies set by the test; when the queue is empty it answers like a healthy OpenRouter,
with a deterministic improved prompt (streamed as SSE when the request asks for it), or, for a
prompt sent as it is (Try it), a deterministic answer that names the prompt it got. Rules
(``when``) answer the requests that match them whatever order they arrive in.

Use it as a context manager::

    with OpenRouterStandin() as server:
        server.enqueue(status_reply(503), success())
        improver = OpenRouterImprover(api_key="k", base_url=server.base_url, ...)

as a pytest fixture (``from tests.integration.openrouter_standin import standin``), or as a
script serving the default answer forever, for benchmarks and manual runs::

    python -m tests.integration.openrouter_standin --port 9100 --latency 2.0
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.integration.loopback_server import LoopbackHandler, LoopbackServer

PROCESSING = ": OPENROUTER PROCESSING"
DEFAULT_USAGE: dict[str, Any] = {
    "prompt_tokens": 42,
    "completion_tokens": 17,
    "total_tokens": 59,
    "cost": 0.000123,
}
_TAGGED = re.compile(r"<prompt_to_improve>\n?(.*?)\n?</prompt_to_improve>", re.DOTALL)


# -- replies ------------------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer.

    ``events`` makes it an SSE stream: each item is sent as its own HTTP chunk (write the
    blank line that ends an event yourself, e.g. ``"data: {...}\\n\\n"``).
    """

    status: int = 200
    json_body: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line is sent
    events: list[str] | None = None
    event_delay: float = 0.0  # seconds before each SSE chunk
    drop: bool = False  # close the connection without answering


Scripted = Reply | Callable[[dict[str, Any]], Reply]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    json: Any
    at: float  # time.monotonic() when the request was read

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return None


def original_of(body: dict[str, Any]) -> str:
    """The user's prompt as quoted in the request's user message."""
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            content = str(message.get("content", ""))
            m = _TAGGED.search(content)
            return m.group(1) if m else content
    return ""


def requested_model(body: dict[str, Any]) -> str:
    return body.get("model") or (body.get("models") or ["openrouter/auto"])[0]


def improved_text(body: dict[str, Any]) -> str:
    """The deterministic 'improved prompt' of the default answer."""
    return (
        "Role: you are an experienced expert.\n"
        f"Task: {original_of(body)}\n"
        "Output format: a clear, complete answer in the same language."
    )


def prompt_of(body: dict[str, Any]) -> str:
    """The whole user message (for a Try it request: the prompt to answer, as it is)."""
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def is_improvement(body: dict[str, Any]) -> bool:
    """An improvement request quotes the prompt in tags; a Try it request (SPEC §15.3) sends it as it is."""
    return "<prompt_to_improve>" in prompt_of(body)


def answer_text(body: dict[str, Any]) -> str:
    """The deterministic answer to a prompt sent as it is (Try it): it names the prompt it got
    (its first line and length), so the answers to the original and the improved prompt differ."""
    prompt = prompt_of(body)
    first = prompt.strip().splitlines()[0] if prompt.strip() else ""
    return f"Answer to “{first[:80]}” ({len(prompt)} characters): here is what you asked for."


def default_text(body: dict[str, Any]) -> str:
    """The default answer: an improved prompt for an improvement, an answer for a Try it request."""
    return improved_text(body) if is_improvement(body) else answer_text(body)


def asking(fragment: str) -> Callable[[dict[str, Any]], bool]:
    """A rule's condition (``OpenRouterStandin.when``): the user message contains ``fragment``."""
    return lambda body: fragment in prompt_of(body)


def completion(
    text: str,
    model: str,
    usage: dict[str, Any] | None = DEFAULT_USAGE,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "gen-standin-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "provider": "Standin",
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "native_finish_reason": finish_reason,
                "message": {"role": "assistant", "content": text},
            }
        ],
    }
    if usage is not None:
        body["usage"] = dict(usage)
    return body


def chunk_event(
    model: str,
    content: str | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    with_choice: bool = True,
) -> str:
    data: dict[str, Any] = {
        "id": "gen-standin-1",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "provider": "Standin",
        "choices": [],
    }
    if with_choice:
        delta: dict[str, Any] = {"role": "assistant"}
        if content is not None:
            delta["content"] = content
        data["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    if usage is not None:
        data["usage"] = dict(usage)
    if error is not None:
        data["error"] = error
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def split_deltas(text: str) -> list[str]:
    """Word-sized pieces that join back to ``text``."""
    return re.findall(r"\S+\s*|\s+", text)


def sse_events(
    text: str,
    model: str,
    usage: dict[str, Any] | None = DEFAULT_USAGE,
    comments: int = 2,
    done: bool = True,
) -> list[str]:
    """A stream as OpenRouter sends it: keep-alive comments, deltas, a finish chunk, a usage
    chunk and ``data: [DONE]``."""
    events = [f"{PROCESSING}\n\n"] * comments
    events.append(chunk_event(model, content=""))
    pieces = split_deltas(text)
    for i, piece in enumerate(pieces):
        events.append(chunk_event(model, content=piece))
        if i == 0 and comments:
            events.append(f"{PROCESSING}\n\n")  # comments can arrive mid-stream too
    events.append(chunk_event(model, content="", finish_reason="stop"))
    if usage is not None:
        events.append(chunk_event(model, usage=usage, with_choice=False))
    if done:
        events.append("data: [DONE]\n\n")
    return events


def _error_body(
    code: int | str, message: str, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if metadata is not None:
        error["metadata"] = metadata
    return {"error": error}


# Scenario factories. Each returns something to ``enqueue``; the ones that depend on the
# request (model, text) are callables evaluated when the request arrives.


def success(
    text: str | None = None,
    model: str | None = None,
    usage: dict[str, Any] | None = DEFAULT_USAGE,
    delay: float = 0.0,
) -> Scripted:
    """200 with a completion (streamed when the request has ``stream: true``). ``model``
    overrides the model reported as used (e.g. a fallback)."""

    def build(body: dict[str, Any]) -> Reply:
        answer = default_text(body) if text is None else text
        used = model or requested_model(body)
        if body.get("stream"):
            return Reply(events=sse_events(answer, used, usage), delay=delay)
        return Reply(json_body=completion(answer, used, usage), delay=delay)

    return build


def status_reply(
    status: int,
    message: str | None = None,
    retry_after: str | float | None = None,
    delay: float = 0.0,
) -> Reply:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return Reply(
        status=status,
        json_body=_error_body(status, message or f"Stand-in error {status}"),
        headers=headers,
        delay=delay,
    )


def rate_limited(retry_after: str | float | None = 1) -> Reply:
    return status_reply(
        429, "Rate limit exceeded: too many requests", retry_after=retry_after
    )


def unauthorized() -> Reply:
    return status_reply(401, "No auth credentials found")


def no_credits() -> Reply:
    return status_reply(
        402, "Insufficient credits. Add more using https://openrouter.ai/credits"
    )


def bad_request() -> Reply:
    return status_reply(400, "messages: Required")


def moderated(reasons: tuple[str, ...] = ("harassment",)) -> Reply:
    return Reply(
        status=403,
        json_body=_error_body(
            403,
            "openai/gpt-4o-mini requires moderation on OpenAI. Your input was flagged for "
            f'"{reasons[0]}". No credits were charged.',
            {
                "reasons": list(reasons),
                "flagged_input": "...",
                "provider_name": "OpenAI",
                "model_slug": "openai/gpt-4o-mini",
            },
        ),
    )


def error_in_body(
    code: int | str = 502, message: str = "Upstream provider error"
) -> Reply:
    """200 whose JSON body carries ``error`` (the model failed after OpenRouter said OK)."""
    return Reply(status=200, json_body=_error_body(code, message))


def empty_content() -> Scripted:
    return lambda body: Reply(json_body=completion("", requested_model(body)))


def no_choices() -> Scripted:
    def build(body: dict[str, Any]) -> Reply:
        answer = completion("x", requested_model(body))
        answer["choices"] = []
        return Reply(json_body=answer)

    return build


def not_json() -> Reply:
    return Reply(
        body=b"<html><body>Bad gateway</body></html>",
        headers={"Content-Type": "text/html"},
    )


def sse_success(
    text: str | None = None,
    model: str | None = None,
    usage: dict[str, Any] | None = DEFAULT_USAGE,
    comments: int = 2,
    event_delay: float = 0.0,
) -> Scripted:
    def build(body: dict[str, Any]) -> Reply:
        answer = default_text(body) if text is None else text
        return Reply(
            events=sse_events(answer, model or requested_model(body), usage, comments),
            event_delay=event_delay,
        )

    return build


def sse_mid_stream_error(
    deltas: tuple[str, ...] = ("Role: ", "you are "),
    message: str = "Provider disconnected unexpectedly",
) -> Scripted:
    """A few deltas, then an error chunk (top-level ``error``, finish_reason ``error``);
    OpenRouter then ends the stream."""

    def build(body: dict[str, Any]) -> Reply:
        model = requested_model(body)
        events = [f"{PROCESSING}\n\n", chunk_event(model, content="")]
        events += [chunk_event(model, content=d) for d in deltas]
        events.append(
            chunk_event(
                model,
                content="",
                finish_reason="error",
                error={"code": "server_error", "message": message},
            )
        )
        return Reply(events=events)

    return build


def sse_without_done(deltas: tuple[str, ...] = ("Role: ", "you are ")) -> Scripted:
    def build(body: dict[str, Any]) -> Reply:
        model = requested_model(body)
        return Reply(
            events=[f"{PROCESSING}\n\n"]
            + [chunk_event(model, content=d) for d in deltas]
        )

    return build


def sse_empty() -> Scripted:
    """A well-formed stream with no content at all."""
    return lambda body: Reply(events=sse_events("", requested_model(body)))


def slow(seconds: float, then: Scripted | None = None) -> Scripted:
    """Answer (by default successfully) only after ``seconds``."""

    def build(body: dict[str, Any]) -> Reply:
        inner = then if then is not None else success()
        reply = inner(body) if callable(inner) else inner
        return Reply(**{**reply.__dict__, "delay": reply.delay + seconds})

    return build


def disconnect() -> Reply:
    """Close the connection without answering (a connection error for the client)."""
    return Reply(drop=True)


# -- the server ---------------------------------------------------------------------------


class _Handler(LoopbackHandler):
    timeout = 120  # idle keep-alive connections are dropped after this

    def do_GET(self) -> None:
        self._send_json(404, _error_body(404, "Not found"))

    def do_POST(self) -> None:
        standin = self.server.standin
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, _error_body(404, "Not found"))
            return
        standin._record(
            Recorded(
                "POST",
                self.path,
                dict(self.headers.items()),
                raw,
                body,
                time.monotonic(),
            )
        )
        if not isinstance(body, dict):
            self._send_json(400, _error_body(400, "Body must be a JSON object"))
            return
        if (
            standin.api_key is not None
            and self.headers.get("Authorization") != f"Bearer {standin.api_key}"
        ):
            self._send_reply(unauthorized())
            return
        item = standin._rule_for(body) or standin._next()
        if item is None:
            item = slow(standin.latency) if standin.latency > 0 else success()
        reply = item(body) if callable(item) else item
        self._send_reply(reply)

    # -- writing ----------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any) -> None:
        self._send_reply(Reply(status=status, json_body=payload))

    def _send_reply(self, reply: Reply) -> None:
        standin = self.server.standin
        if reply.delay > 0 and standin._stopping.wait(reply.delay):
            self.close_connection = True
            return
        if reply.drop:
            self.close_connection = True
            return
        try:
            if reply.events is not None:
                self._send_events(reply)
            else:
                self._send_body(reply)
        except (TimeoutError, BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (e.g. its timeout)

    def _send_body(self, reply: Reply) -> None:
        headers = dict(reply.headers)
        if reply.body is not None:
            data = reply.body
        else:
            data = json.dumps(
                reply.json_body if reply.json_body is not None else {},
                ensure_ascii=False,
            ).encode()
            headers.setdefault("Content-Type", "application/json")
        self._send_bytes(reply.status, data, headers)

    def _send_events(self, reply: Reply) -> None:
        standin = self.server.standin
        self.send_response(reply.status)
        headers = {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            **reply.headers,
        }
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for event in reply.events or []:
            if reply.event_delay > 0 and standin._stopping.wait(reply.event_delay):
                self.close_connection = True
                return
            data = event.encode("utf-8")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class OpenRouterStandin(LoopbackServer):
    """The stand-in server. ``latency`` delays every default (unscripted) answer."""

    thread_name = "openrouter-standin"
    request_queue_size = 256

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        api_key: str | None = None,
        max_recorded: int | None = None,
    ) -> None:
        super().__init__(host, port)
        self.latency = latency
        self.api_key = api_key  # when set, other keys get 401
        self._queue: list[Scripted] = []
        # (condition, reply): answers every request the condition holds for, before the queue
        self._rules: list[tuple[Callable[[dict[str, Any]], bool], Scripted]] = []
        # bounded when serving for long (benchmarks), so memory stays flat
        self._received: deque[Recorded] = deque(maxlen=max_recorded)

    def _handler_class(self) -> type[_Handler]:
        return _Handler  # looked up at start: bench/standin.py swaps in its own

    @property
    def base_url(self) -> str:
        """What OPENROUTER_BASE_URL should be set to."""
        return f"{self.url}/api/v1"

    # scripting and inspection

    def enqueue(self, *items: Scripted) -> None:
        """Answer the next requests with these, in order; then the default answer."""
        with self._lock:
            self._queue.extend(items)

    def when(self, condition: Callable[[dict[str, Any]], bool], item: Scripted) -> None:
        """Answer every request whose JSON body meets ``condition`` with ``item`` (until reset),
        whatever order requests arrive in: parallel calls (Try it's two sides) need this, as a
        queue is consumed in arrival order. E.g. ``when(asking("Role:"), status_reply(503))``."""
        with self._lock:
            self._rules.append((condition, item))

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def received(self) -> list[Recorded]:
        with self._lock:
            return list(self._received)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._received)

    @property
    def last(self) -> Recorded:
        with self._lock:
            return self._received[-1]

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rules.clear()
            self._received.clear()

    # used by the handler

    def _rule_for(self, body: dict[str, Any]) -> Scripted | None:
        with self._lock:
            rules = list(self._rules)
        return next((item for condition, item in rules if condition(body)), None)

    def _next(self) -> Scripted | None:
        with self._lock:
            return self._queue.pop(0) if self._queue else None

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self._received.append(recorded)


try:
    import pytest
except ImportError:  # pragma: no cover - script use without pytest installed
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def standin() -> Iterator[OpenRouterStandin]:
        """A fresh stand-in per test."""
        with OpenRouterStandin() as server:
            yield server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve an OpenRouter stand-in on loopback."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before each answer"
    )
    parser.add_argument("--api-key", default=None, help="answer 401 to any other key")
    args = parser.parse_args(argv)
    server = OpenRouterStandin(
        args.host, args.port, args.latency, args.api_key, max_recorded=1000
    ).start()
    print(
        f"OpenRouter stand-in on {server.base_url} (latency {args.latency}s); Ctrl-C stops it",
        flush=True,
    )
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
