"""Which language a prompt is written in, judged from its prose and not from the code it quotes.

A Russian question about a failing SQL query, a stack trace or a URL is mostly Latin letters, yet
the person asks in Russian. So the language is decided by the prose words only: everything that
reads as machine text is set aside first —

- fenced code blocks (``` or ~~~) and `inline code`;
- lines without Cyrillic letters that look like code, SQL, a stack trace or a log line;
- an SQL statement inside a sentence (from ``SELECT ... FROM``, ``UPDATE ... SET`` and the like up
  to the next Cyrillic letter);
- URLs, e-mail addresses, file paths, numbers, identifiers (snake_case, camelCase, dotted.names)
  and ALL-CAPS words (acronyms, SQL keywords): a prose word is letters of one script only.

Words in quotation marks («...», "...", “...”) are material the prompt talks about, not the
language it talks in, so they count only when there is no prose outside quotes. The language
with more prose words wins (a tie goes to the one with more letters in those words, then to
English). A prompt with no prose words at all falls back to counting letters (``letter_language``):
Russian when Cyrillic characters outnumber Latin letters in the whole text, else English.
"""

from __future__ import annotations

import re

__all__ = ["letter_language", "prose_language"]


def letter_language(text: str) -> str:
    """'ru' when Cyrillic letters outnumber Latin ones, else 'en'."""
    cyrillic = latin = 0
    for ch in text:
        if "\u0400" <= ch <= "\u04ff":
            cyrillic += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
    return "ru" if cyrillic > latin else "en"

_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")

_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n[\s\S]*?(?:^[ \t]*\1[^\n]*$|\Z)", re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_URL = re.compile(r"\b(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

_SQL_HEAD = (
    r"SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|TRUNCATE|EXPLAIN|FROM|WHERE|JOIN|LEFT|"
    r"RIGHT|INNER|OUTER|FULL|CROSS|GROUP|ORDER|HAVING|LIMIT|OFFSET|UNION|VALUES|SET|AND|OR|ON|"
    r"RETURNING|BEGIN|COMMIT|ROLLBACK|CASE|WHEN|THEN|ELSE|END"
)
# A whole line of code, SQL, a stack trace or a log.
_CODE_LINE = re.compile(
    r"^\s*(?:"
    rf"(?:{_SQL_HEAD})\b"  # an SQL clause (upper case)
    r"|(?i:select\b.*\bfrom\b|insert\s+into\b|update\s+\S+\s+set\b|delete\s+from\b"
    r"|(?:left\s+|right\s+|inner\s+|outer\s+)?join\s+\S+\s+on\b|(?:group|order)\s+by\b"
    r"|where\s+\S+\s*(?:=|<|>|!=|\bin\b|\blike\b|\bis\b)|limit\s+\d)"  # lower-case SQL
    r"|Traceback\b|File\s+\".*\",\s+line\s+\d|at\s+[\w$.<>/]+\(|Caused\s+by:|\.\.\.\s+\d+\s+more"
    r"|(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Warning|Cancell?ed|Timeout|Failure|Fault|Exit|"
    r"Interrupt)\b"  # an exception line
    r"|\[?\d{4}-\d{2}-\d{2}[ T]\d|\[?(?:ERROR|WARN|WARNING|INFO|DEBUG|FATAL|CRITICAL|TRACE)\b"  # a log line
    r"|(?:def|class|fn|func|function)\s+\w+\s*[(:<{]|import\s+[\w.]+\s*;?\s*$|from\s+[\w.]+\s+import\b"
    r"|#include\b|@\w+(?:\(|\s*$)|\$\s|>>>\s|[}\])]"  # code openings, a prompt, a closing bracket
    r")"
)
# Marks of code anywhere in a line.
_CODE_MARKS = re.compile(
    r".*(?:[;{(\\]|\)\s*[:;{])\s*$"  # a line ending like code
    r"|.*(?:==|!=|=>|->|::|:=|\+=|&&|\|\||\w\(.*\)|\s=\s)"  # operators, calls, assignments
)
# An SQL statement inside a sentence: from its head to the next Cyrillic letter outside '...'.
_INLINE_SQL = re.compile(
    r"(?i:\bselect\b[^\u0400-\u04ff]*?\bfrom\b|\binsert\s+into\b|\bupdate\s+\S+\s+set\b|\bdelete\s+from\b"
    r"|\b(?:create|alter|drop|truncate)\s+(?:table|index|view|schema|database)\b)"
    r"(?:'[^'\n]*'|[^\u0400-\u04ff'])*"
)
_QUOTED = re.compile(r"«[^»]*»|“[^”]*”|„[^“”]*[“”]|\"[^\"\n]*\"")
_PROSE_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_EDGE = "\"'«»“”„‘’()[]{}<>.,;:!?…—–-*~"  # not _: _private and name_ are identifiers


def _script(word: str) -> str | None:
    """'ru' or 'en' for a prose word: letters of one script, not an identifier or an acronym."""
    if not _PROSE_WORD.fullmatch(word):
        return None
    if len(word) > 1 and word.isupper():
        return None  # SQL, API, SELECT, СРОЧНО
    if re.search(r"[a-zа-яё][A-ZА-ЯЁ]", word):
        return None  # camelCase
    letters = [ch for ch in word if ch not in "-'’"]
    if not all(ch.isalpha() for ch in letters):
        return None  # ½, ², marks
    if all(_CYRILLIC_LETTER.match(ch) for ch in letters):
        return "ru"
    if all(ch.isascii() for ch in letters):
        return "en"
    return None


def _counts(text: str) -> tuple[int, int, int, int]:
    """Russian words, English words, and the letters in each."""
    ru = en = ru_letters = en_letters = 0
    for token in text.split():
        word = token.strip(_EDGE)
        script = _script(word) if word else None
        if script == "ru":
            ru, ru_letters = ru + 1, ru_letters + len(word)
        elif script == "en":
            en, en_letters = en + 1, en_letters + len(word)
    return ru, en, ru_letters, en_letters


def _is_code_line(line: str) -> bool:
    """A line of code, SQL, a trace or a log. A line with Cyrillic letters is never dropped whole:
    the SQL and identifiers in it are taken out word by word, and its Russian words count."""
    if _CYRILLIC_LETTER.search(line):
        return False
    return bool(_CODE_LINE.match(line) or _CODE_MARKS.match(line))


def _prose(text: str) -> str:
    """The text without code, SQL, traces, logs, URLs and e-mail addresses."""
    text = _FENCE.sub("\n", text)
    text = _INLINE_CODE.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    lines = [line for line in text.splitlines() if not _is_code_line(line)]
    return "\n".join(_INLINE_SQL.sub(" ", line) for line in lines)


def prose_language(text: str) -> str:
    """'ru' or 'en': the language of the prose words in ``text`` (see the module docstring)."""
    prose = _prose(text)
    outside = _QUOTED.sub(" ", prose)
    for part in (outside, prose):
        ru, en, ru_letters, en_letters = _counts(part)
        if ru or en:
            if ru != en:
                return "ru" if ru > en else "en"
            return "ru" if ru_letters > en_letters else "en"
    return letter_language(text)  # the old rule
