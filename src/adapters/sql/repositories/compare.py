"""Try it (SPEC §15.3): the comparison kept with a record, one per record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, null, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from promptcore.domain.compare import SIDES, Comparison, Side, SideStatus
from promptcore.ports import ComparisonRepository

from .. import tables as t


def _side_values(name: str, side: Side) -> dict[str, Any]:
    return {
        f"{name}_status": side.status.value,
        f"{name}_text": side.text,
        f"{name}_model": side.model,
        f"{name}_error": side.error,
        f"{name}_latency_ms": side.latency_ms,
        f"{name}_usage": side.usage if side.usage is not None else null(),
    }


def _side(row: Any, name: str) -> Side:
    return Side(
        status=SideStatus(getattr(row, f"{name}_status")),
        text=getattr(row, f"{name}_text"),
        model=getattr(row, f"{name}_model"),
        error=getattr(row, f"{name}_error"),
        latency_ms=getattr(row, f"{name}_latency_ms"),
        usage=getattr(row, f"{name}_usage"),
    )


class SqlComparisonRepository(ComparisonRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def put(self, comparison: Comparison) -> None:
        pc = t.prompt_comparisons
        values: dict[str, Any] = {"record_id": comparison.record_id, "model": comparison.model,
                                  "input": comparison.input, "created_at": comparison.created_at}
        for name in SIDES:
            values.update(_side_values(name, comparison.side(name)))
        insert = pg_insert if self._c.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(pc).values(values)
        stmt = stmt.on_conflict_do_update(index_elements=["record_id"],
                                          set_={k: v for k, v in values.items() if k != "record_id"})
        self._c.execute(stmt)

    def get(self, user_id: int, record_id: int) -> Comparison | None:
        pc, pr = t.prompt_comparisons, t.prompt_requests
        row = self._c.execute(select(pc).join(pr, pr.c.id == pc.c.record_id).where(
            pc.c.record_id == record_id, pr.c.user_id == user_id, pr.c.deleted_at.is_(None))).first()
        if row is None:
            return None
        return Comparison(record_id=row.record_id, user_id=user_id, model=row.model, input=row.input,
                          a=_side(row, "a"), b=_side(row, "b"), created_at=row.created_at)

    def delete(self, record_id: int) -> None:
        self._c.execute(delete(t.prompt_comparisons).where(t.prompt_comparisons.c.record_id == record_id))
