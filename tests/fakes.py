"""In-memory implementations of every port, for unit tests."""

from __future__ import annotations

import copy
import dataclasses
import html as html_escaping
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from promptcore.domain.custom_styles import CustomStyle
from promptcore.domain.errors import DeliveryFailed, InvalidToken, TitleTaken, Unauthenticated
from promptcore.domain.notifications import SentNotification
from promptcore.domain.prompts import Improvement, ImprovementRequest, PromptRecord, RecordStatus, Style
from promptcore.domain.quick_templates import QUICK_TEMPLATES
from promptcore.domain.quota import UnitSource, UnitStatus
from promptcore.domain.teams import Invitation, Member, SharedRecord, Team, TeamRole
from promptcore.domain.templates import Template, TemplateVersion
from promptcore.domain.users import ACCESS_TOKEN_TTL, User
from promptcore.ports import (
    AccessTokenCodec,
    Clock,
    CustomStyleRepository,
    DuplicateEmail,
    InvitationRepository,
    LoginFailureRepository,
    Mailer,
    MailMessage,
    MailRequest,
    MailRequestRepository,
    MailTemplates,
    NotificationRepository,
    Outbox,
    OutboxItem,
    PasswordHasher,
    PromptImprover,
    PromptRepository,
    QuotaLedger,
    RefreshTokenRepository,
    RefreshTokenRow,
    SharedRecordRepository,
    SignedTokenCodec,
    StyleRepository,
    TeamRepository,
    TemplateRepository,
    UnitOfWork,
    UserRepository,
)
from promptcore.ports.mail import MAIL_KINDS
from tests.fake_api_keys import FakeApiKeyRepository  # noqa: F401 - the ApiKeyRepository port's fake
from tests.fake_billing import (
    FakeBillingEventRepository,
    FakePaymentRepository,
    FakePlanRepository,
    FakeRefundRepository,
    FakeSubscriptionRepository,
    seed_plans,
)
from tests.fake_compare import FakeAnswerer, FakeComparisonRepository  # noqa: F401 - Try it's ports
from tests.fake_generation import FakeGenerationSteps  # noqa: F401 - the GenerationSteps port's fake
from tests.fake_payments import FakePaymentGateway  # noqa: F401 - the PaymentGateway port's fake


class FakeClock(Clock):
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


def _utc(value: datetime | None) -> datetime | None:
    """As the SQL adapters' UtcDateTime columns: what is stored comes back in UTC."""
    return value.astimezone(timezone.utc) if value is not None else None


# The quick templates as migration 0008 seeds them, with ids far from the store's counter (the
# fake's ids are shared by every kind of row, so the builtins cannot take the first ones).
BUILTIN_TEMPLATE_IDS = 1_000_000_000
BUILTINS_SEEDED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def seed_quick_templates() -> dict[int, Template]:
    return {BUILTIN_TEMPLATE_IDS + n: Template(
        id=BUILTIN_TEMPLATE_IDS + n, owner_id=None, builtin=q.key, language=q.language, title=q.title,
        description=q.description, body=q.body, tags=tuple(sorted(set(q.tags))), favourite=False, version=1,
        created_at=BUILTINS_SEEDED_AT, updated_at=BUILTINS_SEEDED_AT, extra={"position": q.position},
    ) for n, q in enumerate(QUICK_TEMPLATES)}


def seed_quick_template_versions() -> dict[int, list[TemplateVersion]]:
    return {template_id: [TemplateVersion(template_id, 1, template.body, None, BUILTINS_SEEDED_AT)]
            for template_id, template in seed_quick_templates().items()}


@dataclass
class FakeStore:
    """The committed state shared by every FakeUnitOfWork made from it. FakeUnitOfWork.commit
    writes back every field but ``ids``, so a new repository's state needs only a field here."""

    users: dict[int, User] = field(default_factory=dict)
    refresh: dict[int, dict[str, Any]] = field(default_factory=dict)
    failures: list[tuple[str, datetime]] = field(default_factory=list)
    outbox: dict[int, dict[str, Any]] = field(default_factory=dict)
    mail_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    styles: dict[str, Style] = field(default_factory=dict)
    prompts: dict[int, PromptRecord] = field(default_factory=dict)
    deleted_prompts: dict[int, datetime] = field(default_factory=dict)
    counters: dict[tuple[int, str, str], int] = field(default_factory=dict)
    quota_units: dict[int, dict[str, Any]] = field(default_factory=dict)
    notifications_sent: dict[int, SentNotification] = field(default_factory=dict)
    # the library: templates (the quick templates seeded), their versions (oldest first), custom styles
    templates: dict[int, Template] = field(default_factory=seed_quick_templates)
    template_versions: dict[int, list[TemplateVersion]] = field(default_factory=seed_quick_template_versions)
    custom_styles: dict[int, CustomStyle] = field(default_factory=dict)
    # billing (tests/fake_billing.py)
    plans: dict[str, Any] = field(default_factory=seed_plans)
    subscriptions: dict[int, Any] = field(default_factory=dict)
    payments: dict[int, Any] = field(default_factory=dict)
    refunds: dict[int, Any] = field(default_factory=dict)
    billing_events: dict[str, datetime] = field(default_factory=dict)
    # teams: the teams, their memberships by (team id, user id), the invitations
    teams: dict[int, Team] = field(default_factory=dict)
    team_members: dict[tuple[int, int], Member] = field(default_factory=dict)
    invitations: dict[int, Invitation] = field(default_factory=dict)
    # personal API keys (tests/fake_api_keys.py) and how many times a key's last use was written
    api_keys: dict[int, Any] = field(default_factory=dict)
    api_key_touches: int = 0
    # records shared with a team, by record id
    shared_records: dict[int, SharedRecord] = field(default_factory=dict)
    # Try it (SPEC §15.3): the comparison kept with a record, by record id (tests/fake_compare.py)
    comparisons: dict[int, Any] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))


class FakeUserRepository(UserRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, user: User) -> User:
        if any(u.email == user.email for u in self.s.users.values()):
            raise DuplicateEmail(user.email)
        user.id = next(self.s.ids)
        self.s.users[user.id] = self._stored(user)
        return user

    @staticmethod
    def _stored(user: User) -> User:
        return dataclasses.replace(copy.deepcopy(user), created_at=_utc(user.created_at),
                                   updated_at=_utc(user.updated_at))

    def get(self, user_id: int) -> User | None:
        user = self.s.users.get(user_id)
        return copy.deepcopy(user) if user else None

    def get_by_email(self, email: str) -> User | None:
        return next((copy.deepcopy(u) for u in self.s.users.values() if u.email == email), None)

    def lock(self, user_id: int) -> User | None:
        return self.get(user_id)

    def update(self, user: User) -> None:
        if any(u.email == user.email and u.id != user.id for u in self.s.users.values()):
            raise DuplicateEmail(user.email)
        if user.id in self.s.users:  # as UPDATE ... WHERE id = :id: an unknown id changes nothing
            self.s.users[user.id] = self._stored(user)

    def delete(self, user_id: int) -> None:
        # As the schema's ON DELETE CASCADE: every row that references the user goes with it
        # (tests/contract holds the list to the foreign keys of adapters/sql/tables.py).
        self.s.users.pop(user_id, None)
        for key in [k for k, r in self.s.prompts.items() if r.user_id == user_id]:
            del self.s.prompts[key]
            self.s.deleted_prompts.pop(key, None)
            self.s.shared_records.pop(key, None)
        for shared in self.s.shared_records.values():
            if shared.shared_by == user_id:
                shared.shared_by = None
        for item in [*self.s.templates.values(), *self.s.custom_styles.values()]:
            if item.author_id == user_id:
                item.author_id = None
        for key in [k for k, r in self.s.refresh.items() if r["user_id"] == user_id]:
            del self.s.refresh[key]
        for key in [k for k, api_key in self.s.api_keys.items() if api_key.user_id == user_id]:
            del self.s.api_keys[key]
        for key in [k for k in self.s.counters if k[0] == user_id]:
            del self.s.counters[key]
        for key in [k for k, u in self.s.quota_units.items() if u["user_id"] == user_id]:
            del self.s.quota_units[key]
        for key in [k for k, n in self.s.notifications_sent.items() if n.user_id == user_id]:
            del self.s.notifications_sent[key]
        for key in [k for k, tpl in self.s.templates.items() if tpl.owner_id == user_id]:
            del self.s.templates[key]
            self.s.template_versions.pop(key, None)
        for key in [k for k, c in self.s.custom_styles.items() if c.owner_id == user_id]:
            del self.s.custom_styles[key]
        for key in [k for k in self.s.team_members if k[1] == user_id]:  # a team may be left ownerless
            del self.s.team_members[key]
        for team in self.s.teams.values():  # ON DELETE SET NULL
            if team.created_by == user_id:
                team.created_by = None
        for invitation in self.s.invitations.values():
            if invitation.invited_by == user_id:
                invitation.invited_by = None
        for versions in self.s.template_versions.values():  # ON DELETE SET NULL
            for version in versions:
                if version.author_id == user_id:
                    version.author_id = None

    def search(self, query: str | None, after_id: int | None, limit: int) -> list[User]:
        users = sorted(self.s.users.values(), key=lambda u: u.id)
        if query:
            q = query.lower()
            users = [u for u in users if q in u.email.lower() or q in (u.name or "").lower()]
        if after_id is not None:
            users = [u for u in users if u.id > after_id]
        return [copy.deepcopy(u) for u in users[:limit]]


class FakeRefreshTokenRepository(RefreshTokenRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, user_id, family_id, token_hash, expires_at, now) -> None:
        new_id = next(self.s.ids)
        self.s.refresh[new_id] = dict(id=new_id, user_id=user_id, family_id=family_id, token_hash=token_hash,
                                      created_at=_utc(now), expires_at=_utc(expires_at), used_at=None,
                                      revoked_at=None)

    def get_by_hash(self, token_hash: str) -> RefreshTokenRow | None:
        for r in self.s.refresh.values():
            if r["token_hash"] == token_hash:
                return RefreshTokenRow(r["id"], r["user_id"], r["family_id"], r["expires_at"], r["used_at"],
                                       r["revoked_at"])
        return None

    def mark_used(self, token_id: int, now: datetime) -> bool:
        r = self.s.refresh.get(token_id)  # an unknown id updates no row: False, as SQL
        if r is None or r["used_at"] or r["revoked_at"]:
            return False
        r["used_at"] = _utc(now)
        return True

    def revoke_family(self, family_id: str, now: datetime) -> None:
        for r in self.s.refresh.values():
            if r["family_id"] == family_id and r["revoked_at"] is None:
                r["revoked_at"] = _utc(now)

    def revoke_user(self, user_id: int, now: datetime) -> None:
        for r in self.s.refresh.values():
            if r["user_id"] == user_id and r["revoked_at"] is None:
                r["revoked_at"] = _utc(now)


class FakeLoginFailureRepository(LoginFailureRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def lock(self, key: str) -> None:
        pass  # one fake unit of work runs at a time

    def record(self, key: str, at: datetime) -> int:
        new_id = next(self.s.ids)
        self.s.failures.append((key, _utc(at), new_id))
        return new_id

    def remove(self, failure_id: int) -> None:
        self.s.failures = [f for f in self.s.failures if f[2] != failure_id]

    def since(self, key: str, since: datetime) -> list[datetime]:
        return [at for k, at, _id in sorted(self.s.failures, key=lambda f: (f[1], f[2])) if k == key and at >= since]

    def clear(self, key: str) -> None:
        self.s.failures = [f for f in self.s.failures if f[0] != key]


class FakeOutbox(Outbox):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, message: MailMessage, now: datetime) -> None:
        new_id = next(self.s.ids)
        self.s.outbox[new_id] = dict(id=new_id, message=message, created_at=_utc(now), attempts=0,
                                     next_attempt_at=_utc(now), locked_until=None, sent_at=None, last_error=None)

    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        items = []
        for r in sorted(self.s.outbox.values(), key=lambda r: r["id"]):
            if len(items) >= limit:
                break
            if r["sent_at"] is None and r["next_attempt_at"] <= now and (
                    r["locked_until"] is None or r["locked_until"] < now):
                r["locked_until"] = now + lease
                r["attempts"] += 1
                items.append(OutboxItem(r["id"], r["message"], r["attempts"]))
        return items

    # As UPDATE ... WHERE id = :id, an unknown id changes nothing.
    def mark_sent(self, item_id: int, now: datetime) -> None:
        self.s.outbox.get(item_id, {}).update(sent_at=_utc(now), locked_until=None, last_error=None)

    def mark_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        self.s.outbox.get(item_id, {}).update(locked_until=None, next_attempt_at=_utc(retry_at),
                                              last_error=error[:500])  # the column's length

    def pending_count(self) -> int:
        return sum(1 for r in self.s.outbox.values() if r["sent_at"] is None)

    def recent(self, limit: int):
        rows = sorted(self.s.outbox.values(), key=lambda r: -r["id"])[:limit]
        return [(r["message"], r["created_at"], r["sent_at"]) for r in rows]

    def queued_since(self, to: str, kind: str, since: datetime) -> bool:
        # A message without a kind is stored with none (NULL), which no kind matches.
        return bool(kind) and any(r["message"].to == to and r["message"].kind == kind and r["created_at"] >= since
                                  for r in self.s.outbox.values())


class FakeMailRequests(MailRequestRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, kind: str, email: str, language: str, now: datetime) -> None:
        new_id = next(self.s.ids)
        self.s.mail_requests[new_id] = dict(id=new_id, kind=kind, email=email, language=language,
                                            created_at=_utc(now), locked_until=None, done_at=None)

    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[MailRequest]:
        items = []
        for r in sorted(self.s.mail_requests.values(), key=lambda r: r["id"]):
            if len(items) < limit and r["done_at"] is None and (r["locked_until"] is None or r["locked_until"] < now):
                r["locked_until"] = now + lease
                items.append(MailRequest(r["id"], r["kind"], r["email"], r["language"]))
        return items

    def mark_done(self, request_id: int, now: datetime) -> None:
        self.s.mail_requests.get(request_id, {}).update(done_at=_utc(now), locked_until=None)


class FakeStyleRepository(StyleRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def list(self) -> list[Style]:
        return [copy.deepcopy(s) for s in sorted(self.s.styles.values(), key=lambda s: (s.position, s.slug))]

    def get(self, slug: str) -> Style | None:
        return copy.deepcopy(self.s.styles.get(slug))


class FakePromptRepository(PromptRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, record: PromptRecord) -> PromptRecord:
        record.id = next(self.s.ids)
        self.s.prompts[record.id] = dataclasses.replace(copy.deepcopy(record), created_at=_utc(record.created_at))
        return record

    def get(self, user_id: int, record_id: int) -> PromptRecord | None:
        r = self.s.prompts.get(record_id)
        if r is None or r.user_id != user_id or record_id in self.s.deleted_prompts:
            return None
        return copy.deepcopy(r)

    def same_texts(self, user_id: int, created_at: list[datetime]) -> set[tuple[datetime, str, str | None]]:
        instants = set(created_at)
        return {(r.created_at, r.original_prompt, r.generated_prompt) for r in self.s.prompts.values()
                if r.user_id == user_id and r.id not in self.s.deleted_prompts and r.created_at in instants}

    def finish(self, record: PromptRecord) -> None:
        stored = self.s.prompts.get(record.id)
        if stored is None:  # as UPDATE ... WHERE id = :id: an unknown id changes nothing
            return
        stored.status = record.status
        if record.id in self.s.deleted_prompts:  # deleted while generating: only the status
            return
        # the outcome only, as SqlPromptRepository.finish: the prompt, style, feedback, parent
        # and creation time stay as added
        for name in ("generated_prompt", "model", "latency_ms", "usage", "error"):
            setattr(stored, name, copy.deepcopy(getattr(record, name)))

    def count_success(self, user_id: int, at: datetime, style: str) -> None:
        key = (user_id, at.astimezone(timezone.utc).date().isoformat(), style)  # the UTC day, as SQL
        self.s.counters[key] = self.s.counters.get(key, 0) + 1

    def _visible(self, user_id: int) -> list[PromptRecord]:
        rows = [r for r in self.s.prompts.values() if r.user_id == user_id and r.id not in self.s.deleted_prompts
                and r.status is RecordStatus.SUCCEEDED]
        return sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)

    def page(self, user_id, limit, cursor, style, query) -> list[PromptRecord]:
        rows = self._visible(user_id)
        if style:
            rows = [r for r in rows if r.style == style]
        if query:
            q = query.lower()
            rows = [r for r in rows if q in r.original_prompt.lower() or q in (r.generated_prompt or "").lower()]
        if cursor:
            rows = [r for r in rows if (r.created_at, r.id) < cursor]
        return [copy.deepcopy(r) for r in rows[:limit]]

    def soft_delete(self, user_id: int, record_id: int, now: datetime) -> bool:
        if self.get(user_id, record_id) is None:
            return False
        self.s.deleted_prompts[record_id] = now
        r = self.s.prompts[record_id]
        # as SqlPromptRepository: keep only what the quota and the stats need
        self.s.prompts[record_id] = PromptRecord(id=r.id, user_id=r.user_id, original_prompt="", style=r.style,
                                                 model=None, status=r.status, created_at=r.created_at,
                                                 source=r.source)
        return True

    def stats(self, user_id: int, since_day: datetime):
        by_style: dict[str, int] = {}
        by_day: dict[str, int] = {}
        for (uid, day, style), n in self.s.counters.items():
            if uid != user_id:
                continue
            by_style[style] = by_style.get(style, 0) + n
            if day >= since_day.date().isoformat():
                by_day[day] = by_day.get(day, 0) + n
        return sum(by_style.values()), by_style, by_day


class FakeQuotaLedger(QuotaLedger):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def reserve(self, user_id: int, at: datetime, source: UnitSource, source_id: int | None = None,
                team_id: int | None = None) -> int:
        new_id = next(self.s.ids)
        self.s.quota_units[new_id] = dict(id=new_id, user_id=user_id, created_at=_utc(at), status=UnitStatus.PENDING,
                                          source_kind=UnitSource(source), source_id=source_id, team_id=team_id)
        return new_id

    def keep(self, unit_id: int) -> None:
        unit = self.s.quota_units.get(unit_id)
        if unit is not None and unit["status"] is UnitStatus.PENDING:
            unit["status"] = UnitStatus.KEPT

    def release(self, unit_id: int) -> None:
        unit = self.s.quota_units.get(unit_id)
        if unit is not None and unit["status"] is UnitStatus.PENDING:
            del self.s.quota_units[unit_id]

    def _counted(self, since: datetime, stale_before: datetime):
        return [u for u in self.s.quota_units.values()
                if u["created_at"] >= since and (
                    u["status"] is UnitStatus.KEPT
                    or (u["status"] is UnitStatus.PENDING and u["created_at"] >= stale_before))]

    @staticmethod
    def _newest(units, limit: int):
        if limit <= 0:
            return 0, None
        newest = sorted((u["created_at"] for u in units), reverse=True)[:limit]
        return len(newest), (min(newest) if newest else None)

    def usage(self, user_id: int, since: datetime, stale_before: datetime, limit: int):
        return self._newest([u for u in self._counted(since, stale_before)
                             if u["user_id"] == user_id and u.get("team_id") is None], limit)

    def pool_usage(self, team_id: int, since: datetime, stale_before: datetime, limit: int,
                   user_id: int | None = None):
        return self._newest([u for u in self._counted(since, stale_before) if u.get("team_id") == team_id
                             and (user_id is None or u["user_id"] == user_id)], limit)

    def pool_by_member(self, team_id: int, since: datetime, stale_before: datetime) -> dict[int, int]:
        counts: dict[int, int] = {}
        for u in self._counted(since, stale_before):
            if u.get("team_id") == team_id:
                counts[u["user_id"]] = counts.get(u["user_id"], 0) + 1
        return counts


class FakeNotificationRepository(NotificationRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def latest(self, user_id: int, kind: str) -> SentNotification | None:
        mine = [n for n in self.s.notifications_sent.values() if n.user_id == user_id and n.kind == kind]
        return max(mine, key=lambda n: (n.created_at, n.id), default=None)

    def add_once(self, user_id: int, kind: str, period_key: str, now: datetime) -> bool:
        # As the unique (user_id, kind, period_key) with ON CONFLICT DO NOTHING.
        if any((n.user_id, n.kind, n.period_key) == (user_id, kind, period_key)
               for n in self.s.notifications_sent.values()):
            return False
        new_id = next(self.s.ids)
        self.s.notifications_sent[new_id] = SentNotification(new_id, user_id, kind, period_key, _utc(now))
        return True


def _sorted_tags(tags: Any) -> tuple[str, ...]:
    return tuple(sorted(set(tags)))


def _same_library(item: Any, owner_id: int | None, team_id: int | None) -> bool:
    """As the SQL repositories' ``_library``: a team's items when ``team_id`` is given, else the
    owner's own."""
    if team_id is not None:
        return item.team_id == team_id
    return owner_id is not None and item.owner_id == owner_id


class FakeTemplateRepository(TemplateRepository):
    """As SqlTemplateRepository: titles unique per owner regardless of case (casefolded), tags
    sorted alphabetically, the quick templates (no owner) seeded from QUICK_TEMPLATES."""

    def __init__(self, store: FakeStore) -> None:
        self.s = store

    @staticmethod
    def _out(template: Template) -> Template:
        return dataclasses.replace(copy.deepcopy(template), extra={})

    def _check_title(self, template: Template) -> None:
        if template.owner_id is None and template.team_id is None:
            return
        key = template.title.casefold()
        if any(_same_library(other, template.owner_id, template.team_id) and other.title.casefold() == key
               and other.id != template.id for other in self.s.templates.values()):
            raise TitleTaken()

    def add(self, template: Template, author_id: int | None, note: str | None = None) -> Template:
        if template.created_at is None:
            raise ValueError("a template is added with its created_at")
        self._check_title(dataclasses.replace(template, id=None))
        template.id = next(self.s.ids)
        template.version = 1
        template.tags = _sorted_tags(template.tags)
        template.updated_at = template.updated_at or template.created_at
        self.s.templates[template.id] = dataclasses.replace(
            copy.deepcopy(template), created_at=_utc(template.created_at), updated_at=_utc(template.updated_at),
            extra={})
        self.s.template_versions[template.id] = [TemplateVersion(template.id, 1, template.body, author_id,
                                                                 _utc(template.created_at), note)]
        return template

    def get(self, template_id: int) -> Template | None:
        template = self.s.templates.get(template_id)
        return self._out(template) if template else None

    def save(self, template: Template) -> None:
        stored = self.s.templates.get(template.id)
        if stored is None:  # as UPDATE ... WHERE id = :id: an unknown id changes nothing
            return
        self._check_title(dataclasses.replace(template, owner_id=stored.owner_id, team_id=stored.team_id))
        template.tags = _sorted_tags(template.tags)
        stored.title, stored.description, stored.favourite = template.title, template.description, template.favourite
        stored.tags, stored.updated_at = template.tags, _utc(template.updated_at)

    def add_version(self, template: Template, body: str, author_id: int | None, at: datetime,
                    note: str | None = None) -> TemplateVersion:
        versions = self.s.template_versions.setdefault(template.id, [])
        version = TemplateVersion(template.id, max((v.number for v in versions), default=0) + 1, body, author_id,
                                  _utc(at), note)
        versions.append(version)
        stored = self.s.templates.get(template.id)
        if stored is not None:
            stored.body, stored.version, stored.updated_at = body, version.number, _utc(at)
        template.body, template.version, template.updated_at = body, version.number, at
        return copy.deepcopy(version)

    def versions(self, template_id: int) -> list[TemplateVersion]:
        return copy.deepcopy(sorted(self.s.template_versions.get(template_id, []), key=lambda v: -v.number))

    def version(self, template_id: int, number: int) -> TemplateVersion | None:
        return next((copy.deepcopy(v) for v in self.s.template_versions.get(template_id, []) if v.number == number),
                    None)

    def delete(self, template_id: int) -> None:
        self.s.templates.pop(template_id, None)
        self.s.template_versions.pop(template_id, None)

    def _owned(self, owner_id: int | None, team_id: int | None = None) -> list[Template]:
        return [tpl for tpl in self.s.templates.values() if _same_library(tpl, owner_id, team_id)]

    def search(self, owner_id: int | None, query: str | None = None, tag: str | None = None,
               favourite: bool | None = None, limit: int = 50,
               cursor: tuple[datetime, int] | None = None, team_id: int | None = None) -> list[Template]:
        rows = sorted(self._owned(owner_id, team_id), key=lambda tpl: (tpl.updated_at, tpl.id), reverse=True)
        if query:
            q = query.lower()
            rows = [tpl for tpl in rows if any(q in text.lower() for text in (tpl.title, tpl.description, tpl.body))]
        if tag is not None:
            rows = [tpl for tpl in rows if tag in tpl.tags]
        if favourite is not None:
            rows = [tpl for tpl in rows if tpl.favourite == favourite]
        if cursor is not None:
            rows = [tpl for tpl in rows if (tpl.updated_at, tpl.id) < cursor]
        return [self._out(tpl) for tpl in rows[:limit]]

    def count(self, owner_id: int | None, team_id: int | None = None) -> int:
        return len(self._owned(owner_id, team_id))

    def titles(self, owner_id: int | None, team_id: int | None = None) -> dict[str, int]:
        return {tpl.title: tpl.id for tpl in self._owned(owner_id, team_id)}

    def tags(self, owner_id: int | None, team_id: int | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tpl in self._owned(owner_id, team_id):
            for tag in tpl.tags:
                counts[tag] = counts.get(tag, 0) + 1
        return counts

    def builtins(self) -> list[Template]:
        rows = [tpl for tpl in self.s.templates.values() if tpl.builtin is not None]
        return [self._out(tpl) for tpl in sorted(
            rows, key=lambda tpl: (tpl.language or "", tpl.extra.get("position", 0), tpl.id))]


class FakeCustomStyleRepository(CustomStyleRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def _check_title(self, style: CustomStyle) -> None:
        key = style.title.casefold()
        if any(_same_library(other, style.owner_id, style.team_id) and other.title.casefold() == key
               and other.id != style.id for other in self.s.custom_styles.values()):
            raise TitleTaken()

    def add(self, style: CustomStyle) -> CustomStyle:
        if style.created_at is None:
            raise ValueError("a custom style is added with its created_at")
        self._check_title(dataclasses.replace(style, id=None))
        style.id = next(self.s.ids)
        style.updated_at = style.updated_at or style.created_at
        self.s.custom_styles[style.id] = dataclasses.replace(
            copy.deepcopy(style), created_at=_utc(style.created_at), updated_at=_utc(style.updated_at))
        return style

    def get(self, style_id: int) -> CustomStyle | None:
        return copy.deepcopy(self.s.custom_styles.get(style_id))

    def save(self, style: CustomStyle) -> None:
        stored = self.s.custom_styles.get(style.id)
        if stored is None:
            return
        self._check_title(dataclasses.replace(style, owner_id=stored.owner_id, team_id=stored.team_id))
        stored.title, stored.description, stored.instructions = style.title, style.description, style.instructions
        stored.updated_at = _utc(style.updated_at)

    def delete(self, style_id: int) -> None:
        self.s.custom_styles.pop(style_id, None)

    def list(self, owner_id: int | None, team_id: int | None = None) -> list[CustomStyle]:
        mine = [c for c in self.s.custom_styles.values() if _same_library(c, owner_id, team_id)]
        return copy.deepcopy(sorted(mine, key=lambda c: (c.title.casefold(), c.id)))

    def count(self, owner_id: int | None, team_id: int | None = None) -> int:
        return sum(1 for c in self.s.custom_styles.values() if _same_library(c, owner_id, team_id))


class FakeSharedRecordRepository(SharedRecordRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def team_of(self, record_id: int) -> SharedRecord | None:
        found = self.s.shared_records.get(record_id)
        return SharedRecord(found.team_id, found.record_id, found.shared_by, found.shared_at) if found else None

    def share(self, record_id: int, team_id: int, shared_by: int, at: datetime) -> None:
        self.s.shared_records[record_id] = SharedRecord(team_id, record_id, shared_by, _utc(at))

    def unshare(self, record_id: int) -> bool:
        return self.s.shared_records.pop(record_id, None) is not None

    def _full(self, shared: SharedRecord) -> SharedRecord | None:
        record = self.s.prompts.get(shared.record_id)
        if record is None or shared.record_id in self.s.deleted_prompts:
            return None
        author = self.s.users.get(record.user_id)
        return dataclasses.replace(
            shared, original_prompt=record.original_prompt, generated_prompt=record.generated_prompt,
            style=record.style, model=record.model, created_at=record.created_at, author_id=record.user_id,
            author_name=(author.name or author.email) if author else None)

    def feed(self, team_id: int, limit: int, cursor: tuple[datetime, int] | None = None) -> list[SharedRecord]:
        rows = [full for shared in self.s.shared_records.values() if shared.team_id == team_id
                if (full := self._full(shared)) is not None]
        rows.sort(key=lambda r: (r.shared_at, r.record_id), reverse=True)
        if cursor is not None:
            rows = [r for r in rows if (r.shared_at, r.record_id) < cursor]
        return rows[:limit]

    def get(self, team_id: int, record_id: int) -> SharedRecord | None:
        shared = self.s.shared_records.get(record_id)
        return self._full(shared) if shared is not None and shared.team_id == team_id else None


def _listing_order(member: Member) -> tuple[int, str, int]:
    return -member.role.rank, member.email or "", member.user_id


class FakeTeamRepository(TeamRepository):
    """As SqlTeamRepository: a membership carries its user's e-mail and name when read; locks do
    nothing (one fake unit of work runs at a time)."""

    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, team: Team, owner_id: int, now: datetime) -> Team:
        team.id, team.created_at = next(self.s.ids), now
        self.s.teams[team.id] = dataclasses.replace(copy.deepcopy(team), created_at=_utc(now))
        self.s.team_members[(team.id, owner_id)] = Member(team.id, owner_id, TeamRole.OWNER, _utc(now))
        return team

    def get(self, team_id: int) -> Team | None:
        return copy.deepcopy(self.s.teams.get(team_id))

    def rename(self, team_id: int, name: str) -> None:
        if team_id in self.s.teams:
            self.s.teams[team_id].name = name

    def delete(self, team_id: int) -> None:
        self.s.teams.pop(team_id, None)
        for key in [k for k in self.s.team_members if k[0] == team_id]:
            del self.s.team_members[key]
        for key in [k for k, u in self.s.quota_units.items() if u.get("team_id") == team_id]:
            del self.s.quota_units[key]  # the pool's units go with the team (ON DELETE CASCADE)
        for key in [k for k, i in self.s.invitations.items() if i.team_id == team_id]:
            del self.s.invitations[key]
        for key in [k for k, tpl in self.s.templates.items() if tpl.team_id == team_id]:
            del self.s.templates[key]  # the team's library and shares go with it
            self.s.template_versions.pop(key, None)
        for key in [k for k, c in self.s.custom_styles.items() if c.team_id == team_id]:
            del self.s.custom_styles[key]
        for key in [k for k, r in self.s.shared_records.items() if r.team_id == team_id]:
            del self.s.shared_records[key]

    def _out(self, member: Member) -> Member:
        user = self.s.users.get(member.user_id)
        return dataclasses.replace(copy.deepcopy(member), email=user.email if user else None,
                                   name=user.name if user else None)

    def of_user(self, user_id: int) -> list[tuple[Team, TeamRole]]:
        found = [(copy.deepcopy(self.s.teams[team_id]), m.role) for (team_id, uid), m in self.s.team_members.items()
                 if uid == user_id and team_id in self.s.teams]
        return sorted(found, key=lambda pair: (pair[0].name.casefold(), pair[0].id))

    def roles_of(self, user_id: int) -> dict[int, str]:
        return {team_id: m.role.value for (team_id, uid), m in self.s.team_members.items() if uid == user_id}

    def count_created_by(self, user_id: int) -> int:
        return sum(1 for team in self.s.teams.values() if team.created_by == user_id)

    def members(self, team_id: int) -> list[Member]:
        return sorted((self._out(m) for (tid, _uid), m in self.s.team_members.items() if tid == team_id),
                      key=_listing_order)

    def member(self, team_id: int, user_id: int, lock: bool = False) -> Member | None:
        member = self.s.team_members.get((team_id, user_id))
        return self._out(member) if member else None

    def lock_team(self, team_id: int) -> None:
        pass

    def add_member(self, member: Member) -> bool:
        key = (member.team_id, member.user_id)
        if key in self.s.team_members:
            return False
        if member.team_id not in self.s.teams or member.user_id not in self.s.users:
            raise ValueError("a membership of an unknown team or user (a foreign key violation in SQL)")
        self.s.team_members[key] = dataclasses.replace(copy.deepcopy(member), joined_at=_utc(member.joined_at),
                                                       email=None, name=None)
        return True

    def set_role(self, team_id: int, user_id: int, role: TeamRole) -> None:
        if (team_id, user_id) in self.s.team_members:
            self.s.team_members[(team_id, user_id)].role = role

    def set_cap(self, team_id: int, user_id: int, cap: int | None) -> None:
        if (team_id, user_id) in self.s.team_members:
            self.s.team_members[(team_id, user_id)].daily_cap = cap

    def remove_member(self, team_id: int, user_id: int) -> None:
        self.s.team_members.pop((team_id, user_id), None)

    def count_owners(self, team_id: int) -> int:
        return sum(1 for (tid, _uid), m in self.s.team_members.items() if tid == team_id and m.role is TeamRole.OWNER)

    def count_members(self, team_id: int) -> int:
        return sum(1 for tid, _uid in self.s.team_members if tid == team_id)

    def all(self, limit: int, after_id: int | None = None) -> list[tuple[Team, list[Member]]]:
        teams = sorted((team for team in self.s.teams.values() if after_id is None or team.id > after_id),
                       key=lambda team: team.id)[:limit]
        return [(copy.deepcopy(team), self.members(team.id)) for team in teams]


class FakeInvitationRepository(InvitationRepository):
    """As SqlInvitationRepository: addresses stored lower-cased; using an invitation changes it only
    while it is neither accepted nor revoked."""

    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, invitation: Invitation) -> Invitation:
        if any(i.token_hash == invitation.token_hash for i in self.s.invitations.values()):
            raise ValueError("a token hash is unique (an IntegrityError in SQL)")
        if invitation.team_id not in self.s.teams:
            raise ValueError("an invitation to an unknown team (a foreign key violation in SQL)")
        invitation.email = invitation.email.lower()
        invitation.id = next(self.s.ids)
        self.s.invitations[invitation.id] = dataclasses.replace(
            copy.deepcopy(invitation), created_at=_utc(invitation.created_at), expires_at=_utc(invitation.expires_at),
            accepted_at=_utc(invitation.accepted_at), revoked_at=_utc(invitation.revoked_at))
        return invitation

    def get(self, invitation_id: int) -> Invitation | None:
        return copy.deepcopy(self.s.invitations.get(invitation_id))

    def by_token_hash(self, token_hash: str) -> Invitation | None:
        return next((copy.deepcopy(i) for i in self.s.invitations.values() if i.token_hash == token_hash), None)

    def pending(self, team_id: int, now: datetime) -> list[Invitation]:
        rows = [i for i in self.s.invitations.values() if i.team_id == team_id and i.pending(now)]
        return copy.deepcopy(sorted(rows, key=lambda i: (i.created_at, i.id), reverse=True))

    def pending_for(self, team_id: int, email: str, now: datetime) -> Invitation | None:
        rows = [i for i in self.s.invitations.values()
                if i.team_id == team_id and i.email == email.lower() and i.pending(now)]
        return copy.deepcopy(max(rows, key=lambda i: i.id)) if rows else None

    def count_pending(self, team_id: int, now: datetime) -> int:
        return len(self.pending(team_id, now))

    def _unused(self, invitation_id: int, token_hash: str | None = None) -> Invitation | None:
        invitation = self.s.invitations.get(invitation_id)
        if invitation is None or invitation.accepted_at is not None or invitation.revoked_at is not None:
            return None
        if token_hash is not None and invitation.token_hash != token_hash:
            return None
        return invitation

    def replace_token(self, invitation_id: int, token_hash: str, now: datetime, expires_at: datetime) -> bool:
        invitation = self._unused(invitation_id)
        if invitation is None:
            return False
        invitation.token_hash, invitation.expires_at = token_hash, _utc(expires_at)
        return True

    def _use(self, invitation_id: int, field_name: str, now: datetime, token_hash: str | None = None) -> bool:
        invitation = self._unused(invitation_id, token_hash)
        if invitation is None:
            return False
        setattr(invitation, field_name, _utc(now))
        return True

    def mark_accepted(self, invitation_id: int, token_hash: str, now: datetime) -> bool:
        return self._use(invitation_id, "accepted_at", now, token_hash)

    def mark_revoked(self, invitation_id: int, now: datetime) -> bool:
        return self._use(invitation_id, "revoked_at", now)


class FakeUnitOfWork(UnitOfWork):
    """Copies the store on entry and writes it back on commit, so an uncommitted change is lost.
    ``read_only=True``: as SqlUnitOfWork(read_only=True), a unit that cannot commit."""

    def __init__(self, store: FakeStore, read_only: bool = False) -> None:
        self.store = store
        self.read_only = read_only
        self.commits = 0

    def __enter__(self) -> "FakeUnitOfWork":
        self._work = copy.deepcopy(self.store)
        self._work.ids = self.store.ids
        self.users = FakeUserRepository(self._work)
        self.refresh_tokens = FakeRefreshTokenRepository(self._work)
        self.login_failures = FakeLoginFailureRepository(self._work)
        self.outbox = FakeOutbox(self._work)
        self.mail_requests = FakeMailRequests(self._work)
        self.styles = FakeStyleRepository(self._work)
        self.prompts = FakePromptRepository(self._work)
        self.quota = FakeQuotaLedger(self._work)
        self.notifications = FakeNotificationRepository(self._work)
        self.plans = FakePlanRepository(self._work)
        self.subscriptions = FakeSubscriptionRepository(self._work)
        self.payments = FakePaymentRepository(self._work)
        self.refunds = FakeRefundRepository(self._work)
        self.billing_events = FakeBillingEventRepository(self._work)
        self.templates = FakeTemplateRepository(self._work)
        self.custom_styles = FakeCustomStyleRepository(self._work)
        self.teams = FakeTeamRepository(self._work)
        self.invitations = FakeInvitationRepository(self._work)
        self.api_keys = FakeApiKeyRepository(self._work)
        self.comparisons = FakeComparisonRepository(self._work)
        self.shared_records = FakeSharedRecordRepository(self._work)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._work = None

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        # Every field of the store but the shared id counter: a new repository's state cannot be
        # forgotten here (tests/contract/test_fake_coverage.py holds this).
        for f in dataclasses.fields(FakeStore):
            if f.name != "ids":
                setattr(self.store, f.name, copy.deepcopy(getattr(self._work, f.name)))
        self.commits += 1

    def rollback(self) -> None:
        self.__enter__()


class FakePasswordHasher(PasswordHasher):
    def __init__(self, scheme: str = "v1") -> None:
        self.scheme = scheme
        self.dummy_calls = 0

    def hash(self, password: str) -> str:
        return f"{self.scheme}${password[::-1]}"

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash.split("$", 1)[-1] == password[::-1]

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(self.scheme + "$")

    def dummy_verify(self, password: str) -> None:
        self.dummy_calls += 1


class FakeAccessTokenCodec(AccessTokenCodec):
    """Readable tokens. As JwtAccessTokenCodec, a bad token is Unauthenticated (401), not
    InvalidToken (400, for e-mailed links); given a clock, a token expires ``ttl`` after issue."""

    LEEWAY = timedelta(seconds=5)  # JwtAccessTokenCodec's

    def __init__(self, clock: Clock | None = None, ttl: timedelta = ACCESS_TOKEN_TTL) -> None:
        self.clock = clock
        self.ttl = ttl

    def issue(self, user_id: int, role: str, now: datetime, generation: int = 0) -> str:
        return f"access:{user_id}:{role}:{int(now.timestamp())}:{generation}"

    def verify(self, token: str) -> dict[str, Any]:
        parts = token.split(":") if isinstance(token, str) else []
        try:
            if len(parts) != 5 or parts[0] != "access":
                raise ValueError(token)
            claims = {"sub": parts[1], "role": parts[2], "iat": int(parts[3]), "gen": int(parts[4])}
        except ValueError:
            raise Unauthenticated("The access token is missing, invalid or expired.") from None
        if self.clock is not None:  # expired, or issued in the future, within the leeway
            now, iat, leeway = self.clock.now().timestamp(), claims["iat"], self.LEEWAY.total_seconds()
            if iat + self.ttl.total_seconds() <= now - leeway or iat > now + leeway:
                raise Unauthenticated("The access token is missing, invalid or expired.")
        return claims


class FakeSignedTokenCodec(SignedTokenCodec):
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.issued: dict[str, tuple[str, dict[str, Any], datetime]] = {}

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        token = f"tok{len(self.issued) + 1}"
        self.issued[token] = (purpose, dict(payload), self.clock.now())
        return token

    def loads(self, purpose: str, token: str, max_age: timedelta) -> dict[str, Any]:
        found = self.issued.get(token) if isinstance(token, str) else None
        # whole seconds, as itsdangerous's timestamps
        if found is None or found[0] != purpose or (
                int(self.clock.now().timestamp()) - int(found[2].timestamp()) > int(max_age.total_seconds())):
            raise InvalidToken()
        return dict(found[1])


class FakeMailTemplates(MailTemplates):
    """Subject ``kind:language``. As JinjaMailTemplates: the same kinds (ValueError for any
    other), English for an unknown language, the link in the text and the HTML."""

    # kind -> the context keys it needs (the port's MAIL_KINDS; a missing one: ValueError)
    CONTEXT_KEYS = MAIL_KINDS
    KINDS = frozenset(CONTEXT_KEYS)
    LANGUAGES = ("en", "ru")

    def __init__(self) -> None:
        self.rendered: list[tuple[str, str, str, dict[str, Any]]] = []  # (kind, language, to, context)

    def render(self, kind: str, language: str, to: str, context: dict[str, Any]) -> MailMessage:
        if kind not in self.KINDS:
            raise ValueError(f"unknown mail kind: {kind!r}")
        if self.CONTEXT_KEYS[kind] - set(context):
            raise ValueError(f"mail kind {kind!r} needs {sorted(self.CONTEXT_KEYS[kind] - set(context))}")
        language = language if language in self.LANGUAGES else "en"
        self.rendered.append((kind, language, to, dict(context)))
        link = context.get("link") or context.get("upgrade_url") or ""
        shown = html_escaping.escape(link)
        html = f"<p>{kind}</p>" + (f'<p><a href="{shown}">{shown}</a></p>' if link else "")
        return MailMessage(to=to, subject=f"{kind}:{language}", text=f"{kind} {link}".strip(), html=html,
                           kind=kind)


class FakeMailer(Mailer):
    def __init__(self) -> None:
        self.sent: list[MailMessage] = []
        self.down = False

    def send(self, message: MailMessage) -> None:
        if self.down:
            raise DeliveryFailed("connection refused")
        self.sent.append(message)


class FakeImprover(PromptImprover):
    name = "fake"

    def __init__(self) -> None:
        self.requests: list[ImprovementRequest] = []
        self.fail_with: Exception | None = None

    def improve(self, request: ImprovementRequest) -> Improvement:
        self.requests.append(request)
        if self.fail_with is not None:
            raise self.fail_with
        return Improvement(text=f"[{request.style.slug}] {request.prompt}", model=request.model or "fake/model",
                           usage={"total_tokens": 10}, cost=0.0001)


def sample_style(slug: str = "general", position: int = 0) -> Style:
    return Style(slug=slug, title={"en": slug.title(), "ru": slug}, description={"en": "d", "ru": "д"},
                 instructions=f"Instructions for {slug}.", position=position)


def outbox_messages(store: FakeStore) -> list[MailMessage]:
    return [r["message"] for r in sorted(store.outbox.values(), key=lambda r: r["id"])]


__all__ = [name for name in dir() if name.startswith(("Fake", "sample_", "outbox_"))]
