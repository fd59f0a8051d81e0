"""In-memory implementations of every port, for unit tests."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from promptcore.domain.errors import DeliveryFailed, InvalidToken
from promptcore.domain.prompts import Improvement, ImprovementRequest, PromptRecord, RecordStatus, Style
from promptcore.domain.users import User
from promptcore.ports import (
    AccessTokenCodec,
    Clock,
    DuplicateEmail,
    LoginFailureRepository,
    Mailer,
    MailMessage,
    MailRequest,
    MailRequestRepository,
    MailTemplates,
    Outbox,
    OutboxItem,
    PasswordHasher,
    PromptImprover,
    PromptRepository,
    RefreshTokenRepository,
    RefreshTokenRow,
    SignedTokenCodec,
    StyleRepository,
    UnitOfWork,
    UserRepository,
)


class FakeClock(Clock):
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


@dataclass
class FakeStore:
    """The committed state shared by every FakeUnitOfWork made from it."""

    users: dict[int, User] = field(default_factory=dict)
    refresh: dict[int, dict[str, Any]] = field(default_factory=dict)
    failures: list[tuple[str, datetime]] = field(default_factory=list)
    outbox: dict[int, dict[str, Any]] = field(default_factory=dict)
    mail_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    styles: dict[str, Style] = field(default_factory=dict)
    prompts: dict[int, PromptRecord] = field(default_factory=dict)
    deleted_prompts: dict[int, datetime] = field(default_factory=dict)
    counters: dict[tuple[int, str, str], int] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))


class FakeUserRepository(UserRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, user: User) -> User:
        if any(u.email == user.email for u in self.s.users.values()):
            raise DuplicateEmail(user.email)
        user.id = next(self.s.ids)
        self.s.users[user.id] = copy.deepcopy(user)
        return user

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
        self.s.users[user.id] = copy.deepcopy(user)

    def delete(self, user_id: int) -> None:
        self.s.users.pop(user_id, None)
        for key in [k for k, r in self.s.prompts.items() if r.user_id == user_id]:
            del self.s.prompts[key]
        for key in [k for k, r in self.s.refresh.items() if r["user_id"] == user_id]:
            del self.s.refresh[key]

    def search(self, query: str | None, after_id: int | None, limit: int) -> list[User]:
        users = sorted(self.s.users.values(), key=lambda u: u.id)
        if query:
            users = [u for u in users if query.lower() in u.email or query.lower() in (u.name or "").lower()]
        if after_id is not None:
            users = [u for u in users if u.id > after_id]
        return [copy.deepcopy(u) for u in users[:limit]]


class FakeRefreshTokenRepository(RefreshTokenRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, user_id, family_id, token_hash, expires_at, now) -> None:
        new_id = next(self.s.ids)
        self.s.refresh[new_id] = dict(id=new_id, user_id=user_id, family_id=family_id, token_hash=token_hash,
                                      expires_at=expires_at, used_at=None, revoked_at=None)

    def get_by_hash(self, token_hash: str) -> RefreshTokenRow | None:
        for r in self.s.refresh.values():
            if r["token_hash"] == token_hash:
                return RefreshTokenRow(r["id"], r["user_id"], r["family_id"], r["expires_at"], r["used_at"],
                                       r["revoked_at"])
        return None

    def mark_used(self, token_id: int, now: datetime) -> bool:
        r = self.s.refresh[token_id]
        if r["used_at"] or r["revoked_at"]:
            return False
        r["used_at"] = now
        return True

    def revoke_family(self, family_id: str, now: datetime) -> None:
        for r in self.s.refresh.values():
            if r["family_id"] == family_id and r["revoked_at"] is None:
                r["revoked_at"] = now

    def revoke_user(self, user_id: int, now: datetime) -> None:
        for r in self.s.refresh.values():
            if r["user_id"] == user_id and r["revoked_at"] is None:
                r["revoked_at"] = now


class FakeLoginFailureRepository(LoginFailureRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def lock(self, key: str) -> None:
        pass  # one fake unit of work runs at a time

    def record(self, key: str, at: datetime) -> int:
        new_id = next(self.s.ids)
        self.s.failures.append((key, at, new_id))
        return new_id

    def remove(self, failure_id: int) -> None:
        self.s.failures = [f for f in self.s.failures if f[2] != failure_id]

    def since(self, key: str, since: datetime) -> list[datetime]:
        return [at for k, at, _id in self.s.failures if k == key and at >= since]

    def clear(self, key: str) -> None:
        self.s.failures = [f for f in self.s.failures if f[0] != key]


class FakeOutbox(Outbox):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, message: MailMessage, now: datetime) -> None:
        new_id = next(self.s.ids)
        self.s.outbox[new_id] = dict(id=new_id, message=message, created_at=now, attempts=0, next_attempt_at=now,
                                     locked_until=None, sent_at=None, last_error=None)

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

    def mark_sent(self, item_id: int, now: datetime) -> None:
        self.s.outbox[item_id].update(sent_at=now, locked_until=None)

    def mark_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        self.s.outbox[item_id].update(locked_until=None, next_attempt_at=retry_at, last_error=error)

    def pending_count(self) -> int:
        return sum(1 for r in self.s.outbox.values() if r["sent_at"] is None)

    def recent(self, limit: int):
        rows = sorted(self.s.outbox.values(), key=lambda r: -r["id"])[:limit]
        return [(r["message"], r["created_at"], r["sent_at"]) for r in rows]

    def queued_since(self, to: str, kind: str, since: datetime) -> bool:
        return any(r["message"].to == to and r["message"].kind == kind and r["created_at"] >= since
                   for r in self.s.outbox.values())


class FakeMailRequests(MailRequestRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, kind: str, email: str, language: str, now: datetime) -> None:
        new_id = next(self.s.ids)
        self.s.mail_requests[new_id] = dict(id=new_id, kind=kind, email=email, language=language, created_at=now,
                                            locked_until=None, done_at=None)

    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[MailRequest]:
        items = []
        for r in sorted(self.s.mail_requests.values(), key=lambda r: r["id"]):
            if len(items) < limit and r["done_at"] is None and (r["locked_until"] is None or r["locked_until"] < now):
                r["locked_until"] = now + lease
                items.append(MailRequest(r["id"], r["kind"], r["email"], r["language"]))
        return items

    def mark_done(self, request_id: int, now: datetime) -> None:
        self.s.mail_requests[request_id].update(done_at=now, locked_until=None)


class FakeStyleRepository(StyleRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def list(self) -> list[Style]:
        return sorted(self.s.styles.values(), key=lambda s: (s.position, s.slug))

    def get(self, slug: str) -> Style | None:
        return self.s.styles.get(slug)


class FakePromptRepository(PromptRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, record: PromptRecord) -> PromptRecord:
        record.id = next(self.s.ids)
        self.s.prompts[record.id] = copy.deepcopy(record)
        return record

    def get(self, user_id: int, record_id: int) -> PromptRecord | None:
        r = self.s.prompts.get(record_id)
        if r is None or r.user_id != user_id or record_id in self.s.deleted_prompts:
            return None
        return copy.deepcopy(r)

    def finish(self, record: PromptRecord) -> None:
        if record.id in self.s.deleted_prompts:  # deleted while generating: only the status
            self.s.prompts[record.id].status = record.status
            return
        self.s.prompts[record.id] = copy.deepcopy(record)

    def quota_usage(self, user_id: int, since: datetime, stale_before: datetime, limit: int):
        times = [r.created_at for r in self.s.prompts.values()
                 if r.user_id == user_id and r.created_at >= since and (
                     r.status is RecordStatus.SUCCEEDED
                     or (r.status is RecordStatus.PENDING and r.created_at >= stale_before))]
        newest = sorted(times, reverse=True)[:max(limit, 0)]
        return len(newest), (min(newest) if newest else None)

    def count_success(self, user_id: int, at: datetime, style: str) -> None:
        key = (user_id, at.date().isoformat(), style)
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

    def all_for_export(self, user_id: int) -> Iterator[PromptRecord]:
        return iter([copy.deepcopy(r) for r in self._visible(user_id)])

    def soft_delete(self, user_id: int, record_id: int, now: datetime) -> bool:
        if self.get(user_id, record_id) is None:
            return False
        self.s.deleted_prompts[record_id] = now
        r = self.s.prompts[record_id]
        # as SqlPromptRepository: keep only what the quota and the stats need
        self.s.prompts[record_id] = PromptRecord(id=r.id, user_id=r.user_id, original_prompt="", style=r.style,
                                                 model=None, status=r.status, created_at=r.created_at)
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


class FakeUnitOfWork(UnitOfWork):
    """Copies the store on entry and writes it back on commit, so an uncommitted change is lost."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
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
        return self

    def __exit__(self, *exc: Any) -> None:
        self._work = None

    def commit(self) -> None:
        for name in ("users", "refresh", "failures", "outbox", "mail_requests", "styles", "prompts",
                     "deleted_prompts", "counters"):
            setattr(self.store, name, copy.deepcopy(getattr(self._work, name)))
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
    def issue(self, user_id: int, role: str, now: datetime, generation: int = 0) -> str:
        return f"access:{user_id}:{role}:{int(now.timestamp())}:{generation}"

    def verify(self, token: str) -> dict[str, Any]:
        parts = token.split(":")
        if len(parts) != 5 or parts[0] != "access":
            raise InvalidToken()
        return {"sub": parts[1], "role": parts[2], "iat": int(parts[3]), "gen": int(parts[4])}


class FakeSignedTokenCodec(SignedTokenCodec):
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.issued: dict[str, tuple[str, dict[str, Any], datetime]] = {}

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        token = f"tok{len(self.issued) + 1}"
        self.issued[token] = (purpose, dict(payload), self.clock.now())
        return token

    def loads(self, purpose: str, token: str, max_age: timedelta) -> dict[str, Any]:
        found = self.issued.get(token)
        if found is None or found[0] != purpose or self.clock.now() - found[2] > max_age:
            raise InvalidToken()
        return dict(found[1])


class FakeMailTemplates(MailTemplates):
    def render(self, kind: str, language: str, to: str, context: dict[str, Any]) -> MailMessage:
        link = context.get("link", "")
        return MailMessage(to=to, subject=f"{kind}:{language}", text=f"{kind} {link}".strip(), html=f"<p>{kind}</p>",
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
