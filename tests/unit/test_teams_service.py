"""The Teams use case (SPEC §14) on the fakes: teams, members and roles, invitations."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from promptcore.domain.access import Actor
from promptcore.domain.errors import (
    Conflict,
    EmailNotConfirmed,
    Forbidden,
    HasPaidPlan,
    InvalidToken,
    LastOwner,
    LimitReached,
    NotFound,
    ValidationFailed,
)
from promptcore.domain.teams import INVITATION_TTL, TEAMS_PER_USER, TeamRole, invitation_token_hash
from promptcore.domain.users import Role, User, UserSettings
from promptcore.services.teams import CAP_MAX, Teams
from tests.fakes import FakeMailTemplates, FakeUnitOfWork, outbox_messages

OWNER, ADMIN, MEMBER = TeamRole.OWNER, TeamRole.ADMIN, TeamRole.MEMBER
BASE = "http://test.local"


@pytest.fixture
def mail():
    return FakeMailTemplates()


@pytest.fixture
def paid():
    """Team ids whose plan is paid, and every (team id) has_paid_plan was asked about."""
    return {"teams": set(), "asked": []}


@pytest.fixture
def teams(store, clock, mail, paid):
    def has_paid_plan(uow, team_id):
        assert isinstance(uow, FakeUnitOfWork)
        paid["asked"].append(team_id)
        return team_id in paid["teams"]

    return Teams(lambda: FakeUnitOfWork(store), clock, mail, BASE + "/", has_paid_plan=has_paid_plan)


def add_user(store, email, confirmed=True, language=None, role=Role.USER) -> int:
    with FakeUnitOfWork(store) as uow:
        user = uow.users.add(User(email=email, password_hash="x", name=email.split("@")[0].title(),
                                  is_email_confirmed=confirmed, role=role, settings=UserSettings(language=language)))
        uow.commit()
    return user.id


def set_confirmed(store, user_id, confirmed):
    store.users[user_id].is_email_confirmed = confirmed


def actor(teams, user_id, role=Role.USER) -> Actor:
    """As entrypoints/actor.py: the memberships as they are now."""
    return Actor(user_id, role, teams=teams.roles_of(user_id))


def last_token(store) -> str:
    return re.search(r"/invitations/(\S+)", outbox_messages(store)[-1].text).group(1)


class Crew:
    """A team of Ada (owner), Bob (admin) and Cy (member); Dan is a stranger, and the team's
    invitations go out in Russian (Ada's language)."""

    def __init__(self, teams, store, clock):
        self.teams, self.store, self.clock = teams, store, clock
        self.ada = add_user(store, "ada@example.com", language="ru")
        self.bob = add_user(store, "bob@example.com")
        self.cy = add_user(store, "cy@example.com")
        self.dan = add_user(store, "dan@example.com")
        self.team = teams.create(self.as_(self.ada), "  The   Analytical  Engine ").team.id
        for user, address, role in [(self.bob, "bob@example.com", "admin"), (self.cy, "cy@example.com", "member")]:
            teams.invite(self.as_(self.ada), self.team, address, role)
            teams.accept(self.as_(user), last_token(store))

    def as_(self, user_id, role=Role.USER) -> Actor:
        return actor(self.teams, user_id, role)

    def roles(self) -> dict[str, str]:
        return {m.email.split("@")[0]: m.role.value for m in self.teams.members(self.as_(self.ada), self.team)}

    def invite(self, by, address="eve@example.com", role="member"):
        invitation = self.teams.invite(self.as_(by), self.team, address, role)
        return invitation, last_token(self.store)


@pytest.fixture
def crew(teams, store, clock):
    return Crew(teams, store, clock)


# -- teams -------------------------------------------------------------------------------------------

def test_the_creator_owns_the_new_team(teams, store):
    ada = add_user(store, "ada@example.com")
    view = teams.create(actor(teams, ada), "  Difference \t Engine ")
    assert (view.team.name, view.role, view.team.created_by) == ("Difference Engine", OWNER, ada)
    assert teams.roles_of(ada) == {view.team.id: "owner"}
    [listed] = teams.list(actor(teams, ada))
    assert (listed.team.id, listed.role) == (view.team.id, OWNER)
    assert [(m.user_id, m.role, m.email) for m in teams.members(actor(teams, ada), view.team.id)] == [
        (ada, OWNER, "ada@example.com")]


def test_an_unconfirmed_user_cannot_create_a_team(teams, store):
    ada = add_user(store, "ada@example.com", confirmed=False)
    with pytest.raises(EmailNotConfirmed):
        teams.create(actor(teams, ada), "Engine")
    assert not store.teams and teams.roles_of(ada) == {}


def test_a_bad_name_is_refused(teams, store):
    ada = add_user(store, "ada@example.com")
    for bad in ["", "   ", "x" * 101, "a\x00b", None]:
        with pytest.raises(ValidationFailed):
            teams.create(actor(teams, ada), bad)
    assert not store.teams


def test_a_user_creates_at_most_twenty_teams(teams, store):
    ada, bob = add_user(store, "ada@example.com"), add_user(store, "bob@example.com")
    made = [teams.create(actor(teams, ada), f"Team {n}").team.id for n in range(TEAMS_PER_USER)]
    assert TEAMS_PER_USER == 20
    with pytest.raises(LimitReached):
        teams.create(actor(teams, ada), "One too many")
    assert len(store.teams) == 20
    teams.create(actor(teams, bob), "Bob's")  # the limit is per creator
    teams.delete(actor(teams, ada), made[0])
    teams.create(actor(teams, ada), "In the freed place")


def test_list_shows_the_users_teams_by_name_with_their_role(crew, teams):
    other = teams.create(crew.as_(crew.cy), "a team of Cy's").team.id
    assert [(v.team.id, v.role) for v in teams.list(crew.as_(crew.cy))] == [(other, OWNER), (crew.team, MEMBER)]
    assert teams.list(crew.as_(crew.dan)) == []
    assert teams.get(crew.as_(crew.cy), crew.team).role is MEMBER
    assert teams.get(crew.as_(crew.cy), crew.team).team.name == "The Analytical Engine"


def test_roles_of_maps_each_team_to_the_users_role(crew, teams):
    second = teams.create(crew.as_(crew.bob), "Bob's own").team.id
    assert teams.roles_of(crew.bob) == {crew.team: "admin", second: "owner"}
    assert teams.roles_of(crew.ada) == {crew.team: "owner"}
    assert teams.roles_of(crew.cy) == {crew.team: "member"}
    assert teams.roles_of(crew.dan) == {}


@pytest.mark.parametrize("who, allowed", [("ada", True), ("bob", False), ("cy", False)])
def test_only_owners_rename_the_team(crew, teams, who, allowed):
    someone = crew.as_(getattr(crew, who))
    if allowed:
        assert teams.rename(someone, crew.team, " Engine  No. 2 ").team.name == "Engine No. 2"
    else:
        with pytest.raises(Forbidden):
            teams.rename(someone, crew.team, "Hijacked")
    assert teams.get(someone, crew.team).team.name == ("Engine No. 2" if allowed else "The Analytical Engine")


def test_rename_validates_the_name(crew, teams):
    with pytest.raises(ValidationFailed):
        teams.rename(crew.as_(crew.ada), crew.team, "x" * 101)


@pytest.mark.parametrize("who, allowed", [("ada", True), ("bob", False), ("cy", False)])
def test_only_owners_delete_the_team(crew, teams, store, who, allowed):
    pending, _token = crew.invite(crew.ada)
    if allowed:
        teams.delete(crew.as_(getattr(crew, who)), crew.team)
        assert crew.team not in store.teams and not store.team_members and not store.invitations
        assert teams.roles_of(crew.cy) == {}
        with pytest.raises(NotFound):
            teams.get(crew.as_(crew.ada), crew.team)
    else:
        with pytest.raises(Forbidden):
            teams.delete(crew.as_(getattr(crew, who)), crew.team)
        assert crew.team in store.teams and len(store.team_members) == 3 and pending.id in store.invitations


def test_a_team_with_a_paid_plan_is_not_deleted(crew, teams, store, paid):
    paid["teams"].add(crew.team)
    with pytest.raises(HasPaidPlan):
        teams.delete(crew.as_(crew.ada), crew.team)
    assert paid["asked"] == [crew.team]
    assert crew.team in store.teams and teams.roles_of(crew.cy) == {crew.team: "member"}
    paid["teams"].clear()  # the plan ended
    teams.delete(crew.as_(crew.ada), crew.team)
    assert crew.team not in store.teams


def test_a_team_with_a_payment_in_progress_is_not_deleted(crew, store, clock, mail):
    pending = {crew.team}
    teams = Teams(lambda: FakeUnitOfWork(store), clock, mail, BASE,
                  has_pending_payment=lambda uow, team_id: team_id in pending)
    with pytest.raises(Conflict) as info:
        teams.delete(crew.as_(crew.ada), crew.team)
    assert info.value.message.startswith("A payment for this team is in progress")
    assert crew.team in store.teams
    pending.clear()  # paid (then the paid plan refuses) or canceled
    teams.delete(crew.as_(crew.ada), crew.team)
    assert crew.team not in store.teams


def test_without_a_billing_callable_no_team_has_a_paid_plan(store, clock, mail):
    teams = Teams(lambda: FakeUnitOfWork(store), clock, mail, BASE)
    ada = add_user(store, "ada@example.com")
    team = teams.create(actor(teams, ada), "Engine").team.id
    teams.delete(actor(teams, ada), team)
    assert not store.teams


# -- members and roles --------------------------------------------------------------------------

def test_every_member_sees_the_members_owners_first(crew, teams):
    for who in (crew.ada, crew.bob, crew.cy):
        members = teams.members(crew.as_(who), crew.team)
        assert [(m.email, m.role, m.name) for m in members] == [
            ("ada@example.com", OWNER, "Ada"), ("bob@example.com", ADMIN, "Bob"), ("cy@example.com", MEMBER, "Cy")]


def test_owners_and_admins_move_people_between_admin_and_member(crew, teams):
    assert teams.change_role(crew.as_(crew.bob), crew.team, crew.cy, "admin").role is ADMIN
    assert crew.roles() == {"ada": "owner", "bob": "admin", "cy": "admin"}
    assert teams.change_role(crew.as_(crew.cy), crew.team, crew.bob, "member").role is MEMBER  # admin demotes admin
    assert teams.change_role(crew.as_(crew.ada), crew.team, crew.cy, "member").role is MEMBER
    assert crew.roles() == {"ada": "owner", "bob": "member", "cy": "member"}


@pytest.mark.parametrize("target, new", [("ada", "admin"), ("ada", "member"), ("cy", "owner"), ("bob", "owner")])
def test_an_admin_cannot_touch_owners_or_make_one(crew, teams, target, new):
    with pytest.raises(Forbidden):
        teams.change_role(crew.as_(crew.bob), crew.team, getattr(crew, target), new)
    assert crew.roles() == {"ada": "owner", "bob": "admin", "cy": "member"}


@pytest.mark.parametrize("target, new", [("cy", "admin"), ("bob", "member"), ("ada", "member"), ("cy", "owner")])
def test_a_member_changes_no_ones_role(crew, teams, target, new):
    with pytest.raises(Forbidden):
        teams.change_role(crew.as_(crew.cy), crew.team, getattr(crew, target), new)
    assert crew.roles() == {"ada": "owner", "bob": "admin", "cy": "member"}


@pytest.mark.parametrize("new", ["admin", "member"])
def test_the_last_owner_cannot_be_demoted(crew, teams, new):
    with pytest.raises(LastOwner):
        teams.change_role(crew.as_(crew.ada), crew.team, crew.ada, new)
    assert crew.roles()["ada"] == "owner"


def test_ownership_is_handed_over_by_making_an_owner_then_stepping_down(crew, teams):
    assert teams.change_role(crew.as_(crew.ada), crew.team, crew.bob, "owner").role is OWNER
    assert teams.change_role(crew.as_(crew.ada), crew.team, crew.ada, "member").role is MEMBER
    assert crew.roles() == {"ada": "member", "bob": "owner", "cy": "member"}
    with pytest.raises(Forbidden):  # Ada's old role is gone with her next request
        teams.rename(crew.as_(crew.ada), crew.team, "Mine again")
    with pytest.raises(LastOwner):  # and Bob is now the last owner
        teams.change_role(crew.as_(crew.bob), crew.team, crew.bob, "admin")
    teams.rename(crew.as_(crew.bob), crew.team, "Bob's engine")


def _stale(crew, user_id, roles: dict) -> Actor:
    """An Actor built when the request began, before another request changed the memberships."""
    return Actor(user_id, teams=roles)


def test_a_caller_demoted_meanwhile_acts_with_the_role_they_have_now(crew, teams, store):
    bob_as_admin = _stale(crew, crew.bob, {crew.team: "admin"})
    teams.change_role(crew.as_(crew.ada), crew.team, crew.bob, "member")  # committed while Bob's request runs
    before = crew.roles()
    for act in (lambda: teams.change_role(bob_as_admin, crew.team, crew.cy, "admin"),
                lambda: teams.set_cap(bob_as_admin, crew.team, crew.cy, 3),
                lambda: teams.update_member(bob_as_admin, crew.team, crew.cy, role="admin", daily_cap=3),
                lambda: teams.remove(bob_as_admin, crew.team, crew.cy),
                lambda: teams.invite(bob_as_admin, crew.team, "eve@example.com", "member")):
        with pytest.raises(Forbidden):
            act()
    assert crew.roles() == before and all(m.daily_cap is None for m in store.team_members.values())
    assert not store.invitations or all(i.email != "eve@example.com" for i in store.invitations.values())


def test_an_owner_demoted_meanwhile_cannot_delete_the_team_and_a_removed_one_is_a_stranger(crew, teams, store):
    teams.change_role(crew.as_(crew.ada), crew.team, crew.bob, "owner")
    bob_as_owner = _stale(crew, crew.bob, {crew.team: "owner"})
    teams.change_role(crew.as_(crew.ada), crew.team, crew.bob, "admin")
    with pytest.raises(Forbidden):
        teams.delete(bob_as_owner, crew.team)
    with pytest.raises(Forbidden):
        teams.change_role(bob_as_owner, crew.team, crew.ada, "member")
    teams.remove(crew.as_(crew.ada), crew.team, crew.bob)
    with pytest.raises(NotFound):
        teams.remove(bob_as_owner, crew.team, crew.cy)
    assert crew.team in store.teams and crew.roles() == {"ada": "owner", "cy": "member"}


def test_a_role_and_a_cap_change_together_or_not_at_all(crew, teams):
    member = teams.update_member(crew.as_(crew.ada), crew.team, crew.cy, role="admin", daily_cap=7)
    assert (member.role, member.daily_cap) == (ADMIN, 7)
    for cap in (-1, CAP_MAX + 1, "7", True):
        with pytest.raises(ValidationFailed):
            teams.update_member(crew.as_(crew.ada), crew.team, crew.cy, role="member", daily_cap=cap)
    with pytest.raises(LastOwner):  # the role fails: the cap is not set either
        teams.update_member(crew.as_(crew.ada), crew.team, crew.ada, role="member", daily_cap=1)
    with pytest.raises(Forbidden):  # an admin makes no owners: the cap is not set either
        teams.update_member(crew.as_(crew.bob), crew.team, crew.cy, role="owner", daily_cap=1)
    [cy] = [m for m in teams.members(crew.as_(crew.ada), crew.team) if m.user_id == crew.cy]
    [ada] = [m for m in teams.members(crew.as_(crew.ada), crew.team) if m.user_id == crew.ada]
    assert (cy.role, cy.daily_cap) == (ADMIN, 7) and (ada.role, ada.daily_cap) == (OWNER, None)


def test_only_owners_cap_an_owner(crew, teams):
    with pytest.raises(Forbidden) as info:
        teams.set_cap(crew.as_(crew.bob), crew.team, crew.ada, 5)
    assert info.value.message == "Only the team's owners set an owner's cap."
    assert all(m.daily_cap is None for m in teams.members(crew.as_(crew.ada), crew.team))
    assert teams.set_cap(crew.as_(crew.bob), crew.team, crew.bob, 5).daily_cap == 5  # admins cap admins
    assert teams.set_cap(crew.as_(crew.ada), crew.team, crew.ada, 9).daily_cap == 9  # owners cap owners
    teams.change_role(crew.as_(crew.ada), crew.team, crew.cy, "owner")
    assert teams.set_cap(crew.as_(crew.cy), crew.team, crew.ada, 2).daily_cap == 2


def test_change_role_needs_a_role_and_a_member_of_this_team(crew, teams):
    elsewhere = teams.create(crew.as_(crew.dan), "Dan's").team.id
    with pytest.raises(ValidationFailed):
        teams.change_role(crew.as_(crew.ada), crew.team, crew.cy, "boss")
    for stranger in (crew.dan, 999_999, "2", None):
        with pytest.raises(NotFound):
            teams.change_role(crew.as_(crew.ada), crew.team, stranger, "admin")
    assert teams.roles_of(crew.dan) == {elsewhere: "owner"}


def test_the_last_owner_can_neither_leave_nor_be_removed(crew, teams):
    with pytest.raises(LastOwner):
        teams.leave(crew.as_(crew.ada), crew.team)
    with pytest.raises(LastOwner):
        teams.remove(crew.as_(crew.ada), crew.team, crew.ada)
    assert crew.roles()["ada"] == "owner"


def test_an_admin_removes_a_member_who_loses_access_at_once(crew, teams):
    cy = crew.as_(crew.cy)
    teams.remove(crew.as_(crew.bob), crew.team, crew.cy)
    assert crew.roles() == {"ada": "owner", "bob": "admin"}
    assert teams.roles_of(crew.cy) == {}
    with pytest.raises(NotFound):
        teams.get(crew.as_(crew.cy), crew.team)
    with pytest.raises(NotFound):  # even with the memberships read before the removal
        teams.remove(cy, crew.team, crew.cy)


def test_an_admin_removes_another_admin_but_not_an_owner(crew, teams):
    teams.change_role(crew.as_(crew.ada), crew.team, crew.cy, "admin")
    with pytest.raises(Forbidden):
        teams.remove(crew.as_(crew.bob), crew.team, crew.ada)
    teams.remove(crew.as_(crew.bob), crew.team, crew.cy)
    assert crew.roles() == {"ada": "owner", "bob": "admin"}


@pytest.mark.parametrize("target", ["ada", "bob"])
def test_a_member_removes_no_one(crew, teams, target):
    with pytest.raises(Forbidden):
        teams.remove(crew.as_(crew.cy), crew.team, getattr(crew, target))
    assert crew.roles() == {"ada": "owner", "bob": "admin", "cy": "member"}


@pytest.mark.parametrize("who", ["bob", "cy"])
def test_members_and_admins_may_leave(crew, teams, who):
    teams.leave(crew.as_(getattr(crew, who)), crew.team)
    assert who not in crew.roles()
    assert teams.roles_of(getattr(crew, who)) == {}


def test_an_owner_leaves_once_there_is_another_owner(crew, teams):
    teams.change_role(crew.as_(crew.ada), crew.team, crew.cy, "owner")
    teams.leave(crew.as_(crew.ada), crew.team)
    assert crew.teams.members(crew.as_(crew.cy), crew.team)[0].email == "cy@example.com"
    assert teams.roles_of(crew.ada) == {}


def test_an_owner_removes_another_owner(crew, teams):
    teams.change_role(crew.as_(crew.ada), crew.team, crew.bob, "owner")
    teams.remove(crew.as_(crew.ada), crew.team, crew.bob)
    assert crew.roles() == {"ada": "owner", "cy": "member"}


def test_remove_needs_a_member_of_this_team(crew, teams):
    for stranger in (crew.dan, 999_999, "3", None):
        with pytest.raises(NotFound):
            teams.remove(crew.as_(crew.ada), crew.team, stranger)


@pytest.mark.parametrize("cap", [0, 1, 250, CAP_MAX, None])
@pytest.mark.parametrize("who", ["ada", "bob"])
def test_owners_and_admins_set_a_cap_within_bounds(crew, teams, who, cap):
    teams.set_cap(crew.as_(crew.ada), crew.team, crew.cy, 7)
    assert teams.set_cap(crew.as_(getattr(crew, who)), crew.team, crew.cy, cap).daily_cap == cap
    [cy] = [m for m in teams.members(crew.as_(crew.cy), crew.team) if m.user_id == crew.cy]
    assert cy.daily_cap == cap


@pytest.mark.parametrize("cap", [-1, CAP_MAX + 1, 10**12, True, False, 1.5, "10", [5]])
def test_a_cap_out_of_bounds_is_refused(crew, teams, cap):
    with pytest.raises(ValidationFailed) as info:
        teams.set_cap(crew.as_(crew.ada), crew.team, crew.cy, cap)
    assert list(info.value.errors) == ["daily_cap"]
    assert all(m.daily_cap is None for m in teams.members(crew.as_(crew.ada), crew.team))


def test_a_member_sets_no_cap_and_a_cap_needs_a_member(crew, teams):
    with pytest.raises(Forbidden):
        teams.set_cap(crew.as_(crew.cy), crew.team, crew.cy, 5)
    with pytest.raises(NotFound):
        teams.set_cap(crew.as_(crew.ada), crew.team, crew.dan, 5)


# -- invitations --------------------------------------------------------------------------------

def test_an_invitation_is_mailed_with_a_token_only_its_hash_is_kept(crew, teams, store, mail, clock):
    sent_before = len(outbox_messages(store))
    invitation = teams.invite(crew.as_(crew.ada), crew.team, "  Eve@Example.COM ", "admin")
    assert (invitation.email, invitation.role, invitation.invited_by) == ("eve@example.com", ADMIN, crew.ada)
    assert invitation.expires_at == clock.now() + INVITATION_TTL
    [message] = outbox_messages(store)[sent_before:]
    assert (message.to, message.kind, message.subject) == ("eve@example.com", "team_invitation", "team_invitation:ru")
    token = re.fullmatch(rf"team_invitation {re.escape(BASE)}/invitations/([A-Za-z0-9_-]+)", message.text).group(1)
    assert len(token) >= 40
    stored = store.invitations[invitation.id]
    assert stored.token_hash == invitation_token_hash(token) and invitation.token_hash == stored.token_hash
    assert token not in repr(store.invitations) and token not in repr(store.teams)
    kind, language, to, context = mail.rendered[-1]
    assert (kind, language, to) == ("team_invitation", "ru", "eve@example.com")
    assert context == {"link": f"{BASE}/invitations/{token}", "team": "The Analytical Engine",
                       "inviter": "ada@example.com", "role": "admin", "expires_at": invitation.expires_at}
    assert [i.id for i in teams.invitations(crew.as_(crew.bob), crew.team)] == [invitation.id]


def test_each_invitation_gets_its_own_token(crew, teams, store):
    _one, first = crew.invite(crew.ada, "eve@example.com")
    _two, second = crew.invite(crew.ada, "fay@example.com")
    assert first != second
    assert len({i.token_hash for i in store.invitations.values()}) == len(store.invitations)


def test_a_member_invites_no_one(crew, teams, store):
    queued = len(store.outbox)
    with pytest.raises(Forbidden):
        teams.invite(crew.as_(crew.cy), crew.team, "eve@example.com", "member")
    assert len(store.outbox) == queued and teams.invitations(crew.as_(crew.ada), crew.team) == []


def test_an_admin_invites_admins_and_members_but_not_owners(crew, teams):
    with pytest.raises(Forbidden):
        teams.invite(crew.as_(crew.bob), crew.team, "eve@example.com", "owner")
    assert teams.invite(crew.as_(crew.bob), crew.team, "eve@example.com", "admin").role is ADMIN
    assert teams.invite(crew.as_(crew.bob), crew.team, "fay@example.com").role is MEMBER  # the default
    assert teams.invite(crew.as_(crew.ada), crew.team, "gus@example.com", "owner").role is OWNER


def test_an_invitation_needs_an_address_and_a_role(crew, teams, store):
    queued = len(store.outbox)
    for address, role in [("not an address", "member"), (None, "member"), ("eve@example.com", "boss")]:
        with pytest.raises(ValidationFailed):
            teams.invite(crew.as_(crew.ada), crew.team, address, role)
    assert len(store.outbox) == queued


@pytest.mark.parametrize("address", ["cy@example.com", "CY@Example.com ", "ada@example.com"])
def test_a_members_address_is_not_invited(crew, teams, address):
    with pytest.raises(Conflict):
        teams.invite(crew.as_(crew.bob), crew.team, address)


def test_one_pending_invitation_per_address_until_it_is_revoked_or_expires(crew, teams, clock):
    first, _token = crew.invite(crew.ada, "eve@example.com")
    with pytest.raises(Conflict):
        teams.invite(crew.as_(crew.bob), crew.team, "EVE@example.com")
    teams.revoke(crew.as_(crew.ada), crew.team, first.id)
    second, _token = crew.invite(crew.ada, "eve@example.com")
    clock.advance(days=7)
    third, _token = crew.invite(crew.ada, "eve@example.com")
    assert len({first.id, second.id, third.id}) == 3
    other = teams.create(crew.as_(crew.dan), "Dan's").team.id  # another team invites the same address freely
    teams.invite(crew.as_(crew.dan), other, "eve@example.com")


def test_an_unconfirmed_inviter_is_refused(crew, teams, store):
    set_confirmed(store, crew.ada, False)
    queued = len(store.outbox)
    with pytest.raises(EmailNotConfirmed):
        teams.invite(crew.as_(crew.ada), crew.team, "eve@example.com")
    assert len(store.outbox) == queued and not teams.invitations(crew.as_(crew.ada), crew.team)


def test_members_and_pending_invitations_are_limited(crew, teams, monkeypatch):
    monkeypatch.setattr("promptcore.services.teams.MEMBERS_PER_TEAM", 5)
    crew.invite(crew.ada, "eve@example.com")
    crew.invite(crew.ada, "fay@example.com")  # 3 members + 2 pending
    with pytest.raises(LimitReached):
        teams.invite(crew.as_(crew.ada), crew.team, "gus@example.com")


def test_the_pending_invitations_are_listed_newest_first(crew, teams, clock):
    old, _token = crew.invite(crew.ada, "eve@example.com")
    clock.advance(minutes=1)
    new, _token = crew.invite(crew.bob, "fay@example.com")
    gone, _token = crew.invite(crew.bob, "gus@example.com")
    teams.revoke(crew.as_(crew.bob), crew.team, gone.id)
    assert [i.id for i in teams.invitations(crew.as_(crew.bob), crew.team)] == [new.id, old.id]
    clock.advance(days=7)
    assert teams.invitations(crew.as_(crew.ada), crew.team) == []


def test_a_plain_member_does_not_see_the_pending_invitations(crew, teams):
    crew.invite(crew.ada, "eve@example.com")
    with pytest.raises(Forbidden):
        teams.invitations(crew.as_(crew.cy), crew.team)
    assert [i.email for i in teams.invitations(crew.as_(crew.bob), crew.team)] == ["eve@example.com"]


def test_resend_replaces_the_token_and_the_old_link_stops_working(crew, teams, store, clock):
    eve = add_user(store, "eve@example.com")
    invitation, old = crew.invite(crew.bob)
    clock.advance(days=2)
    resent = teams.resend(crew.as_(crew.bob), crew.team, invitation.id)
    new = last_token(store)
    assert new != old and resent.id == invitation.id
    assert resent.expires_at == clock.now() + INVITATION_TTL  # seven more days from now
    assert store.invitations[invitation.id].token_hash == invitation_token_hash(new)
    assert outbox_messages(store)[-1].to == "eve@example.com"
    with pytest.raises(InvalidToken):
        teams.preview(actor(teams, eve), old)
    with pytest.raises(InvalidToken):
        teams.accept(actor(teams, eve), old)
    clock.advance(days=6)  # past the first expiry, within the new one
    assert teams.accept(actor(teams, eve), new).role is MEMBER


def test_resend_waits_a_minute(crew, teams, store, clock):
    eve = add_user(store, "eve@example.com")
    invitation, token = crew.invite(crew.ada)
    clock.advance(seconds=59)
    with pytest.raises(Conflict):
        teams.resend(crew.as_(crew.ada), crew.team, invitation.id)
    clock.advance(seconds=2)
    teams.resend(crew.as_(crew.ada), crew.team, invitation.id)
    with pytest.raises(Conflict):
        teams.resend(crew.as_(crew.ada), crew.team, invitation.id)
    with pytest.raises(InvalidToken):
        teams.accept(actor(teams, eve), token)
    teams.accept(actor(teams, eve), last_token(store))


def test_resend_and_revoke_follow_the_invitation_rule(crew, teams, clock):
    to_owner, _token = crew.invite(crew.ada, "eve@example.com", "owner")
    to_member, _token = crew.invite(crew.ada, "fay@example.com", "member")
    clock.advance(minutes=2)
    for action in (teams.resend, teams.revoke):
        with pytest.raises(Forbidden):  # a member manages no invitation
            action(crew.as_(crew.cy), crew.team, to_member.id)
        with pytest.raises(Forbidden):  # an admin does not touch an invitation to be owner
            action(crew.as_(crew.bob), crew.team, to_owner.id)
    teams.resend(crew.as_(crew.bob), crew.team, to_member.id)
    teams.revoke(crew.as_(crew.bob), crew.team, to_member.id)
    teams.revoke(crew.as_(crew.ada), crew.team, to_owner.id)
    assert teams.invitations(crew.as_(crew.ada), crew.team) == []


def test_revoked_accepted_expired_or_foreign_invitations_are_not_found(crew, teams, store, clock):
    eve = add_user(store, "eve@example.com")
    revoked, _token = crew.invite(crew.ada, "fay@example.com")
    teams.revoke(crew.as_(crew.ada), crew.team, revoked.id)
    accepted, token = crew.invite(crew.ada, "eve@example.com")
    teams.accept(actor(teams, eve), token)
    expired, _token = crew.invite(crew.ada, "gus@example.com")
    other = teams.create(crew.as_(crew.ada), "Ada's second").team.id
    clock.advance(days=7)
    foreign = teams.invite(crew.as_(crew.ada), other, "ivy@example.com")  # pending, in another team
    clock.advance(minutes=2)
    for invitation_id in (revoked.id, accepted.id, expired.id, foreign.id, 999_999, "1", None):
        for action in (teams.resend, teams.revoke):
            with pytest.raises(NotFound):
                action(crew.as_(crew.ada), crew.team, invitation_id)
    teams.resend(crew.as_(crew.ada), other, foreign.id)  # through its own team it works
    teams.revoke(crew.as_(crew.ada), other, foreign.id)


def test_a_revoked_invitation_cannot_be_accepted(crew, teams, store):
    eve = add_user(store, "eve@example.com")
    invitation, token = crew.invite(crew.ada)
    teams.revoke(crew.as_(crew.bob), crew.team, invitation.id)
    with pytest.raises(InvalidToken):
        teams.accept(actor(teams, eve), token)
    assert teams.roles_of(eve) == {}


def test_accepting_joins_with_the_invited_role_once(crew, teams, store, clock):
    eve = add_user(store, "eve@example.com")
    invitation, token = crew.invite(crew.ada, "Eve@Example.com", "admin")
    view = teams.accept(actor(teams, eve), token)
    assert (view.team.id, view.role) == (crew.team, ADMIN)
    assert teams.roles_of(eve) == {crew.team: "admin"}
    assert store.invitations[invitation.id].accepted_at == clock.now()
    assert teams.invitations(crew.as_(crew.ada), crew.team) == []
    with pytest.raises(InvalidToken):
        teams.accept(actor(teams, eve), token)
    with pytest.raises(InvalidToken):
        teams.preview(actor(teams, eve), token)


def test_only_the_invited_address_may_accept(crew, teams, store):
    add_user(store, "eve@example.com")
    _invitation, token = crew.invite(crew.ada)
    with pytest.raises(InvalidToken) as wrong:
        teams.accept(crew.as_(crew.dan), token)
    with pytest.raises(InvalidToken) as bad:
        teams.accept(crew.as_(crew.dan), "x" * 43)
    assert wrong.value.message == bad.value.message  # a stranger learns nothing
    with pytest.raises(InvalidToken):
        teams.preview(crew.as_(crew.dan), token)
    assert teams.roles_of(crew.dan) == {}


def test_an_unconfirmed_invitee_confirms_first(crew, teams, store):
    eve = add_user(store, "eve@example.com", confirmed=False)
    _invitation, token = crew.invite(crew.ada)
    with pytest.raises(EmailNotConfirmed):
        teams.preview(actor(teams, eve), token)
    with pytest.raises(EmailNotConfirmed):
        teams.accept(actor(teams, eve), token)
    set_confirmed(store, eve, True)
    assert teams.accept(actor(teams, eve), token).team.id == crew.team


@pytest.mark.parametrize("late", [timedelta(days=7), timedelta(days=30)])
def test_an_expired_invitation_cannot_be_accepted(crew, teams, store, clock, late):
    eve = add_user(store, "eve@example.com")
    _invitation, token = crew.invite(crew.ada)
    clock.advance(seconds=late.total_seconds())
    with pytest.raises(InvalidToken):
        teams.accept(actor(teams, eve), token)
    assert teams.roles_of(eve) == {}


def test_a_member_accepting_gets_a_conflict_and_the_invitation_stays(crew, teams, store):
    invitation, token = crew.invite(crew.ada, "newcy@example.com")
    store.users[crew.cy].email = "newcy@example.com"  # Cy changed her address to the invited one
    with pytest.raises(Conflict):
        teams.accept(crew.as_(crew.cy), token)
    assert store.invitations[invitation.id].accepted_at is None
    assert teams.roles_of(crew.cy) == {crew.team: "member"}


@pytest.mark.parametrize("token", [None, "", "short", "x" * 19, "x" * 201, 42, ["x" * 43]])
def test_malformed_tokens_are_invalid(crew, teams, token):
    with pytest.raises(InvalidToken):
        teams.preview(crew.as_(crew.dan), token)
    with pytest.raises(InvalidToken):
        teams.accept(crew.as_(crew.dan), token)


def test_preview_shows_the_invitation_without_using_it(crew, teams, store):
    eve = add_user(store, "eve@example.com")
    invitation, token = crew.invite(crew.bob, role="admin")
    preview = teams.preview(actor(teams, eve), token)
    shown, team = preview.invitation, preview.team
    assert (shown.id, shown.role, shown.invited_by, team.id, team.name) == (
        invitation.id, ADMIN, crew.bob, crew.team, "The Analytical Engine")
    assert preview.inviter_email == store.users[crew.bob].email
    assert store.invitations[invitation.id].accepted_at is None
    assert teams.accept(actor(teams, eve), token).role is ADMIN


# -- administration and isolation ---------------------------------------------------------------

def test_only_site_administrators_list_every_team(crew, teams, store):
    root = add_user(store, "root@example.com", role=Role.ADMIN)
    second = teams.create(crew.as_(crew.dan), "Dan's").team.id
    listed = teams.all(actor(teams, root, Role.ADMIN))
    assert [(team.id, [m.email for m in members]) for team, members in listed] == [
        (crew.team, ["ada@example.com", "bob@example.com", "cy@example.com"]), (second, ["dan@example.com"])]
    assert [team.id for team, _members in teams.all(actor(teams, root, Role.ADMIN), limit=1)] == [crew.team]
    assert [team.id for team, _members in teams.all(actor(teams, root, Role.ADMIN), after_id=crew.team)] == [second]
    for refused in (crew.as_(crew.ada), Actor(root, Role.ADMIN, scopes=frozenset({"prompts:read"}))):
        with pytest.raises(Forbidden):
            teams.all(refused)


NON_MEMBER_CALLS = {
    "get": lambda t, team, c: t.get(c.outsider, team),
    "rename": lambda t, team, c: t.rename(c.outsider, team, "Taken over"),
    "delete": lambda t, team, c: t.delete(c.outsider, team),
    "members": lambda t, team, c: t.members(c.outsider, team),
    "change_role": lambda t, team, c: t.change_role(c.outsider, team, c.cy, "admin"),
    "set_cap": lambda t, team, c: t.set_cap(c.outsider, team, c.cy, 5),
    "update_member": lambda t, team, c: t.update_member(c.outsider, team, c.cy, role="admin", daily_cap=5),
    "remove": lambda t, team, c: t.remove(c.outsider, team, c.cy),
    "leave": lambda t, team, c: t.leave(c.outsider, team),
    "invitations": lambda t, team, c: t.invitations(c.outsider, team),
    "invite": lambda t, team, c: t.invite(c.outsider, team, "zed@example.com", "member"),
    "resend": lambda t, team, c: t.resend(c.outsider, team, c.pending),
    "revoke": lambda t, team, c: t.revoke(c.outsider, team, c.pending),
}


def test_the_non_member_list_names_every_method_taking_a_team_id():
    import inspect

    taking = {name for name, method in inspect.getmembers(Teams, inspect.isfunction)
              if not name.startswith("_") and "team_id" in inspect.signature(method).parameters}
    assert taking == set(NON_MEMBER_CALLS)


@pytest.mark.parametrize("outsider", ["stranger", "site_admin", "owner_of_another_team", "removed_member"])
@pytest.mark.parametrize("method", sorted(NON_MEMBER_CALLS))
def test_non_members_get_not_found_from_every_team_method(crew, teams, store, clock, method, outsider):
    crew.pending = crew.invite(crew.ada)[0].id
    clock.advance(minutes=2)
    if outsider == "stranger":
        crew.outsider = crew.as_(crew.dan)
    elif outsider == "site_admin":
        crew.outsider = crew.as_(add_user(store, "root@example.com", role=Role.ADMIN), Role.ADMIN)
    elif outsider == "owner_of_another_team":
        teams.create(crew.as_(crew.dan), "Dan's")
        crew.outsider = crew.as_(crew.dan)
    else:  # his next request reads his memberships afresh
        teams.remove(crew.as_(crew.ada), crew.team, crew.bob)
        crew.outsider = crew.as_(crew.bob)
    before = (repr(store.teams), repr(store.team_members), repr(store.invitations), len(store.outbox))
    for team in (crew.team, 999_999):  # an existing team and a missing one answer alike
        with pytest.raises(NotFound) as info:
            NON_MEMBER_CALLS[method](teams, team, crew)
        assert info.value.message == "Team not found."
    assert (repr(store.teams), repr(store.team_members), repr(store.invitations), len(store.outbox)) == before
