"""Template bodies (SPEC §13.1): one parser for variables, rendering that never re-parses values,
and line diffs of versions. Properties over random bodies, names and values."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from promptcore.domain.errors import ValidationFailed
from promptcore.domain.templates import (
    NAME_MAX,
    clean_body,
    diff_lines,
    find_variables,
    parse,
    render,
    variables,
)

# -- strategies ----------------------------------------------------------------------------------

# Literal text with no brace at all (any other character, newlines and NUL included).
literal = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="{}"), max_size=30)

# Letters of any alphabet, digits of any script, and _ - .; after the first character also the
# combining marks that many alphabets need to spell a word (Devanagari vowel signs, Thai tones ...).
_first_char = st.one_of(st.characters(whitelist_categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Nd")),
                        st.sampled_from("_.-"))
_next_char = st.one_of(_first_char, st.characters(whitelist_categories=("Mn", "Mc")))
names = st.builds(lambda head, tail: head + "".join(tail), _first_char,
                  st.lists(_next_char, max_size=NAME_MAX - 1))
spaces = st.sampled_from(["", " ", "  "])


@st.composite
def bodies(draw, pool=None):
    """(body, names in order of appearance): literal text with variables between, spaced or not."""
    chosen = draw(st.lists(st.sampled_from(pool) if pool else names, max_size=6))
    parts = [draw(literal)]
    for name in chosen:
        parts.append("{{" + draw(spaces) + name + draw(spaces) + "}}")
        parts.append(draw(literal))
    return "".join(parts), chosen


def _value_ok(value: str) -> bool:
    """The rule for a value, stated independently of the code under test."""
    return (bool(value.strip()) and "{{" not in value and "}}" not in value and "\x00" not in value
            and value[0] not in "{}" and value[-1] not in "{}")


# Text that is often near a brace: the interesting values and literal pieces.
braced_text = st.lists(st.sampled_from(["{", "}", "a", " ", "[x]", "\n", "é"]), max_size=12).map("".join)


# -- extraction ----------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(bodies())
def test_the_variables_are_the_names_inserted_in_order_and_distinct(case):
    body, inserted = case
    assert [slot.name for slot in parse(body)] == inserted
    assert variables(body) == list(dict.fromkeys(inserted))
    assert find_variables(body) == variables(body)
    for slot in parse(body):  # every slot points at the whole {{ ... }} of its name
        assert body[slot.start:slot.start + 2] == "{{" and body[slot.end - 2:slot.end] == "}}"
        assert body[slot.start + 2:slot.end - 2].strip(" ") == slot.name


@pytest.mark.parametrize("body,expected", [
    ("Hello {{name}}!", ["name"]),
    ("Hello {{ name }} and {{  name}} again", ["name"]),
    ("{{b}} {{a}} {{b}}", ["b", "a"]),
    ("{{имя}} {{名前}} {{नाम}} {{ชื่อ}} {{ሰላም}} {{x.y-z_1}} {{٣}}",
     ["имя", "名前", "नाम", "ชื่อ", "ሰላም", "x.y-z_1", "٣"]),
    ("no variables, [square] {single} braces", []),
    ("{{a}}}", ["a"]),
    ("}{{a}}", ["a"]),
])
def test_examples_of_extraction(body, expected):
    assert variables(body) == expected


def test_a_name_of_64_characters_is_a_variable_and_65_is_refused():
    assert variables("{{" + "n" * NAME_MAX + "}}") == ["n" * NAME_MAX]
    assert variables("{{" + "я" * NAME_MAX + "}}") == ["я" * NAME_MAX]
    with pytest.raises(ValidationFailed) as info:
        parse("{{" + "n" * (NAME_MAX + 1) + "}}")
    assert "body" in info.value.errors and "65" in info.value.errors["body"][0]


@pytest.mark.parametrize("body", [
    "{{}}", "{{ }}", "text {{x", "{{x}", "x}}", "a }} b {{c}}", "{{a{{b}}", "{{a}} {{", "{{first name}}",
    "{{a,b}}", "{{a/b}}", "{{{a}}", "{{a}}}}", "{{\tname}}", "{{na\nme}}", "{{" + "\u0301" + "}}",
])
def test_malformed_bodies_are_refused_on_body(body):
    with pytest.raises(ValidationFailed) as info:
        parse(body)
    assert list(info.value.errors) == ["body"] and info.value.errors["body"]
    with pytest.raises(ValidationFailed) as info:
        clean_body("Intro. " + body)
    assert "body" in info.value.errors


def test_every_malformed_spot_is_reported_once_and_the_field_name_is_the_callers():
    with pytest.raises(ValidationFailed) as info:
        parse("{{}} ok {{good}} x}} {{bad name}} {{never", "templates.3.body")
    problems = info.value.errors["templates.3.body"]
    assert len(problems) == 4
    assert "character 1" in problems[0] and "closes no" in problems[1] and "' '" in problems[2]
    assert "never closed" in problems[3]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(literal, st.sampled_from(["{{", "}}", "{", "}", "{{a}}", "{{ b }}"])), max_size=12))
def test_find_variables_never_raises_and_agrees_with_parse_on_valid_text(pieces):
    text = "".join(pieces)
    found = find_variables(text)
    assert all(re.search(r"\{\{ *" + re.escape(name) + r" *\}\}", text) for name in found)
    try:
        assert variables(text) == found
    except ValidationFailed as exc:
        assert exc.errors["body"]


# -- rendering -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["[x]", "a { b", "x } y", "{a", "a}", "<b>", "%(name)s", "$name", "0"])
def test_plain_values_go_in_verbatim_or_are_refused_by_the_rule(value):
    body = "Before {{v}} after"
    if _value_ok(value):
        assert render(body, {"v": value}) == f"Before {value} after"
    else:
        with pytest.raises(ValidationFailed) as info:
            render(body, {"v": value})
        assert list(info.value.errors) == ["values.v"]


@pytest.mark.parametrize("value", ["{{x}}", "a {{ b", "a }} b", "{x", "x}", "}", "{", " {x}", "x{"])
def test_values_that_could_make_a_variable_are_refused_naming_the_value(value):
    with pytest.raises(ValidationFailed) as info:
        render("A {{topic}} and {{other}}", {"topic": value, "other": "fine"})
    assert list(info.value.errors) == ["values.topic"]


def test_a_value_that_looks_like_another_variable_is_not_substituted():
    # {{b}} in a value is refused, never expanded; a value "b" stays the letter b
    assert render("{{a}}-{{b}}", {"a": "b", "b": "a"}) == "b-a"
    with pytest.raises(ValidationFailed):
        render("{{a}}-{{b}}", {"a": "{{b}}", "b": "x"})


def test_missing_and_empty_values_are_each_named():
    with pytest.raises(ValidationFailed) as info:
        render("{{a}} {{ b }} {{c}} {{a}}", {"b": "   ", "c": "ok", "unused": "{{zzz}}"})
    assert set(info.value.errors) == {"values.a", "values.b"}
    assert "a, b" in info.value.message
    with pytest.raises(ValidationFailed) as info:
        render("{{a}}", {"a": 5})
    assert set(info.value.errors) == {"values.a"}
    with pytest.raises(ValidationFailed) as info:
        render("{{a}}", ["a"])
    assert set(info.value.errors) == {"values"}


def test_values_with_nul_or_too_long_are_refused():
    for value in ("a\x00b", "x" * 16_001):
        with pytest.raises(ValidationFailed) as info:
            render("{{a}}", {"a": value})
        assert set(info.value.errors) == {"values.a"}
    assert render("{{a}}", {"a": "x" * 16_000}) == "x" * 16_000


@st.composite
def valid_bodies(draw):
    """Bodies that may have single braces right next to variables, kept only when valid."""
    chosen = draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=5))
    parts = [draw(braced_text)]
    for name in chosen:
        parts.append("{{" + draw(spaces) + name + draw(spaces) + "}}")
        parts.append(draw(braced_text))
    body = "".join(parts)
    try:
        parse(body)
    except ValidationFailed:
        assume(False)
    # the text around may spell a variable of its own (braces and a letter): only a, b and c have values
    assume(set(variables(body)) <= {"a", "b", "c"})
    return body


@settings(max_examples=500, deadline=None)
@given(valid_bodies(), st.fixed_dictionaries({"a": braced_text, "b": braced_text, "c": braced_text}))
def test_rendering_never_leaves_or_creates_a_variable(body, values):
    used = set(variables(body))
    accepted = all(_value_ok(values[name]) for name in used)
    try:
        text = render(body, values)
    except ValidationFailed as exc:
        assert not accepted, exc.errors
        assert all(key.startswith("values.") and key[7:] in used for key in exc.errors)
        assert any(not _value_ok(values[key[7:]]) for key in exc.errors)
        return
    assert accepted
    assert find_variables(text) == []
    # the same text as putting each value in each slot by hand
    expected, at = [], 0
    for slot in parse(body):
        expected += [body[at:slot.start], values[slot.name]]
        at = slot.end
    assert text == "".join(expected) + body[at:]


@settings(max_examples=200, deadline=None)
@given(bodies(pool=["x", "y", "имя"]), st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
def test_any_accepted_value_goes_in_verbatim(case, value):
    body, inserted = case
    assume(inserted)
    values = {name: value for name in inserted}
    if not _value_ok(value):
        with pytest.raises(ValidationFailed):
            render(body, values)
        return
    text = render(body, values)
    assert text.count(value) >= len(inserted)
    assert find_variables(text) == []


# -- diffs ---------------------------------------------------------------------------------------

lines = st.lists(st.sampled_from(["alpha", "beta", "gamma", "", "  indented", "{{x}}", "ä"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(lines, lines)
def test_a_diff_holds_every_line_of_both_texts_once_in_order(old_lines, new_lines):
    old, new = "\n".join(old_lines), "\n".join(new_lines)
    diff = diff_lines(old, new)
    assert {line.op for line in diff} <= {" ", "-", "+"}
    assert [line.text for line in diff if line.op in " -"] == old.splitlines()
    assert [line.text for line in diff if line.op in " +"] == new.splitlines()
    assert [line.old_number for line in diff if line.op in " -"] == list(range(1, len(old.splitlines()) + 1))
    assert [line.new_number for line in diff if line.op in " +"] == list(range(1, len(new.splitlines()) + 1))
    assert all(line.new_number is None for line in diff if line.op == "-")
    assert all(line.old_number is None for line in diff if line.op == "+")
    if old == new:
        assert all(line.op == " " for line in diff)


def test_a_diff_example():
    diff = diff_lines("Hello {{name}}\nBye", "Hello {{ name }}\nBye\nP.S.")
    assert [(d.op, d.text) for d in diff] == [("-", "Hello {{name}}"), ("+", "Hello {{ name }}"), (" ", "Bye"),
                                             ("+", "P.S.")]
