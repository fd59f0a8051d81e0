"""The page catalogues are complete: every string the templates and page code mark for
translation is in the ru and en catalogues, every Russian entry is translated, placeholders
match, and the compiled .mo files say the same as their .po sources."""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "src" / "entrypoints" / "web"
TRANSLATIONS = WEB / "translations"
LANGUAGES = ("ru", "en")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=language)


def _marked_strings() -> set[str]:
    keywords = {**DEFAULT_KEYWORDS, "N_": None, "_l": None, "lazy_gettext": None}
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(WEB), method_map=method_map, keywords=keywords):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                found.add(text)
    return found


def test_the_pages_mark_strings_for_translation():
    marked = _marked_strings()
    assert len(marked) > 200
    assert "Generate" in marked and "Wrong e-mail or password." in marked


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_marked_string_is_in_the_catalogue(language):
    catalog = _catalog(language)
    missing = sorted(_marked_strings() - {m.id for m in catalog if m.id})
    assert missing == [], f"not in the {language} catalogue (run `make translations`): {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated_with_the_same_placeholders(language):
    problems = []
    for message in _catalog(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        for text in strings:
            if not text or not text.strip():
                problems.append(f"untranslated: {ids[0]!r}")
            elif set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(ids[0])):
                problems.append(f"placeholders differ: {ids[0]!r} -> {text!r}")
    assert problems == []


def test_russian_is_really_russian():
    catalog = _catalog("ru")
    cyrillic = [m for m in catalog if m.id and re.search("[а-яё]", str(m.string), re.IGNORECASE)]
    assert len(cyrillic) >= 0.9 * len([m for m in catalog if m.id])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(language):
    mo = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    assert mo.exists(), "messages.mo is committed beside its source: run `make translations`"
    expected = io.BytesIO()
    write_mo(expected, _catalog(language))
    expected.seek(0)
    want = gettext.GNUTranslations(expected)._catalog  # type: ignore[attr-defined]
    with mo.open("rb") as fh:
        have = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
    assert {k: v for k, v in have.items() if k} == {k: v for k, v in want.items() if k}, \
        "messages.mo is stale: run `make translations`"
