"""The library (SPEC §13): templates, their versions and tags, the quick templates, custom styles,
and what a history import needs of the prompt records: the fake and the SQL repositories agree."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import pytest

from promptcore.domain.custom_styles import CustomStyle
from promptcore.domain.errors import TitleTaken
from promptcore.domain.quick_templates import QUICK_TEMPLATES
from promptcore.domain.templates import Template
from tests.contract.support import MOSCOW, T0, add_user, new_record


def _users(backend, *emails: str) -> list[int]:
    with backend.uow() as uow:
        ids = [add_user(uow, email) for email in emails]
        uow.commit()
    return ids


def _template(owner_id: int | None, title: str = "Weekly report", body: str = "Summarise {{week}} for {{team}}.",
              at=T0, **fields) -> Template:
    values = dict(created_at=at, updated_at=at)
    values.update(fields)
    return Template(title=title, body=body, owner_id=owner_id, **values)


def _add(backend, *templates: Template, author_id: int | None = None) -> list[int]:
    with backend.uow() as uow:
        ids = [uow.templates.add(template, author_id).id for template in templates]
        uow.commit()
    return ids


# -- templates ----------------------------------------------------------------------------------


def test_a_template_is_added_with_its_first_version(backend):
    (ann,) = _users(backend, "ann@example.com")
    template = _template(ann, description="Every Friday", tags=("work", "reports", "Äpfel"), favourite=True,
                         at=T0.astimezone(MOSCOW), updated_at=None)
    with backend.uow() as uow:
        added = uow.templates.add(template, ann, note="created")
        uow.commit()
    assert added is template and isinstance(template.id, int)
    assert (template.version, template.tags) == (1, ("reports", "work", "Äpfel"))  # tags sorted
    assert template.updated_at == template.created_at
    with backend.uow() as uow:
        got = uow.templates.get(template.id)
        versions = uow.templates.versions(template.id)
        first = uow.templates.version(template.id, 1)
        assert uow.templates.version(template.id, 2) is None
        assert uow.templates.get(987654) is None
        assert uow.templates.versions(987654) == []
    assert asdict(got) == asdict(template)
    assert got.created_at.utcoffset() == timedelta(0) and got.builtin is None and got.language is None
    assert len(versions) == 1 and asdict(versions[0]) == asdict(first)
    assert (first.template_id, first.number, first.body, first.author_id, first.note) == (
        template.id, 1, "Summarise {{week}} for {{team}}.", ann, "created")
    assert first.created_at == T0 and first.variables == ["week", "team"]


def test_add_version_appends_the_next_number_and_makes_it_the_body(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    (tid,) = _add(backend, _template(ann), author_id=ann)
    with backend.uow() as uow:
        template = uow.templates.get(tid)
        second = uow.templates.add_version(template, "Version {{two}}", bob, T0 + timedelta(hours=1))
        third = uow.templates.add_version(template, "Version {{three}}", None, T0 + timedelta(hours=2),
                                          note="restored from 1")
        uow.commit()
    assert (second.number, third.number) == (2, 3)
    assert (template.body, template.version, template.updated_at) == ("Version {{three}}", 3, T0 + timedelta(hours=2))
    with backend.uow() as uow:
        got = uow.templates.get(tid)
        versions = uow.templates.versions(tid)
        assert asdict(uow.templates.version(tid, 2)) == asdict(second)
    assert (got.body, got.version, got.updated_at, got.created_at) == ("Version {{three}}", 3,
                                                                       T0 + timedelta(hours=2), T0)
    assert [(v.number, v.body, v.author_id, v.note) for v in versions] == [
        (3, "Version {{three}}", None, "restored from 1"), (2, "Version {{two}}", bob, None),
        (1, "Summarise {{week}} for {{team}}.", ann, None)]


def test_save_stores_everything_but_the_body(backend):
    (ann,) = _users(backend, "ann@example.com")
    (tid,) = _add(backend, _template(ann, tags=("a", "b")))
    with backend.uow() as uow:
        template = uow.templates.get(tid)
        template.title, template.description, template.favourite = "Monthly report", "Once a month", True
        template.tags, template.updated_at = ("z", "c"), T0 + timedelta(days=1)
        template.body = "changed without a version"
        uow.templates.save(template)
        uow.commit()
    assert template.tags == ("c", "z")
    with backend.uow() as uow:
        got = uow.templates.get(tid)
        assert [v.number for v in uow.templates.versions(tid)] == [1]
    assert (got.title, got.description, got.favourite, got.tags, got.updated_at) == (
        "Monthly report", "Once a month", True, ("c", "z"), T0 + timedelta(days=1))
    assert (got.body, got.version) == ("Summarise {{week}} for {{team}}.", 1)


def _library(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    names = ["old", "tie1", "tie2", "fav", "new"]
    ids = dict(zip(names, _add(
        backend,
        _template(ann, "Old notes", "Plain {{text}}", at=T0 - timedelta(hours=2), tags=("notes",)),
        _template(ann, "Первый", "Напиши промпт про {{тема}}", at=T0, tags=("ru", "notes")),
        _template(ann, "Sale", "Write {{x}}", at=T0, description="50% off_sale", tags=("marketing",)),
        _template(ann, "Favourite one", "Some {{y}}", at=T0 + timedelta(minutes=30), favourite=True,
                  tags=("marketing", "notes")),
        _template(ann, "ПРО КОТОВ", "Cats {{z}}", at=T0 + timedelta(hours=1)),
    ), strict=True))
    _add(backend, _template(bob, "Bob's notes", "Bob {{b}}", tags=("notes",)))
    return ann, bob, ids


def test_search_lists_an_owner_s_templates_most_recently_changed_first(backend):
    ann, bob, ids = _library(backend)
    with backend.uow() as uow:
        everything = uow.templates.search(ann)
        assert [t.id for t in everything] == [ids[k] for k in ("new", "fav", "tie2", "tie1", "old")]
        first = uow.templates.search(ann, limit=2)
        second = uow.templates.search(ann, limit=2, cursor=(first[-1].updated_at, first[-1].id))
        third = uow.templates.search(ann, limit=2, cursor=(second[-1].updated_at, second[-1].id))
        assert [t.id for t in first + second + third] == [t.id for t in everything]
        assert uow.templates.search(ann, cursor=(everything[-1].updated_at, everything[-1].id)) == []
        assert [t.title for t in uow.templates.search(bob)] == ["Bob's notes"]
        assert uow.templates.search(987654) == []
        by_tag = uow.templates.search(ann, tag="notes")
        assert [t.id for t in by_tag] == [ids["fav"], ids["tie1"], ids["old"]]
        assert by_tag[0].tags == ("marketing", "notes")
        assert uow.templates.search(ann, tag="note") == []  # tags match exactly
        assert [t.id for t in uow.templates.search(ann, favourite=True)] == [ids["fav"]]
        assert [t.id for t in uow.templates.search(ann, favourite=False)] == [
            ids[k] for k in ("new", "tie2", "tie1", "old")]
        assert [t.id for t in uow.templates.search(ann, query="notes", tag="notes", favourite=False)] == [ids["old"]]


@pytest.mark.parametrize("query, expected", [
    ("ПРОМПТ", ["tie1"]),          # in the body, case-insensitively beyond ASCII
    ("первый", ["tie1"]),          # in the title
    ("про котов", ["new"]),
    ("OFF_SALE", ["tie2"]),        # in the description
    ("50%", ["tie2"]),             # LIKE's wildcards are plain characters
    ("0%o", []),
    ("f_s", ["tie2"]),
    ("e_c", []),
    ("bob", []),                   # another owner's
    ("Social", []),                # the quick templates are nobody's
])
def test_search_matches_title_description_and_body_case_insensitively(backend, query, expected):
    ann, _bob, ids = _library(backend)
    with backend.uow() as uow:
        assert [t.id for t in uow.templates.search(ann, query=query)] == [ids[k] for k in expected]


def test_titles_tags_and_count_are_an_owner_s(backend):
    ann, bob, ids = _library(backend)
    with backend.uow() as uow:
        assert uow.templates.count(ann) == 5 and uow.templates.count(bob) == 1
        assert uow.templates.count(987654) == 0
        assert uow.templates.titles(ann) == {"Old notes": ids["old"], "Первый": ids["tie1"], "Sale": ids["tie2"],
                                             "Favourite one": ids["fav"], "ПРО КОТОВ": ids["new"]}
        assert uow.templates.tags(ann) == {"notes": 3, "ru": 1, "marketing": 2}
        assert uow.templates.tags(bob) == {"notes": 1}
        assert uow.templates.titles(987654) == {} and uow.templates.tags(987654) == {}


def test_a_title_is_unique_per_owner_regardless_of_case(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    _add(backend, _template(ann, "Weekly Report"), _template(ann, "Отчёт"))
    with backend.uow() as uow:
        with pytest.raises(TitleTaken):
            uow.templates.add(_template(ann, "WEEKLY report"), ann)
        with pytest.raises(TitleTaken):
            uow.templates.add(_template(ann, "ОТЧЁТ"), ann)
        # the transaction goes on: what comes after is stored
        other = uow.templates.add(_template(bob, "weekly report"), bob)  # another owner may
        kept = uow.templates.add(_template(ann, "Weekly report 2"), ann)
        kept.title = "weekly REPORT"
        with pytest.raises(TitleTaken):
            uow.templates.save(kept)
        kept.title = "Weekly report 3"
        uow.templates.save(kept)
        uow.commit()
    with backend.uow() as uow:
        assert sorted(uow.templates.titles(ann)) == ["Weekly Report", "Weekly report 3", "Отчёт"]
        assert uow.templates.titles(bob) == {"weekly report": other.id}
        same = uow.templates.get(kept.id)
        same.description = "kept its own title"
        uow.templates.save(same)  # saving under its own title is no conflict
        uow.commit()


def test_deleting_a_template_takes_its_versions_and_tags(backend):
    (ann,) = _users(backend, "ann@example.com")
    gone, kept = _add(backend, _template(ann, "Gone", tags=("x",)), _template(ann, "Kept", tags=("y",)))
    with backend.uow() as uow:
        uow.templates.add_version(uow.templates.get(gone), "Second {{v}}", ann, T0 + timedelta(hours=1))
        uow.commit()
    with backend.uow() as uow:
        uow.templates.delete(gone)
        uow.templates.delete(987654)  # an unknown one: nothing happens
        uow.commit()
    with backend.uow() as uow:
        assert uow.templates.get(gone) is None
        assert uow.templates.versions(gone) == [] and uow.templates.version(gone, 1) is None
        assert uow.templates.tags(ann) == {"y": 1} and uow.templates.count(ann) == 1
        assert [v.number for v in uow.templates.versions(kept)] == [1]
        _add_again = uow.templates.add(_template(ann, "Gone"), ann)  # the title is free again
        assert _add_again.version == 1
        uow.commit()


def test_the_quick_templates_are_stored_and_read_only_through_builtins(backend):
    with backend.uow() as uow:
        builtins = uow.templates.builtins()
        first = uow.templates.get(builtins[0].id)
        versions = uow.templates.versions(builtins[0].id)
    assert builtins, "migration 0008 seeds the quick templates"
    assert {(t.builtin, t.language) for t in builtins} == {(q.key, q.language) for q in QUICK_TEMPLATES}
    assert all(t.owner_id is None and t.version == 1 for t in builtins)
    position = {(q.key, q.language): q.position for q in QUICK_TEMPLATES}
    order = [(t.language, position[(t.builtin, t.language)]) for t in builtins]
    assert order == sorted(order)
    for template in builtins:
        quick = next(q for q in QUICK_TEMPLATES if (q.key, q.language) == (template.builtin, template.language))
        assert (template.title, template.description, template.body, template.tags) == (
            quick.title, quick.description, quick.body, tuple(sorted(set(quick.tags))))
    assert asdict(first) == asdict(builtins[0])
    assert [(v.number, v.body, v.author_id) for v in versions] == [(1, builtins[0].body, None)]


def test_a_user_may_take_a_quick_template_s_title(backend):
    (ann,) = _users(backend, "ann@example.com")
    with backend.uow() as uow:
        quick = uow.templates.builtins()[0]
        copy = uow.templates.add(_template(ann, quick.title.upper(), quick.body), ann, note="copied")
        uow.commit()
    with backend.uow() as uow:
        assert uow.templates.titles(ann) == {quick.title.upper(): copy.id}
        assert quick.id not in {t.id for t in uow.templates.search(ann)}


# -- custom styles ------------------------------------------------------------------------------


def _style(owner_id: int, title: str, at=T0, **fields) -> CustomStyle:
    values = dict(description="", instructions="Be brief.", created_at=at, updated_at=at)
    values.update(fields)
    return CustomStyle(owner_id=owner_id, title=title, **values)


def test_custom_styles_are_stored_listed_by_title_and_deleted(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    with backend.uow() as uow:
        beta = uow.custom_styles.add(_style(ann, "beta", description="second", at=T0.astimezone(MOSCOW)))
        alpha = uow.custom_styles.add(_style(ann, "Alpha", instructions="Use bullet points."))
        omega = uow.custom_styles.add(_style(ann, "Омега"))
        bobs = uow.custom_styles.add(_style(bob, "Alpha"))
        uow.commit()
    assert all(isinstance(s.id, int) for s in (beta, alpha, omega, bobs)) and beta.slug == f"custom:{beta.id}"
    with backend.uow() as uow:
        got = uow.custom_styles.get(beta.id)
        assert uow.custom_styles.get(987654) is None
        assert [s.id for s in uow.custom_styles.list(ann)] == [alpha.id, beta.id, omega.id]
        assert [s.id for s in uow.custom_styles.list(bob)] == [bobs.id]
        assert (uow.custom_styles.count(ann), uow.custom_styles.count(bob), uow.custom_styles.count(987654)) == (
            3, 1, 0)
    assert asdict(got) == asdict(beta) and got.created_at.utcoffset() == timedelta(0)

    with backend.uow() as uow:
        style = uow.custom_styles.get(alpha.id)
        style.title, style.description, style.instructions = "Zeta", "now last", "Use numbered lists."
        style.updated_at = T0 + timedelta(hours=1)
        uow.custom_styles.save(style)
        uow.custom_styles.delete(omega.id)
        uow.custom_styles.delete(987654)
        uow.commit()
    with backend.uow() as uow:
        listed = uow.custom_styles.list(ann)
    assert [s.id for s in listed] == [beta.id, alpha.id]
    assert (listed[1].title, listed[1].description, listed[1].instructions, listed[1].updated_at,
            listed[1].created_at) == ("Zeta", "now last", "Use numbered lists.", T0 + timedelta(hours=1), T0)


def test_a_custom_style_title_is_unique_per_owner_regardless_of_case(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    with backend.uow() as uow:
        first = uow.custom_styles.add(_style(ann, "Краткий"))
        uow.commit()
    with backend.uow() as uow:
        with pytest.raises(TitleTaken):
            uow.custom_styles.add(_style(ann, "КРАТКИЙ"))
        second = uow.custom_styles.add(_style(ann, "Подробный"))
        second.title = "краткий"
        with pytest.raises(TitleTaken):
            uow.custom_styles.save(second)
        uow.custom_styles.add(_style(bob, "краткий"))
        uow.commit()
    with backend.uow() as uow:
        assert [s.title for s in uow.custom_styles.list(ann)] == ["Краткий", "Подробный"]
        assert [s.title for s in uow.custom_styles.list(bob)] == ["краткий"]
        assert uow.custom_styles.get(first.id).title == "Краткий"


# -- prompt records: source and same_texts ------------------------------------------------------


def test_a_record_s_source_comes_back(backend):
    (ann,) = _users(backend, "ann@example.com")
    with backend.uow() as uow:
        made = uow.prompts.add(new_record(ann))
        imported = uow.prompts.add(new_record(ann, prompt="from a file", at=T0 + timedelta(minutes=1),
                                              source="import"))
        uow.commit()
    with backend.uow() as uow:
        assert uow.prompts.get(ann, made.id).source == "generation"
        assert asdict(uow.prompts.get(ann, imported.id)) == asdict(imported)
        assert [r.source for r in uow.prompts.page(ann, 10, None, None, None)] == ["import", "generation"]


def test_same_texts_answers_an_owner_s_records_at_the_given_instants(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    at = [T0 + timedelta(minutes=n) for n in range(4)]
    with backend.uow() as uow:
        uow.prompts.add(new_record(ann, prompt="first", generated="First better", at=at[0]))
        uow.prompts.add(new_record(ann, prompt="same time", generated=None, at=at[0]))
        uow.prompts.add(new_record(ann, prompt="second", at=at[1].astimezone(MOSCOW), source="import"))
        gone = uow.prompts.add(new_record(ann, prompt="deleted", at=at[2]))
        uow.prompts.soft_delete(ann, gone.id, T0)
        uow.prompts.add(new_record(bob, prompt="bob's", at=at[3]))
        uow.prompts.add(new_record(ann, prompt="not asked", at=T0 + timedelta(days=1)))
        uow.commit()
    # far more instants than one IN list takes, given in another time zone
    asked = [T0 - timedelta(seconds=n) for n in range(1, 1200)] + [a.astimezone(MOSCOW) for a in at]
    with backend.uow() as uow:
        found = uow.prompts.same_texts(ann, asked)
        assert uow.prompts.same_texts(ann, []) == set()
        assert uow.prompts.same_texts(bob, at[:3]) == set()
    assert found == {(at[0], "first", "First better"), (at[0], "same time", None), (at[1], "second", "A better prompt")}
    assert all(created.utcoffset() == timedelta(0) for created, _, _ in found)


# -- deleting a user ----------------------------------------------------------------------------


def test_deleting_a_user_takes_their_library_and_forgets_them_as_an_author(backend):
    gone, kept = _users(backend, "gone@example.com", "kept@example.com")
    gone_template, kept_template = _add(backend, _template(gone, tags=("x",)), _template(kept, tags=("x",)),
                                        author_id=None)
    with backend.uow() as uow:
        uow.templates.add_version(uow.templates.get(kept_template), "Edited by {{gone}}", gone, T0)
        style = uow.custom_styles.add(_style(gone, "Mine"))
        other_style = uow.custom_styles.add(_style(kept, "Mine"))
        uow.commit()
    with backend.uow() as uow:
        uow.users.delete(gone)
        uow.commit()
    with backend.uow() as uow:
        assert uow.templates.get(gone_template) is None and uow.templates.versions(gone_template) == []
        assert uow.templates.count(gone) == 0 and uow.templates.tags(gone) == {}
        assert uow.custom_styles.get(style.id) is None and uow.custom_styles.list(gone) == []
        # the other user's library stays; the version the deleted user wrote has no author now
        assert uow.templates.tags(kept) == {"x": 1}
        assert [(v.number, v.author_id) for v in uow.templates.versions(kept_template)] == [(2, None), (1, None)]
        assert uow.custom_styles.get(other_style.id).title == "Mine"
        assert uow.templates.builtins(), "the quick templates belong to nobody"
