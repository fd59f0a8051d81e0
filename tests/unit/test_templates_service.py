"""The Templates use case against fakes (SPEC §13.1, §13.2): versions only when the body changes,
restore, diff, render, templates from history, copies, the 500 limit, the access rule on every
method, read-only quick templates, and improving with exactly the same variables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from promptcore.domain.access import Actor
from promptcore.domain.errors import (
    Forbidden,
    LimitReached,
    LlmUnavailable,
    NotFound,
    TitleTaken,
    ValidationFailed,
    VariablesChanged,
)
from promptcore.domain.prompts import Improvement, ImprovementRequest, RecordStatus
from promptcore.domain.quota import QuotaPolicy, UnitStatus
from promptcore.domain.templates import TEMPLATES_PER_OWNER, Template
from promptcore.domain.users import User
from promptcore.services.custom_styles import CustomStyles
from promptcore.services.improvement import Prompts
from promptcore.services.quota import Quota
from promptcore.services.styles import StyleCatalogue
from promptcore.services.templates import Templates, free_title
from tests.fakes import BUILTIN_TEMPLATE_IDS, FakeClock, FakeImprover, FakeStore, FakeUnitOfWork, sample_style


class ScriptedImprover(FakeImprover):
    """Answers with the scripted texts, one per call, then as FakeImprover."""

    def __init__(self) -> None:
        super().__init__()
        self.script: list[str] = []

    def improve(self, request: ImprovementRequest) -> Improvement:
        if not self.script:
            return super().improve(request)
        self.requests.append(request)
        return Improvement(text=self.script.pop(0), model="fake/model",
                           usage={"total_tokens": 3})


class Env:
    def __init__(self) -> None:
        self.store, self.clock, self.improver = FakeStore(), FakeClock(), ScriptedImprover()
        self.store.styles["general"] = sample_style("general")
        self.uow = lambda: FakeUnitOfWork(self.store)
        with self.uow() as tx:
            ann = tx.users.add(User(email="ann@example.com", password_hash="x", is_email_confirmed=True))
            bob = tx.users.add(User(email="bob@example.com", password_hash="x", is_email_confirmed=True))
            tx.commit()
        self.ann, self.bob = Actor.of(ann), Actor.of(bob)
        self.quota = Quota(self.uow, self.clock, QuotaPolicy(reservation_ttl=timedelta(minutes=5)), default_limit=5)
        self.custom_styles = CustomStyles(self.uow, self.clock)
        self.prompts = Prompts(self.uow, self.improver, StyleCatalogue(self.uow, self.clock), self.clock, self.quota,
                               ("m1",), 2000, custom_styles=self.custom_styles)
        self.templates = Templates(self.uow, self.clock, self.prompts)

    def used(self, actor: Actor) -> int:
        return self.quota.status(actor).used


@pytest.fixture
def env() -> Env:
    return Env()


def quick_id(env: Env) -> int:
    return min(i for i, t in env.store.templates.items() if t.owner_id is None)


# -- versions ------------------------------------------------------------------------------------

def test_create_then_versions_only_when_the_body_changes(env):
    t = env.templates.create(env.ann, " Post ", "Write about {{topic}}.\n", "desc", "b, A ,a", True)
    assert (t.title, t.body, t.version, t.tags, t.favourite) == ("Post", "Write about {{topic}}.", 1, ("a", "b"),
                                                                 True)
    assert t.variables == ["topic"]
    env.clock.advance(minutes=1)
    same = env.templates.update(env.ann, t.id, title="Post 2", body="  Write about {{topic}}.  ", favourite=False)
    assert same.version == 1 and same.title == "Post 2" and not same.favourite
    assert [v.number for v in env.templates.versions(env.ann, t.id)] == [1]
    env.clock.advance(minutes=1)
    changed = env.templates.update(env.ann, t.id, body="Write about {{topic}} for {{audience}}.")
    assert changed.version == 2 and changed.variables == ["topic", "audience"]
    versions = env.templates.versions(env.ann, t.id)
    assert [v.number for v in versions] == [2, 1], "newest first"
    assert versions[0].author_id == env.ann.user_id and versions[0].created_at == env.clock.now()
    assert env.templates.version(env.ann, t.id, 1).body == "Write about {{topic}}."
    stored = env.templates.get(env.ann, t.id)
    assert (stored.body, stored.version, stored.updated_at) == (changed.body, 2, env.clock.now())


def test_restore_makes_a_new_version_and_keeps_history(env):
    t = env.templates.create(env.ann, "T", "one {{a}}")
    env.templates.update(env.ann, t.id, body="two {{a}}")
    env.templates.update(env.ann, t.id, body="three")
    restored = env.templates.restore(env.ann, t.id, 1)
    assert restored.version == 4 and restored.body == "one {{a}}"
    versions = env.templates.versions(env.ann, t.id)
    assert [(v.number, v.body) for v in versions] == [(4, "one {{a}}"), (3, "three"), (2, "two {{a}}"),
                                                      (1, "one {{a}}")]
    assert versions[0].note == "restored from version 1"
    for bad in (0, -1, "1", None, True, 1.0):
        with pytest.raises(ValidationFailed):
            env.templates.restore(env.ann, t.id, bad)
    with pytest.raises(NotFound):
        env.templates.restore(env.ann, t.id, 99)
    assert env.templates.get(env.ann, t.id).version == 4


def test_diff_between_versions(env):
    t = env.templates.create(env.ann, "T", "Hello {{name}}\nBye")
    env.templates.update(env.ann, t.id, body="Hello {{name}}\nSee you\nBye")
    diff = env.templates.diff(env.ann, t.id, 1, 2)
    assert [(d.op, d.text) for d in diff] == [(" ", "Hello {{name}}"), ("+", "See you"), (" ", "Bye")]
    back = env.templates.diff(env.ann, t.id, 2, 1)
    assert [(d.op, d.text) for d in back] == [(" ", "Hello {{name}}"), ("-", "See you"), (" ", "Bye")]
    with pytest.raises(ValidationFailed) as info:
        env.templates.diff(env.ann, t.id, "x", 2)
    assert "from" in info.value.errors
    with pytest.raises(ValidationFailed) as info:
        env.templates.diff(env.ann, t.id, 1, 0)
    assert "to" in info.value.errors
    with pytest.raises(NotFound):
        env.templates.diff(env.ann, t.id, 1, 3)


def test_render_the_latest_or_a_given_version(env):
    t = env.templates.create(env.ann, "T", "Dear {{name}},")
    env.templates.update(env.ann, t.id, body="Hi {{ name }}, about {{topic}}")
    assert env.templates.render(env.ann, t.id, {"name": "Ann", "topic": "[x] {y} z"}) == "Hi Ann, about [x] {y} z"
    assert env.templates.render(env.ann, t.id, {"name": "Ann"}, version=1) == "Dear Ann,"
    with pytest.raises(ValidationFailed) as info:
        env.templates.render(env.ann, t.id, {"name": "Ann"})
    assert set(info.value.errors) == {"values.topic"}
    with pytest.raises(ValidationFailed) as info:
        env.templates.render(env.ann, t.id, {"name": "{{topic}}", "topic": "x"})
    assert set(info.value.errors) == {"values.name"}
    with pytest.raises(NotFound):
        env.templates.render(env.ann, t.id, {"name": "Ann"}, version=7)


def test_invalid_fields_are_refused_before_anything_is_written(env):
    for kwargs, field in [({"title": "", "body": "x"}, "title"), ({"title": "t", "body": "{{a"}, "body"),
                          ({"title": "t", "body": "x" * 16_001}, "body"), ({"title": "t", "body": "   "}, "body"),
                          ({"title": "t", "body": "x", "tags": ["x" * 33]}, "tags"),
                          ({"title": "t", "body": "x", "favourite": "yes"}, "favourite"),
                          ({"title": "t", "body": "x", "description": "d" * 1001}, "description")]:
        with pytest.raises(ValidationFailed) as info:
            env.templates.create(env.ann, **kwargs)
        assert field in info.value.errors
    assert env.templates.list(env.ann)[0] == []
    t = env.templates.create(env.ann, "T", "ok")
    with pytest.raises(ValidationFailed):
        env.templates.update(env.ann, t.id, body="{{}}")
    with pytest.raises(TitleTaken):
        env.templates.create(env.ann, "t", "x")
    assert env.templates.get(env.ann, t.id).version == 1


def test_list_search_tags_and_pages(env):
    for i in range(5):
        env.clock.advance(minutes=1)
        env.templates.create(env.ann, f"T{i}", f"body {i}", tags=["even" if i % 2 == 0 else "odd"],
                             favourite=i == 3)
    env.templates.create(env.bob, "Bob's", "body")
    page, cursor = env.templates.list(env.ann, limit=2)
    assert [t.title for t in page] == ["T4", "T3"] and cursor
    rest, end = env.templates.list(env.ann, limit=10, cursor=cursor)
    assert [t.title for t in rest] == ["T2", "T1", "T0"] and end is None
    assert [t.title for t in env.templates.list(env.ann, tag=" EVEN ")[0]] == ["T4", "T2", "T0"]
    assert [t.title for t in env.templates.list(env.ann, favourite=True)[0]] == ["T3"]
    assert [t.title for t in env.templates.list(env.ann, query="body 1")[0]] == ["T1"]
    assert env.templates.tags(env.ann) == {"even": 3, "odd": 2}
    for bad in (0, 101, "5"):
        with pytest.raises(ValidationFailed):
            env.templates.list(env.ann, limit=bad)


# -- from history, copies, limit ---------------------------------------------------------------------

def test_a_template_from_a_history_record(env):
    record = env.prompts.improve(env.ann, "  write a haiku about the sea\nplease", "general").record
    t = env.templates.from_record(env.ann, record.id)
    assert t.body == record.generated_prompt and t.title == "write a haiku about the sea"
    assert env.templates.versions(env.ann, t.id)[0].note == f"from history record {record.id}"
    again = env.templates.from_record(env.ann, record.id)
    assert again.title == "write a haiku about the sea (2)"
    named = env.templates.from_record(env.ann, record.id, title="Sea")
    assert named.title == "Sea"
    with pytest.raises(NotFound):
        env.templates.from_record(env.bob, record.id)
    env.improver.fail_with = LlmUnavailable()
    with pytest.raises(LlmUnavailable):
        env.prompts.improve(env.ann, "fails", "general")
    failed = max(env.store.prompts)
    with pytest.raises(NotFound):
        env.templates.from_record(env.ann, failed)
    with pytest.raises(NotFound):
        env.templates.from_record(env.ann, "1")


def test_a_record_whose_text_is_not_a_valid_body_is_refused(env):
    env.improver.script = ["Use {{ this and that"]
    record = env.prompts.improve(env.ann, "x", "general").record
    with pytest.raises(ValidationFailed) as info:
        env.templates.from_record(env.ann, record.id)
    assert "body" in info.value.errors


def test_copying_a_quick_template_gets_a_free_title(env):
    qid = quick_id(env)
    quick = env.templates.get(env.ann, qid)
    assert quick.owner_id is None and quick.builtin
    first = env.templates.copy(env.ann, qid)
    second = env.templates.copy(env.ann, qid)
    third = env.templates.copy(env.bob, qid)
    assert first.title == quick.title and second.title == quick.title + " (2)" and third.title == quick.title
    assert first.owner_id == env.ann.user_id and first.body == quick.body and first.tags == quick.tags
    assert env.templates.versions(env.ann, first.id)[0].note == f"copied from template {qid}"
    own = env.templates.copy(env.ann, first.id, title="Mine")
    assert own.title == "Mine" and own.body == quick.body
    env.templates.update(env.ann, own.id, body="changed")
    assert env.templates.get(env.ann, qid).body == quick.body == env.templates.get(env.ann, first.id).body


def test_free_title():
    assert free_title("Post", set()) == "Post"
    assert free_title("Post", {"post"}) == "Post (2)"
    assert free_title("Post", {"Post", "POST (2)", "Post (3)"}) == "Post (4)"
    long = "x" * 200
    assert free_title(long, {long}) == "x" * 196 + " (2)"


def test_at_most_500_templates(env):
    now = env.clock.now()
    for i in range(TEMPLATES_PER_OWNER - 1):
        env.store.templates[10_000 + i] = Template(title=f"t{i}", body="b", owner_id=env.ann.user_id, id=10_000 + i,
                                                   created_at=now, updated_at=now)
    last = env.templates.create(env.ann, "the 500th", "b")
    for call in (lambda: env.templates.create(env.ann, "one more", "b"),
                 lambda: env.templates.copy(env.ann, last.id),
                 lambda: env.templates.copy(env.ann, quick_id(env))):
        with pytest.raises(LimitReached):
            call()
    assert env.store.templates[last.id] and len([t for t in env.store.templates.values()
                                                 if t.owner_id == env.ann.user_id]) == TEMPLATES_PER_OWNER
    assert env.templates.create(env.bob, "one more", "b").id, "the limit is per owner"
    env.templates.delete(env.ann, last.id)
    assert env.templates.create(env.ann, "one more", "b").id


# -- access ------------------------------------------------------------------------------------------

def test_another_users_template_is_not_found_on_every_method(env):
    t = env.templates.create(env.ann, "Ann's", "Hello {{name}}")
    env.templates.update(env.ann, t.id, body="Hello {{name}}!")
    calls = {
        "get": lambda: env.templates.get(env.bob, t.id),
        "versions": lambda: env.templates.versions(env.bob, t.id),
        "version": lambda: env.templates.version(env.bob, t.id, 1),
        "diff": lambda: env.templates.diff(env.bob, t.id, 1, 2),
        "render": lambda: env.templates.render(env.bob, t.id, {"name": "x"}),
        "render_version": lambda: env.templates.render(env.bob, t.id, {"name": "x"}, version=1),
        "update": lambda: env.templates.update(env.bob, t.id, title="mine"),
        "update_body": lambda: env.templates.update(env.bob, t.id, body="mine"),
        "restore": lambda: env.templates.restore(env.bob, t.id, 1),
        "delete": lambda: env.templates.delete(env.bob, t.id),
        "copy": lambda: env.templates.copy(env.bob, t.id),
        "improve": lambda: env.templates.improve(env.bob, t.id, "general"),
    }
    for name, call in calls.items():
        with pytest.raises(NotFound):
            call()
            pytest.fail(name)
    assert env.templates.list(env.bob)[0] == [] and env.templates.tags(env.bob) == {}
    stored = env.templates.get(env.ann, t.id)
    assert (stored.title, stored.body, stored.version) == ("Ann's", "Hello {{name}}!", 2)
    assert env.used(env.bob) == 0 and not env.improver.requests


@pytest.mark.parametrize("template_id", [123456789, -1, 0, "1", None, 1.5, True])
def test_missing_or_odd_ids_are_not_found(env, template_id):
    with pytest.raises(NotFound):
        env.templates.get(env.ann, template_id)
    with pytest.raises(NotFound):
        env.templates.delete(env.ann, template_id)


def test_quick_templates_are_read_only(env):
    qid = quick_id(env)
    before = env.store.templates[qid]
    for call in (lambda: env.templates.update(env.ann, qid, title="mine"),
                 lambda: env.templates.update(env.ann, qid, body="mine"),
                 lambda: env.templates.restore(env.ann, qid, 1),
                 lambda: env.templates.delete(env.ann, qid)):
        with pytest.raises(Forbidden):
            call()
    assert env.store.templates[qid] == before
    # anyone signed in reads and renders them
    quick = env.templates.get(env.bob, qid)
    values = {name: "x" for name in quick.variables}
    assert "{{" not in env.templates.render(env.bob, qid, values)
    assert [v.number for v in env.templates.versions(env.bob, qid)] == [1]
    langs = {t.language for t in env.templates.quick()}
    assert langs == {"en", "ru"} and all(t.language == "ru" for t in env.templates.quick("ru"))
    assert qid >= BUILTIN_TEMPLATE_IDS and env.templates.list(env.ann)[0] == []


# -- improving -----------------------------------------------------------------------------------

BODY = "Write a {{kind}} about {{topic}} for {{ audience }}."


def test_improve_keeps_the_variables_and_spends_one_unit(env):
    t = env.templates.create(env.ann, "T", BODY)
    out = env.templates.improve(env.ann, t.id, "general")
    assert out.variables == ["kind", "topic", "audience"] and out.text == f"[general] {BODY}"
    assert out.quota.used == 1 and env.used(env.ann) == 1
    request = env.improver.requests[-1]
    assert request.keep_variables == ("kind", "topic", "audience") and request.prompt == BODY
    record = env.store.prompts[out.record_id]
    assert record.status is RecordStatus.SUCCEEDED and record.generated_prompt == out.text
    assert env.templates.get(env.ann, t.id).version == 1, "saved only when the user saves it"


def test_a_dropped_variable_is_asked_for_once_more(env):
    t = env.templates.create(env.ann, "T", BODY)
    env.improver.script = ["Write about {{topic}} for {{audience}}.",  # drops {{kind}}
                           "A {{kind}} on {{ topic }} for {{audience}}, with care."]
    out = env.templates.improve(env.ann, t.id, "general")
    assert out.text == "A {{kind}} on {{ topic }} for {{audience}}, with care."
    assert len(env.improver.requests) == 2 and env.used(env.ann) == 1
    units = [u for u in env.store.quota_units.values() if u["user_id"] == env.ann.user_id]
    assert [u["status"] for u in units] == [UnitStatus.KEPT]
    assert env.store.prompts[out.record_id].generated_prompt == out.text


@pytest.mark.parametrize("first,second,missing,added", [
    ("Write about {{topic}} for {{audience}}.", "Write for {{audience}}.", ["kind", "topic"], []),
    ("{{kind}} {{topic}} {{audience}} {{extra}}", "{{kind}} {{topic}} {{audience}} {{bonus}}", [], ["bonus"]),
    ("no variables at all", "{{kind}} {{Topic}} {{audience}}", ["topic"], ["Topic"]),
])
def test_two_bad_answers_are_variables_changed_and_give_the_unit_back(env, first, second, missing, added):
    t = env.templates.create(env.ann, "T", BODY)
    env.improver.script = [first, second]
    with pytest.raises(VariablesChanged) as info:
        env.templates.improve(env.ann, t.id, "general")
    assert (info.value.missing, info.value.added) == (missing, added)
    assert info.value.errors == {"missing": missing, "added": added}
    assert len(env.improver.requests) == 2
    assert env.used(env.ann) == 0 and not env.store.quota_units
    [record] = env.store.prompts.values()
    assert record.status is RecordStatus.FAILED and record.error == "VariablesChanged"
    assert env.templates.get(env.ann, t.id).body == BODY and env.templates.get(env.ann, t.id).version == 1


def test_improving_a_template_without_variables_adds_none(env):
    t = env.templates.create(env.ann, "T", "Plain text.")
    env.improver.script = ["Plain {{but}} not", "Better plain text."]
    out = env.templates.improve(env.ann, t.id, "general")
    assert out.text == "Better plain text." and out.variables == []
    assert env.improver.requests[0].keep_variables == ()


def test_improving_a_quick_template_with_a_custom_style(env):
    style = env.custom_styles.create(env.ann, "Mine", "Be brief.")
    out = env.templates.improve(env.ann, quick_id(env), style.slug)
    assert out.text.startswith(f"[{style.slug}]") and env.used(env.ann) == 1
    with pytest.raises(NotFound):
        env.templates.improve(env.bob, quick_id(env), style.slug)
    assert env.used(env.bob) == 0


def test_an_upstream_failure_gives_the_unit_back(env):
    t = env.templates.create(env.ann, "T", BODY)
    env.improver.fail_with = LlmUnavailable()
    with pytest.raises(LlmUnavailable):
        env.templates.improve(env.ann, t.id, "general")
    assert env.used(env.ann) == 0
