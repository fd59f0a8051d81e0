"""The offline improver: a deterministic prompt scaffold, no model and no network.

Without a model it cannot rewrite meaning, so it structures: the original is kept verbatim as the
task, in a clearly delimited block; the scaffold around it (role, context, constraints, output
format and the sections the style calls for) is written in the language of the prompt's prose
(Russian or English; code, SQL, URLs and identifiers in it do not count, see ``promptcore.domain.language``);
details the prompt does not give yet (audience, length, format, tone ...) become bracketed
placeholders and clarifying questions. Details the prompt already states are not asked for again,
so a good prompt gets a lighter scaffold. The same request always gives the same text.

Iteration: with ``previous`` the previous version is kept and the feedback is recorded in a
numbered "requested changes" section at the end (one item per round), with the original kept as
a reference if the previous version lost it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from promptcore.domain.compare import NEEDS_MODEL, AnswerRequest, ModelAnswer
from promptcore.domain.errors import LlmUnavailable
from promptcore.domain.prompts import Improvement, ImprovementRequest
from promptcore.ports import PromptAnswerer, PromptImprover

__all__ = ["OfflineImprover"]

MODEL_NAME = "offline"

# --------------------------------------------------------------------------------------------
# What the prompt already says. Each detector answers "is this detail stated?" for en and ru.
# --------------------------------------------------------------------------------------------

_FLAGS = re.IGNORECASE | re.UNICODE

_DETECTORS: dict[str, re.Pattern[str]] = {
    "audience": re.compile(
        r"\b(audience|readers?|target group|aimed at|targeted at|for (our |my |the |your )?(beginners|newbies|novices|kids|"
        r"children|students|pupils|developers|programmers|engineers|managers|customers|clients|experts|"
        r"professionals|teenagers|parents|teachers|investors|employees|colleagues|my team|our team|"
        r"seniors|adults|a general audience|non-?technical))\b"
        r"|аудитори|читател|подписчик|\bдля\s+(новичк|начинающ|дет|ребён|ребен|школьник|студент|"
        r"разработчик|программист|клиент|покупател|руководител|менеджер|инвестор|родител|учител|"
        r"специалист|эксперт|сотрудник|коллег|пользовател|подростк|взросл|пенсионер|широк)",
        _FLAGS,
    ),
    "length": re.compile(
        r"\b\d+\s*[-–]?\s*(words?|characters?|chars|sentences?|paragraphs?|pages?|lines?|bullets?|"
        r"points?|items?|tweets?|minutes?|stanzas?|слов\w*|символ\w*|знак\w*|предложени\w*|абзац\w*|"
        r"страниц\w*|строк\w*|строф\w*|пункт\w*|тезис\w*|минут\w*)"
        r"|\b(short|shorter|brief|briefly|concise|one sentence|one paragraph|one word|long-?form|"
        r"in detail|detailed|length|at most|no more than|no longer than)\b"
        r"|коротк|кратк|подробн|развёрнут|развернут|\bдлин|\bобъ[её]м|одним предложением|"
        r"одно предложение|в двух словах|не более|не больше|не длиннее",
        _FLAGS,
    ),
    "format": re.compile(
        r"\b(table|bulleted|bullets?|bullet points|json|csv|yaml|xml|markdown|headings?|numbered|"
        r"step[- ]by[- ]step|outline|faq|checklist|as a list|in a list)\b"
        r"|таблиц|списк|список|json|csv|yaml|markdown|маркдаун|заголов|нумерован|пошагов|по шагам|"
        r"чек-?лист",
        _FLAGS,
    ),
    "tone": re.compile(
        r"\b(tone|formal|informal|friendly|casual|playful|humorous|funny|witty|serious|enthusiastic|"
        r"warm|neutral|sarcastic|ironic|inspiring|emotional|polite|mood|cheerful|sad|dark)\b"
        r"|\bтон(|а|е|ом|у)\b|формальн|дружелюбн|официальн|шутлив|юмор|смешн|весёл|весел|"
        r"серь[её]зн|\bт[её]пл(ый|ая|ое|ые|ом|о)\b|нейтральн|ирони|саркаст|дерзк|вдохновля|эмоциональн|вежлив|"
        r"настроени|грустн|мрачн",
        _FLAGS,
    ),
    "purpose": re.compile(
        r"\b(so that|in order to|purpose|goal|aim|because|for (my|our|a|the) (blog|website|site|"
        r"channel|presentation|course|class|meeting|report|newsletter|shop|store|company|startup))\b"
        r"|чтобы|для того|\bцел[ьи]\b|потому что|\bдля\s+(моего|моей|нашего|нашей|сайта|блога|канала|"
        r"презентаци|курса|урока|встречи|отч[её]та|рассылки|магазина|компании|стартапа)",
        _FLAGS,
    ),
    "stack": re.compile(
        r"\b(python|javascript|typescript|java|kotlin|swift|golang|rust|php|ruby|scala|elixir|sql|"
        r"postgres(ql)?|mysql|sqlite|mongodb|redis|react|vue|angular|svelte|django|flask|fastapi|"
        r"spring|node(\.js)?|express|docker|kubernetes|terraform|ansible|linux|ubuntu|debian|windows|"
        r"macos|ios|android|bash|powershell|excel|pandas|numpy|pytorch|tensorflow)\b"
        r"|(?<!\w)(c\+\+|c#|\.net)(?!\w)",
        _FLAGS,
    ),
    "io": re.compile(
        r"\b(input|output|returns?|takes|accepts|receives|arguments?|parameters?|response|stdin|"
        r"stdout)\b|на вход|на выход|входн|выходн|возвраща|принима|аргумент|параметр",
        _FLAGS,
    ),
    "channel": re.compile(
        r"\b(instagram|telegram|facebook|vk|vkontakte|linkedin|twitter|tiktok|youtube|threads|"
        r"pinterest|e-?mail|newsletter|landing( page)?|website|site|blog|banner|billboard|sms|"
        r"social media|social network)\b"
        r"|инстаграм|телеграм|вконтакте|\bвк\b|фейсбук|ютуб|тикток|рассылк|\bписьм|лендинг|сайт|"
        r"блог|соцсет|баннер|\bсмс\b|канал",
        _FLAGS,
    ),
    "cta": re.compile(
        r"\b(call to action|cta|buy|order|sign up|subscribe|register|book|visit|download|click|"
        r"follow|link)\b|призыв|купи|покупк|закаж|заказ|подпиш|подписать|зарегистр|регистрац|"
        r"запиш|перейд|скача|ссылк",
        _FLAGS,
    ),
    "recipient": re.compile(
        r"\b(dear|recipient|addressed to|to (the|my|our) (director|manager|ceo|head|boss|client|"
        r"customer|partner|landlord|dean|rector|bank|hr|supplier|tenant|teacher|professor|council))\b"
        r"|адресат|уважаем|на имя|в адрес|директор|руководител|начальник|декан|ректор|арендодател|"
        r"поставщик|\bбанк|налогов|клиент|партн[её]р",
        _FLAGS,
    ),
    "deadline": re.compile(
        r"\b(deadline|budget|by (monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|"
        r"the end)|within \d+|in \d+ (days?|weeks?|months?)|\d+ (days?|weeks?|months?|hours?))\b"
        r"|срок|дедлайн|бюджет|\bк (понедельник|вторник|сред|четверг|пятниц|суббот|воскресень|концу)|"
        r"\bза \d+ (дн|недел|месяц|час)|\d+ (дн|недел|месяц|час)",
        _FLAGS,
    ),
    "citation": re.compile(
        r"\b(apa|mla|chicago|harvard|ieee|vancouver|turabian|citation style)\b|гост|"
        r"оформлени[еяю] ссылок|оформлени[еяю] литературы",
        _FLAGS,
    ),
    "art_style": re.compile(
        r"\b(photo\w*|illustration|watercolou?r|oil painting|painting|drawing|sketch|anime|manga|"
        r"cartoon|3d|render\w*|pixel art|vector|flat design|cinematic|realistic|photorealistic|comic|"
        r"low poly|isometric|digital art|concept art|pencil|ink)\b"
        r"|фото\w*|иллюстрац|акварел|живопис|рисун|рисова|скетч|эскиз|аниме|манга|мульт|\b3d\b|"
        r"рендер|пиксел|вектор|кинематограф|реалистичн|комикс|изометр|карандаш|тушь",
        _FLAGS,
    ),
    "composition": re.compile(
        r"\b(close-?up|wide shot|medium shot|full[- ]body|from above|from below|low angle|high angle|"
        r"bird'?s[- ]eye|eye level|centered|rule of thirds|foreground|background)\b"
        r"|крупн\w* план|общи\w* план|средн\w* план|сверху|снизу|ракурс|в центре|на фоне|\bфон\w*|"
        r"передн\w* план",
        _FLAGS,
    ),
    "lighting": re.compile(
        r"\b(light\w*|sunset|sunrise|golden hour|neon|shadows?|backlit|night|noon|dawn|dusk)\b"
        r"|свет|освещ|закат|рассвет|золот\w* час|неон|\bтен[ьи]\b|\bноч|сумер|полдень",
        _FLAGS,
    ),
    "palette": re.compile(
        r"\b(colou?rs?|colou?rful|palette|monochrome|black and white|pastel|red|blue|green|yellow|"
        r"orange|purple|pink|golden|teal|turquoise)\b"
        r"|цвет|палитр|оттен|монохром|ч[её]рно-бел|пастел|красн|\bсин(ий|яя|ее|ие|его|ей|им|ими)\b|"
        r"зел[её]н|ж[её]лт|оранжев|фиолетов|розов|золот|бирюз",
        _FLAGS,
    ),
    "camera": re.compile(
        r"\b(\d+\s?mm|lens|bokeh|depth of field|wide-?angle|macro|telephoto|drone|aerial)\b|f/\d"
        r"|\d+\s?мм\b|объектив|боке|глубин\w* резкост|широкоуголь|макро|дрон|с высоты",
        _FLAGS,
    ),
    "aspect": re.compile(
        r"\b\d{1,2}\s*[:x×]\s*\d{1,2}\b|\b(square|landscape orientation|vertical|horizontal|"
        r"widescreen|panoram\w*)\b|квадрат|вертикальн|горизонтальн|альбомн|панорам",
        _FLAGS,
    ),
}


_VERSION = re.compile(r"\b\d+(\.\d+)+\b|\bv\d+\b|\b(latest|newest)\b|последн\w* верси", _FLAGS)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i am|me|my|we|our|us)\b|\b(я|мне|меня|мой|моя|мои|мы|нам|нас|наш\w*)\b", _FLAGS)
_PHOTO = re.compile(r"\bphoto\w*|\bфото\w*|\bcamera\b|\bкамер", _FLAGS)


def _stated(text: str) -> frozenset[str]:
    """The details the prompt already gives (or that do not apply to it)."""
    stated = {key for key, pattern in _DETECTORS.items() if pattern.search(text)}
    # A named stack without versions still needs them; without a stack the stack line asks for both.
    if "stack" not in stated or _VERSION.search(text):
        stated.add("versions")
    # Who carries out a plan: a named audience, or the writer themselves ("help me ...").
    if "audience" in stated or _FIRST_PERSON.search(text):
        stated.add("executor")
    # Camera and lens only matter for photographic images.
    if "art_style" in stated and not _PHOTO.search(text):
        stated.add("camera")
    return frozenset(stated)


# Topic -> role, used where the style itself does not fix the role. First match wins.
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("translation", re.compile(r"\btranslat\w*|\bперевед|\bперевод\w*\s+(текст|на|с)", _FLAGS)),
    (
        "code",
        re.compile(
            r"\b(code|coding|function|script|programming|programmer|bug|debug\w*|api|endpoint|sql|"
            r"regex|compile\w*|refactor\w*|unit tests?|python|javascript|typescript|java|golang|rust|"
            r"php|ruby|html|css|react|django|flask|docker|kubernetes|git|backend|frontend|database)\b"
            r"|(?<!\w)(c\+\+|c#)(?!\w)|\bкод\w*|функци|скрипт|программист|программирова|\bбаг|отлад|"
            r"\bapi\b|эндпоинт|\bsql\b|регулярн\w* выражени|рефактор|юнит-?тест|бэкенд|фронтенд|"
            r"баз\w* данных",
            _FLAGS,
        ),
    ),
    (
        "letter",
        re.compile(
            r"\b(letter|e-?mail|memo|cover letter|complaint|petition)\b|\bписьм|заявлени|"
            r"служебн\w* записк|претензи|жалоб|ходатайств|сопроводительн",
            _FLAGS,
        ),
    ),
    (
        "text",
        re.compile(
            r"\b(post|article|blog|story|essay|poem|text|caption|review|newsletter|description|"
            r"speech|slogan)\b|\bпост(|а|у|ом|е|ы|ов)\b|\bстать(я|ю|и|е|ей)\b|блог|рассказ|\bэсс|"
            r"\bстих|текст|обзор|описани|\bречь|выступлени|слоган",
            _FLAGS,
        ),
    ),
    (
        "analysis",
        re.compile(
            r"\b(analy\w+|data|dataset|report|research|compare|comparison|statistics|metrics|"
            r"forecast|evaluate|assessment|pros and cons)\b|анализ|проанализ|\bданны[ех]|отч[её]т|"
            r"исследова|сравни|статистик|метрик|прогноз|оцени|плюсы и минусы",
            _FLAGS,
        ),
    ),
    (
        "teaching",
        re.compile(
            r"\b(explain|teach|learn|lesson|course|tutorial|homework|exam|how does)\b|объясни|научи|"
            r"обучени|изучи|\bурок|\bкурс|домашн\w* задани|экзамен|как работает",
            _FLAGS,
        ),
    ),
)

_ROLES = {
    "en": {
        "translation": "You are a professional translator who keeps both meaning and style.",
        "code": "You are an experienced software engineer.",
        "letter": "You are an experienced specialist in business correspondence.",
        "text": "You are an experienced author and editor.",
        "analysis": "You are an experienced analyst who backs every conclusion with facts.",
        "teaching": "You are an experienced teacher who explains complex things simply.",
        None: "You are an expert in [subject area of the task].",
    },
    "ru": {
        "translation": "Ты — профессиональный переводчик, который сохраняет и смысл, и стиль.",
        "code": "Ты — опытный разработчик.",
        "letter": "Ты — опытный специалист по деловой переписке.",
        "text": "Ты — опытный автор и редактор.",
        "analysis": "Ты — опытный аналитик, который подкрепляет каждый вывод фактами.",
        "teaching": "Ты — опытный преподаватель, который умеет просто объяснять сложное.",
        None: "Ты — эксперт в области [предметная область задачи].",
    },
}


def _topic(text: str) -> str | None:
    for name, pattern in _TOPICS:
        if pattern.search(text):
            return name
    return None


# Clarifying questions, one per missing detail.
_QUESTIONS = {
    "en": {
        "purpose": "What is the result for, and where will it be used?",
        "audience": "Who is the audience?",
        "length": "How long should the result be?",
        "format": "What form should the answer take: paragraphs, a list, a table?",
        "tone": "What tone should it have?",
        "stack": "Which language, framework and versions are used?",
        "versions": "Which versions are used?",
        "io": "What goes in, and what exactly should come out?",
        "recipient": "Who is the document addressed to, and what is your relationship?",
        "deadline": "What is the deadline, and what resources are available?",
        "executor": "Who will follow the plan: you alone, a team, a beginner?",
        "discipline": "Which discipline is it for, and what kind of work is it?",
        "citation": "Which citation style is required?",
        "channel": "Where will the text be published?",
        "cta": "What should the reader do after reading?",
    },
    "ru": {
        "purpose": "Для чего нужен результат и где он будет использоваться?",
        "audience": "Кто целевая аудитория?",
        "length": "Какой нужен объём?",
        "format": "В каком виде нужен ответ: связный текст, список, таблица?",
        "tone": "Какой нужен тон?",
        "stack": "Какой язык, фреймворк и какие версии используются?",
        "versions": "Какие версии используются?",
        "io": "Что подаётся на вход и что именно должно получиться на выходе?",
        "recipient": "Кому адресован документ и какие у вас отношения с адресатом?",
        "deadline": "Какие сроки и какие ресурсы есть?",
        "executor": "Кто будет выполнять план: вы сами, команда, новичок?",
        "discipline": "Для какой дисциплины и какого типа работы это нужно?",
        "citation": "Как нужно оформлять ссылки на источники?",
        "channel": "Где будет опубликован текст?",
        "cta": "Что читатель должен сделать после прочтения?",
    },
}

_BEFORE = {
    "en": (
        "Before you answer",
        (
            "If the bracketed details above are not filled in, ask me these questions first "
            "instead of guessing:"
        ),
    ),
    "ru": (
        "Прежде чем отвечать",
        (
            "Если детали в квадратных скобках не заполнены, сначала задай мне эти вопросы, "
            "а не додумывай:"
        ),
    ),
}

_VARIABLES_NOTE = {
    "en": " The variables in double curly braces are placeholders: keep them unchanged.",
    "ru": " Переменные в двойных фигурных скобках — это плейсхолдеры: оставь их без изменений.",
}

_CHANGES = {
    "en": (
        "Requested changes",
        (
            "Apply these changes to the prompt above; where they conflict with it, the changes "
            "take priority:"
        ),
    ),
    "ru": (
        "Правки",
        "Внеси в промпт выше эти правки; если они расходятся с ним, приоритет у правок:",
    ),
}

_REFERENCE = {"en": "Original request (for reference)", "ru": "Исходный запрос (для справки)"}

# --------------------------------------------------------------------------------------------
# Layouts. A line is either always shown (str) or shown only while a detail is missing
# ((detail, str)). "#. " at the start of a line is numbered in order within its section.
# --------------------------------------------------------------------------------------------

_Line = str | tuple[str, str]

_LAYOUTS: dict[str, dict[str, dict]] = {
    "general": {
        "en": {
            "task": ("Task", "Carry out the request below. Keep every name, number and quotation in it exactly as written."),
            "sections": (
                ("Context", (
                    ("purpose", "- Purpose: [what the result is for and where it will be used]"),
                    ("audience", "- Audience: [who will read or use it]"),
                    "- Background: [anything worth knowing about the situation]",
                )),
                ("Constraints", (
                    ("length", "- Length: [e.g. up to 200 words]"),
                    ("tone", "- Tone: [e.g. friendly, neutral, formal]"),
                    "- Do not invent facts, figures or quotations that are not in the request; mark gaps as [to be confirmed].",
                )),
                ("Output format", (
                    ("format", "- Form: [paragraphs, a list, a table ...]"),
                    "- No preamble or closing remarks: start straight with the result.",
                )),
            ),
            "questions": ("purpose", "audience", "length", "format", "tone"),
        },
        "ru": {
            "task": ("Задача", "Выполни запрос ниже. Все имена, числа и цитаты из него сохрани в точности."),
            "sections": (
                ("Контекст", (
                    ("purpose", "- Цель: [для чего нужен результат и где он будет использоваться]"),
                    ("audience", "- Аудитория: [кто будет читать или использовать результат]"),
                    "- Исходные данные: [что важно знать о ситуации]",
                )),
                ("Ограничения", (
                    ("length", "- Объём: [например, до 200 слов]"),
                    ("tone", "- Тон: [например, дружелюбный, нейтральный, официальный]"),
                    "- Не придумывай факты, цифры и цитаты, которых нет в запросе; пробелы помечай как [уточнить].",
                )),
                ("Формат ответа", (
                    ("format", "- Вид: [связный текст, список, таблица ...]"),
                    "- Без вступлений и заключительных комментариев: сразу результат.",
                )),
            ),
            "questions": ("purpose", "audience", "length", "format", "tone"),
        },
    },
    "technical": {
        "en": {
            "role": {
                "code": "You are a senior software engineer who writes correct, maintainable code.",
                None: "You are a senior specialist in [technical field] who gives precise, verifiable answers.",
            },
            "task": ("Task", "Solve the technical task below. Keep every identifier, version, number, path, command and error message in it exactly as written."),
            "sections": (
                ("Environment", (
                    ("stack", "- Language, framework and versions: [e.g. Python 3.12, Django 5.0]"),
                    ("versions", "- Versions: [of the language, framework and libraries involved]"),
                    "- Runtime and OS: [e.g. Linux server, Docker, browser]",
                    "- Allowed dependencies: [standard library only / the listed packages]",
                )),
                ("Inputs and outputs", (
                    ("io", "- Input: [type, format and an example]"),
                    ("io", "- Expected output: [type, format and an example]"),
                )),
                ("Requirements", (
                    "- Edge cases: empty and invalid input, boundary values, large amounts of data, [other cases specific to the task].",
                    "- Error handling: say what is raised, returned or logged in each failure case, with clear messages.",
                    "- Non-functional limits: [performance, security, compatibility, if any]",
                    "- Do not assume APIs, versions or settings that are not stated; name every assumption you make.",
                )),
                ("Output format", (
                    "#. The approach, in 2–4 sentences.",
                    "#. The complete code or configuration in fenced code blocks with a language tag.",
                    "#. How to run it, and tests for the main and the edge cases.",
                )),
            ),
            "questions": ("stack", "versions", "io"),
        },
        "ru": {
            "role": {
                "code": "Ты — ведущий разработчик, который пишет корректный и поддерживаемый код.",
                None: "Ты — ведущий специалист в области [техническая область], который даёт точные и проверяемые ответы.",
            },
            "task": ("Задача", "Реши техническую задачу ниже. Все идентификаторы, версии, числа, пути, команды и тексты ошибок сохрани в точности."),
            "sections": (
                ("Окружение", (
                    ("stack", "- Язык, фреймворк и версии: [например, Python 3.12, Django 5.0]"),
                    ("versions", "- Версии: [языка, фреймворка и используемых библиотек]"),
                    "- Среда выполнения и ОС: [например, Linux-сервер, Docker, браузер]",
                    "- Допустимые зависимости: [только стандартная библиотека / перечисленные пакеты]",
                )),
                ("Входные и выходные данные", (
                    ("io", "- Вход: [тип, формат и пример]"),
                    ("io", "- Ожидаемый результат: [тип, формат и пример]"),
                )),
                ("Требования", (
                    "- Крайние случаи: пустой и некорректный ввод, граничные значения, большие объёмы данных, [другие случаи, характерные для задачи].",
                    "- Обработка ошибок: что выбрасывается, возвращается или пишется в лог при каждом сбое, с понятными сообщениями.",
                    "- Нефункциональные требования: [производительность, безопасность, совместимость, если есть]",
                    "- Не додумывай API, версии и настройки, которых нет в условии; каждое допущение называй явно.",
                )),
                ("Формат ответа", (
                    "#. Подход к решению в 2–4 предложениях.",
                    "#. Полный код или конфигурация в блоках кода с указанием языка.",
                    "#. Как запустить, и тесты для основных и крайних случаев.",
                )),
            ),
            "questions": ("stack", "versions", "io"),
        },
    },
    "creative": {
        "en": {
            "role": "You are an author with a distinctive voice and an eye for detail.",
            "task": ("Task", "Write the piece described below. Keep every name, place and detail in it as given."),
            "sections": (
                ("Creative direction", (
                    "- Genre and form: [story, poem, song, script, post ...]",
                    "- Voice and point of view: [e.g. first person, an ironic narrator]",
                    ("tone", "- Mood: [e.g. warm, melancholic, suspenseful]"),
                    "- Imagery: concrete details the reader can see, hear and feel instead of abstractions; fresh comparisons instead of clichés.",
                )),
                ("Audience", (
                    ("audience", "- Who it is for: [readers, their age, the occasion]"),
                )),
                ("Freedom and limits", (
                    "- Within these limits, plot, structure and word choice are up to you: surprise the reader.",
                    ("length", "- Length: [e.g. about 300 words or 4 stanzas]"),
                    "- Avoid: [topics, words or tropes to leave out]",
                )),
                ("Output format", (
                    "- Only the finished text, with a title if the form suits one; no comments before or after.",
                )),
            ),
            "questions": ("audience", "tone", "length"),
        },
        "ru": {
            "role": "Ты — автор с узнаваемым голосом и вниманием к деталям.",
            "task": ("Задача", "Напиши текст по запросу ниже. Имена, места и детали из него сохрани как есть."),
            "sections": (
                ("Художественные ориентиры", (
                    "- Жанр и форма: [рассказ, стихотворение, песня, сценарий, пост ...]",
                    "- Голос и точка зрения: [например, от первого лица, ироничный рассказчик]",
                    ("tone", "- Настроение: [например, тёплое, меланхоличное, тревожное]"),
                    "- Образность: конкретные детали, которые можно увидеть, услышать и почувствовать, вместо абстракций; свежие сравнения вместо штампов.",
                )),
                ("Аудитория", (
                    ("audience", "- Для кого: [читатели, их возраст, повод]"),
                )),
                ("Свобода и рамки", (
                    "- В этих рамках сюжет, композиция и выбор слов — на твоё усмотрение: удиви читателя.",
                    ("length", "- Объём: [например, около 300 слов или 4 строфы]"),
                    "- Избегай: [темы, слова или приёмы, которых быть не должно]",
                )),
                ("Формат ответа", (
                    "- Только готовый текст, с названием, если оно уместно; без комментариев до и после.",
                )),
            ),
            "questions": ("audience", "tone", "length"),
        },
    },
    "formal": {
        "en": {
            "role": "You are an experienced specialist in official and business correspondence.",
            "task": ("Task", "Prepare the document described below. Keep every name, title, date, number and reference in it exactly as written."),
            "sections": (
                ("Context", (
                    "- Sender: [name, position, organisation]",
                    ("recipient", "- Recipient: [name, position, organisation]"),
                    "- Occasion and relationship: [first contact, a reply to a letter of ..., a complaint, a request ...]",
                )),
                ("Register and tone", (
                    "- Official, polite and neutral; no slang, jokes or emotional wording.",
                    "- Form of address: [e.g. Dear Mr Smith / Dear colleagues]",
                    "- Short, unambiguous sentences; one idea per paragraph.",
                )),
                ("Document structure", (
                    "#. Subject line or title",
                    "#. Greeting",
                    "#. The purpose of the document, in the first paragraph",
                    "#. The main part: facts, requests or proposals",
                    "#. The expected action and the deadline: [date]",
                    "#. Closing formula and signature: [name, position, contact details]",
                )),
                ("Output format", (
                    "- The finished text of the document, ready to send.",
                    ("length", "- Length: [e.g. no more than one page]"),
                )),
            ),
            "questions": ("recipient", "purpose", "length"),
        },
        "ru": {
            "role": "Ты — опытный специалист по официальной и деловой переписке.",
            "task": ("Задача", "Подготовь документ по запросу ниже. Все имена, должности, даты, номера и ссылки сохрани в точности."),
            "sections": (
                ("Контекст", (
                    "- Отправитель: [ФИО, должность, организация]",
                    ("recipient", "- Адресат: [ФИО, должность, организация]"),
                    "- Повод и характер отношений: [первое обращение, ответ на письмо от ..., претензия, просьба ...]",
                )),
                ("Стиль и тон", (
                    "- Официально-деловой, вежливый и нейтральный; без разговорных выражений, шуток и эмоциональных оценок.",
                    "- Обращение: [например, «Уважаемый Иван Петрович!» или «Уважаемые коллеги!»]",
                    "- Короткие однозначные предложения; одна мысль — один абзац.",
                )),
                ("Структура документа", (
                    "#. Тема письма или заголовок документа",
                    "#. Обращение",
                    "#. Цель обращения — в первом абзаце",
                    "#. Основная часть: факты, просьбы или предложения",
                    "#. Ожидаемые действия и срок: [дата]",
                    "#. Заключительная формула вежливости и подпись: [ФИО, должность, контакты]",
                )),
                ("Формат ответа", (
                    "- Готовый текст документа, который можно сразу отправить.",
                    ("length", "- Объём: [например, не больше одной страницы]"),
                )),
            ),
            "questions": ("recipient", "purpose", "length"),
        },
    },
    "structured": {
        "en": {
            "role": "You are a methodical planner who breaks any work down into clear, checkable steps.",
            "task": ("Goal", "Draw up a step-by-step plan for the request below. Keep every name, number and date in it as written."),
            "sections": (
                ("Starting point", (
                    "- What already exists or has been done: [current level, work already done, materials at hand]",
                    ("deadline", "- Deadline and resources: [time, budget, people, tools]"),
                    ("executor", "- Who will follow the plan: [me, a team, a beginner ...]"),
                )),
                ("How to work", (
                    "#. Restate the goal in one sentence and list your assumptions.",
                    "#. Split the work into stages, in the order they must be done.",
                    "#. For each stage give concrete steps, the expected result and the time it takes.",
                    "#. Mark milestones where progress can be checked.",
                    "#. Name the main risks and what to do about each.",
                )),
                ("Output format", (
                    "- Numbered sections with headings, one per stage, with numbered steps inside.",
                    "- A milestone table: milestone | deadline | how to tell it is done.",
                    "- A final checklist with boxes to tick.",
                )),
                ("Check before you answer", (
                    "- [ ] Every requirement of the goal is covered",
                    "- [ ] The steps are in a logical order and each one can be acted on",
                    "- [ ] Every milestone has a date or a time frame",
                )),
            ),
            "questions": ("deadline", "executor"),
        },
        "ru": {
            "role": "Ты — методичный планировщик, который раскладывает любую работу на понятные и проверяемые шаги.",
            "task": ("Цель", "Составь пошаговый план по запросу ниже. Все имена, числа и даты из него сохрани как есть."),
            "sections": (
                ("Исходные условия", (
                    "- Что уже есть или сделано: [текущий уровень, готовые наработки, материалы]",
                    ("deadline", "- Сроки и ресурсы: [время, бюджет, люди, инструменты]"),
                    ("executor", "- Кто будет выполнять план: [я сам, команда, новичок ...]"),
                )),
                ("Как работать", (
                    "#. Сформулируй цель одним предложением и перечисли допущения.",
                    "#. Разбей работу на этапы в том порядке, в котором их нужно выполнять.",
                    "#. Для каждого этапа укажи конкретные шаги, ожидаемый результат и время на выполнение.",
                    "#. Отметь контрольные точки, в которых можно проверить прогресс.",
                    "#. Назови основные риски и что делать с каждым из них.",
                )),
                ("Формат ответа", (
                    "- Нумерованные разделы с заголовками — по одному на этап, внутри нумерованные шаги.",
                    "- Таблица контрольных точек: контрольная точка | срок | как понять, что готово.",
                    "- Итоговый чек-лист с пунктами для отметок.",
                )),
                ("Проверь перед ответом", (
                    "- [ ] Учтены все требования из цели",
                    "- [ ] Шаги идут в логичном порядке, и каждый можно выполнить",
                    "- [ ] У каждой контрольной точки есть срок",
                )),
            ),
            "questions": ("deadline", "executor"),
        },
    },
    "academic": {
        "en": {
            "role": "You are a researcher and lecturer in [discipline] who writes with academic rigour.",
            "task": ("Research question", "Work on the question below. Keep every term, name, date and figure in it as written."),
            "sections": (
                ("Level and scope", (
                    "- Kind of work: [school essay, student paper, thesis, journal article]",
                    "- Scope: [period, region, population or material]",
                )),
                ("Definitions", (
                    "Define the key terms before you use them; where schools of thought define them differently, say so.",
                )),
                ("Methodology", (
                    "- Approach: [literature review, comparative analysis, empirical study ...]",
                    "- Reason step by step: first the evidence and the arguments, then the conclusions.",
                )),
                ("Sources and citations", (
                    "- Rely on peer-reviewed and primary sources; [required sources or databases, if any].",
                    ("citation", "- Citation style: [APA, MLA, Chicago, GOST ...]"),
                    "- Never invent sources, quotations or data: if you are not sure a source exists, say so.",
                )),
                ("Limitations", (
                    "State the limitations of the evidence and of your conclusions, and the questions that remain open.",
                )),
                ("Output format", (
                    "- Sections: introduction, definitions, analysis, conclusions, limitations, references.",
                    ("length", "- Length: [e.g. 1,500 words]"),
                    "- Academic register, without rhetorical flourishes.",
                )),
            ),
            "questions": ("discipline", "citation", "length"),
        },
        "ru": {
            "role": "Ты — исследователь и преподаватель в области [дисциплина]; пишешь строго по академическим нормам.",
            "task": ("Исследовательский вопрос", "Работай с вопросом ниже. Все термины, имена, даты и цифры из него сохрани как есть."),
            "sections": (
                ("Тип работы и рамки", (
                    "- Тип работы: [реферат, курсовая, выпускная работа, научная статья]",
                    "- Рамки исследования: [период, регион, выборка или материал]",
                )),
                ("Определения", (
                    "Дай определения ключевым терминам до того, как их использовать; если в разных научных школах они понимаются по-разному, укажи это.",
                )),
                ("Методология", (
                    "- Подход: [обзор литературы, сравнительный анализ, эмпирическое исследование ...]",
                    "- Рассуждай последовательно: сначала факты и аргументы, затем выводы.",
                )),
                ("Источники и ссылки", (
                    "- Опирайся на рецензируемые и первичные источники; [обязательные источники или базы данных, если есть].",
                    ("citation", "- Оформление ссылок: [ГОСТ, APA, MLA ...]"),
                    "- Не выдумывай источники, цитаты и данные: если не уверен, что источник существует, так и скажи.",
                )),
                ("Ограничения", (
                    "Укажи ограничения имеющихся данных и своих выводов, а также вопросы, которые остаются открытыми.",
                )),
                ("Формат ответа", (
                    "- Разделы: введение, определения, анализ, выводы, ограничения, список литературы.",
                    ("length", "- Объём: [например, 10 000 знаков]"),
                    "- Научный стиль, без риторических украшений.",
                )),
            ),
            "questions": ("discipline", "citation", "length"),
        },
    },
    "marketing": {
        "en": {
            "role": "You are a senior copywriter who writes copy that sells without hype.",
            "task": ("Task", "Write the marketing copy described below. Keep the product name and every fact, figure and price in it exactly as written; add no claims of your own."),
            "sections": (
                ("Target audience", (
                    ("audience", "- Who they are: [age, occupation, interests]"),
                    "- Their need: [the problem or wish the product answers]",
                )),
                ("Offer", (
                    "- Main benefit for the customer: [one sentence]",
                    "- Proof: [real facts, figures, reviews — only the ones you have]",
                )),
                ("Channel and length", (
                    ("channel", "- Channel: [Instagram, Telegram, e-mail, landing page, ad ...]"),
                    ("length", "- Length for that channel: [e.g. a headline up to 40 characters, a post up to 150 words]"),
                )),
                ("Brand tone", (
                    ("tone", "- [e.g. friendly and confident, expert, playful]"),
                    "- No empty superlatives (\"the best\", \"unique\") unless facts back them up.",
                )),
                ("Call to action", (
                    "- One clear call to action, at the end.",
                    ("cta", "- [what the reader should do: buy, sign up, visit, reply] via [link or contact]"),
                )),
                ("Output format", (
                    "- Headline, body, call to action.",
                    "- [2–3 variants for A/B testing, if needed]",
                    "- Hashtags and emoji only if they suit the channel.",
                )),
            ),
            "questions": ("audience", "channel", "cta", "tone"),
        },
        "ru": {
            "role": "Ты — опытный копирайтер, который пишет продающие тексты без лишнего пафоса.",
            "task": ("Задача", "Напиши рекламный текст по запросу ниже. Название продукта, все факты, цифры и цены сохрани в точности; собственных обещаний не добавляй."),
            "sections": (
                ("Целевая аудитория", (
                    ("audience", "- Кто они: [возраст, род занятий, интересы]"),
                    "- Их потребность: [проблема или желание, на которые отвечает продукт]",
                )),
                ("Предложение", (
                    "- Главная выгода для клиента: [одно предложение]",
                    "- Доказательства: [реальные факты, цифры, отзывы — только то, что есть]",
                )),
                ("Площадка и объём", (
                    ("channel", "- Площадка: [Telegram, ВКонтакте, рассылка, лендинг, реклама ...]"),
                    ("length", "- Объём под площадку: [например, заголовок до 40 символов, пост до 150 слов]"),
                )),
                ("Тон бренда", (
                    ("tone", "- [например, дружелюбный и уверенный, экспертный, игривый]"),
                    "- Без пустых превосходных степеней («лучший», «уникальный»), если их нечем подтвердить.",
                )),
                ("Призыв к действию", (
                    "- Один чёткий призыв к действию — в конце текста.",
                    ("cta", "- [что должен сделать читатель: купить, записаться, перейти на сайт, ответить] через [ссылка или контакт]"),
                )),
                ("Формат ответа", (
                    "- Заголовок, основной текст, призыв к действию.",
                    "- [2–3 варианта для A/B-теста, если нужно]",
                    "- Хештеги и эмодзи — только если они уместны на этой площадке.",
                )),
            ),
            "questions": ("audience", "channel", "cta", "tone"),
        },
    },
}

# Concise: one role line, the task, one line of missing essentials, one line on the answer.
_CONCISE = {
    "en": {
        "task": "Task:",
        "missing": (
            ("audience", "Audience: [who it is for]."),
            ("length", "Length: [e.g. up to 100 words]."),
            ("format", "Format: [list, paragraph, table]."),
        ),
        "answer": "Answer briefly, with no preamble and no repetition.",
    },
    "ru": {
        "task": "Задача:",
        "missing": (
            ("audience", "Аудитория: [для кого]."),
            ("length", "Объём: [например, до 100 слов]."),
            ("format", "Формат: [список, абзац, таблица]."),
        ),
        "answer": "Отвечай кратко, без вступлений и повторов.",
    },
}

# Image: labelled lines, ready for an image generator; no chat role.
_IMAGE = {
    "en": {
        "head": "Image prompt for [Midjourney / DALL-E / Stable Diffusion].",
        "subject": "Subject:",
        "lines": (
            ("composition", "Composition: [shot: close-up, medium or wide]; [viewpoint: eye level, from above, low angle]; [placement of the subject, background]"),
            ("art_style", "Style: [photograph, digital illustration, watercolour, 3D render, anime ...]"),
            ("lighting", "Lighting: [soft daylight, golden hour, studio light, neon ...]"),
            ("palette", "Palette: [dominant colours, e.g. warm earth tones, muted pastels]"),
            ("camera", "Camera and lens: [e.g. 35 mm, f/1.8, shallow depth of field], for photographic styles"),
            ("aspect", "Aspect ratio: [1:1, 16:9, 9:16, 3:2]"),
            "Negative prompt: blurry, low resolution, distorted anatomy, extra fingers, text, watermark, logo, [anything else to exclude]",
        ),
    },
    "ru": {
        "head": "Промпт для генерации изображения в [Midjourney / DALL-E / Stable Diffusion].",
        "subject": "Сюжет:",
        "lines": (
            ("composition", "Композиция: [план: крупный, средний или общий]; [ракурс: на уровне глаз, сверху, снизу]; [расположение объекта, фон]"),
            ("art_style", "Стиль: [фотография, цифровая иллюстрация, акварель, 3D-рендер, аниме ...]"),
            ("lighting", "Освещение: [мягкий дневной свет, золотой час, студийный свет, неон ...]"),
            ("palette", "Палитра: [основные цвета, например тёплые землистые оттенки, приглушённая пастель]"),
            ("camera", "Камера и объектив: [например, 35 мм, f/1.8, малая глубина резкости] — для фотографических стилей"),
            ("aspect", "Соотношение сторон: [1:1, 16:9, 9:16, 3:2]"),
            "Негативный промпт: размытость, низкое разрешение, искажённая анатомия, лишние пальцы, текст, водяные знаки, логотипы, [что ещё исключить]",
        ),
    },
}

# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    """The original between triple quotes, verbatim; longer quote runs if the text has some."""
    longest = max((len(run) for run in re.findall(r'"+', text)), default=0)
    fence = '"' * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _lines(lines: tuple[_Line, ...], stated: frozenset[str]) -> list[str]:
    shown = []
    for line in lines:
        if isinstance(line, tuple):
            detail, line = line
            if detail in stated:
                continue
        shown.append(line)
    out, number = [], 0
    for line in shown:
        if line.startswith("#. "):
            number += 1
            line = f"{number}. {line[3:]}"
        out.append(line)
    return out


def _questions(keys: tuple[str, ...], stated: frozenset[str], language: str) -> list[str]:
    asked = [_QUESTIONS[language][key] for key in keys if key not in stated]
    return [f"{number}. {question}" for number, question in enumerate(asked, 1)]


def _task_intro(intro: str, prompt: str, language: str) -> str:
    return intro + (_VARIABLES_NOTE[language] if "{{" in prompt else "")


def _role(layout: dict, prompt: str, language: str) -> str:
    role = layout.get("role")
    if isinstance(role, str):
        return role
    topic = _topic(prompt)
    if isinstance(role, dict):
        return role.get(topic) or role[None]
    return _ROLES[language][topic]


def _sectioned(slug: str, prompt: str, language: str, stated: frozenset[str]) -> str:
    layout = _LAYOUTS[slug][language]
    heading, intro = layout["task"]
    blocks = [
        _role(layout, prompt, language),
        f"## {heading}\n{_task_intro(intro, prompt, language)}\n\n{_quoted(prompt)}",
    ]
    for title, lines in layout["sections"]:
        body = _lines(lines, stated)
        if body:
            blocks.append(f"## {title}\n" + "\n".join(body))
    questions = _questions(layout["questions"], stated, language)
    if questions:
        title, intro = _BEFORE[language]
        blocks.append(f"## {title}\n{intro}\n" + "\n".join(questions))
    return "\n\n".join(blocks)


def _concise(prompt: str, language: str, stated: frozenset[str]) -> str:
    layout = _CONCISE[language]
    blocks = [_ROLES[language][_topic(prompt)], f"{layout['task']}\n{_quoted(prompt)}"]
    missing = _lines(layout["missing"], stated)
    tail = ([" ".join(missing)] if missing else []) + [layout["answer"]]
    blocks.append("\n".join(tail))
    return "\n\n".join(blocks)


def _image(prompt: str, language: str, stated: frozenset[str]) -> str:
    layout = _IMAGE[language]
    return "\n\n".join([
        layout["head"],
        f"{layout['subject']}\n{_quoted(prompt)}",
        "\n".join(_lines(layout["lines"], stated)),
    ])


def _scaffold(slug: str, prompt: str, language: str) -> str:
    stated = _stated(prompt)
    if slug == "concise":
        return _concise(prompt, language, stated)
    if slug == "image":
        return _image(prompt, language, stated)
    return _sectioned(slug if slug in _LAYOUTS else "general", prompt, language, stated)


_ITEM = re.compile(r"\d+\. ")


def _with_changes(text: str, feedback: str, language: str) -> str:
    """Record ``feedback`` as the next item of the requested-changes section at the end of
    ``text``, starting that section if the text does not end with one."""
    title, intro = _CHANGES[language]
    item_lines = feedback.splitlines() or [feedback]
    lines = text.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if lines[index] in (f"## {title}", f"{title}:"):
            tail = lines[index + 1:]
            if tail and tail[0] == intro and all(
                _ITEM.match(line) or line.startswith("   ") or not line.strip() for line in tail[1:]
            ):
                number = sum(1 for line in tail[1:] if _ITEM.match(line)) + 1
                item = f"{number}. " + "\n   ".join(item_lines)
                return text.rstrip() + "\n" + item
            break
    labelled = not any(line.startswith("## ") for line in lines)
    head = f"{title}:" if labelled else f"## {title}"
    return f"{text.rstrip()}\n\n{head}\n{intro}\n1. " + "\n   ".join(item_lines)


def _revise(previous: str, prompt: str, feedback: str | None, language: str) -> str:
    text = previous.rstrip()
    if prompt not in text:
        labelled = not any(line.startswith("## ") for line in text.splitlines())
        head = f"{_REFERENCE[language]}:" if labelled else f"## {_REFERENCE[language]}"
        text = f"{text}\n\n{head}\n{_quoted(prompt)}"
    if feedback:
        text = _with_changes(text, feedback, language)
    return text


class OfflineImprover(PromptImprover, PromptAnswerer):
    """Builds a structured prompt around the original without calling any model. It cannot
    answer prompts (Try it, SPEC §15.3, needs a model): ``can_answer`` is False and asking
    anyway is LlmUnavailable."""

    name = MODEL_NAME

    @property
    def can_answer(self) -> bool:
        return False

    def answer_stream(self, request: AnswerRequest) -> Iterator[str | ModelAnswer]:
        raise LlmUnavailable(NEEDS_MODEL)

    def improve(self, request: ImprovementRequest) -> Improvement:
        return Improvement(text=self._text(request), model=MODEL_NAME, usage=None, cost=None)

    def stream(self, request: ImprovementRequest) -> Iterator[str | Improvement]:
        """The text line by line (the deltas join up to the final text), then the Improvement."""
        result = self.improve(request)
        yield from result.text.splitlines(keepends=True)
        yield result

    @staticmethod
    def _text(request: ImprovementRequest) -> str:
        language = request.language
        feedback = (request.feedback or "").strip() or None
        if request.previous is not None and request.previous.strip():
            return _revise(request.previous, request.prompt, feedback, language)
        text = _scaffold(request.style.slug, request.prompt, language)
        if feedback:
            text = _with_changes(text, feedback, language)
        return text
