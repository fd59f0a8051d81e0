"""The page catalogues are complete: every string the templates and page code mark for
translation is in the ru and en catalogues, every Russian entry is translated, placeholders
match, and the committed .mo files say the same as their .po sources (what the build's
``pybabel compile`` writes). The app only reads them: starting it writes nothing into its package."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

SRC = Path(__file__).resolve().parents[2] / "src"
WEB = SRC / "entrypoints" / "web"
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


def _compile_to(directory: Path) -> Path:
    """The build's step (`pybabel compile -d ...`) run on a copy of the .po sources."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        target = directory / po.relative_to(TRANSLATIONS)
        target.parent.mkdir(parents=True)
        shutil.copy2(po, target)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-d", str(directory)],
                   check=True, capture_output=True)
    return directory


def _messages(mo: Path) -> dict:
    with mo.open("rb") as fh:
        catalog = dict(gettext.GNUTranslations(fh)._catalog)  # type: ignore[attr-defined]
    # The header names the Babel that compiled it; everything else in it comes from the .po.
    catalog[""] = re.sub(r"(?m)^Generated-By: .*\n?", "", catalog.get("", ""))
    return catalog


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    return _compile_to(tmp_path_factory.mktemp("translations"))


def test_every_catalogue_is_committed_compiled():
    sources = sorted(p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    assert sources == sorted(LANGUAGES)
    missing = [lang for lang in sources if not (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").is_file()]
    assert missing == [], "messages.mo is committed beside its source: run `make translations`"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(language, compiled):
    mo = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    want = _messages(compiled / language / "LC_MESSAGES" / "messages.mo")
    assert _messages(mo) == want, "messages.mo is stale: run `make translations` and commit it"
    assert len(want) > 200


# Writes into src/ seen while the app starts (PEP 578 audit events; the hook cannot be removed,
# so it is inert unless a test sets _WATCHED).
_WATCHED: list[Path] = []
_WRITES: list[tuple[str, str]] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATH_EVENTS = {"os.rename": 2, "os.remove": 1, "os.rmdir": 1, "os.mkdir": 1, "os.chmod": 1,
                "os.chown": 1, "os.utime": 1, "os.truncate": 1, "os.link": 2, "os.symlink": 2,
                "shutil.copyfile": 2, "shutil.move": 2}


def _watch(event: str, args: tuple) -> None:
    if not _WATCHED:
        return
    if event == "open":
        path, mode, flags = args
        if not ((isinstance(mode, str) and set(mode) & set("wax+")) or (flags or 0) & _WRITE_FLAGS):
            return
        paths = [path]
    elif event in _PATH_EVENTS:
        paths = list(args[:_PATH_EVENTS[event]])
    else:
        return
    for path in paths:
        if isinstance(path, (str, bytes, os.PathLike)):
            resolved = Path(os.fsdecode(path)).resolve()
            if "__pycache__" not in resolved.parts and any(resolved.is_relative_to(w) for w in _WATCHED):
                _WRITES.append((event, str(resolved)))


sys.addaudithook(_watch)


def _snapshot(directory: Path) -> dict:
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_the_app_writes_nothing_into_its_package_at_start(tmp_path, monkeypatch):
    """The catalogues are built, not written at run time: creating the app and serving a page
    in Russian reads the .mo files as they are, even where each .po is newer than its .mo."""
    from entrypoints.web import i18n
    from tests.conftest import make_settings

    stale = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, stale)
    for po in stale.glob("*/LC_MESSAGES/messages.po"):
        os.utime(po.with_suffix(".mo"), ns=(0, 0))  # older than its .po: "stale" by mtime
    monkeypatch.setattr(i18n, "TRANSLATIONS", stale)
    before, package_before = _snapshot(stale), _snapshot(TRANSLATIONS)

    _WATCHED[:] = [SRC.resolve(), stale.resolve()]
    try:
        from entrypoints.app import create_app

        app = create_app(settings=make_settings(tmp_path / "var"))
        page = app.test_client().get("/login", headers={"Accept-Language": "ru"})
    finally:
        _WATCHED.clear()
    writes, _WRITES[:] = list(_WRITES), []

    assert writes == []
    assert _snapshot(stale) == before and _snapshot(TRANSLATIONS) == package_before
    assert page.status_code == 200 and "Войти" in page.get_data(as_text=True)
