"""Helpers shared by the SQL repositories."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, func


def advisory_key(scope: str, key: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks."""
    return int.from_bytes(hashlib.sha256(f"{scope}:{key}".encode()).digest()[:8], "big", signed=True)



def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def lower(conn: Connection, expr: Any) -> Any:
    """``lower(expr)`` that folds every letter on both backends: SQLite's own lower() folds
    ASCII only (``Промпт`` stays ``Промпт``), so on SQLite it is Python's str.lower, registered
    once per connection; PostgreSQL's lower() follows the database's character type."""
    if conn.dialect.name != "sqlite":
        return func.lower(expr)
    pooled = conn.connection
    if not pooled.info.get("promptcore_lower"):
        pooled.dbapi_connection.create_function("promptcore_lower", 1, _fold, deterministic=True)
        pooled.info["promptcore_lower"] = True
    return func.promptcore_lower(expr)
