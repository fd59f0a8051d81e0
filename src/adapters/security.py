"""Password hashing (argon2id), access tokens (JWT, HS256) and e-mailed tokens (itsdangerous)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadData, URLSafeTimedSerializer

from promptcore.domain.errors import InvalidToken, Unauthenticated
from promptcore.domain.users import ACCESS_TOKEN_TTL
from promptcore.ports import AccessTokenCodec, PasswordHasher, SignedTokenCodec

# RFC 9106's second recommended option; stronger than OWASP's minimum (m=19 MiB, t=2, p=1).
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 65536
ARGON2_PARALLELISM = 4


class Argon2PasswordHasher(PasswordHasher):
    def __init__(self, time_cost: int = ARGON2_TIME_COST, memory_cost: int = ARGON2_MEMORY_KIB,
                 parallelism: int = ARGON2_PARALLELISM) -> None:
        self._ph = _Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
                           hash_len=32, salt_len=16, type=Type.ID)
        self._dummy = self._ph.hash("promptcore-dummy-password")

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._ph.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._ph.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def dummy_verify(self, password: str) -> None:
        self.verify(self._dummy, password)


class InvalidAccessToken(Unauthenticated):
    default_message = "The access token is missing, invalid or expired."


class JwtAccessTokenCodec(AccessTokenCodec):
    """HS256 only; issuer, audience, type, id, issue and expiry times all required."""

    ALGORITHM = "HS256"

    def __init__(self, secret: str, issuer: str = "promptcore", audience: str = "promptcore-api",
                 ttl: timedelta = ACCESS_TOKEN_TTL) -> None:
        self._key = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl

    def issue(self, user_id: int, role: str, now: datetime) -> str:
        claims = {
            "sub": str(user_id),
            "role": role,
            "typ": "access",
            "iss": self._issuer,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
            "jti": uuid.uuid4().hex,
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
                options={"require": ["sub", "iat", "exp", "iss", "aud", "jti", "typ"]},
                leeway=5,
            )
        except jwt.PyJWTError:
            raise InvalidAccessToken() from None
        if claims.get("typ") != "access":
            raise InvalidAccessToken()
        return claims


class ItsdangerousTokenCodec(SignedTokenCodec):
    def __init__(self, secret: str) -> None:
        self._secret = secret

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret, salt=f"promptcore.{purpose}")

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
