"""OpenRouter improver (SPEC §6.3): one pooled HTTP session, bounded retries, one deadline.

``POST {base_url}/chat/completions`` with the messages built by the core. Retries (tenacity)
wrap only the outbound call: connection errors, timeouts and HTTP 408/429/500/502/503/504,
at most ``max_attempts`` attempts, exponential backoff with jitter, ``Retry-After`` honoured.
All attempts together, and for streams the whole stream, share one deadline of ``timeout``
seconds, so a call can never outlive it (the quota's stale-reservation rule relies on that).

The API key only ever travels in the ``Authorization`` header: it is kept out of ``repr``,
exception messages and log records (upstream text that is logged is redacted too).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from tenacity import Retrying, retry_if_exception_type
from urllib3.exceptions import ReadTimeoutError

from promptcore.domain.errors import LlmUnavailable, PromptRejected
from promptcore.domain.prompting import build_messages
from promptcore.domain.prompts import Improvement, ImprovementRequest
from promptcore.ports import PromptImprover

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
POOL_MAXSIZE = 256  # kept connections; one per request thread that may call at once
CONNECT_TIMEOUT_CAP = 10.0  # a black-holed connect must leave time for another attempt
MIN_ATTEMPT_SECONDS = 0.05  # do not start an attempt with less time than this left
MAX_BODY_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 8192
LOGGED_TEXT_MAX = 300
DRAIN_SECONDS = 0.2

OnRetry = Callable[[int, str], Any]


class _Retryable(Exception):
    """A transient failure of one attempt (internal; never leaves this module)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _DeadlineExceeded(Exception):
    """The overall deadline passed while a response was being read (internal)."""


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


class OpenRouterImprover(PromptImprover):
    """Rewrites prompts through OpenRouter's chat completions API. Thread-safe: one
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
    ) -> None:
        if not api_key or not isinstance(api_key, str):
            raise ValueError("OpenRouterImprover needs an API key")
        models = tuple(m.strip() for m in models if m and m.strip())
        if not models:
            raise ValueError("OpenRouterImprover needs at least one model")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if backoff_base < 0:
            raise ValueError("backoff_base must not be negative")
        self._auth = _Bearer(api_key)  # the only place the key is kept
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.models = models
        self.referer = referer
        self.title = title
        self.timeout = float(timeout)
        self.max_attempts = int(max_attempts)
        self.backoff_base = float(backoff_base)
        self.on_retry = on_retry
        self._session: requests.Session | None = None
        self._session_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenRouterImprover(base_url={self.base_url!r}, models={self.models!r})"

    # -- session ------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """The one pooled session, created on first use."""
        session = self._session
        if session is None:
            with self._session_lock:
                session = self._session
                if session is None:
                    session = requests.Session()
                    # Read proxy settings once: by default requests re-reads the whole
                    # environment on every call, a measurable cost per generation.
                    session.proxies.update(requests.utils.get_environ_proxies(self.url))
                    session.trust_env = False
                    adapter = HTTPAdapter(
                        pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0
                    )
                    session.mount("https://", adapter)
                    session.mount("http://", adapter)
                    self._session = session
        return session

    def close(self) -> None:
        with self._session_lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    # -- the port -----------------------------------------------------------------------

    def improve(self, request: ImprovementRequest) -> Improvement:
        model = self._model_for(request)
        deadline = time.monotonic() + self.timeout
        _, raw = self._send(
            self._body(request, model, stream=False), deadline, stream=False
        )
        return self._parse_completion(raw, model)

    def stream(self, request: ImprovementRequest) -> Iterator[str | Improvement]:
        model = self._model_for(request)
        deadline = time.monotonic() + self.timeout
        resp, _ = self._send(
            self._body(request, model, stream=True), deadline, stream=True
        )
        try:
            content_type = resp.headers.get("Content-Type", "")
            if "text/event-stream" not in content_type:
                # Not a stream after all (typically a JSON body carrying an error).
                try:
                    raw = self._read_body_once(resp, deadline)
                except (_Retryable, _DeadlineExceeded):
                    logger.error(
                        "OpenRouter response could not be read before the deadline"
                    )
                    raise LlmUnavailable() from None
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

    # -- sending with retries -----------------------------------------------------------

    def _send(
        self, body: dict[str, Any], deadline: float, stream: bool
    ) -> tuple[requests.Response, bytes]:
        """One logical call: attempts with retries until a 200 arrives. For ``stream`` the
        open response is returned (headers received, body unread); otherwise the body."""
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=lambda rs: self._should_stop(rs, deadline),
            wait=lambda rs: self._wait_seconds(rs, deadline),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, payload, deadline, stream)
        except _Retryable as exc:
            reason = exc.reason
        logger.error(
            "OpenRouter unavailable: giving up after retries (last failure: %s)", reason
        )
        raise LlmUnavailable()

    def _attempt(
        self, payload: bytes, deadline: float, stream: bool
    ) -> tuple[requests.Response, bytes]:
        remaining = deadline - time.monotonic()
        if remaining <= MIN_ATTEMPT_SECONDS:
            raise _Retryable("deadline")
        # Exceptions are raised outside the ``except`` blocks: a requests exception carries
        # the prepared request (and so the Authorization header) and must not end up in the
        # __context__ chain of what we raise.
        failure: str | None = None
        try:
            resp = self.session.post(
                self.url,
                data=payload,
                headers=self._headers(stream),
                auth=self._auth,
                timeout=(min(remaining, CONNECT_TIMEOUT_CAP), remaining),
                stream=True,
            )
        except requests.exceptions.SSLError:
            failure = "tls"
        except requests.Timeout:
            failure = "timeout"
        except requests.ConnectionError:
            failure = "connection"
        except requests.RequestException as exc:
            failure = type(exc).__name__
        if failure in ("timeout", "connection"):
            raise _Retryable(failure)
        if failure is not None:
            logger.error("OpenRouter request to %s failed: %s", self.base_url, failure)
            raise LlmUnavailable()

        status = resp.status_code
        if status == 200:
            if stream:
                return resp, b""
            try:
                return resp, self._read_body_once(resp, deadline)
            except _DeadlineExceeded:
                raise _Retryable("timeout") from None
            finally:
                resp.close()

        # An error status: read (a bounded amount of) the body for the log, then map it.
        try:
            raw = self._read_body_once(resp, deadline, limit=64 * 1024)
        except (_DeadlineExceeded, _Retryable, LlmUnavailable):
            raw = b""
        finally:
            resp.close()
        if status in RETRY_STATUSES:
            raise _Retryable(str(status), _retry_after(resp.headers.get("Retry-After")))
        self._fail_status(status, raw)
        raise AssertionError("unreachable")  # pragma: no cover

    def _should_stop(self, retry_state: Any, deadline: float) -> bool:
        if retry_state.attempt_number >= self.max_attempts:
            return True
        return (
            time.monotonic() + retry_state.upcoming_sleep
            >= deadline - MIN_ATTEMPT_SECONDS
        )

    def _wait_seconds(self, retry_state: Any, deadline: float) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = retry_after
        else:  # exponential backoff with jitter: base * 2^(n-1) + U(0, base)
            n = retry_state.attempt_number
            wait = self.backoff_base * (2 ** (n - 1)) + random.uniform(
                0, self.backoff_base
            )
        remaining = deadline - time.monotonic()
        return max(0.0, min(wait, remaining))

    def _before_sleep(self, retry_state: Any) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        reason = getattr(exc, "reason", "error")
        attempt = retry_state.attempt_number
        logger.warning(
            "OpenRouter attempt %d failed (%s); retrying in %.2fs",
            attempt,
            reason,
            retry_state.upcoming_sleep,
        )
        if self.on_retry is not None:
            try:
                self.on_retry(attempt, reason)
            except Exception:  # a metrics hook must never break the call
                logger.exception("on_retry hook failed")

    # -- reading ------------------------------------------------------------------------

    def _chunks(
        self, resp: requests.Response, deadline: float, bound: list[float] | None = None
    ) -> Iterator[bytes]:
        """The body in chunks as they arrive; each socket read waits at most until the
        deadline, so a trickling server cannot stretch the call past it. ``bound`` (one
        float in a list) may bring the deadline forward while the generator runs."""
        sock = _socket_of(resp)
        it = resp.iter_content(chunk_size=CHUNK_BYTES)
        while True:
            limit = deadline if bound is None else min(deadline, bound[0])
            remaining = limit - time.monotonic()
            if remaining <= 0:
                raise _DeadlineExceeded()
            if sock is not None:
                try:
                    sock.settimeout(remaining)
                except OSError:
                    sock = None
            try:
                chunk = next(it)
            except StopIteration:
                return
            except requests.RequestException as exc:
                timed_out = isinstance(exc, requests.Timeout) or any(
                    isinstance(arg, (ReadTimeoutError, TimeoutError))
                    for arg in exc.args
                )
                if timed_out or time.monotonic() >= limit - 0.01:
                    raise _DeadlineExceeded() from None
                raise
            if chunk:
                yield chunk

    def _read_body_once(
        self, resp: requests.Response, deadline: float, limit: int = MAX_BODY_BYTES
    ) -> bytes:
        """The whole body. Transient read failures become _Retryable (the caller is inside
        an attempt); a body over ``limit`` bytes is a failure."""
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in self._chunks(resp, deadline):
                size += len(chunk)
                if size > limit:
                    logger.error("OpenRouter response body exceeds %d bytes", limit)
                    raise LlmUnavailable()
                parts.append(chunk)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            raise _Retryable("connection") from None
        except requests.RequestException as exc:
            logger.error(
                "OpenRouter response could not be read: %s", type(exc).__name__
            )
            raise LlmUnavailable() from None
        return b"".join(parts)

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
        self, resp: requests.Response, deadline: float, requested_model: str
    ) -> Iterator[str | Improvement]:
        parts: list[str] = []
        model = requested_model
        usage: dict[str, Any] | None = None
        done = False
        bound = [deadline]
        events = _sse_data(self._chunks(resp, deadline, bound))
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
        except _DeadlineExceeded:
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
        bound[0] = time.monotonic() + DRAIN_SECONDS
        try:
            for _ in events:
                pass
        except (_DeadlineExceeded, requests.RequestException, OSError) as exc:
            logger.debug(
                "OpenRouter stream not drained after [DONE]: %s", type(exc).__name__
            )


# -- helpers ------------------------------------------------------------------------------


def _socket_of(resp: requests.Response) -> Any:
    conn = getattr(resp.raw, "connection", None) or getattr(
        resp.raw, "_connection", None
    )
    return getattr(conn, "sock", None)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


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
