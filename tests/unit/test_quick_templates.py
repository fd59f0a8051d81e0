"""The built-in quick templates (SPEC §13.2): at least 12 keys, each in Russian and English, each a
valid template body with 2-5 variables that renders to plain text in its own language."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from promptcore.domain.errors import ValidationFailed
from promptcore.domain.language import prose_language
from promptcore.domain.quick_templates import QUICK_TEMPLATES, QuickTemplate
from promptcore.domain.templates import (
    NAME_MAX,
    TAG_MAX,
    TITLE_MAX,
    clean_body,
    clean_description,
    clean_tags,
    clean_title,
    parse,
    render,
    variables,
)

LANGUAGES = ("en", "ru")
QUICK_TITLE_MAX = 60  # stricter than TITLE_MAX: a quick template's title fits on a card
QUICK_DESCRIPTION_MAX = 200  # one sentence, stricter than DESCRIPTION_MAX
REQUIRED_KEYS = {
    "social-post", "product-description", "code-review", "bug-report", "customer-reply", "meeting-summary",
    "study-plan", "job-posting", "sql-help", "image-prompt", "translation-brief", "interview-questions",
}
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
ENGLISH_NAME = re.compile(r"[a-z][a-z0-9_]*")
RUSSIAN_NAME = re.compile(r"[а-яё][а-яё0-9_]*")


def _id(template: QuickTemplate) -> str:
    return f"{template.key}-{template.language}"


each = pytest.mark.parametrize("template", QUICK_TEMPLATES, ids=_id)


def _by_key() -> dict[str, dict[str, QuickTemplate]]:
    out: dict[str, dict[str, QuickTemplate]] = {}
    for template in QUICK_TEMPLATES:
        out.setdefault(template.key, {})[template.language] = template
    return out


# -- the set --------------------------------------------------------------------------------------

def test_at_least_twelve_keys_including_the_ones_the_spec_names():
    keys = {template.key for template in QUICK_TEMPLATES}
    assert len(keys) >= 12
    assert REQUIRED_KEYS <= keys


def test_each_key_and_language_appears_once():
    pairs = Counter((template.key, template.language) for template in QUICK_TEMPLATES)
    assert [pair for pair, count in pairs.items() if count > 1] == []


def test_only_russian_and_english():
    assert {template.language for template in QUICK_TEMPLATES} == set(LANGUAGES)


def test_every_key_exists_in_both_languages_at_the_same_position():
    for key, versions in _by_key().items():
        assert set(versions) == set(LANGUAGES), key
        assert versions["ru"].position == versions["en"].position, key


def test_positions_are_distinct_and_contiguous_within_a_language():
    for language in LANGUAGES:
        positions = sorted(t.position for t in QUICK_TEMPLATES if t.language == language)
        assert positions == list(range(len(positions))), language


def test_titles_are_distinct_within_a_language():
    for language in LANGUAGES:
        titles = [t.title.casefold() for t in QUICK_TEMPLATES if t.language == language]
        assert len(titles) == len(set(titles)), language


def test_both_languages_of_a_key_have_as_many_variables():
    for key, versions in _by_key().items():
        assert len(variables(versions["ru"].body)) == len(variables(versions["en"].body)), key


# -- each template ---------------------------------------------------------------------------------

@each
def test_body_is_a_valid_template_with_two_to_five_variables(template):
    assert clean_body(template.body) == template.body  # parses, no blank ends to trim
    names = variables(template.body)
    assert 2 <= len(names) <= 5, names
    # no stray braces outside the variables
    slots = parse(template.body)
    text = template.body
    for slot in reversed(slots):
        text = text[:slot.start] + text[slot.end:]
    assert "{" not in text and "}" not in text


@each
def test_variable_names_are_tidy_and_in_the_template_language(template):
    for slot in parse(template.body):
        # written without inner spaces: {{name}}, not {{ name }}
        assert template.body[slot.start:slot.end] == "{{" + slot.name + "}}"
        assert 1 <= len(slot.name) <= NAME_MAX
        pattern = RUSSIAN_NAME if template.language == "ru" else ENGLISH_NAME
        assert pattern.fullmatch(slot.name), slot.name


@each
def test_body_is_a_rough_prompt_of_a_few_sentences(template):
    without_variables = re.sub(r"\{\{[^}]*\}\}", "X", template.body)
    sentences = re.findall(r"[.!?](?:\s|$)", without_variables)
    assert 1 <= len(sentences) <= 6, template.body
    assert "#" not in template.body and "**" not in template.body  # plain text, not markdown


@each
def test_title_description_and_tags_within_limits(template):
    assert clean_title(template.title) == template.title
    assert len(template.title) <= min(QUICK_TITLE_MAX, TITLE_MAX)
    assert clean_description(template.description) == template.description
    assert len(template.description) <= QUICK_DESCRIPTION_MAX
    assert "\n" not in template.description
    assert template.description.endswith(".")
    assert 1 <= len(template.tags) <= 3
    assert clean_tags(template.tags) == template.tags  # lower case, distinct, no commas
    for tag in template.tags:
        assert 1 <= len(tag) <= TAG_MAX
        assert "," not in tag


@each
def test_text_is_in_the_template_language(template):
    for text in (template.title, template.description, template.body):
        assert prose_language(text) == template.language, text
    if template.language == "en":
        assert not CYRILLIC.search(template.title + template.description + template.body)
    else:
        # Russian typography: «» quotes, not straight ones
        assert '"' not in template.body and '"' not in template.description


@each
def test_rendering_with_every_value_leaves_no_variables(template):
    names = variables(template.body)
    values = {name: f"value {i}" if template.language == "en" else f"значение {i}"
              for i, name in enumerate(names)}
    text = render(template.body, values)
    assert "{{" not in text and "}}" not in text
    assert "{" not in text and "}" not in text
    for value in values.values():
        assert value in text
    assert prose_language(text) == template.language


@each
def test_rendering_without_a_value_names_it(template):
    names = variables(template.body)
    values = {name: "x" for name in names[1:]}
    with pytest.raises(ValidationFailed) as caught:
        render(template.body, values)
    assert set(caught.value.errors) == {f"values.{names[0]}"}
