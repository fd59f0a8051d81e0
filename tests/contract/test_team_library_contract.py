"""A team's library and feed (SPEC §14): team templates and styles beside personal ones, records
shared with a team and the team's feed; the fake and the SQL repositories agree."""

from __future__ import annotations

from datetime import timedelta

import pytest

from promptcore.domain.custom_styles import CustomStyle
from promptcore.domain.errors import TitleTaken
from promptcore.domain.teams import Team
from promptcore.domain.templates import Template
from tests.contract.support import T0, add_user, new_record


def _setup(backend):
    with backend.uow() as uow:
        ann, bob = add_user(uow, "ann@example.com", "Ann"), add_user(uow, "bob@example.com", None)
        team = uow.teams.add(Team(name="Writers", created_by=ann), ann, T0).id
        other = uow.teams.add(Team(name="Others", created_by=bob), bob, T0).id
        uow.commit()
    return ann, bob, team, other


def _template(title: str, owner_id=None, team_id=None, author_id=None, at=T0) -> Template:
    return Template(title=title, body="Text {{x}}.", owner_id=owner_id, team_id=team_id, author_id=author_id,
                    created_at=at, updated_at=at, tags=("shared",))


def test_a_team_s_templates_are_its_own_library(backend):
    ann, bob, team, other = _setup(backend)
    with backend.uow() as uow:
        mine = uow.templates.add(_template("Brief", owner_id=ann, author_id=ann), ann)
        theirs = uow.templates.add(_template("Brief", team_id=team, author_id=ann), ann)  # same title, other library
        later = uow.templates.add(_template("Later", team_id=team, author_id=bob, at=T0 + timedelta(minutes=1)), bob)
        uow.templates.add(_template("Elsewhere", team_id=other, author_id=bob), bob)
        uow.commit()
    with backend.uow() as uow:
        got = uow.templates.get(theirs.id)
        assert (got.owner_id, got.team_id, got.author_id) == (None, team, ann)
        assert [t.id for t in uow.templates.search(None, team_id=team)] == [later.id, theirs.id]
        assert [t.id for t in uow.templates.search(ann)] == [mine.id]
        assert [t.id for t in uow.templates.search(None, query="later", team_id=team)] == [later.id]
        assert uow.templates.count(None, team_id=team) == 2 and uow.templates.count(ann) == 1
        assert uow.templates.titles(None, team_id=team) == {"Brief": theirs.id, "Later": later.id}
        assert uow.templates.tags(None, team_id=team) == {"shared": 2}
        assert all(t.team_id is None for t in uow.templates.builtins())
        with pytest.raises(TitleTaken):
            uow.templates.add(_template("BRIEF", team_id=team), ann)
        got.title = "later"
        with pytest.raises(TitleTaken):
            uow.templates.save(got)


def test_a_team_s_styles_are_its_own(backend):
    ann, bob, team, _ = _setup(backend)
    with backend.uow() as uow:
        mine = uow.custom_styles.add(CustomStyle(ann, "Tone", "", "Be brief.", created_at=T0, author_id=ann))
        theirs = uow.custom_styles.add(CustomStyle(None, "Tone", "", "Be warm.", created_at=T0, team_id=team,
                                                   author_id=bob))
        uow.commit()
    with backend.uow() as uow:
        got = uow.custom_styles.get(theirs.id)
        assert (got.owner_id, got.team_id, got.author_id) == (None, team, bob)
        assert [s.id for s in uow.custom_styles.list(None, team_id=team)] == [theirs.id]
        assert [s.id for s in uow.custom_styles.list(ann)] == [mine.id]
        assert uow.custom_styles.count(None, team_id=team) == 1
        with pytest.raises(TitleTaken):
            uow.custom_styles.add(CustomStyle(None, "tone", "", "x", created_at=T0, team_id=team))


def test_shared_records_and_the_feed(backend):
    ann, bob, team, other = _setup(backend)
    with backend.uow() as uow:
        first = uow.prompts.add(new_record(ann, "first")).id
        second = uow.prompts.add(new_record(bob, "second")).id
        private = uow.prompts.add(new_record(ann, "private")).id
        uow.shared_records.share(first, team, ann, T0)
        uow.shared_records.share(second, team, bob, T0 + timedelta(minutes=1))
        uow.commit()
    with backend.uow() as uow:
        assert uow.shared_records.team_of(private) is None
        assert (uow.shared_records.team_of(first).team_id, uow.shared_records.team_of(first).shared_by) == (team, ann)
        feed = uow.shared_records.feed(team, 10)
        assert [(s.record_id, s.author_id, s.author_name, s.original_prompt) for s in feed] == [
            (second, bob, "bob@example.com", "second"), (first, ann, "Ann", "first")]
        assert feed[0].generated_prompt == "A better prompt" and feed[0].shared_at == T0 + timedelta(minutes=1)
        assert [s.record_id for s in uow.shared_records.feed(team, 10, (feed[0].shared_at, second))] == [first]
        assert uow.shared_records.feed(other, 10) == []
        assert uow.shared_records.get(team, first).original_prompt == "first"
        assert uow.shared_records.get(other, first) is None and uow.shared_records.get(team, private) is None
        # moved to another team, then taken back
        uow.shared_records.share(first, other, ann, T0 + timedelta(minutes=2))
        assert uow.shared_records.team_of(first).team_id == other
        assert uow.shared_records.unshare(first) and not uow.shared_records.unshare(first)
        uow.prompts.soft_delete(bob, second, T0 + timedelta(minutes=3))
        uow.commit()
    with backend.uow() as uow:
        assert uow.shared_records.feed(team, 10) == [] and uow.shared_records.feed(other, 10) == []


def test_deleting_a_user_or_a_team(backend):
    ann, bob, team, _ = _setup(backend)
    with backend.uow() as uow:
        template = uow.templates.add(_template("T", team_id=team, author_id=bob), bob)
        style = uow.custom_styles.add(CustomStyle(None, "S", "", "x", created_at=T0, team_id=team, author_id=bob))
        bobs = uow.prompts.add(new_record(bob, "bob's")).id
        anns = uow.prompts.add(new_record(ann, "ann's")).id
        uow.shared_records.share(bobs, team, bob, T0)
        uow.shared_records.share(anns, team, bob, T0)  # shared_by someone else: as a fixture only
        uow.commit()
    with backend.uow() as uow:
        uow.users.delete(bob)
        uow.commit()
    with backend.uow() as uow:
        assert uow.templates.get(template.id).author_id is None  # the team keeps what bob made
        assert uow.custom_styles.get(style.id).author_id is None
        assert uow.shared_records.team_of(bobs) is None  # bob's record went with him
        assert uow.shared_records.team_of(anns).shared_by is None
        uow.teams.delete(team)
        uow.commit()
    with backend.uow() as uow:
        assert uow.templates.get(template.id) is None and uow.custom_styles.get(style.id) is None
        assert uow.shared_records.team_of(anns) is None and uow.prompts.get(ann, anns) is not None
