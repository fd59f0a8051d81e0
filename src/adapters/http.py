"""Outbound HTTP for every adapter that calls another service (SPEC §6.3, §12.3).

One pooled ``requests`` session per upstream, one overall deadline per operation, bounded
retries (tenacity) on connection errors, timeouts and HTTP 408/429/500/502/503/504 with
exponential backoff and jitter, ``Retry-After`` honoured when it fits inside the deadline, and
an optional idempotence key sent unchanged on every attempt of one operation (YooKassa's
``Idempotence-Key``: a retried POST must not charge twice). Any other status is not retried:
the answer goes back to the caller, who maps it (OpenRouter's 401/402/403, YooKassa's 4xx).

Used by ``OpenRouterImprover`` (``adapters/openrouter.py``) and meant for the payment gateway
and plain chat calls. Time is injected (``timer``: anything with ``monotonic()``, ``sleep()``
and ``time()``, the ``time`` module by default) so tests can check what the backoff waited
without waiting.

Failures leave this module as ``TransportFailed`` (never a requests exception: one carries the
prepared request, credentials included), raised outside ``except`` blocks so that nothing from
requests hangs off its ``__context__``; the caller turns it into its core error.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type
from urllib3.exceptions import ReadTimeoutError

logger = logging.getLogger(__name__)

__all__ = [
    "RETRY_STATUSES",
    "Answer",
    "Deadline",
    "DeadlineExceeded",
    "HttpTransport",
    "OnRetry",
    "Timer",
    "TransportFailed",
    "new_idempotence_key",
    "pooled_session",
    "retry_after_seconds",
]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
POOL_MAXSIZE = 256  # kept connections; one per request thread that may call at once
CONNECT_TIMEOUT_CAP = 10.0  # a black-holed connect must leave time for another attempt
MIN_ATTEMPT_SECONDS = 0.05  # do not start an attempt with less time than this left
MAX_BODY_BYTES = 4 * 1024 * 1024
ERROR_BODY_BYTES = 64 * 1024  # read this much of an error answer (for the log)
CHUNK_BYTES = 8192
IDEMPOTENCE_HEADER = "Idempotence-Key"

OnRetry = Callable[[int, str], Any]
"""Called before each retry with the number of the attempt that failed and why
(``"503"``, ``"429"``, ``"timeout"``, ``"connection"``); a failing hook is logged and ignored."""


class Timer(Protocol):
    """The time the transport sees; the ``time`` module is one."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, /) -> None: ...

    def time(self) -> float: ...


class TransportFailed(Exception):
    """The operation failed: retries used up, deadline passed, or a failure that is not worth
    retrying (TLS, an oversized body). ``reason`` is short and safe to log."""

    def __init__(self, reason: str, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class DeadlineExceeded(TransportFailed):
    """The deadline passed while a response was being read."""

    def __init__(self) -> None:
        super().__init__("timeout")


class _Retryable(Exception):
    """A transient failure of one attempt (internal; never leaves this module)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Deadline:
    """One point in monotonic time that every attempt, wait and read of an operation shares.
    ``cut_to`` may bring it forward (never back), e.g. to bound a drain after the answer."""

    __slots__ = ("at", "timer")

    def __init__(self, timer: Timer, at: float) -> None:
        self.timer = timer
        self.at = at

    def remaining(self) -> float:
        return self.at - self.timer.monotonic()

    def cut_to(self, seconds: float) -> None:
        self.at = min(self.at, self.timer.monotonic() + seconds)

    def __repr__(self) -> str:
        return f"Deadline(remaining={self.remaining():.3f})"


@dataclass
class Answer:
    """A final (not retried) answer. ``body`` is read unless the operation asked for a stream
    and the status is 2xx: then ``response`` is open and the caller must ``close()`` it."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    response: requests.Response | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def close(self) -> None:
        if self.response is not None:
            self.response.close()


def pooled_session(url: str, pool_maxsize: int = POOL_MAXSIZE) -> requests.Session:
    """A session with a connection pool big enough for every request thread and no urllib3
    retries of its own (retries are ours). Proxy settings for ``url`` are read once: by
    default requests re-reads the whole environment on every call."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def new_idempotence_key() -> str:
    """A fresh key for one operation; derive it instead when the operation must be the same
    across processes (a renewal: subscription and period)."""
    return str(uuid.uuid4())


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date, relative to ``now``
    in epoch seconds); None if absent or unreadable."""
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
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class HttpTransport:
    """Sends operations to one upstream (``base_url``). Thread-safe: one instance (and its
    connection pool) is meant to be shared by all request threads."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "upstream",
        timeout: float = 60.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
        on_retry: OnRetry | None = None,
        idempotence_header: str = IDEMPOTENCE_HEADER,
        timer: Timer = time,
        jitter: Callable[[float, float], float] = random.uniform,
        pool_maxsize: int = POOL_MAXSIZE,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if backoff_base < 0:
            raise ValueError("backoff_base must not be negative")
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.timeout = float(timeout)
        self.max_attempts = int(max_attempts)
        self.backoff_base = float(backoff_base)
        self.retry_statuses = frozenset(retry_statuses)
        self.on_retry = on_retry
        self.idempotence_header = idempotence_header
        self.timer = timer
        self.jitter = jitter
        self.pool_maxsize = pool_maxsize
        self._session: requests.Session | None = None
        self._session_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HttpTransport(name={self.name!r}, base_url={self.base_url!r})"

    # -- session ------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """The one pooled session, created on first use."""
        session = self._session
        if session is None:
            with self._session_lock:
                session = self._session
                if session is None:
                    session = pooled_session(self.base_url + "/", self.pool_maxsize)
                    self._session = session
        return session

    def close(self) -> None:
        with self._session_lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def deadline(self, seconds: float | None = None) -> Deadline:
        """A deadline ``seconds`` (by default the transport's timeout) from now."""
        return Deadline(self.timer, self.timer.monotonic() + (self.timeout if seconds is None else seconds))

    # -- one operation ------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        params: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
        stream: bool = False,
        idempotence_key: str | None = None,
    ) -> Answer:
        """One logical operation: attempts with retries until an answer that is not worth
        retrying arrives, all within ``deadline`` (by default ``timeout`` from now). With
        ``idempotence_key`` every attempt carries it in the idempotence header."""
        if deadline is None:
            deadline = self.deadline()
        url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        sent_headers = dict(headers or {})
        if idempotence_key is not None:
            sent_headers[self.idempotence_header] = idempotence_key
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=lambda rs: self._should_stop(rs, deadline),
            wait=lambda rs: self._wait_seconds(rs, deadline),
            before_sleep=self._before_sleep,
            sleep=self.timer.sleep,
            reraise=True,
        )
        attempts = 0

        def attempt() -> Answer:
            nonlocal attempts
            attempts += 1
            return self._attempt(method, url, data, sent_headers, auth, params, deadline, stream)

        try:
            return retrying(attempt)
        except _Retryable as exc:
            failure = TransportFailed(f"giving up after {attempts} attempt(s), last failure: {exc.reason}", attempts)
        raise failure

    def _attempt(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: dict[str, str],
        auth: Any,
        params: Mapping[str, str] | None,
        deadline: Deadline,
        stream: bool,
    ) -> Answer:
        remaining = deadline.remaining()
        if remaining <= MIN_ATTEMPT_SECONDS:
            raise _Retryable("deadline")
        # Exceptions are raised outside the ``except`` blocks: a requests exception carries
        # the prepared request (and so its credentials) and must not end up in the
        # __context__ chain of what we raise.
        failure: str | None = None
        try:
            resp = self.session.request(
                method,
                url,
                data=data,
                headers=headers,
                auth=auth,
                params=params,
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
            raise TransportFailed(f"request to {self.base_url} failed: {failure}")

        status = resp.status_code
        if 200 <= status < 300:
            if stream:
                return Answer(status, resp.headers, b"", resp)
            body_failure: TransportFailed | None = None
            try:
                body = self.read_body(resp, deadline)
            except TransportFailed as exc:
                body_failure = exc
            finally:
                resp.close()
            if body_failure is not None:
                if body_failure.reason in ("timeout", "connection"):
                    raise _Retryable(body_failure.reason)
                raise body_failure
            return Answer(status, resp.headers, body)

        # Another status: read (a bounded amount of) the body for the caller's log.
        try:
            body = self.read_body(resp, deadline, limit=ERROR_BODY_BYTES)
        except TransportFailed:
            body = b""
        finally:
            resp.close()
        if status in self.retry_statuses:
            raise _Retryable(str(status), retry_after_seconds(resp.headers.get("Retry-After"), self.timer.time()))
        return Answer(status, resp.headers, body)

    # -- retry policy -------------------------------------------------------------------

    def _should_stop(self, retry_state: RetryCallState, deadline: Deadline) -> bool:
        if retry_state.attempt_number >= self.max_attempts:
            return True
        return retry_state.upcoming_sleep >= deadline.remaining() - MIN_ATTEMPT_SECONDS

    def _wait_seconds(self, retry_state: RetryCallState, deadline: Deadline) -> float:
        """``Retry-After`` when the upstream sent one, else base * 2^(n-1) + U(0, base);
        never past the deadline (a wait that reaches it makes ``_should_stop`` give up)."""
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = retry_after
        else:
            n = retry_state.attempt_number
            wait = self.backoff_base * (2 ** (n - 1)) + self.jitter(0, self.backoff_base)
        return max(0.0, min(wait, deadline.remaining()))

    def _before_sleep(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        reason = getattr(exc, "reason", "error")
        attempt = retry_state.attempt_number
        logger.warning(
            "%s attempt %d failed (%s); retrying in %.2fs", self.name, attempt, reason, retry_state.upcoming_sleep
        )
        if self.on_retry is not None:
            try:
                self.on_retry(attempt, reason)
            except Exception:  # a metrics hook must never break the call
                logger.exception("on_retry hook failed")

    # -- reading ------------------------------------------------------------------------

    def chunks(self, resp: requests.Response, deadline: Deadline) -> Iterator[bytes]:
        """The body in chunks as they arrive; each socket read waits at most until the
        deadline, so a trickling server cannot stretch the operation past it (the deadline is
        read again before each chunk, so ``Deadline.cut_to`` takes effect at once). Raises
        ``DeadlineExceeded``; other requests exceptions pass through for the caller to map."""
        sock = _socket_of(resp)
        it = resp.iter_content(chunk_size=CHUNK_BYTES)
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise DeadlineExceeded()
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
                    isinstance(arg, (ReadTimeoutError, TimeoutError)) for arg in exc.args
                )
                if timed_out or deadline.remaining() <= 0.01:
                    raise DeadlineExceeded() from None
                raise
            if chunk:
                yield chunk

    def read_body(self, resp: requests.Response, deadline: Deadline, limit: int = MAX_BODY_BYTES) -> bytes:
        """The whole body, at most ``limit`` bytes. Failures are ``TransportFailed`` with
        reason ``timeout`` or ``connection`` (transient) or another (not)."""
        parts: list[bytes] = []
        size = 0
        failure: TransportFailed | None = None
        try:
            for chunk in self.chunks(resp, deadline):
                size += len(chunk)
                if size > limit:
                    failure = TransportFailed(f"response body exceeds {limit} bytes")
                    break
                parts.append(chunk)
        except DeadlineExceeded:
            failure = DeadlineExceeded()
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            failure = TransportFailed("connection")
        except requests.RequestException as exc:
            failure = TransportFailed(f"response could not be read: {type(exc).__name__}")
        if failure is not None:
            raise failure
        return b"".join(parts)


def _socket_of(resp: requests.Response) -> Any:
    conn = getattr(resp.raw, "connection", None) or getattr(resp.raw, "_connection", None)
    return getattr(conn, "sock", None)
