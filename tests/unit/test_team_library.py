"""The shared library and feed of a team (SPEC §14) on the fakes: team templates and custom styles
(members use them; owners, admins and the author change them; everyone else gets 404), records
shared with a team and its feed, and what happens when a member leaves, an author's account goes,
or the team is deleted."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from promptcore.domain.access import Actor, require_library_item
from promptcore.domain.errors import Forbidden, NotFound, TitleTaken, ValidationFailed
from promptcore.domain.prompts import PromptRecord, RecordStatus
from promptcore.domain.quota import QuotaPolicy
from promptcore.domain.teams import Member, Team, TeamRole, may_edit_shared
from promptcore.domain.users import User
from promptcore.services.custom_styles import CustomStyles
from promptcore.services.improvement import Prompts
from promptcore.services.quota import Quota
from promptcore.services.sharing import SharedRecords
from promptcore.services.styles import StyleCatalogue
from promptcore.services.templates import Templates
from tests.fakes import FakeClock, FakeImprover, FakeStore, FakeUnitOfWork, sample_style

OWNER, ADMIN, MEMBER = TeamRole.OWNER, TeamRole.ADMIN, TeamRole.MEMBER


class Env:
    """Team 1 of Ada (owner), Bob (admin), Cy and Di (members); Eve is outside. Team 2 is Eve's."""

    def __init__(self) -> None:
        self.store, self.clock = FakeStore(), FakeClock()
        self.store.styles["general"] = sample_style("general")
        self.uow = lambda: FakeUnitOfWork(self.store)
        ids = {}
        with self.uow() as tx:
            for name in ("ada", "bob", "cy", "di", "eve"):
                ids[name] = tx.users.add(User(email=f"{name}@example.com", password_hash="x", name=name.title(),
                                              is_email_confirmed=True)).id
            now = self.clock.now()
            self.team = tx.teams.add(Team(name="Crew", created_by=ids["ada"]), ids["ada"], now).id
            self.other = tx.teams.add(Team(name="Eve's", created_by=ids["eve"]), ids["eve"], now).id
            for name, role in (("bob", ADMIN), ("cy", MEMBER), ("di", MEMBER)):
                tx.teams.add_member(Member(self.team, ids[name], role, now))
            tx.commit()
        self.ids = ids
        quota = Quota(self.uow, self.clock, QuotaPolicy(reservation_ttl=timedelta(minutes=5)), default_limit=5)
        self.styles = CustomStyles(self.uow, self.clock)
        prompts = Prompts(self.uow, FakeImprover(), StyleCatalogue(self.uow, self.clock), self.clock, quota,
                          ("m1",), 2000, custom_styles=self.styles)
        self.templates = Templates(self.uow, self.clock, prompts)
        self.shared = SharedRecords(self.uow, self.clock)

    def actor(self, name: str) -> Actor:
        """As entrypoints/actor.py: the memberships as they are now."""
        with self.uow() as tx:
            roles = {team.id: role.value for team, role in tx.teams.of_user(self.ids[name])}
        return Actor(self.ids[name], teams=roles)

    def record(self, name: str, status: RecordStatus = RecordStatus.SUCCEEDED) -> int:
        with self.uow() as tx:
            record = tx.prompts.add(PromptRecord(user_id=self.ids[name], original_prompt=f"{name}'s rough prompt",
                                                 style="general", model="m1", status=status,
                                                 generated_prompt=f"{name}'s improved prompt"
                                                 if status is RecordStatus.SUCCEEDED else None,
                                                 created_at=self.clock.now()))
            tx.commit()
        return record.id


@pytest.fixture
def env() -> Env:
    return Env()


# (member's role, made it themselves) → may they change or delete a shared template or style, or
# take a shared record out of the team's feed. Reading and using them: every member; anyone else: 404.
EDIT_SHARED = {
    (OWNER, False): True, (OWNER, True): True,
    (ADMIN, False): True, (ADMIN, True): True,
    (MEMBER, False): False, (MEMBER, True): True,
}


def test_the_table_covers_every_combination():
    assert set(EDIT_SHARED) == set(itertools.product(TeamRole, (False, True)))


@pytest.mark.parametrize("role, author", list(EDIT_SHARED))
def test_who_edits_a_shared_item(role, author):
    assert may_edit_shared(role, author) is EDIT_SHARED[role, author]
    me = Actor(1, teams={7: role.value})
    require_library_item(me, None, 7, 1 if author else 2)  # reading: every member
    if EDIT_SHARED[role, author]:
        require_library_item(me, None, 7, 1 if author else 2, change=True)
    else:
        with pytest.raises(Forbidden):
            require_library_item(me, None, 7, 1 if author else 2, change=True)
    for stranger in (Actor(1), Actor(1, teams={8: "owner"})):
        for change in (False, True):
            with pytest.raises(NotFound):
                require_library_item(stranger, None, 7, 1, change=change)


def test_a_personal_item_is_its_owner_s_alone_whatever_their_teams():
    owner = Actor(1, teams={7: "owner"})
    require_library_item(owner, 1, None, 1, change=True)
    for change in (False, True):
        with pytest.raises(NotFound):
            require_library_item(Actor(2, teams={7: "owner"}), 1, None, 1, change=change)


# -- templates -----------------------------------------------------------------------------------

def test_a_team_template_is_used_by_members_and_changed_by_owners_admins_and_its_author(env):
    made = env.templates.create(env.actor("cy"), "Support reply", "Answer {{customer}}.", team_id=env.team)
    assert (made.owner_id, made.team_id, made.author_id) == (None, env.team, env.ids["cy"])
    for name in ("ada", "bob", "cy", "di"):  # every member reads, renders and lists it
        assert env.templates.get(env.actor(name), made.id).title == "Support reply"
        assert env.templates.render(env.actor(name), made.id, {"customer": "Ivan"}) == "Answer Ivan."
        assert [t.id for t in env.templates.list(env.actor(name), team_id=env.team)[0]] == [made.id]
    # not in anyone's personal library
    assert env.templates.list(env.actor("cy"))[0] == []
    for name in ("ada", "bob", "cy"):  # owner, admin, the author
        env.clock.advance(minutes=1)
        changed = env.templates.update(env.actor(name), made.id, body=f"Answer {{{{customer}}}} ({name}).")
        assert changed.body.endswith(f"({name}).")
    versions = env.templates.versions(env.actor("di"), made.id)
    assert [v.author_id for v in versions] == [env.ids[n] for n in ("cy", "bob", "ada", "cy")]
    before = env.store.templates[made.id].body
    for change in (lambda a: env.templates.update(a, made.id, title="Mine now"),
                   lambda a: env.templates.update(a, made.id, favourite=True),
                   lambda a: env.templates.restore(a, made.id, 1),
                   lambda a: env.templates.delete(a, made.id)):
        with pytest.raises(Forbidden):
            change(env.actor("di"))  # a member who is not the author
        with pytest.raises(NotFound):
            change(env.actor("eve"))  # a stranger cannot tell it exists
    assert env.store.templates[made.id].body == before and env.store.templates[made.id].title == "Support reply"
    with pytest.raises(NotFound):
        env.templates.get(env.actor("eve"), made.id)
    env.templates.delete(env.actor("bob"), made.id)
    assert made.id not in env.store.templates


def test_a_stranger_cannot_read_or_write_a_teams_library(env):
    eve = env.actor("eve")
    for call in (lambda: env.templates.list(eve, team_id=env.team),
                 lambda: env.templates.tags(eve, team_id=env.team),
                 lambda: env.templates.create(eve, "x", "y", team_id=env.team),
                 lambda: env.templates.create(eve, "", "", team_id=env.team),  # 404 before the fields
                 lambda: env.styles.list(eve, team_id=env.team),
                 lambda: env.styles.create(eve, "x", "y", team_id=env.team),
                 lambda: env.templates.create(env.actor("ada"), "x", "y", team_id=env.other),
                 lambda: env.templates.create(env.actor("ada"), "x", "y", team_id=987654)):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(ValidationFailed):
        env.templates.list(env.actor("ada"), team_id="1")
    assert not any(t.team_id for t in env.store.templates.values()) and not env.store.custom_styles


def test_titles_are_unique_per_library_and_copies_move_between_them(env):
    ada = env.actor("ada")
    mine = env.templates.create(ada, "Brief", "Write {{x}}.")
    # the same title in another library
    team = env.templates.create(ada, "Brief", "Write {{x}} for the team.", team_id=env.team)
    with pytest.raises(TitleTaken):
        env.templates.create(env.actor("cy"), "brief", "Another.", team_id=env.team)
    copied = env.templates.copy(ada, mine.id, team_id=env.team)
    assert (copied.team_id, copied.owner_id, copied.title) == (env.team, None, "Brief (2)")
    back = env.templates.copy(env.actor("di"), team.id)  # a member copies the team's into their own library
    assert (back.owner_id, back.team_id, back.title, back.author_id) == (env.ids["di"], None, "Brief", env.ids["di"])
    with pytest.raises(NotFound):
        env.templates.copy(env.actor("eve"), team.id)
    with pytest.raises(NotFound):
        env.templates.copy(ada, mine.id, team_id=env.other)
    record = env.record("cy")
    from_record = env.templates.from_record(env.actor("cy"), record, team_id=env.team)
    assert from_record.team_id == env.team and from_record.body == "cy's improved prompt"
    assert env.templates.tags(env.actor("di"), team_id=env.team) == {}


def test_a_removed_member_loses_access_at_once_and_what_they_made_stays(env):
    made = env.templates.create(env.actor("cy"), "Cy's", "Text {{a}}.", team_id=env.team)
    style = env.styles.create(env.actor("cy"), "Cy's style", "Be brief.", team_id=env.team)
    with env.uow() as tx:
        tx.teams.remove_member(env.team, env.ids["cy"])
        tx.commit()
    cy = env.actor("cy")
    for call in (lambda: env.templates.get(cy, made.id), lambda: env.templates.update(cy, made.id, title="x"),
                 lambda: env.styles.get(cy, style.id), lambda: env.styles.style_for(cy, style.slug),
                 lambda: env.templates.list(cy, team_id=env.team)):
        with pytest.raises(NotFound):
            call()
    assert env.templates.get(env.actor("di"), made.id).author_id == env.ids["cy"]
    # the author's account goes: the team keeps the template and the style, the author becomes unknown
    with env.uow() as tx:
        tx.users.delete(env.ids["cy"])
        tx.commit()
    assert env.templates.get(env.actor("ada"), made.id).author_id is None
    assert env.styles.get(env.actor("ada"), style.id).author_id is None


def test_deleting_the_team_takes_its_library_and_feed(env):
    made = env.templates.create(env.actor("ada"), "T", "Text.", team_id=env.team)
    style = env.styles.create(env.actor("ada"), "S", "Be brief.", team_id=env.team)
    record = env.record("cy")
    env.shared.share(env.actor("cy"), record, env.team)
    with env.uow() as tx:
        tx.teams.delete(env.team)
        tx.commit()
    assert made.id not in env.store.templates and style.id not in env.store.custom_styles
    assert not env.store.shared_records and record in env.store.prompts


# -- custom styles -------------------------------------------------------------------------------

def test_a_team_style_is_usable_by_every_member_and_changed_by_owners_admins_and_author(env):
    style = env.styles.create(env.actor("di"), "House tone", "Friendly and short.", team_id=env.team)
    for name in ("ada", "bob", "cy", "di"):
        assert env.styles.style_for(env.actor(name), style.slug).slug == style.slug
        assert style.id in {s.id for s in env.styles.usable(env.actor(name))}
    assert style.id not in {s.id for s in env.styles.usable(env.actor("eve"))}
    with pytest.raises(NotFound):
        env.styles.style_for(env.actor("eve"), style.slug)
    with pytest.raises(Forbidden):
        env.styles.update(env.actor("cy"), style.id, title="Cy's now")
    with pytest.raises(Forbidden):
        env.styles.delete(env.actor("cy"), style.id)
    assert env.styles.update(env.actor("bob"), style.id, title="House tone 2").title == "House tone 2"
    assert env.styles.update(env.actor("di"), style.id, instructions="Warm.").instructions == "Warm."
    assert [s.id for s in env.styles.list(env.actor("cy"), team_id=env.team)] == [style.id]
    assert env.styles.list(env.actor("di")) == []
    env.styles.delete(env.actor("ada"), style.id)
    assert env.store.custom_styles == {}


# -- shared records ------------------------------------------------------------------------------

def test_sharing_a_record_puts_it_in_the_feed_for_members_only(env):
    cy, di = env.actor("cy"), env.actor("di")
    first, second = env.record("cy"), env.record("di")
    assert env.shared.of_record(cy, first) is None
    shared = env.shared.share(cy, first, env.team)
    assert (shared.team_id, shared.shared_by) == (env.team, env.ids["cy"])
    assert env.shared.share(cy, first, env.team).shared_at == shared.shared_at  # again: nothing changes
    env.clock.advance(minutes=1)
    env.shared.share(di, second, env.team)
    items, cursor = env.shared.feed(env.actor("ada"), env.team, limit=1)
    assert [i.record_id for i in items] == [second] and items[0].author_name == "Di"
    rest, end = env.shared.feed(env.actor("bob"), env.team, limit=1, cursor=cursor)
    assert [i.record_id for i in rest] == [first] and end is None
    assert env.shared.get(di, env.team, first).generated_prompt == "cy's improved prompt"
    eve = env.actor("eve")
    for call in (lambda: env.shared.feed(eve, env.team), lambda: env.shared.get(eve, env.team, first),
                 lambda: env.shared.share(eve, first, env.other),  # someone else's record
                 lambda: env.shared.share(cy, first, env.other),  # a team cy is not in
                 lambda: env.shared.unshare(eve, first), lambda: env.shared.of_record(eve, first),
                 lambda: env.shared.remove(eve, env.team, first)):
        with pytest.raises(NotFound):
            call()
    assert env.store.shared_records[first].team_id == env.team


def test_who_takes_a_record_out_of_the_feed(env):
    cy, di = env.actor("cy"), env.actor("di")
    record = env.record("cy")
    env.shared.share(cy, record, env.team)
    with pytest.raises(Forbidden):
        env.shared.remove(di, env.team, record)  # another plain member
    env.shared.remove(env.actor("bob"), env.team, record)  # an admin
    assert env.shared.feed(di, env.team)[0] == []
    env.shared.share(cy, record, env.team)
    env.shared.remove(cy, env.team, record)  # the author, from the team page
    env.shared.share(cy, record, env.team)
    env.shared.unshare(cy, record)  # the author, from the history
    with pytest.raises(NotFound):
        env.shared.unshare(cy, record)  # not shared any more
    with pytest.raises(NotFound):
        env.shared.remove(env.actor("ada"), env.team, record)


def test_only_finished_records_are_shared_and_deleted_ones_leave_the_feed(env):
    cy = env.actor("cy")
    failed = env.record("cy", RecordStatus.FAILED)
    with pytest.raises(ValidationFailed):
        env.shared.share(cy, failed, env.team)
    with pytest.raises(ValidationFailed):
        env.shared.share(cy, env.record("cy"), "1")
    record = env.record("cy")
    env.shared.share(cy, record, env.team)
    with env.uow() as tx:
        tx.prompts.soft_delete(env.ids["cy"], record, env.clock.now())
        tx.commit()
    assert env.shared.feed(env.actor("ada"), env.team)[0] == []
    with pytest.raises(NotFound):
        env.shared.get(env.actor("ada"), env.team, record)


def test_a_member_who_leaves_leaves_their_shares_with_the_team(env):
    record = env.record("cy")
    env.shared.share(env.actor("cy"), record, env.team)
    with env.uow() as tx:
        tx.teams.remove_member(env.team, env.ids["cy"])
        tx.commit()
    assert [i.record_id for i in env.shared.feed(env.actor("di"), env.team)[0]] == [record]
    with pytest.raises(NotFound):
        env.shared.feed(env.actor("cy"), env.team)
    with pytest.raises(NotFound):
        env.shared.share(env.actor("cy"), env.record("cy"), env.team)
    # their account goes: the record goes with it (it is theirs), and so leaves the feed
    with env.uow() as tx:
        tx.users.delete(env.ids["cy"])
        tx.commit()
    assert env.shared.feed(env.actor("di"), env.team)[0] == []
