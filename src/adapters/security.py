"""Password hashing (argon2id), access tokens (JWT, HS256) and e-mailed tokens (itsdangerous)."""

from __future__ import annotations

import math
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from promptcore.domain.errors import InvalidToken, ServiceBusy, Unauthenticated
from promptcore.domain.users import ACCESS_TOKEN_TTL
from promptcore.ports import AccessTokenCodec, Clock, PasswordHasher, SignedTokenCodec

from .clock import SystemClock

# RFC 9106's second recommended option; stronger than OWASP's minimum (m=19 MiB, t=2, p=1).
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 65536
ARGON2_PARALLELISM = 4


# How long a sign-in waits for a hashing slot before it is refused with 503 + Retry-After.
HASH_SLOT_WAIT_SECONDS = 3.0


def default_hash_slots() -> int:
    """Concurrent hashes one process allows by default: one per CPU the process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Argon2PasswordHasher(PasswordHasher):
    """argon2id, with a bound on concurrent work.

    Each running hash holds ``memory_cost`` KiB (64 MiB in production), so unbounded parallel
    sign-ins (unknown addresses included: they verify against a dummy hash) exhaust a server's
    memory. Every hash and verify takes one of ``max_concurrent`` slots (default: the CPU count;
    more would not finish sooner), waits up to ``slot_wait`` seconds for one, and otherwise
    raises ServiceBusy, which the entrypoints answer with 503 and Retry-After. The bound is per
    process: a server's worst case is workers x max_concurrent x memory_cost.
    """

    def __init__(self, time_cost: int = ARGON2_TIME_COST, memory_cost: int = ARGON2_MEMORY_KIB,
                 parallelism: int = ARGON2_PARALLELISM, max_concurrent: int | None = None,
                 slot_wait: float = HASH_SLOT_WAIT_SECONDS) -> None:
        self._ph = _Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
                           hash_len=32, salt_len=16, type=Type.ID)
        self.max_concurrent = max_concurrent or default_hash_slots()
        if self.max_concurrent < 1 or slot_wait < 0:
            raise ValueError("max_concurrent must be at least 1 and slot_wait not negative")
        self._slot_wait = slot_wait
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._count_lock = threading.Lock()
        self._in_use = 0
        self._dummy = self._ph.hash("promptcore-dummy-password")

    @property
    def slots_in_use(self) -> int:
        return self._in_use

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one hashing slot; ServiceBusy if none frees up within ``slot_wait`` seconds."""
        if not self._slots.acquire(timeout=self._slot_wait):
            raise ServiceBusy(retry_after=math.ceil(self._slot_wait) or 1)
        with self._count_lock:
            self._in_use += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._in_use -= 1
            self._slots.release()

    def hash(self, password: str) -> str:
        with self.slot():
            return self._ph.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self.slot():
            try:
                return self._ph.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, password_hash: str) -> bool:
        # Only parses the hash's parameters: no memory-hard work, so no slot. The re-hash
        # that follows goes through hash() and its slot.
        try:
            return self._ph.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def dummy_verify(self, password: str) -> None:
        self.verify(self._dummy, password)


class InvalidAccessToken(Unauthenticated):
    default_message = "The access token is missing, invalid or expired."


class JwtAccessTokenCodec(AccessTokenCodec):
    """HS256 only; issuer, audience, type, id, issue and expiry times all required. Expiry and
    issue time are checked against the ``clock`` (PyJWT itself would read the wall clock)."""

    ALGORITHM = "HS256"
    LEEWAY_SECONDS = 5

    def __init__(self, secret: str, issuer: str = "promptcore", audience: str = "promptcore-api",
                 ttl: timedelta = ACCESS_TOKEN_TTL, clock: Clock | None = None) -> None:
        self._key = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl
        self._clock = clock or SystemClock()

    def issue(self, user_id: int, role: str, now: datetime, generation: int = 0) -> str:
        claims = {
            "sub": str(user_id),
            "role": role,
            "typ": "access",
            "iss": self._issuer,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
            "jti": uuid.uuid4().hex,
            "gen": generation,
        }
        return jwt.encode(claims, self._key, algorithm=self.ALGORITHM)

    def verify(self, token: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self.ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["sub", "iat", "exp", "iss", "aud", "jti", "typ", "gen"],
                         "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            raise InvalidAccessToken() from None
        if claims.get("typ") != "access" or not self._current(claims):
            raise InvalidAccessToken()
        return claims

    def _current(self, claims: dict[str, Any]) -> bool:
        """Issued, not expired and not yet to come, by the clock, within the leeway."""
        times = [claims.get(name) for name in ("iat", "exp", "nbf") if name in claims]
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times):
            return False
        now = self._clock.now().timestamp()
        if claims["exp"] <= now - self.LEEWAY_SECONDS:
            return False
        return all(claims[name] <= now + self.LEEWAY_SECONDS for name in ("iat", "nbf") if name in claims)


class _ClockTimestampSigner(TimestampSigner):
    """itsdangerous's timestamp signer, with time read from a Clock instead of the wall clock."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock.now().timestamp())


class ItsdangerousTokenCodec(SignedTokenCodec):
    """Tokens signed and, on loading, aged by the ``clock`` (signing time and ``max_age``)."""

    def __init__(self, secret: str, clock: Clock | None = None) -> None:
        self._secret = secret
        self._clock = clock or SystemClock()

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret, salt=f"promptcore.{purpose}", signer=_ClockTimestampSigner,
                                      signer_kwargs={"clock": self._clock})

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        return self._serializer(purpose).dumps(payload)

    def loads(self, purpose: str, token: str, max_age: timedelta) -> dict[str, Any]:
        if not isinstance(token, str) or not token or len(token) > 2048:
            raise InvalidToken()
        try:
            data = self._serializer(purpose).loads(token, max_age=int(max_age.total_seconds()))
        except BadData:
            raise InvalidToken() from None
        if not isinstance(data, dict):
            raise InvalidToken()
        return data
