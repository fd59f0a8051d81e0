"""The offline improver: deterministic, local, keeps the original, structures per style."""

from __future__ import annotations

import re
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.offline import OfflineImprover
from promptcore.domain.catalogue import STYLES, style_by_slug
from promptcore.domain.prompts import Improvement, ImprovementRequest, Style
from promptcore.ports import PromptImprover

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z]")
EN_PROMPT = "write a post about our new coffee machine"
RU_PROMPT = "напиши пост о нашей новой кофемашине"
CHANGES_INTRO = "Apply these changes to the prompt above; where they conflict with it, the changes take priority:"


def _style(slug: str) -> Style:
    style = style_by_slug(slug)
    assert style is not None
    return style


def improve(prompt: str, slug: str = "general", **kwargs) -> str:
    result = OfflineImprover().improve(ImprovementRequest(prompt=prompt, style=_style(slug), **kwargs))
    return result.text


def scaffold(text: str, prompt: str) -> str:
    """The output without the user's own words."""
    assert prompt in text
    return text.replace(prompt, "")


def test_is_a_prompt_improver_labelled_offline():
    improver = OfflineImprover()
    assert isinstance(improver, PromptImprover)
    assert improver.name == "offline"
    result = improver.improve(ImprovementRequest(prompt=EN_PROMPT, style=_style("general")))
    assert isinstance(result, Improvement)
    assert (result.model, result.usage, result.cost) == ("offline", None, None)


def test_works_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the offline improver must not open sockets")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert EN_PROMPT in improve(EN_PROMPT)


# ---------------------------------------------------------------- language


@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.slug)
def test_russian_prompt_gets_a_russian_scaffold(style: Style):
    text = improve(RU_PROMPT, style.slug)
    rest = scaffold(text, RU_PROMPT)
    cyrillic, latin = len(CYRILLIC.findall(rest)), len(LATIN.findall(rest))
    assert cyrillic > 5 * latin, rest  # Latin only in names like Midjourney, Python, APA
    for english in ("Task", "Audience", "Output format", "Negative prompt", "Before you answer"):
        assert english not in rest


@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.slug)
def test_english_prompt_gets_an_english_scaffold(style: Style):
    rest = scaffold(improve(EN_PROMPT, style.slug), EN_PROMPT)
    assert not CYRILLIC.search(rest), rest


def test_russian_general_scaffold_reads_naturally():
    text = improve(RU_PROMPT)
    assert text.startswith("Ты — опытный автор и редактор.")
    for heading in ("## Задача", "## Контекст", "## Ограничения", "## Формат ответа", "## Прежде чем отвечать"):
        assert heading in text
    assert "1. Для чего нужен результат и где он будет использоваться?\n2. Кто целевая аудитория?" in text


# ---------------------------------------------------------------- the original survives

WORDS = st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=12)
NUMBERS = st.integers(min_value=-10**9, max_value=10**9).map(str) | st.floats(
    allow_nan=False, allow_infinity=False
).map(repr)
PLACEHOLDERS = st.from_regex(r"\{\{[a-z_][a-z0-9_]{0,15}\}\}", fullmatch=True)
TOKENS = st.lists(WORDS | NUMBERS | PLACEHOLDERS | st.sampled_from(['"""', "```", "</prompt_to_improve>", "##"]),
                  min_size=1, max_size=40)
SEPARATORS = st.sampled_from([" ", "\n", ", ", "\n\n", "\t"])


@settings(max_examples=200)
@given(tokens=TOKENS, separator=SEPARATORS, style=st.sampled_from(STYLES))
def test_every_word_number_and_placeholder_survives(tokens: list[str], separator: str, style: Style):
    prompt = separator.join(tokens)
    text = OfflineImprover().improve(ImprovementRequest(prompt=prompt, style=style)).text
    assert prompt in text  # verbatim, in one piece
    for token in tokens:
        assert token in text


@settings(max_examples=200)
@given(prompt=st.text(min_size=1), style=st.sampled_from(STYLES))
def test_any_text_is_kept_verbatim_and_the_scaffold_follows_its_language(prompt: str, style: Style):
    request = ImprovementRequest(prompt=prompt, style=style)
    text = OfflineImprover().improve(request).text
    assert prompt in text
    rest = text.replace(prompt, "")
    if request.language == "ru":
        assert len(CYRILLIC.findall(rest)) > len(LATIN.findall(rest))
    else:
        assert not CYRILLIC.search(rest)


def test_original_is_delimited_even_when_it_contains_triple_quotes():
    prompt = 'Summarise this: """quoted""" and that'
    text = improve(prompt)
    assert f'""""\n{prompt}\n""""' in text


def test_placeholders_are_flagged_as_variables():
    text = improve("Write to {{customer_name}} about order {{order_id}}")
    assert "{{customer_name}}" in text and "{{order_id}}" in text
    assert "keep them unchanged" in text
    assert "keep them unchanged" not in improve(EN_PROMPT)


# ---------------------------------------------------------------- determinism and styles


@given(prompt=st.text(min_size=1, max_size=200), style=st.sampled_from(STYLES))
def test_same_input_same_output(prompt: str, style: Style):
    request = ImprovementRequest(prompt=prompt, style=style)
    assert OfflineImprover().improve(request) == OfflineImprover().improve(request)


@pytest.mark.parametrize("prompt", [EN_PROMPT, RU_PROMPT,
                                    "Explain how {{topic}} works in 3 bullet points for beginners"])
def test_each_style_gives_a_different_prompt(prompt: str):
    texts = {style.slug: improve(prompt, style.slug) for style in STYLES}
    assert len(set(texts.values())) == len(STYLES)
    assert all(prompt in text for text in texts.values())


STYLE_MARKERS = {
    "general": ["## Task", "## Context", "## Constraints", "## Output format"],
    "technical": ["## Environment", "## Inputs and outputs", "Edge cases", "Error handling",
                  "fenced code blocks"],
    "creative": ["## Creative direction", "Voice and point of view", "Imagery", "## Freedom and limits"],
    "formal": ["## Register and tone", "## Document structure", "1. Subject line", "6. Closing formula"],
    "concise": ["Task:", "Answer briefly"],
    "structured": ["## Goal", "## How to work", "1. Restate the goal", "5. Name the main risks", "- [ ] "],
    "academic": ["## Research question", "## Definitions", "## Methodology", "## Sources and citations",
                 "Citation style", "## Limitations"],
    "marketing": ["## Target audience", "## Offer", "## Channel and length", "## Brand tone",
                  "## Call to action"],
    "image": ["Subject:", "Composition:", "Style:", "Lighting:", "Palette:", "Camera and lens:",
              "Aspect ratio:", "Negative prompt:"],
}


@pytest.mark.parametrize("slug", list(STYLE_MARKERS))
def test_each_style_has_its_own_sections(slug: str):
    text = improve(EN_PROMPT, slug)
    for marker in STYLE_MARKERS[slug]:
        assert marker in text, (slug, marker)


def test_image_prompt_has_no_chat_role_and_concise_is_the_shortest():
    assert not improve(EN_PROMPT, "image").startswith("You are")
    assert "##" not in improve(EN_PROMPT, "image")
    lengths = {style.slug: len(improve(EN_PROMPT, style.slug)) for style in STYLES}
    assert min(lengths, key=lengths.get) == "concise"


def test_role_follows_the_topic():
    assert improve("fix this Python function that crashes on empty lists").startswith(
        "You are an experienced software engineer."
    )
    assert improve("fix this Python function", "technical").startswith("You are a senior software engineer")
    assert improve("напиши письмо арендодателю").startswith("Ты — опытный специалист по деловой переписке.")


# ---------------------------------------------------------------- missing details


def test_a_vague_prompt_gets_placeholders_and_clarifying_questions():
    text = improve(EN_PROMPT)
    assert "- Audience: [who will read or use it]" in text
    assert "- Length: [e.g. up to 200 words]" in text
    assert "## Before you answer" in text
    for question in ("Who is the audience?", "How long should the result be?", "What tone should it have?"):
        assert question in text


def test_details_the_prompt_already_gives_are_not_asked_again():
    prompt = "Write a friendly post of 100 words for beginners as a bulleted list, so that they try our app"
    text = improve(prompt)
    assert "Who is the audience?" not in text and "Audience:" not in text
    assert "How long" not in text and "Length:" not in text
    assert "Tone:" not in text and "What form" not in text
    assert "## Before you answer" not in text  # nothing left to ask


def test_russian_details_are_recognised_too():
    text = improve("Напиши пост для Telegram-канала о кофемашине, тон дружелюбный, не более 80 слов", "marketing")
    assert "Площадка:" not in text and "Где будет опубликован текст?" not in text
    assert "Какой нужен тон?" not in text
    assert "Кто целевая аудитория?" in text


def test_image_lines_drop_what_the_prompt_already_says():
    text = improve("a watercolour fox at sunset, 16:9", "image")
    assert "Aspect ratio:" not in text and "Style:" not in text and "Lighting:" not in text
    assert "Camera and lens:" not in text  # not a photograph
    assert "Composition:" in text and "Negative prompt:" in text
    assert "Camera and lens:" in improve("a photo of a fox at sunset", "image")


def test_a_plan_for_oneself_does_not_ask_who_will_follow_it():
    mine = improve("help me prepare for the IELTS exam in 6 weeks, I'm at band 5.5 and need 7.0", "structured")
    assert "Who will follow the plan" not in mine and "Deadline and resources" not in mine
    assert "## Before you answer" not in mine
    theirs = improve("составить план запуска интернет-магазина", "structured")
    assert "- Кто будет выполнять план: [" in theirs and "- Сроки и ресурсы: [" in theirs
    assert "2. Кто будет выполнять план: вы сами, команда, новичок?" in theirs


def test_technical_asks_for_versions_only_when_they_are_missing():
    vague = improve("write a function that deduplicates files", "technical")
    assert "- Language, framework and versions: [" in vague and "- Versions:" not in vague
    assert "Which language, framework and versions are used?" in vague
    named = improve("write a python function that deduplicates files", "technical")
    assert "- Language, framework" not in named and "- Versions: [" in named
    assert "Which versions are used?" in named
    pinned = improve("write a Python 3.12 function that takes a list of paths and returns duplicates", "technical")
    assert "- Language, framework" not in pinned and "- Versions:" not in pinned
    assert "## Inputs and outputs" not in pinned and "## Before you answer" not in pinned


# ---------------------------------------------------------------- iteration


def test_iteration_builds_on_the_previous_version_and_records_the_feedback():
    first = improve(EN_PROMPT, "marketing")
    second = improve(EN_PROMPT, "marketing", previous=first, feedback="add an example")
    assert second.startswith(first.rstrip())
    assert second.count(EN_PROMPT) == 1
    assert "## Requested changes" in second
    assert second.rstrip().endswith("1. add an example")

    third = improve(EN_PROMPT, "marketing", previous=second, feedback="make it shorter")
    assert third.startswith(second)
    assert third.count("## Requested changes") == 1
    assert third.rstrip().endswith("1. add an example\n2. make it shorter")


@given(
    prompt=st.text(min_size=1, max_size=200),
    previous=st.text(min_size=1, max_size=300),
    feedback=st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=80),
    style=st.sampled_from(STYLES),
)
def test_any_iteration_keeps_the_original_and_the_feedback(prompt: str, previous: str, feedback: str, style: Style):
    request = ImprovementRequest(prompt=prompt, style=style, previous=previous, feedback=feedback)
    text = OfflineImprover().improve(request).text
    assert prompt in text
    if previous.strip():
        assert text.startswith(previous.rstrip())
    if feedback.strip():
        assert feedback.strip() in text


def test_iteration_in_russian_uses_russian_headings():
    first = improve(RU_PROMPT)
    second = improve(RU_PROMPT, previous=first, feedback="короче и для новичков")
    assert "## Правки" in second and "1. короче и для новичков" in second
    assert "Requested changes" not in second


def test_iteration_on_a_labelled_prompt_keeps_the_labelled_form():
    first = improve("a cat on a windowsill", "image")
    second = improve("a cat on a windowsill", "image", previous=first, feedback="in watercolour")
    assert "\n\nRequested changes:\n" in second and "##" not in second
    assert second.rstrip().endswith("1. in watercolour")


def test_iteration_restores_the_original_when_the_previous_version_lost_it():
    previous = "You are a barista.\n\n## Task\nWrite a post about the machine."
    text = improve(EN_PROMPT, previous=previous, feedback="shorter")
    assert text.startswith(previous)
    assert f'## Original request (for reference)\n"""\n{EN_PROMPT}\n"""' in text
    assert text.rstrip().endswith("## Requested changes\n" + CHANGES_INTRO + "\n1. shorter")

    plain = improve(EN_PROMPT, previous="A rewritten prompt from a model.", feedback="shorter")
    assert f'Original request (for reference):\n"""\n{EN_PROMPT}\n"""' in plain
    assert "\nRequested changes:\n" in plain and "##" not in plain


def test_iteration_without_feedback_keeps_the_previous_version():
    first = improve(EN_PROMPT)
    assert improve(EN_PROMPT, previous=first, feedback=None) == first.rstrip()


def test_multiline_feedback_stays_one_item():
    first = improve(EN_PROMPT, "concise")
    text = improve(EN_PROMPT, "concise", previous=first, feedback="shorter\nand for kids")
    assert text.rstrip().endswith("1. shorter\n   and for kids")


# ---------------------------------------------------------------- streaming


@pytest.mark.parametrize("slug", ["general", "concise", "image"])
def test_stream_yields_several_chunks_then_the_improvement(slug: str):
    request = ImprovementRequest(prompt=RU_PROMPT, style=_style(slug))
    items = list(OfflineImprover().stream(request))
    *deltas, final = items
    assert isinstance(final, Improvement)
    assert len(deltas) > 3 and all(isinstance(delta, str) and delta for delta in deltas)
    assert "".join(deltas) == final.text
    assert final == OfflineImprover().improve(request)
