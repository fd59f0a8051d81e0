"""The offline improver's language comes from the prose, not from the code, SQL or URLs quoted in it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.offline import OfflineImprover
from promptcore.domain.catalogue import STYLES, style_by_slug
from promptcore.domain.language import letter_language, prose_language
from promptcore.domain.prompts import ImprovementRequest, Style

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z]")

SQL_INLINE = ("SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id "
              "WHERE o.created_at > now() - interval '30 days'")
SQL_BLOCK = ("SELECT o.id, o.total, c.email\nFROM orders o\nJOIN customers c ON c.id = o.customer_id\n"
             "WHERE o.created_at > now() - interval '30 days'\nORDER BY o.total DESC\nLIMIT 100;")
TRACEBACK = (
    'Traceback (most recent call last):\n  File "/app/main.py", line 12, in <module>\n'
    "    from app.server import create_app\n"
    '  File "/app/app/server.py", line 3, in <module>\n    import psycopg2\n'
    "ModuleNotFoundError: No module named 'psycopg2'"
)
JAVA_TRACE = (
    "java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"name\" is null\n"
    "    at com.acme.shop.OrderService.process(OrderService.java:42)\n"
    "    at com.acme.shop.Main.main(Main.java:7)"
)
CODE = "def load(path):\n    with open(path) as handle:\n        return json.load(handle)"
URL = "https://github.com/acme/shop/blob/main/src/orders/service.py?tab=readme#L10"

RU_SQL = f"почему падает {SQL_INLINE} с таймаутом 30s"
RU_AROUND_SQL = f"Помоги ускорить запрос, он выполняется больше минуты:\n{SQL_BLOCK}\nиндекс по created_at есть"
RU_TRACE = f"Почему приложение падает при старте?\n{TRACEBACK}"
RU_URL_SNIPPET = (f"посмотри {URL} и объясни, почему userService.getById(userId) возвращает null, "
                  "когда cacheEnabled=false и retry_count > 3")
RU_FENCED = f"Что не так с этой функцией?\n```python\n{CODE}\n```\nОна падает на пустом файле."


# ---------------------------------------------------------------- examples


@pytest.mark.parametrize("prompt", [
    RU_SQL,
    RU_AROUND_SQL,
    RU_TRACE,
    RU_URL_SNIPPET,
    RU_FENCED,
    f"объясни `{SQL_INLINE}` по шагам",
    "почему падает select * from orders where id = 1 с таймаутом 30s",
    f"разбери ошибку\n{JAVA_TRACE}",
    "напиши письмо на support@acme-shop.example.com про файл /var/log/nginx/error.log",
    "Переведи фразу \"good morning, my dear friend, how are you today\" на немецкий",
], ids=["sql-inline", "around-sql", "traceback", "url-and-identifiers", "fence", "inline-code",
        "lower-case-sql", "java-trace", "email-and-path", "quoted-english"])
def test_russian_prose_around_code_is_russian(prompt: str):
    assert prose_language(prompt) == "ru"


@pytest.mark.parametrize("prompt", [
    "Translate the word «привет» into French and explain its register",
    'What does "спасибо" mean and when is it rude?',
    "Explain this query:\n```sql\n-- выбрать все заказы клиента\nSELECT * FROM заказы WHERE клиент = 'Иванов'\n```",
    "why does SELECT * FROM users WHERE name = 'Пётр' return nothing",
    "write a post about our new coffee machine",
    f"Why does my app crash?\n{TRACEBACK}",
], ids=["quoted-word", "straight-quotes", "russian-in-fence", "russian-literal", "plain", "traceback"])
def test_english_prose_stays_english(prompt: str):
    assert prose_language(prompt) == "en"


def test_truly_mixed_prose_goes_to_the_language_of_most_words():
    assert prose_language("Напиши пост про кофе. Use simple words and keep it short for the blog") == "en"
    assert prose_language("Write a post about coffee: простыми словами, коротко, для блога кофейни") == "ru"


@pytest.mark.parametrize("prompt", ["12345", "```sql\nSELECT 1\n```", URL, SQL_BLOCK, "{{name}}", "→ ½ ²", "ж1",
                                    "```python\n# комментарий\nprint('привет')\n```"])
def test_no_prose_keeps_the_old_rule(prompt: str):
    """Without prose words: Russian only when Cyrillic outnumbers Latin letters, as before."""
    assert prose_language(prompt) == letter_language(prompt)


# ---------------------------------------------------------------- properties

RU_WORDS = st.lists(st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюя", min_size=1, max_size=10),
                    min_size=1, max_size=8)
# Random English words, never an SQL or code keyword (those legitimately start a code line).
_KEYWORDS = {"select", "from", "where", "insert", "update", "delete", "join", "order", "group", "limit",
             "import", "def", "class", "fn", "func", "function", "at", "create", "alter", "drop", "truncate"}
EN_WORDS = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)
                    .filter(lambda w: w not in _KEYWORDS), min_size=1, max_size=8)

IDENTIFIERS = (st.from_regex(r"[a-z]{1,8}(_[a-z0-9]{1,8}){1,3}", fullmatch=True)  # snake_case
               | st.from_regex(r"[a-z]{1,8}([A-Z][a-z0-9]{1,6}){1,3}", fullmatch=True)  # camelCase
               | st.from_regex(r"[a-z]{1,8}(\.[a-z_]{1,8}){1,3}(\(\))?", fullmatch=True))  # dotted.names
NUMBERS = st.integers(min_value=0, max_value=10**6).map(str) | st.sampled_from(["30s", "5xx", "3.12", "v2", "100ms"])
URLS = st.from_regex(r"https://[a-z]{1,10}\.(com|io|ru)(/[a-zA-Z0-9_]{1,10}){0,4}", fullmatch=True)
EMAILS = st.from_regex(r"[a-z]{1,8}\.[a-z]{1,8}@[a-z]{1,8}\.(com|org)", fullmatch=True)
PATHS = st.from_regex(r"(/[a-z_]{1,8}){2,4}\.(py|log|sql|ts)", fullmatch=True)
INLINE_CODE = st.from_regex(r"`[a-zA-Z_ ().=]{1,30}`", fullmatch=True)
WORD_NOISE = IDENTIFIERS | NUMBERS | URLS | EMAILS | PATHS | INLINE_CODE | st.sampled_from([SQL_INLINE])
LINE_NOISE = st.sampled_from([SQL_BLOCK, TRACEBACK, JAVA_TRACE, f"```python\n{CODE}\n```", CODE,
                              "2024-05-01 12:00:03 ERROR [main] o.a.c.Pool - Connection refused: connect"])
# Code that carries Russian text of its own (comments, literals): it must not make English prose Russian.
CYRILLIC_INLINE = st.sampled_from(["`print('привет, мир')`", "SELECT * FROM users WHERE name = 'Пётр Иванович'"])
CYRILLIC_BLOCK = st.sampled_from(["```sql\n-- выбрать все заказы за месяц\nSELECT * FROM заказы\n```"])


def _with_noise(words: list[str], noise: list[tuple[int, str, bool]]) -> str:
    """``words`` as a sentence with each noise item put before word ``index``, inline or on lines of its own."""
    parts = list(words)
    for index, item, own_line in sorted(noise, key=lambda n: n[0], reverse=True):
        position = index % (len(parts) + 1)
        parts.insert(position, f"\n{item}\n" if own_line else item)
    return " ".join(parts)


def _noise(inline: st.SearchStrategy[str], blocks: st.SearchStrategy[str]) -> st.SearchStrategy:
    """Up to six items: word-sized ones inline or on their own line, blocks always on their own lines."""
    item = (st.tuples(st.integers(0, 20), inline, st.booleans())
            | st.tuples(st.integers(0, 20), blocks, st.just(True)))
    return st.lists(item, max_size=6)


@settings(max_examples=300)
@given(words=RU_WORDS, noise=_noise(WORD_NOISE, LINE_NOISE))
def test_code_sql_urls_and_identifiers_never_make_russian_english(words: list[str], noise):
    assert prose_language(" ".join(words)) == "ru"
    assert prose_language(_with_noise(words, noise)) == "ru"


@settings(max_examples=300)
@given(words=EN_WORDS, noise=_noise(WORD_NOISE | CYRILLIC_INLINE, LINE_NOISE | CYRILLIC_BLOCK))
def test_code_sql_urls_and_identifiers_never_make_english_russian(words: list[str], noise):
    assert prose_language(" ".join(words)) == "en"
    assert prose_language(_with_noise(words, noise)) == "en"


@given(text=st.text(alphabet=st.characters(categories=("N", "P", "S", "Z")), max_size=50))
def test_without_letters_the_old_rule_decides(text: str):
    assert prose_language(text) == letter_language(text)
    if not CYRILLIC.search(text):
        assert prose_language(text) == "en"


# ---------------------------------------------------------------- through the whole improver


def _style(slug: str) -> Style:
    style = style_by_slug(slug)
    assert style is not None
    return style


@pytest.mark.parametrize("prompt", [RU_SQL, RU_AROUND_SQL, RU_TRACE, RU_URL_SNIPPET, RU_FENCED],
                         ids=["sql-inline", "around-sql", "traceback", "url-and-identifiers", "fence"])
@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.slug)
def test_a_russian_request_full_of_code_gets_a_russian_prompt(prompt: str, style: Style):
    text = OfflineImprover().improve(ImprovementRequest(prompt=prompt, style=style)).text
    assert prompt in text  # the original, verbatim and in one piece
    rest = text.replace(prompt, "")
    assert len(CYRILLIC.findall(rest)) > 5 * len(LATIN.findall(rest)), rest
    for english in ("Task", "Audience", "Output format", "Negative prompt", "Before you answer"):
        assert english not in rest


def test_the_russian_sql_request_reads_as_a_russian_engineering_prompt():
    text = OfflineImprover().improve(ImprovementRequest(prompt=RU_SQL, style=_style("technical"))).text
    assert text.startswith("Ты")
    assert "## " in text and '"""\n' + RU_SQL + '\n"""' in text


def test_english_with_a_quoted_russian_word_gets_an_english_prompt():
    prompt = "Translate the word «привет» into French and explain its register"
    text = OfflineImprover().improve(ImprovementRequest(prompt=prompt, style=_style("general"))).text
    assert prompt in text and not CYRILLIC.search(text.replace(prompt, ""))
