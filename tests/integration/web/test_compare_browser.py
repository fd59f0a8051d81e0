"""Try it in Chromium against `promptcore serve` with the OpenRouter stand-in (SPEC §15.3): improve a
prompt in the generator, press Try it on the result, run both prompts and watch the two columns
fill while the answers stream (the original prompt's answer on the left, the improved prompt's on
the right), then find the comparison on the history item. The view at desktop width is saved as
artifacts/screenshots/try-it.png; at 360 px in the dark theme the columns stack, nothing is wider
than the screen, and no console or CSP errors happen on the way."""

from __future__ import annotations

import re

import pytest

from tests.integration import openrouter_standin as so

from .conftest import SCREENSHOTS, create_admin, serve
from .test_pages import sign_in
from .test_team_browser import DESKTOP, PHONE, check, watch

pytestmark = pytest.mark.browser

EMAIL = "tryit@example.com"
PROMPT = "Write a short welcome message for new members of our chess club"
IMPROVED = "Role: you are an experienced expert."


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    var = tmp_path_factory.mktemp("try-it")
    url = f"sqlite:///{var}/db.sqlite"
    with so.OpenRouterStandin() as upstream:
        # Answers (not improvements) trickle in word by word, so the stream can be seen in flight.
        upstream.when(lambda body: not so.is_improvement(body), so.sse_success(event_delay=0.08))
        with serve(var, url, PROMPTCORE_LLM="openrouter", OPENROUTER_API_KEY="sk-or-browser",
                   OPENROUTER_BASE_URL=upstream.base_url, PROMPTCORE_LLM_TIMEOUT="20",
                   PROMPTCORE_LLM_MODELS="openai/gpt-4o-mini,anthropic/claude-3.5-haiku") as base:
            create_admin(var, url, EMAIL)
            yield base, upstream


def answer_text(page, side: str) -> str:
    return page.locator(f'#compare-columns [data-answer="{side}"]').inner_text()


def test_try_it_streams_both_answers_side_by_side(browser, site):
    base, upstream = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=base, viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    problems = watch(page)
    sign_in(page, EMAIL)

    # Improve a prompt in the generator; the result carries the Try it button.
    page.locator("#prompt").fill(PROMPT)
    page.locator("#generate").click()
    try_it = page.locator("#result #try-it")
    try_it.wait_for()
    try_it.click()
    page.wait_for_url(re.compile(r"/history/\d+/try$"))
    record_path = re.search(r"/history/\d+", page.url).group(0)
    assert answer_text(page, "a") == answer_text(page, "b") == ""
    assert "1 of 3 used today" in page.locator("#quota-box").inner_text()

    # Run both: the columns fill while the model writes, each with its own answer.
    page.get_by_label("Extra text for both prompts (optional)").fill("The club meets on Thursdays.")
    page.locator("#compare-run").click()
    page.locator("#compare-a.is-streaming").wait_for()
    page.wait_for_function("""() => ['a', 'b'].every(side =>
        document.querySelector(`[data-answer="${side}"]`).textContent.length > 0)
        && document.querySelector('.compare-col.is-streaming')""")
    assert page.locator("#compare-run").is_disabled()  # busy while it streams
    page.locator("#compare-summary").wait_for()  # "done": both columns rendered
    a, b = answer_text(page, "a"), answer_text(page, "b")
    assert a.startswith("Answer to “Write a short welcome message") and IMPROVED in b
    assert IMPROVED not in a and a != b
    assert page.locator("#compare-a [data-side-status]").inner_text() == "answered"
    assert page.locator("#compare-b [data-side-status]").inner_text() == "answered"
    assert "2 of 3 used today" in page.locator("#quota-box").inner_text()
    assert not page.locator("#compare-run").is_disabled()
    box_a = page.locator("#compare-a").bounding_box()
    box_b = page.locator("#compare-b").bounding_box()
    assert box_a["x"] < box_b["x"] and abs(box_a["y"] - box_b["y"]) < 2  # side by side
    page.screenshot(path=str(SCREENSHOTS / "try-it.png"), full_page=True)

    # Both answers were asked for at once: the second request arrived before the first answer ended.
    answers = [r for r in upstream.received if not so.is_improvement(r.json)]
    assert len(answers) == 2 and abs(answers[0].at - answers[1].at) < 1.0

    # The comparison is kept with the record.
    page.goto(record_path)
    kept = page.locator("#compare-kept")
    assert a in kept.locator('[data-answer="a"]').inner_text()
    assert IMPROVED in kept.locator('[data-answer="b"]').inner_text()
    page.screenshot(path=str(SCREENSHOTS / "try-it-history-item.png"), full_page=True)

    # On a phone in the dark theme the columns stack, and nothing is wider than the screen.
    phone = browser.new_context(base_url=base, viewport=PHONE, locale="en-US")
    small = phone.new_page()
    problems += watch(small)
    sign_in(small, EMAIL)
    small.locator(".prefs button[name=theme][value=dark]").click()
    small.wait_for_load_state()
    small.goto(record_path + "/try")
    small.locator("#compare-summary").wait_for()
    top_a = small.locator("#compare-a").bounding_box()
    top_b = small.locator("#compare-b").bounding_box()
    assert top_b["y"] >= top_a["y"] + top_a["height"] - 1  # stacked
    check(small, "en", "dark", "try-it", problems)
    small.screenshot(path=str(SCREENSHOTS / "try-it-phone-dark.png"), full_page=True)
    assert problems == []
    phone.close()
    context.close()
