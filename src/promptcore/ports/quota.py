"""Quota: the ledger of units spent against users' daily limits (SPEC §6.5).

A unit is reserved (``pending``) before its spender calls out, kept when the spender succeeds and
released (gone) when it fails. Anything can spend one — a generation today; a comparison, a
template improvement or a tool call later — by naming itself as the unit's source. History rows
are not the quota: deleting a record leaves its unit where it is, and an imported record never
had one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from ..domain.access import UncheckedToken
from ..domain.prompts import PromptRecord
from ..domain.quota import UnitSource


class QuotaLedger(ABC):
    @abstractmethod
    def reserve(self, user_id: int, at: datetime, source: UnitSource, source_id: int | None = None,
                team_id: int | None = None) -> int:
        """Add a pending unit of this user's, created ``at``, spent by ``source`` (and the id of
        the spender's own row, if it has one); the unit's id. With ``team_id`` the unit is drawn
        from that team's pool (SPEC §14) and never counts against the user's own limit. The caller
        has checked the limit under the user's row lock (and the team's, for a pool)."""
    @abstractmethod
    def keep(self, unit_id: int) -> None:
        """The spender succeeded: a pending unit becomes kept and counts until it leaves the
        window. Nothing happens to a unit that is not pending (kept already, or released)."""
    @abstractmethod
    def release(self, unit_id: int) -> None:
        """The spender failed: a pending unit is removed. A kept unit stays."""
    @abstractmethod
    def usage(self, user_id: int, since: datetime, stale_before: datetime,
              limit: int) -> tuple[int, datetime | None]:
        """Of this user's own units (not drawn from a team pool) created at or after ``since`` that
        count (kept ones, and pending ones created at or after ``stale_before``), take the newest
        ``limit``: their number and the oldest creation time among them (0 and None when ``limit``
        is 0 or less). That is all the quota arithmetic needs (QuotaPolicy.status_of)."""
    @abstractmethod
    def pool_usage(self, team_id: int, since: datetime, stale_before: datetime, limit: int,
                   user_id: int | None = None) -> tuple[int, datetime | None]:
        """As ``usage``, for the units drawn from a team's pool (by one member, with ``user_id``)."""
    @abstractmethod
    def pool_by_member(self, team_id: int, since: datetime, stale_before: datetime) -> dict[int, int]:
        """user id → the counted units each member drew from the team's pool since ``since``."""


@dataclass(frozen=True)
class Reserved:
    """A generation's unit and pending record written in one step, and the usage it was counted
    against: ``limit``, and ``used``/``oldest`` as ``QuotaLedger.usage`` answers them before it."""

    limit: int
    used: int
    oldest: datetime | None
    record_id: int
    unit_id: int


class GenerationSteps(ABC):
    """A generation's two writes, each as one step the database runs by itself — where a database
    can (PostgreSQL: migration 0015's functions, one round trip each). ``Quota.reserve`` and
    ``Prompts._finish`` stay the rule; these are the same rule, run in one step."""

    @abstractmethod
    def reserve(self, user_id: int, team_id: int | None, record: PromptRecord, now: datetime, since: datetime,
                stale_before: datetime, default_limit: int, token: UncheckedToken | None = None
                ) -> Reserved | None:
        """Under the user's row lock (and the team's after it, with ``team_id``): when the account
        is active and confirmed (and accepts ``token``, an access token not checked yet) and the
        unit is safely within the limit — the personal limit with at least two units left (the unit
        that reaches it, and its limit e-mail, go through ``Quota.reserve``), or the team's pool
        with a unit left, the member's cap too — write the pending ``record`` (created ``now``) and
        its unit, and answer them. Otherwise write nothing and answer None: the caller takes
        ``Quota.reserve``, which decides again and raises."""

    @abstractmethod
    def finish(self, record: PromptRecord, unit_id: int) -> None:
        """The record's outcome (its answer; only its status when it was deleted meanwhile) and
        its unit's: kept, with the day's usage counter for its style, when the record succeeded;
        released otherwise."""
