"""Library import and export and history import (SPEC §13.4) against fakes: round trips in JSON and
CSV, conflict modes, dry runs, all-or-nothing with every error named, file limits, formula cells,
and history files read back idempotently without touching the quota."""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import timedelta

import pytest

from promptcore.domain.access import Actor
from promptcore.domain.errors import ImportRejected, LimitReached, LlmUnavailable, ValidationFailed
from promptcore.domain.prompts import RecordStatus
from promptcore.domain.quota import QuotaPolicy
from promptcore.domain.templates import TEMPLATES_PER_OWNER, Template
from promptcore.domain.users import User
from promptcore.services.custom_styles import CustomStyles
from promptcore.services.exports import HistoryExport
from promptcore.services.improvement import Prompts
from promptcore.services.library_io import (
    CSV_FIELDS,
    IMPORT_MAX_BYTES,
    LIBRARY_SCHEMA,
    HistoryImport,
    LibraryTransfer,
    TooLarge,
)
from promptcore.services.quota import Quota
from promptcore.services.styles import StyleCatalogue
from promptcore.services.templates import Templates
from tests.fakes import FakeClock, FakeImprover, FakeStore, FakeUnitOfWork, sample_style


class Env:
    def __init__(self) -> None:
        self.store, self.clock, self.improver = FakeStore(), FakeClock(), FakeImprover()
        self.store.styles["general"] = sample_style("general")
        self.uow = lambda: FakeUnitOfWork(self.store)
        with self.uow() as tx:
            ann = tx.users.add(User(email="ann@example.com", password_hash="x", is_email_confirmed=True))
            bob = tx.users.add(User(email="bob@example.com", password_hash="x", is_email_confirmed=True))
            tx.commit()
        self.ann, self.bob = Actor.of(ann), Actor.of(bob)
        self.quota = Quota(self.uow, self.clock, QuotaPolicy(reservation_ttl=timedelta(minutes=5)),
                           default_limit=50)
        self.styles = CustomStyles(self.uow, self.clock)
        self.prompts = Prompts(self.uow, self.improver, StyleCatalogue(self.uow, self.clock), self.clock,
                               self.quota, ("m1",), 8000, custom_styles=self.styles)
        self.templates = Templates(self.uow, self.clock, self.prompts)
        self.library = LibraryTransfer(self.uow, self.clock)
        self.history_import = HistoryImport(self.uow, self.clock, max_chars=8000)
        self.history_export = HistoryExport(lambda: FakeUnitOfWork(self.store, read_only=True), self.clock)

    def export(self, actor: Actor, fmt: str) -> str:
        return "".join(self.library.export(actor, fmt).chunks)

    def library_state(self) -> tuple:
        return (copy.deepcopy(self.store.templates), copy.deepcopy(self.store.template_versions),
                copy.deepcopy(self.store.custom_styles))


@pytest.fixture
def env() -> Env:
    return Env()


def content(env: Env, actor: Actor) -> dict:
    doc = env.library.document(actor)
    doc.pop("exported_at")
    return doc


def fill(env: Env, actor: Actor) -> None:
    """A library with the texts that are hard to carry through CSV and JSON."""
    t = env.templates
    t.create(actor, "=SUM(A1:A9)", "=HYPERLINK(\"http://evil\") {{x}}", "@mention me", ["b", "a"], True)
    t.create(actor, "-minus", "+plus, \"quoted\"\nsecond line; {{ имя }}\n\nthird", "", ["tag with space"])
    t.create(actor, "'apostrophe", "'already quoted' {{a.b-c_d}}", "line one\nline two", [])
    t.create(actor, "Ünïcødé ✓", "Напиши {{тему}} — 🙂", "описание", ["тег", "x"])
    t.create(actor, "plain", "plain body", "d", ["z"])
    env.styles.create(actor, "+Pirate", "=Talk like a pirate.\n- and rhyme", "@desc")
    env.styles.create(actor, "Brief", "Be brief, \"very\" brief.", "")


# -- export and round trips ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_then_import_gives_the_same_library(env, fmt):
    fill(env, env.ann)
    data = env.export(env.ann, fmt)
    report = env.library.import_library(env.bob, data.encode("utf-8"))
    assert report.counts == {"created": 7, "renamed": 0, "skipped": 0, "replaced": 0}
    assert content(env, env.bob) == content(env, env.ann)
    assert all(item.id for item in report.items)
    # the imported template's first version is marked as imported
    bob_template = env.templates.list(env.bob, query="plain body")[0][0]
    assert env.templates.versions(env.bob, bob_template.id)[0].note == "imported"


def conforms(value, schema: dict, where: str = "$") -> list[str]:
    """The ways ``value`` breaks ``schema``, for the keywords LIBRARY_SCHEMA uses (jsonschema is
    not a dependency)."""
    problems = []
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool}
    if "const" in schema and value != schema["const"]:
        problems.append(f"{where}: not {schema['const']!r}")
    if "type" in schema and not isinstance(value, kinds[schema["type"]]):
        return problems + [f"{where}: not {schema['type']}"]
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            problems.append(f"{where}: length {len(value)}")
        if "pattern" in schema and "," in value:
            problems.append(f"{where}: comma")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            problems.append(f"{where}: too many items")
        for i, item in enumerate(value):
            problems += conforms(item, schema.get("items", {}), f"{where}[{i}]")
    if isinstance(value, dict):
        problems += [f"{where}: missing {key}" for key in schema.get("required", []) if key not in value]
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            problems += [f"{where}: unknown {key}" for key in value if key not in properties]
        for key, item in value.items():
            if key in properties:
                problems += conforms(item, properties[key], f"{where}.{key}")
    return problems


def test_the_json_export_follows_its_schema(env):
    fill(env, env.ann)
    download = env.library.export(env.ann, "json")
    assert download.media_type == "application/json" and download.filename.endswith(".json")
    doc = json.loads("".join(download.chunks))
    assert conforms(doc, LIBRARY_SCHEMA) == []
    assert doc["schema_version"] == 1 and len(doc["templates"]) == 5 and len(doc["styles"]) == 2
    doc["templates"][0]["version"] = 3
    doc["styles"][0]["title"] = ""
    assert conforms(doc, LIBRARY_SCHEMA) == ["$.templates[0]: unknown version", "$.styles[0].title: length 0"]


def test_the_csv_export_defuses_formula_cells(env):
    fill(env, env.ann)
    download = env.library.export(env.ann, "csv")
    assert download.media_type.startswith("text/csv")
    text = "".join(download.chunks)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert tuple(rows[0]) == CSV_FIELDS
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), row
    titles = [row[1] for row in rows[1:]]
    assert "'=SUM(A1:A9)" in titles and "''apostrophe" in titles and "'+Pirate" in titles


def test_export_of_an_empty_library_and_bad_formats(env):
    assert json.loads(env.export(env.ann, "json"))["templates"] == []
    with pytest.raises(ValidationFailed):
        env.library.export(env.ann, "xml")
    with pytest.raises(ValidationFailed) as info:
        env.library.import_library(env.ann, env.export(env.ann, "json"))
    assert "file" in info.value.errors


# -- conflicts and dry runs ------------------------------------------------------------------------

def _file(*templates, styles=()) -> str:
    return json.dumps({"schema_version": 1, "kind": "promptcore.library", "templates": list(templates),
                       "styles": list(styles)}, ensure_ascii=False)


@pytest.fixture
def owned(env):
    t = env.templates.create(env.ann, "Post", "old {{a}}", "old desc", ["old"])
    s = env.styles.create(env.ann, "Brief", "old instructions")
    incoming = _file({"title": "POST", "body": "new {{b}}", "description": "new desc", "tags": ["new"],
                      "favourite": True},
                     {"title": "Fresh", "body": "fresh"},
                     styles=[{"title": "brief", "instructions": "new instructions", "description": "nd"}])
    return t, s, incoming


def test_rename_is_the_default(env, owned):
    t, s, incoming = owned
    report = env.library.import_library(env.ann, incoming)
    assert [(i.kind, i.action, i.final_title) for i in report.items] == [
        ("template", "renamed", "POST (2)"), ("template", "created", "Fresh"), ("style", "renamed", "brief (2)")]
    assert env.templates.get(env.ann, t.id).body == "old {{a}}"
    assert sorted(x.title for x in env.templates.list(env.ann)[0]) == ["Fresh", "POST (2)", "Post"]
    assert sorted(x.title for x in env.styles.list(env.ann)) == ["Brief", "brief (2)"]
    again = env.library.import_library(env.ann, incoming)
    assert [i.final_title for i in again.items] == ["POST (3)", "Fresh (2)", "brief (3)"]


def test_skip_leaves_what_exists(env, owned):
    t, s, incoming = owned
    before = env.library_state()
    report = env.library.import_library(env.ann, incoming, on_conflict="skip")
    assert report.counts == {"created": 1, "renamed": 0, "skipped": 2, "replaced": 0}
    assert [i.id for i in report.items if i.action == "skipped"] == [t.id, s.id]
    assert {k: v for k, v in env.store.templates.items() if k != report.items[1].id} == before[0]
    assert env.store.custom_styles == before[2]


def test_replace_makes_a_new_version_and_overwrites_the_style(env, owned):
    t, s, incoming = owned
    env.clock.advance(minutes=3)
    report = env.library.import_library(env.ann, incoming, on_conflict="replace")
    assert report.counts == {"created": 1, "renamed": 0, "skipped": 0, "replaced": 2}
    replaced = env.templates.get(env.ann, t.id)
    assert (replaced.title, replaced.body, replaced.version, replaced.description, replaced.tags,
            replaced.favourite) == ("Post", "new {{b}}", 2, "new desc", ("new",), True)
    assert [v.body for v in env.templates.versions(env.ann, t.id)] == ["new {{b}}", "old {{a}}"]
    assert env.templates.versions(env.ann, t.id)[0].note == "imported"
    style = env.styles.get(env.ann, s.id)
    assert (style.title, style.instructions, style.description) == ("Brief", "new instructions", "nd")
    # the same body again: no new version
    env.library.import_library(env.ann, incoming, on_conflict="replace")
    assert env.templates.get(env.ann, t.id).version == 2


@pytest.mark.parametrize("mode", ["rename", "skip", "replace"])
def test_a_dry_run_reports_the_same_plan_and_writes_nothing(env, owned, mode):
    t, s, incoming = owned
    before = env.library_state()
    planned = env.library.import_library(env.ann, incoming, on_conflict=mode, dry_run=True)
    assert planned.dry_run and env.library_state() == before
    done = env.library.import_library(env.ann, incoming, on_conflict=mode)
    assert [(i.kind, i.title, i.action, i.final_title) for i in planned.items] == [
        (i.kind, i.title, i.action, i.final_title) for i in done.items]
    assert planned.to_dict()["counts"] == done.to_dict()["counts"]


def test_an_unknown_conflict_mode_is_refused(env, owned):
    with pytest.raises(ValidationFailed) as info:
        env.library.import_library(env.ann, owned[2], on_conflict="merge")
    assert "on_conflict" in info.value.errors


def test_the_same_title_twice_in_one_file_is_refused(env):
    before = env.library_state()
    data = _file({"title": "Twin", "body": "a"}, {"title": "other", "body": "b"}, {"title": "TWIN", "body": "c"},
                 styles=[{"title": "Twin", "instructions": "x"}])
    with pytest.raises(ImportRejected) as info:
        env.library.import_library(env.ann, data)
    assert list(info.value.errors) == ["templates.2.title"], "a style may share a template's title"
    assert env.library_state() == before


# -- all or nothing --------------------------------------------------------------------------------

def test_one_bad_item_among_500_rejects_the_file_and_names_it(env):
    items = [{"title": f"T{i}", "body": f"body {{{{v{i}}}}}"} for i in range(TEMPLATES_PER_OWNER)]
    items[321]["body"] = "broken {{v"
    before = env.library_state()
    with pytest.raises(ImportRejected) as info:
        env.library.import_library(env.ann, _file(*items))
    assert list(info.value.errors) == ["templates.321.body"]
    assert env.library_state() == before
    items[321]["body"] = "fixed"
    report = env.library.import_library(env.ann, _file(*items))
    assert report.counts["created"] == TEMPLATES_PER_OWNER
    assert len(env.store.templates) == len(before[0]) + TEMPLATES_PER_OWNER


def test_every_error_is_listed_by_item_and_field(env):
    data = _file({"title": "", "body": "ok"}, {"title": "t", "body": "{{}}", "tags": "x" * 40},
                 {"title": "u", "body": "ok", "favourite": "yes", "extra": 1}, "not an object",
                 styles=[{"title": "s", "instructions": ""}, {"title": "x" * 101, "instructions": "i"}])
    with pytest.raises(ImportRejected) as info:
        env.library.import_library(env.ann, data)
    assert set(info.value.errors) == {
        "templates.0.title", "templates.1.body", "templates.1.tags", "templates.2.favourite", "templates.2",
        "templates.3", "styles.0.instructions", "styles.1.title"}
    assert not env.library.document(env.ann)["templates"]


def test_an_import_that_would_pass_the_limit_writes_nothing(env):
    now = env.clock.now()
    for i in range(TEMPLATES_PER_OWNER - 1):
        env.store.templates[50_000 + i] = Template(title=f"t{i}", body="b", owner_id=env.ann.user_id,
                                                   id=50_000 + i, created_at=now, updated_at=now)
    before = env.library_state()
    data = _file({"title": "one", "body": "b"}, {"title": "two", "body": "b"})
    for dry_run in (True, False):
        with pytest.raises(LimitReached):
            env.library.import_library(env.ann, data, dry_run=dry_run)
    assert env.library_state() == before
    # the limit counts new templates only: one new and one replaced fit
    one = _file({"title": "one", "body": "b"}, {"title": "t0", "body": "changed"})
    report = env.library.import_library(env.ann, one, on_conflict="replace")
    assert report.counts == {"created": 1, "renamed": 0, "skipped": 0, "replaced": 1}


# -- files -------------------------------------------------------------------------------------------

def test_invalid_utf8_is_refused_naming_the_byte(env):
    data = _file({"title": "café", "body": "b"}).encode("utf-8").replace("é".encode(), b"\xe9")
    with pytest.raises(ValidationFailed) as info:
        env.library.import_library(env.ann, data)
    assert list(info.value.errors) == ["file"] and "UTF-8" in info.value.message
    with pytest.raises(ValidationFailed):
        env.history_import.import_history(env.ann, b"\xff\xfe[]")


def test_a_byte_order_mark_is_accepted(env):
    data = "\ufeff" + _file({"title": "bom", "body": "b"})
    assert env.library.import_library(env.ann, data.encode("utf-8")).counts["created"] == 1


@pytest.mark.parametrize("as_bytes", [True, False])
def test_files_over_2_mib_are_too_large(env, as_bytes):
    big = _file({"title": "big", "body": "x" * 100}) + " " * (3 * 1024 * 1024)
    with pytest.raises(TooLarge) as info:
        env.library.import_library(env.ann, big.encode() if as_bytes else big)
    assert list(info.value.errors) == ["file"] and "2 MiB" in info.value.message
    with pytest.raises(TooLarge):
        env.history_import.import_history(env.ann, big.encode() if as_bytes else big)
    just = _file({"title": "fits", "body": "x"})
    fits = just + " " * (IMPORT_MAX_BYTES - len(just.encode()))
    assert env.library.import_library(env.ann, fits.encode()).counts["created"] == 1


@pytest.mark.parametrize("data", [
    "", "   ", "{not json", "[]", '{"schema_version": 2, "templates": [], "styles": []}',
    '{"schema_version": 1, "kind": "something.else", "templates": [], "styles": []}',
    '{"schema_version": 1, "templates": [], "styles": [], "more": 1}', '{"schema_version": 1, "templates": {}}',
    "kind,title\ntemplate,x\n", '"unterminated', "\x00",
])
def test_files_that_are_not_library_exports(env, data):
    with pytest.raises(ValidationFailed):
        env.library.import_library(env.ann, data)
    assert not env.library.document(env.ann)["templates"]


def _csv(*rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_cells_from_elsewhere_are_refused_and_our_own_defused_ones_accepted(env, cell):
    foreign = _csv(["template", cell, "", "body", "", "false", ""])
    with pytest.raises(ImportRejected) as info:
        env.library.import_library(env.ann, foreign)
    assert list(info.value.errors) == ["templates.0.title"]
    foreign_style = _csv(["style", "s", "", "", "", "", cell])
    with pytest.raises(ImportRejected) as info:
        env.library.import_library(env.ann, foreign_style)
    assert list(info.value.errors) == ["styles.0.instructions"]
    assert not env.library.document(env.ann)["templates"]
    defused = _csv(["template", "'" + cell, "'" + cell, "body", "", "false", ""])
    if cell.strip() != cell:  # a title cannot keep leading whitespace anyway
        return
    env.library.import_library(env.ann, defused)
    [t] = env.library.document(env.ann)["templates"]
    assert t["title"] == cell and t["description"] == cell


def test_csv_rows_of_the_wrong_kind_or_shape(env):
    with pytest.raises(ImportRejected) as info:
        env.library.import_library(env.ann, _csv(["macro", "x", "", "b", "", "", ""],
                                                 ["style", "s", "", "a body", "", "", "i"],
                                                 ["template", "t", "", "b", "", "maybe", "instr"]))
    assert set(info.value.errors) == {"rows.0.kind", "styles.0", "templates.0.favourite",
                                      "templates.0.instructions"}
    with pytest.raises(ValidationFailed) as info:
        env.library.import_library(env.ann, _csv(["template", "x"]))
    assert "file" in info.value.errors


# -- history ---------------------------------------------------------------------------------------

def make_history(env: Env) -> list[int]:
    """Ann's history: two chains (one with two revisions) and a failure; ids oldest first."""
    ids = []
    first = env.prompts.improve(env.ann, "a poem about rain", "general").record
    ids.append(first.id)
    env.clock.advance(minutes=1)
    ids.append(env.prompts.improve(env.ann, None, "general", parent_id=first.id, feedback="shorter").record.id)
    env.clock.advance(minutes=1)
    revised = env.prompts.improve(env.ann, None, "general", parent_id=ids[-1], feedback="=rhyme, \"please\"")
    ids.append(revised.record.id)
    env.clock.advance(minutes=1)
    ids.append(env.prompts.improve(env.ann, "-a list, with commas\nand lines", "general").record.id)
    env.improver.fail_with = RuntimeError("boom")
    with pytest.raises(LlmUnavailable):
        env.prompts.improve(env.ann, "failed", "general")
    env.improver.fail_with = None
    env.clock.advance(minutes=1)
    return ids


def history_text(env: Env, actor: Actor, fmt: str) -> str:
    return "".join(env.history_export.download(actor, fmt).chunks)


def visible(env: Env, actor: Actor):
    return sorted((r for r in env.store.prompts.values() if r.user_id == actor.user_id),
                  key=lambda r: (r.created_at, r.id))


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_history_import_keeps_texts_times_and_links_and_spends_nothing(env, fmt):
    ids = make_history(env)
    data = history_text(env, env.ann, fmt)
    units, counters = copy.deepcopy(env.store.quota_units), copy.deepcopy(env.store.counters)
    report = env.history_import.import_history(env.bob, data.encode("utf-8"))
    assert (report.added, report.skipped) == (4, 0) and len(report.ids) == 4
    assert env.store.quota_units == units and env.store.counters == counters, "no quota, no usage stats"
    assert env.quota.status(env.bob).used == 0
    theirs = [env.store.prompts[i] for i in ids]
    mine = visible(env, env.bob)
    assert [(r.created_at, r.original_prompt, r.generated_prompt, r.feedback, r.style, r.model)
            for r in mine] == [(r.created_at, r.original_prompt, r.generated_prompt, r.feedback, r.style, r.model)
                               for r in theirs]
    assert all(r.source == "import" and r.status is RecordStatus.SUCCEEDED for r in mine)
    # the chain is rebuilt with the new ids; the old ids are not reused
    assert mine[0].parent_id is None and mine[1].parent_id == mine[0].id and mine[2].parent_id == mine[1].id
    assert mine[3].parent_id is None
    assert not {r.id for r in mine} & set(ids)
    # importing the same file again adds nothing
    again = env.history_import.import_history(env.bob, data)
    assert (again.added, again.skipped) == (0, 4) and len(visible(env, env.bob)) == 4
    # and the owner's own export is already their history
    own = env.history_import.import_history(env.ann, data)
    assert (own.added, own.skipped) == (0, 4)


def test_history_import_with_a_parent_outside_the_file(env):
    ids = make_history(env)
    rows = json.loads(history_text(env, env.ann, "json"))
    rows = [row for row in rows if row["id"] != ids[0]]  # the chain's root is left out
    report = env.history_import.import_history(env.bob, json.dumps(rows))
    assert report.added == 3
    mine = visible(env, env.bob)
    assert mine[0].parent_id is None and mine[1].parent_id == mine[0].id, "links only inside the file"


def test_history_dry_run_writes_nothing(env):
    make_history(env)
    before = copy.deepcopy(env.store.prompts)
    report = env.history_import.import_history(env.bob, history_text(env, env.ann, "csv"), dry_run=True)
    assert report.dry_run and (report.added, report.skipped) == (4, 0)
    assert env.store.prompts == before


def test_one_bad_history_row_rejects_the_file(env):
    make_history(env)
    rows = json.loads(history_text(env, env.ann, "json"))
    rows[2]["created_at"] = "yesterday"
    rows[3]["generated_prompt"] = ""
    rows[1]["status"] = "failed"
    before = copy.deepcopy(env.store.prompts)
    with pytest.raises(ImportRejected) as info:
        env.history_import.import_history(env.bob, json.dumps(rows))
    assert set(info.value.errors) == {"rows.2.created_at", "rows.3.generated_prompt", "rows.1.status"}
    assert env.store.prompts == before
    rows = json.loads(history_text(env, env.ann, "json"))
    rows[0]["created_at"] = (env.clock.now() + timedelta(days=1)).isoformat()
    with pytest.raises(ImportRejected) as info:
        env.history_import.import_history(env.bob, json.dumps(rows))
    assert set(info.value.errors) == {"rows.0.created_at"}


@pytest.mark.parametrize("data", ["", "[]", '{"schema_version": 1}', "id,created_at\n1,2\n", "[1, 2]"])
def test_files_that_are_not_history_exports(env, data):
    with pytest.raises(ValidationFailed):
        env.history_import.import_history(env.bob, data)
    assert not visible(env, env.bob)
