"""OpenRouter improver (SPEC §6.3): the chat completions API through the shared transport.

``POST {base_url}/chat/completions`` with the messages built by the core. The transport
(``adapters/http.py``) brings the pooled session, the retries (connection errors, timeouts and
HTTP 408/429/500/502/503/504, at most ``max_attempts`` attempts, exponential backoff with
jitter, ``Retry-After`` honoured) and the one deadline of ``timeout`` seconds that all attempts
together, and for streams the whole stream, share, so a call can never outlive it (the quota's
stale-reservation rule relies on that). This module maps OpenRouter's answers: 401/402/400 are
"unavailable", 403 is a moderation refusal, a 200 without content is a failure, SSE streams.
The same adapter answers prompts as they are for Try it (SPEC §15.3, ``answer_stream``).

The API key only ever travels in the ``Authorization`` header: it is kept out of ``repr``,
exception messages and log records (upstream text that is logged is redacted too).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Generator, Iterable, Iterator
from typing import Any

import requests
from requests.auth import AuthBase

from promptcore.domain.compare import AnswerRequest, ModelAnswer
from promptcore.domain.errors import LlmUnavailable, PromptRejected
from promptcore.domain.prompting import build_messages
from promptcore.domain.prompts import Improvement, ImprovementRequest
from promptcore.ports import PromptAnswerer, PromptImprover

from .http import Answer, Deadline, DeadlineExceeded, HttpTransport, OnRetry, Timer, TransportFailed

logger = logging.getLogger(__name__)

LOGGED_TEXT_MAX = 300
DRAIN_SECONDS = 0.2


class _Bearer(AuthBase):
    """Sets the Authorization header. Passing it as ``auth`` also stops requests from
    replacing the header with ~/.netrc credentials."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def __repr__(self) -> str:
        return "<Bearer ***>"


class OpenRouterImprover(PromptImprover, PromptAnswerer):
    """Rewrites prompts through OpenRouter's chat completions API, and answers prompts as they
    are for Try it (SPEC §15.3) through the same session, deadline and retries. Thread-safe: one
    instance (and its connection pool) is meant to be shared by all request threads."""

    name = "openrouter"

    def __init__(
        self,
        api_key: str,
        base_url: str,
        models: tuple[str, ...],
        referer: str,
        title: str = "promptcore",
        timeout: float = 60.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        on_retry: OnRetry | None = None,
        timer: Timer = time,
    ) -> None:
        if not api_key or not isinstance(api_key, str):
            raise ValueError("OpenRouterImprover needs an API key")
        models = tuple(m.strip() for m in models if m and m.strip())
        if not models:
            raise ValueError("OpenRouterImprover needs at least one model")
        self._auth = _Bearer(api_key)  # the only place the key is kept
        self.transport = HttpTransport(
            base_url,
            name="OpenRouter",
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            on_retry=on_retry,
            timer=timer,
        )
        self.base_url = self.transport.base_url
        self.url = f"{self.base_url}/chat/completions"
        self.models = models
        self.referer = referer
        self.title = title
        self.timeout = self.transport.timeout

    def __repr__(self) -> str:
        return f"OpenRouterImprover(base_url={self.base_url!r}, models={self.models!r})"

    @property
    def session(self) -> requests.Session:
        """The transport's one pooled session, created on first use."""
        return self.transport.session

    def close(self) -> None:
        self.transport.close()

    # -- the port -----------------------------------------------------------------------

    def improve(self, request: ImprovementRequest) -> Improvement:
        model = self._model_for(request)
        answer = self._send(self._body(request, model, stream=False), self.transport.deadline(), stream=False)
        return self._parse_completion(answer.body, model)

    def stream(self, request: ImprovementRequest) -> Iterator[str | Improvement]:
        model = self._model_for(request)
        yield from self._streamed(self._body(request, model, stream=True), model)

    def answer_stream(self, request: AnswerRequest) -> Iterator[str | ModelAnswer]:
        """Try it (SPEC §15.3): the prompt as the only (user) message, streamed, on exactly the
        model asked for (no fallbacks, so both sides of a comparison answer on the same model)."""
        model = request.model or self.models[0]
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": request.prompt}],
                                "stream": True}
        inner = self._streamed(body, model)
        try:
            for item in inner:
                if isinstance(item, Improvement):
                    yield ModelAnswer(text=item.text, model=item.model, usage=item.usage, cost=item.cost)
                else:
                    yield item
        finally:
            inner.close()

    def _streamed(self, body: dict[str, Any], model: str) -> Generator[str | Improvement, None, None]:
        """Send a streamed request and yield its deltas, then the whole answer (as an Improvement)."""
        deadline = self.transport.deadline()
        answer = self._send(body, deadline, stream=True)
        resp = answer.response
        assert resp is not None  # a 200 asked as a stream comes back unread
        try:
            content_type = resp.headers.get("Content-Type", "")
            if "text/event-stream" not in content_type:
                # Not a stream after all (typically a JSON body carrying an error).
                try:
                    raw = self.transport.read_body(resp, deadline)
                except TransportFailed as exc:
                    reason = exc.reason
                else:
                    reason = None
                if reason is not None:
                    logger.error("OpenRouter response could not be read: %s", reason)
                    raise LlmUnavailable()
                result = self._parse_completion(raw, model)
                yield result.text
                yield result
                return
            yield from self._consume_stream(resp, deadline, model)
        finally:
            resp.close()

    # -- request ------------------------------------------------------------------------

    def _model_for(self, request: ImprovementRequest) -> str:
        return request.model or self.models[0]

    def _body(
        self, request: ImprovementRequest, model: str, stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": build_messages(request)}
        if len(self.models) > 1:
            body["models"] = [model] + [m for m in self.models if m != model]
        if stream:
            body["stream"] = True
        return body

    def _headers(self, stream: bool) -> dict[str, str]:
        headers = {
            "HTTP-Referer": self.referer,
            "X-Title": self.title,
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if stream:
            headers["Accept-Encoding"] = (
                "identity"  # no decompression buffering of deltas
            )
        return headers

    # -- sending ------------------------------------------------------------------------

    def _send(self, body: dict[str, Any], deadline: Deadline, stream: bool) -> Answer:
        """One logical call through the transport (retries included) until a 200 arrives.
        For ``stream`` the open response is returned (headers received, body unread)."""
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            answer = self.transport.send(
                "POST",
                "/chat/completions",
                data=payload,
                headers=self._headers(stream),
                auth=self._auth,
                deadline=deadline,
                stream=stream,
            )
        except TransportFailed as exc:
            reason = exc.reason
        else:
            if answer.status == 200:
                return answer
            answer.close()
            self._fail_status(answer.status, answer.body)
            raise AssertionError("unreachable")  # pragma: no cover
        logger.error("OpenRouter unavailable: %s", reason)
        raise LlmUnavailable()

    # -- responses ----------------------------------------------------------------------

    def _fail_status(self, status: int, raw: bytes) -> None:
        message, metadata = self._error_details(raw)
        if status == 401:
            logger.error(
                "OpenRouter rejected the API key (HTTP 401, bad key): %s", message
            )
            raise LlmUnavailable()
        if status == 402:
            logger.error(
                "OpenRouter reports no credits left (HTTP 402, insufficient credits): %s",
                message,
            )
            raise LlmUnavailable()
        if status == 403:
            reasons = metadata.get("reasons") if isinstance(metadata, dict) else None
            logger.info(
                "OpenRouter moderation rejected the prompt (HTTP 403): %s reasons=%s",
                message,
                reasons,
            )
            raise PromptRejected()
        if status == 400:
            logger.error(
                "OpenRouter refused the request as invalid (HTTP 400): %s", message
            )
            raise LlmUnavailable()
        logger.error("OpenRouter answered HTTP %d: %s", status, message)
        raise LlmUnavailable()

    def _error_details(self, raw: bytes) -> tuple[str, Any]:
        try:
            payload = json.loads(raw)
        except ValueError:
            return self._redact(raw.decode("utf-8", "replace")), None
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            return self._redact(str(error.get("message", ""))), error.get("metadata")
        return self._redact(str(error if error is not None else payload)), None

    def _redact(self, text: str) -> str:
        text = text.replace(self._auth._token, "***")
        if len(text) > LOGGED_TEXT_MAX:
            text = text[:LOGGED_TEXT_MAX] + "..."
        return text

    def _parse_completion(self, raw: bytes, requested_model: str) -> Improvement:
        try:
            payload = json.loads(raw)
        except ValueError:
            return self._bad_answer("a body that is not JSON")
        if not isinstance(payload, dict):
            return self._bad_answer("a JSON body that is not an object")
        if payload.get("error"):
            message, _ = self._error_details(raw)
            return self._bad_answer(f"an error in a 200 body: {message}")
        choices = payload.get("choices")
        if (
            not isinstance(choices, list)
            or not choices
            or not isinstance(choices[0], dict)
        ):
            return self._bad_answer("no choices")
        choice = choices[0]
        if choice.get("finish_reason") == "error":
            return self._bad_answer("finish_reason 'error'")
        message = choice.get("message")
        text = _text_of(
            message.get("content") if isinstance(message, dict) else None
        ).strip()
        if not text:
            return self._bad_answer("empty content")
        if choice.get("finish_reason") == "length":
            logger.warning("OpenRouter answer was cut at the token limit")
        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else None
        return Improvement(
            text=text,
            model=_model_of(payload, requested_model),
            usage=usage,
            cost=_cost_of(usage),
        )

    def _bad_answer(self, what: str) -> Improvement:
        logger.error("OpenRouter returned %s", what)
        raise LlmUnavailable()

    def _consume_stream(
        self, resp: requests.Response, deadline: Deadline, requested_model: str
    ) -> Iterator[str | Improvement]:
        parts: list[str] = []
        model = requested_model
        usage: dict[str, Any] | None = None
        done = False
        events = _sse_data(self.transport.chunks(resp, deadline))
        try:
            for data in events:
                if data.strip() == "[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    self._bad_answer("a stream event that is not JSON")
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("error"):
                    error = chunk["error"]
                    message = (
                        error.get("message", "") if isinstance(error, dict) else error
                    )
                    self._bad_answer(
                        f"an error mid-stream: {self._redact(str(message))}"
                    )
                model = _model_of(chunk, model)
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                choices = chunk.get("choices")
                if (
                    not isinstance(choices, list)
                    or not choices
                    or not isinstance(choices[0], dict)
                ):
                    continue
                choice = choices[0]
                if choice.get("finish_reason") == "error":
                    self._bad_answer("finish_reason 'error' mid-stream")
                delta = choice.get("delta")
                piece = _text_of(
                    delta.get("content") if isinstance(delta, dict) else None
                )
                if piece:
                    parts.append(piece)
                    yield piece
        except DeadlineExceeded:
            logger.error("OpenRouter stream exceeded the %.1fs deadline", self.timeout)
            raise LlmUnavailable() from None
        except requests.RequestException as exc:
            logger.error("OpenRouter stream broke off: %s", type(exc).__name__)
            raise LlmUnavailable() from None
        if not done:
            self._bad_answer("a stream that ended without [DONE]")
        text = "".join(parts).strip()
        if not text:
            self._bad_answer("a stream with no content")
        yield Improvement(text=text, model=model, usage=usage, cost=_cost_of(usage))
        # After the last yield (so it costs the caller nothing): read what follows [DONE],
        # normally just the end of the body, so the connection goes back to the pool; an
        # abandoned half-read body would make urllib3 close it.
        deadline.cut_to(DRAIN_SECONDS)
        try:
            for _ in events:
                pass
        except (DeadlineExceeded, requests.RequestException, OSError) as exc:
            logger.debug(
                "OpenRouter stream not drained after [DONE]: %s", type(exc).__name__
            )


# -- helpers ------------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _model_of(payload: dict[str, Any], fallback: str) -> str:
    model = payload.get("model")
    return model if isinstance(model, str) and model else fallback


def _cost_of(usage: dict[str, Any] | None) -> float | None:
    if not usage:
        return None
    cost = usage.get("cost")
    if isinstance(cost, bool) or not isinstance(cost, (int, float)):
        return None
    return float(cost)


_EOL = re.compile(rb"\r\n|\r|\n")


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Split a byte stream into lines ending in CRLF, LF or CR (the SSE rule)."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        start = 0
        while True:
            m = _EOL.search(buf, start)
            if m is None or (m.group() == b"\r" and m.end() == len(buf)):
                break  # no full line yet (a final CR may be the first half of a CRLF)
            yield buf[start : m.start()]
            start = m.end()
        buf = buf[start:]
    if buf:
        yield buf.rstrip(b"\r")


def _sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """The ``data`` of each SSE event; comment lines (``: OPENROUTER PROCESSING``) and
    other fields are skipped. An unterminated event at the end is still delivered."""
    data: list[str] = []
    for raw in _lines(chunks):
        line = raw.decode("utf-8", "replace")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
    if data:
        yield "\n".join(data)
