"""Teams (SPEC §14): teams, memberships and invitations — the fake and the SQL repositories agree,
and on the SQL backends the locks and the single-use update hold under concurrency."""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import timedelta

import pytest

from promptcore.domain.teams import Invitation, Member, Team, TeamRole
from tests.contract.backends import make_backend
from tests.contract.support import MOSCOW, T0, add_user

OWNER, ADMIN, MEMBER = TeamRole.OWNER, TeamRole.ADMIN, TeamRole.MEMBER


def _users(backend, *emails: str) -> list[int]:
    with backend.uow() as uow:
        ids = [add_user(uow, email, name=email.split("@")[0].title()) for email in emails]
        uow.commit()
    return ids


def _team(backend, owner: int, name: str = "Writers", *members: tuple[int, TeamRole]) -> int:
    with backend.uow() as uow:
        team_id = uow.teams.add(Team(name=name, created_by=owner), owner, T0).id
        for user_id, role in members:
            assert uow.teams.add_member(Member(team_id, user_id, role, T0 + timedelta(minutes=1))) is True
        uow.commit()
    return team_id


def _invitation(team_id: int, email: str = "dan@example.com", token_hash: str = "a" * 64, role: TeamRole = MEMBER,
                invited_by: int | None = None, at=T0, days: int = 7) -> Invitation:
    return Invitation(team_id=team_id, email=email, role=role, token_hash=token_hash, invited_by=invited_by,
                      created_at=at, expires_at=at + timedelta(days=days))


def _invite(backend, *invitations: Invitation) -> list[int]:
    with backend.uow() as uow:
        ids = [uow.invitations.add(invitation).id for invitation in invitations]
        uow.commit()
    return ids


# -- teams and memberships ----------------------------------------------------------------------


def test_a_team_is_added_with_its_owner(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    team = Team(name="Writers", created_by=ann)
    with backend.uow() as uow:
        added = uow.teams.add(team, ann, T0.astimezone(MOSCOW))
        uow.commit()
    assert added is team and isinstance(team.id, int) and team.created_at == T0
    with backend.uow() as uow:
        got = uow.teams.get(team.id)
        owner = uow.teams.member(team.id, ann)
        assert uow.teams.get(987654) is None
        assert uow.teams.member(team.id, bob) is None
        assert (uow.teams.count_owners(team.id), uow.teams.count_members(team.id)) == (1, 1)
        assert (uow.teams.count_created_by(ann), uow.teams.count_created_by(bob)) == (1, 0)
    assert asdict(got) == asdict(team) and got.created_at.utcoffset() == timedelta(0)
    assert (owner.team_id, owner.user_id, owner.role, owner.daily_cap, owner.joined_at) == (
        team.id, ann, OWNER, None, T0)
    assert (owner.email, owner.name) == ("ann@example.com", "Ann")


def test_an_uncommitted_team_is_gone(backend):
    (ann,) = _users(backend, "ann@example.com")
    with backend.uow() as uow:
        team_id = uow.teams.add(Team(name="Writers", created_by=ann), ann, T0).id
    with backend.uow() as uow:
        assert uow.teams.get(team_id) is None
        assert uow.teams.roles_of(ann) == {}


def test_rename(backend):
    (ann,) = _users(backend, "ann@example.com")
    team_id = _team(backend, ann)
    with backend.uow() as uow:
        uow.teams.rename(team_id, "Editors")
        uow.teams.rename(987654, "Nobody")  # an unknown team: nothing happens
        uow.commit()
    with backend.uow() as uow:
        assert uow.teams.get(team_id).name == "Editors"
        assert uow.teams.get(987654) is None


def test_of_user_and_roles_of_list_the_users_teams(backend):
    ann, bob, cid = _users(backend, "ann@example.com", "bob@example.com", "cid@example.com")
    beta = _team(backend, ann, "beta")
    alpha_upper = _team(backend, bob, "Alpha", (ann, ADMIN))
    alpha_lower = _team(backend, bob, "alpha", (ann, MEMBER))
    _team(backend, bob, "Zeta")  # not ann's
    with backend.uow() as uow:
        mine = uow.teams.of_user(ann)
        assert uow.teams.roles_of(ann) == {beta: "owner", alpha_upper: "admin", alpha_lower: "member"}
        assert uow.teams.of_user(cid) == [] and uow.teams.roles_of(cid) == {}
        assert len(uow.teams.of_user(bob)) == 3
        assert uow.teams.count_created_by(bob) == 3
    # by name regardless of case, then by id
    assert [(team.id, team.name, role) for team, role in mine] == [
        (alpha_upper, "Alpha", ADMIN), (alpha_lower, "alpha", MEMBER), (beta, "beta", OWNER)]
    assert all(isinstance(team, Team) and team.created_by == (ann if team.id == beta else bob) for team, _ in mine)


def test_members_come_owners_first_then_admins_then_members_each_by_email(backend):
    ann, bob, cid, dan, eve, fay = _users(backend, "ann@example.com", "bob@example.com", "cid@example.com",
                                          "dan@example.com", "eve@example.com", "fay@example.com")
    team_id = _team(backend, eve, "Writers", (ann, MEMBER), (fay, OWNER), (dan, ADMIN), (bob, ADMIN), (cid, MEMBER))
    _team(backend, ann, "Other", (bob, MEMBER))
    with backend.uow() as uow:
        members = uow.teams.members(team_id)
        assert uow.teams.members(987654) == []
        assert (uow.teams.count_owners(team_id), uow.teams.count_members(team_id)) == (2, 6)
    assert [(m.email, m.role) for m in members] == [
        ("eve@example.com", OWNER), ("fay@example.com", OWNER), ("bob@example.com", ADMIN),
        ("dan@example.com", ADMIN), ("ann@example.com", MEMBER), ("cid@example.com", MEMBER)]
    assert [m.name for m in members] == ["Eve", "Fay", "Bob", "Dan", "Ann", "Cid"]
    assert {m.team_id for m in members} == {team_id}
    assert {m.user_id: m.joined_at for m in members}[ann] == T0 + timedelta(minutes=1)


def test_member_with_a_lock_reads_the_same(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    team_id = _team(backend, ann, "Writers", (bob, ADMIN))
    with backend.uow() as uow:
        plain = uow.teams.member(team_id, bob)
        locked = uow.teams.member(team_id, bob, lock=True)
        assert uow.teams.member(team_id, 987654, lock=True) is None
        uow.teams.lock_team(team_id)
        uow.teams.lock_team(987654)  # an unknown team: nothing to lock, no error
    assert asdict(plain) == asdict(locked)
    assert (locked.role, locked.email, locked.name) == (ADMIN, "bob@example.com", "Bob")


def test_add_member_is_false_for_an_existing_membership_and_changes_nothing(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    team_id = _team(backend, ann)
    with backend.uow() as uow:
        assert uow.teams.add_member(Member(team_id, bob, MEMBER, T0.astimezone(MOSCOW), daily_cap=5)) is True
        assert uow.teams.add_member(Member(team_id, bob, OWNER, T0 + timedelta(days=1))) is False
        assert uow.teams.add_member(Member(team_id, ann, MEMBER, T0 + timedelta(days=1))) is False  # the owner
        uow.commit()
    with backend.uow() as uow:
        bob_member = uow.teams.member(team_id, bob)
        ann_member = uow.teams.member(team_id, ann)
        assert uow.teams.count_members(team_id) == 2
    assert (bob_member.role, bob_member.daily_cap, bob_member.joined_at) == (MEMBER, 5, T0)
    assert bob_member.joined_at.utcoffset() == timedelta(0)
    assert ann_member.role is OWNER


def test_set_role_set_cap_and_remove_member_and_the_last_owner_count(backend):
    ann, bob, cid = _users(backend, "ann@example.com", "bob@example.com", "cid@example.com")
    team_id = _team(backend, ann, "Writers", (bob, MEMBER), (cid, MEMBER))
    other = _team(backend, bob, "Other", (ann, MEMBER))
    with backend.uow() as uow:
        assert uow.teams.count_owners(team_id) == 1
        uow.teams.set_role(team_id, bob, OWNER)
        assert uow.teams.count_owners(team_id) == 2
        uow.teams.set_role(team_id, ann, ADMIN)
        assert uow.teams.count_owners(team_id) == 1
        uow.teams.set_cap(team_id, cid, 7)
        uow.teams.set_cap(team_id, 987654, 7)  # unknown: nothing happens
        uow.commit()
    with backend.uow() as uow:
        assert uow.teams.roles_of(ann) == {team_id: "admin", other: "member"}
        assert uow.teams.roles_of(bob) == {team_id: "owner", other: "owner"}
        assert uow.teams.member(team_id, cid).daily_cap == 7
        assert uow.teams.member(other, ann).daily_cap is None  # only that membership
        uow.teams.set_cap(team_id, cid, None)
        uow.teams.remove_member(team_id, bob)
        uow.teams.remove_member(team_id, 987654)
        assert uow.teams.count_owners(team_id) == 0  # the repository counts; the use case refuses
        uow.commit()
    with backend.uow() as uow:
        assert uow.teams.member(team_id, cid).daily_cap is None
        assert uow.teams.member(team_id, bob) is None
        assert uow.teams.member(other, bob).role is OWNER  # the other team's membership stays
        assert uow.teams.count_members(team_id) == 2
        assert uow.teams.roles_of(bob) == {other: "owner"}


def test_deleting_a_team_removes_its_members_and_invitations(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    gone = _team(backend, ann, "Gone", (bob, MEMBER))
    kept = _team(backend, ann, "Kept", (bob, ADMIN))
    gone_invitation, kept_invitation = _invite(backend, _invitation(gone, token_hash="1" * 64, invited_by=ann),
                                               _invitation(kept, token_hash="2" * 64, invited_by=ann))
    with backend.uow() as uow:
        uow.teams.delete(gone)
        uow.teams.delete(987654)
        uow.commit()
    with backend.uow() as uow:
        assert uow.teams.get(gone) is None
        assert uow.teams.members(gone) == [] and uow.teams.count_members(gone) == 0
        assert uow.teams.member(gone, bob) is None
        assert uow.invitations.get(gone_invitation) is None
        assert uow.invitations.by_token_hash("1" * 64) is None
        assert uow.invitations.pending(gone, T0) == []
        assert uow.teams.roles_of(bob) == {kept: "admin"}
        assert [team.id for team, _ in uow.teams.of_user(ann)] == [kept]
        assert uow.teams.count_members(kept) == 2
        assert uow.invitations.get(kept_invitation) is not None


def test_deleting_a_user_removes_their_memberships_and_leaves_the_team(backend):
    """A team whose last owner's account is deleted stays, ownerless (an administrator sees it)."""
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    team_id = _team(backend, ann, "Writers", (bob, MEMBER))
    other = _team(backend, bob, "Other")
    (invitation_id,) = _invite(backend, _invitation(team_id, invited_by=ann))
    with backend.uow() as uow:
        uow.users.delete(ann)
        uow.commit()
    with backend.uow() as uow:
        team = uow.teams.get(team_id)
        assert team is not None and team.created_by is None
        assert [m.user_id for m in uow.teams.members(team_id)] == [bob]
        assert uow.teams.member(team_id, ann) is None
        assert uow.teams.count_owners(team_id) == 0
        assert uow.teams.roles_of(ann) == {} and uow.teams.of_user(ann) == []
        assert uow.teams.count_created_by(ann) == 0
        invitation = uow.invitations.get(invitation_id)
        assert invitation is not None and invitation.invited_by is None
        assert uow.teams.get(other).created_by == bob  # another creator's team is untouched
        assert [team.id for team, _ in uow.teams.all(10)] == [team_id, other]


def test_all_lists_teams_by_id_with_their_members(backend):
    ann, bob, cid = _users(backend, "ann@example.com", "bob@example.com", "cid@example.com")
    first = _team(backend, cid, "First", (ann, MEMBER), (bob, ADMIN))
    second = _team(backend, ann, "second")
    third = _team(backend, bob, "Third", (cid, OWNER))
    with backend.uow() as uow:
        everything = uow.teams.all(10)
        page = uow.teams.all(1, after_id=first)
        assert uow.teams.all(10, after_id=third) == []
        assert [team.id for team, _ in uow.teams.all(2)] == [first, second]
    assert [team.id for team, _ in everything] == [first, second, third]
    assert [(m.email, m.role) for m in everything[0][1]] == [
        ("cid@example.com", OWNER), ("bob@example.com", ADMIN), ("ann@example.com", MEMBER)]
    assert [m.user_id for m in everything[1][1]] == [ann]
    assert [m.email for m in everything[2][1]] == ["bob@example.com", "cid@example.com"]
    assert everything[0][0].name == "First" and everything[0][0].created_by == cid
    assert [(team.id, [m.user_id for m in members]) for team, members in page] == [(second, [ann])]


# -- invitations --------------------------------------------------------------------------------


def test_an_invitation_is_stored_with_its_address_lower_cased(backend):
    (ann,) = _users(backend, "ann@example.com")
    team_id = _team(backend, ann)
    invitation = _invitation(team_id, email="Dan@Example.COM", role=ADMIN, invited_by=ann, at=T0.astimezone(MOSCOW))
    with backend.uow() as uow:
        added = uow.invitations.add(invitation)
        uow.commit()
    assert added is invitation and isinstance(invitation.id, int) and invitation.email == "dan@example.com"
    with backend.uow() as uow:
        got = uow.invitations.get(invitation.id)
        by_hash = uow.invitations.by_token_hash("a" * 64)
        assert uow.invitations.get(987654) is None
        assert uow.invitations.by_token_hash("b" * 64) is None
    assert asdict(got) == asdict(invitation) == asdict(by_hash)
    assert (got.email, got.role, got.invited_by, got.accepted_at, got.revoked_at) == (
        "dan@example.com", ADMIN, ann, None, None)
    assert got.created_at == T0 and got.expires_at == T0 + timedelta(days=7)
    assert got.created_at.utcoffset() == timedelta(0) and got.expires_at.utcoffset() == timedelta(0)


def test_pending_for_compares_addresses_regardless_of_case_within_a_team(backend):
    (ann,) = _users(backend, "ann@example.com")
    team_id, other = _team(backend, ann), _team(backend, ann, "Other")
    (invitation_id,) = _invite(backend, _invitation(team_id, email="dan@example.com"))
    with backend.uow() as uow:
        assert uow.invitations.pending_for(team_id, "DAN@example.com", T0).id == invitation_id
        assert uow.invitations.pending_for(team_id, "dan@example.com", T0).id == invitation_id
        assert uow.invitations.pending_for(team_id, "eve@example.com", T0) is None
        assert uow.invitations.pending_for(other, "dan@example.com", T0) is None


def test_pending_excludes_expired_accepted_and_revoked_invitations_newest_first(backend):
    (ann,) = _users(backend, "ann@example.com")
    team_id, other = _team(backend, ann), _team(backend, ann, "Other")
    old, accepted, revoked, newest, short, elsewhere = _invite(
        backend,
        _invitation(team_id, "old@example.com", "1" * 64, at=T0 - timedelta(days=2)),
        _invitation(team_id, "acc@example.com", "2" * 64),
        _invitation(team_id, "rev@example.com", "3" * 64),
        _invitation(team_id, "new@example.com", "4" * 64, at=T0 + timedelta(hours=1)),
        _invitation(team_id, "short@example.com", "5" * 64, at=T0 - timedelta(days=1), days=1),  # expires at T0
        _invitation(other, "old@example.com", "6" * 64))
    with backend.uow() as uow:
        assert uow.invitations.mark_accepted(accepted, "2" * 64, T0) is True
        assert uow.invitations.mark_revoked(revoked, T0) is True
        uow.commit()
    with backend.uow() as uow:
        now = T0 + timedelta(hours=2)
        assert [i.id for i in uow.invitations.pending(team_id, now)] == [newest, old]
        assert uow.invitations.count_pending(team_id, now) == 2
        assert uow.invitations.pending_for(team_id, "acc@example.com", now) is None
        assert uow.invitations.pending_for(team_id, "rev@example.com", now) is None
        assert uow.invitations.pending_for(team_id, "short@example.com", now) is None  # expired
        # just before its expiry the short one is still pending
        just_before = T0 - timedelta(seconds=1)
        assert uow.invitations.pending_for(team_id, "short@example.com", just_before).id == short
        # expired: seven days after it was sent the old one is not pending any more
        later = T0 + timedelta(days=5)
        assert [i.id for i in uow.invitations.pending(team_id, later)] == [newest]
        assert uow.invitations.count_pending(team_id, later) == 1
        assert uow.invitations.pending_for(team_id, "old@example.com", later) is None
        assert [i.id for i in uow.invitations.pending(other, now)] == [elsewhere]
        assert uow.invitations.pending(987654, now) == [] and uow.invitations.count_pending(987654, now) == 0
        # the used ones are still there to read
        assert uow.invitations.get(accepted).accepted_at == T0
        assert uow.invitations.get(revoked).revoked_at == T0


def test_an_invitation_is_used_once(backend):
    (ann,) = _users(backend, "ann@example.com")
    team_id = _team(backend, ann)
    first, second = _invite(backend, _invitation(team_id, "dan@example.com", "1" * 64),
                            _invitation(team_id, "eve@example.com", "2" * 64))
    with backend.uow() as uow:
        assert uow.invitations.mark_accepted(first, "2" * 64, T0) is False  # not its token
        assert uow.invitations.mark_accepted(first, "1" * 64, T0 + timedelta(minutes=1)) is True
        assert uow.invitations.mark_accepted(first, "1" * 64, T0 + timedelta(minutes=2)) is False
        assert uow.invitations.mark_revoked(first, T0 + timedelta(minutes=2)) is False
        assert uow.invitations.mark_revoked(second, T0 + timedelta(minutes=3)) is True
        assert uow.invitations.mark_accepted(second, "2" * 64, T0 + timedelta(minutes=4)) is False
        assert uow.invitations.mark_revoked(second, T0 + timedelta(minutes=4)) is False
        assert uow.invitations.mark_accepted(987654, "1" * 64, T0) is False
        assert uow.invitations.mark_revoked(987654, T0) is False
        uow.commit()
    with backend.uow() as uow:
        assert uow.invitations.mark_accepted(first, "1" * 64, T0 + timedelta(minutes=5)) is False  # after the commit
        accepted, revoked = uow.invitations.get(first), uow.invitations.get(second)
    assert (accepted.accepted_at, accepted.revoked_at) == (T0 + timedelta(minutes=1), None)
    assert (revoked.accepted_at, revoked.revoked_at) == (None, T0 + timedelta(minutes=3))


def test_an_uncommitted_acceptance_is_lost(backend):
    (ann,) = _users(backend, "ann@example.com")
    (invitation_id,) = _invite(backend, _invitation(_team(backend, ann)))
    with backend.uow() as uow:
        assert uow.invitations.mark_accepted(invitation_id, "a" * 64, T0) is True
    with backend.uow() as uow:
        assert uow.invitations.get(invitation_id).accepted_at is None
        assert uow.invitations.mark_accepted(invitation_id, "a" * 64, T0) is True


def test_replace_token_makes_the_old_hash_unknown_and_sets_a_new_expiry(backend):
    (ann,) = _users(backend, "ann@example.com")
    team_id = _team(backend, ann)
    invitation_id, other_id = _invite(backend, _invitation(team_id, token_hash="1" * 64),
                                      _invitation(team_id, "eve@example.com", token_hash="2" * 64))
    resent_at = T0 + timedelta(days=8)  # after the first expiry
    with backend.uow() as uow:
        assert uow.invitations.pending_for(team_id, "dan@example.com", resent_at) is None
        assert uow.invitations.replace_token(invitation_id, "9" * 64, resent_at, resent_at + timedelta(days=7)) is True
        uow.commit()
    with backend.uow() as uow:
        assert uow.invitations.by_token_hash("1" * 64) is None
        got = uow.invitations.by_token_hash("9" * 64)
        assert uow.invitations.pending_for(team_id, "dan@example.com", resent_at).id == invitation_id
        assert uow.invitations.by_token_hash("2" * 64).id == other_id  # the other one is untouched
        assert uow.invitations.get(other_id).expires_at == T0 + timedelta(days=7)
    assert (got.id, got.email, got.created_at) == (invitation_id, "dan@example.com", T0)
    assert got.expires_at == resent_at + timedelta(days=7)


def test_a_resend_retires_the_old_token_for_accepting_and_a_used_invitation_gets_no_new_one(backend):
    (ann,) = _users(backend, "ann@example.com")
    team_id = _team(backend, ann)
    resent, accepted, revoked = _invite(backend, _invitation(team_id, "dan@example.com", "1" * 64),
                                        _invitation(team_id, "eve@example.com", "2" * 64),
                                        _invitation(team_id, "fay@example.com", "3" * 64))
    later = T0 + timedelta(days=1)
    with backend.uow() as uow:
        assert uow.invitations.replace_token(resent, "9" * 64, later, later + timedelta(days=7)) is True
        assert uow.invitations.mark_accepted(accepted, "2" * 64, T0) is True
        assert uow.invitations.mark_revoked(revoked, T0) is True
        uow.commit()
    with backend.uow() as uow:
        assert uow.invitations.mark_accepted(resent, "1" * 64, later) is False  # the old token
        # an accepted or revoked invitation is not resent: its row keeps its token and expiry
        assert uow.invitations.replace_token(accepted, "8" * 64, later, later + timedelta(days=7)) is False
        assert uow.invitations.replace_token(revoked, "7" * 64, later, later + timedelta(days=7)) is False
        assert uow.invitations.replace_token(987654, "6" * 64, later, later + timedelta(days=7)) is False
        uow.commit()
    with backend.uow() as uow:
        assert uow.invitations.get(resent).accepted_at is None  # the new token still works
        assert uow.invitations.by_token_hash("2" * 64).expires_at == T0 + timedelta(days=7)
        assert uow.invitations.by_token_hash("3" * 64).id == revoked
        assert uow.invitations.by_token_hash("8" * 64) is None and uow.invitations.by_token_hash("7" * 64) is None
        assert uow.invitations.mark_accepted(resent, "9" * 64, later) is True


# -- concurrency (the SQL backends: one fake unit of work runs at a time) ------------------------


@pytest.fixture
def sql_backend(tmp_path):
    """SQLite here; tests/integration/test_contracts_postgres.py overrides it with PostgreSQL."""
    made = make_backend("sqlite", tmp_path)
    yield made
    made.close()


def _in_thread(work):
    """Start ``work`` in a thread; returns (done event, results list, thread)."""
    done, results = threading.Event(), []

    def run():
        try:
            results.append(work())
        except BaseException as exc:  # pragma: no cover - reported by the assertion below
            results.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return done, results, thread


def test_racing_acceptances_of_one_invitation_let_one_through(sql_backend):
    backend = sql_backend
    (ann,) = _users(backend, "ann@example.com")
    (invitation_id,) = _invite(backend, _invitation(_team(backend, ann)))

    def second():
        with backend.uow() as uow:
            used = uow.invitations.mark_accepted(invitation_id, "a" * 64, T0 + timedelta(seconds=1))
            uow.commit()
            return used

    with backend.uow() as uow:
        assert uow.invitations.mark_accepted(invitation_id, "a" * 64, T0) is True
        done, results, thread = _in_thread(second)
        assert not done.wait(0.5)  # waits for the first transaction
        uow.commit()
    thread.join(30)
    assert results == [False]
    with backend.uow() as uow:
        assert uow.invitations.get(invitation_id).accepted_at == T0


def test_an_acceptance_racing_a_resend_with_the_old_token_changes_nothing(sql_backend):
    """The acceptance found the invitation by its old token just before a resend replaced it: its
    update waits for the resend and then matches no row (PostgreSQL re-reads the row; SQLite's
    transaction waits from its first statement). The new token is not used up."""
    backend = sql_backend
    (ann,) = _users(backend, "ann@example.com")
    (invitation_id,) = _invite(backend, _invitation(_team(backend, ann), token_hash="1" * 64))

    def accept_with_the_old_token():
        with backend.uow() as uow:
            used = uow.invitations.mark_accepted(invitation_id, "1" * 64, T0 + timedelta(seconds=1))
            uow.commit()
            return used

    with backend.uow() as uow:
        assert uow.invitations.replace_token(invitation_id, "9" * 64, T0, T0 + timedelta(days=7)) is True
        done, results, thread = _in_thread(accept_with_the_old_token)
        assert not done.wait(0.5)  # waits for the resend's transaction
        uow.commit()
    thread.join(30)
    assert results == [False]
    with backend.uow() as uow:
        got = uow.invitations.get(invitation_id)
        assert (got.token_hash, got.accepted_at) == ("9" * 64, None)


def test_a_resend_racing_an_acceptance_changes_nothing(sql_backend):
    backend = sql_backend
    (ann,) = _users(backend, "ann@example.com")
    (invitation_id,) = _invite(backend, _invitation(_team(backend, ann), token_hash="1" * 64))

    def resend():
        with backend.uow() as uow:
            replaced = uow.invitations.replace_token(invitation_id, "9" * 64, T0, T0 + timedelta(days=8))
            uow.commit()
            return replaced

    with backend.uow() as uow:
        assert uow.invitations.mark_accepted(invitation_id, "1" * 64, T0) is True
        done, results, thread = _in_thread(resend)
        assert not done.wait(0.5)
        uow.commit()
    thread.join(30)
    assert results == [False]
    with backend.uow() as uow:
        got = uow.invitations.get(invitation_id)
        assert (got.token_hash, got.accepted_at) == ("1" * 64, T0)


@pytest.mark.parametrize("lock", ["team", "member"])
def test_the_team_lock_serialises_the_last_owner_rule(sql_backend, lock):
    backend = sql_backend
    """Two owners demote each other at once: the second sees the first's change and one owner stays."""
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    team_id = _team(backend, ann, "Writers", (bob, OWNER))

    def take(uow, target: int) -> None:
        if lock == "team":
            uow.teams.lock_team(team_id)
        else:
            assert uow.teams.member(team_id, target, lock=True) is not None

    def bob_demotes_ann():
        with backend.uow() as uow:
            take(uow, ann)
            owners = uow.teams.count_owners(team_id)
            if owners > 1:
                uow.teams.set_role(team_id, ann, MEMBER)
                uow.commit()
            return owners

    with backend.uow() as uow:
        take(uow, ann)
        assert uow.teams.count_owners(team_id) == 2
        uow.teams.set_role(team_id, bob, MEMBER)
        done, results, thread = _in_thread(bob_demotes_ann)
        assert not done.wait(0.5)  # waits for the lock
        uow.commit()
    thread.join(30)
    assert results == [1]  # it saw one owner left and refused
    with backend.uow() as uow:
        assert uow.teams.roles_of(ann) == {team_id: "owner"}
        assert uow.teams.roles_of(bob) == {team_id: "member"}
