"""The quick templates (SPEC §13.2): built-in, read-only templates in Russian and English.

Migration 0008 seeds them into the ``templates`` table (no owner, a ``builtin`` key and a
language), and ``promptcore db upgrade`` brings the stored ones in line with this list afterwards,
like the styles. Users copy one into their library, or pick one in the generator and fill in its
variables.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QUICK_TEMPLATES", "QuickTemplate"]


@dataclass(frozen=True)
class QuickTemplate:
    key: str  # the same key in both languages: "social-post"
    language: str  # "ru" or "en"
    position: int
    title: str
    description: str
    body: str  # a valid template body (domain/templates.py), with {{variables}}
    tags: tuple[str, ...] = ()


# Each template is a rough prompt of the kind a person writes (promptcore improves it afterwards):
# a few plain sentences with 2-5 variables. Every key appears once in each language, at the same
# position. In Russian the variables stand after a colon or a dash where they can, so that a value
# written in the nominative case reads naturally.
QUICK_TEMPLATES: tuple[QuickTemplate, ...] = (
    # -- 0 social-post ----------------------------------------------------------------------------
    QuickTemplate(
        key="social-post", language="en", position=0, title="Social media post",
        description="A post for a social network about a product, event or idea.",
        body="Write a post about {{topic}} for {{network}}. Our readers are {{audience}}, so keep it simple, "
             "friendly and easy to read on a phone. The main thing to get across: {{key_point}}. "
             "End with a call to action.",
        tags=("marketing", "social"),
    ),
    QuickTemplate(
        key="social-post", language="ru", position=0, title="Пост для соцсетей",
        description="Пост для социальной сети о продукте, событии или идее.",
        body="Напиши пост на тему «{{тема}}» для площадки {{площадка}}. Нас читают {{аудитория}}, поэтому "
             "пиши просто, дружелюбно и так, чтобы текст было удобно читать с телефона. Главное, что нужно "
             "донести: {{главная_мысль}}. В конце добавь призыв к действию.",
        tags=("маркетинг", "соцсети"),
    ),
    # -- 1 product-description --------------------------------------------------------------------
    QuickTemplate(
        key="product-description", language="en", position=1, title="Product description",
        description="A description of a product for an online shop or a landing page.",
        body="Write a description of {{product_name}} for our online shop. Main features: {{features}}. "
             "It is meant for {{target_customer}}, so explain the benefits in plain words instead of "
             "listing specs. Length: about {{length}}.",
        tags=("marketing", "e-commerce"),
    ),
    QuickTemplate(
        key="product-description", language="ru", position=1, title="Описание товара",
        description="Описание товара для интернет-магазина или посадочной страницы.",
        body="Напиши описание товара для нашего интернет-магазина. Товар: {{название_товара}}. Основные "
             "характеристики: {{характеристики}}. Наш покупатель — {{целевой_покупатель}}, поэтому объясняй "
             "пользу простыми словами, а не перечисляй технические параметры. Объём — примерно {{объём}}.",
        tags=("маркетинг", "интернет-магазин"),
    ),
    # -- 2 code-review ----------------------------------------------------------------------------
    QuickTemplate(
        key="code-review", language="en", position=2, title="Code review",
        description="A review of a piece of code for bugs, readability and security.",
        body="Review this {{programming_language}} code and tell me what is wrong with it. Look for bugs, "
             "security problems and anything that makes it hard to read or maintain. What the code is for: "
             "{{context}}. Here is the code:\n{{code}}",
        tags=("code", "review"),
    ),
    QuickTemplate(
        key="code-review", language="ru", position=2, title="Ревью кода",
        description="Проверка фрагмента кода на ошибки, читаемость и безопасность.",
        body="Проверь этот код и скажи, что с ним не так. Язык: {{язык_программирования}}. Ищи ошибки, "
             "проблемы с безопасностью и всё, что мешает его читать и поддерживать. Для чего нужен код: "
             "{{контекст}}. Вот сам код:\n{{код}}",
        tags=("код", "ревью"),
    ),
    # -- 3 bug-report -----------------------------------------------------------------------------
    QuickTemplate(
        key="bug-report", language="en", position=3, title="Bug report",
        description="A clear bug report for developers: steps, expected and actual behaviour.",
        body="Help me write a bug report for the developers. Product: {{product}}. Steps to reproduce: "
             "{{steps}}. What should happen: {{expected_behaviour}}; what happens instead: "
             "{{actual_behaviour}}. Environment: {{environment}}.",
        tags=("development", "testing"),
    ),
    QuickTemplate(
        key="bug-report", language="ru", position=3, title="Отчёт об ошибке",
        description="Понятный баг-репорт для разработчиков: шаги, ожидаемое и фактическое поведение.",
        body="Помоги составить баг-репорт для разработчиков. Программа: {{продукт}}. Как воспроизвести: "
             "{{шаги}}. Что должно происходить: {{ожидаемое_поведение}}; что происходит на самом деле: "
             "{{фактическое_поведение}}. Окружение: {{окружение}}.",
        tags=("разработка", "тестирование"),
    ),
    # -- 4 customer-reply -------------------------------------------------------------------------
    QuickTemplate(
        key="customer-reply", language="en", position=4, title="Reply to a customer",
        description="A polite, helpful answer to a customer's message or complaint.",
        body="A customer wrote to us: \"{{customer_message}}\". Write a reply on behalf of {{company}}. "
             "What we can offer: {{solution}}. Be polite and calm, apologise if we are at fault, and do not "
             "promise anything beyond that.",
        tags=("support", "customers"),
    ),
    QuickTemplate(
        key="customer-reply", language="ru", position=4, title="Ответ клиенту",
        description="Вежливый и полезный ответ на сообщение или жалобу клиента.",
        body="Клиент написал нам: «{{сообщение_клиента}}». Напиши ответ от имени компании {{компания}}. "
             "Что мы можем предложить: {{решение}}. Отвечай вежливо и спокойно, извинись, если виноваты мы, "
             "и не обещай ничего сверх этого.",
        tags=("поддержка", "клиенты"),
    ),
    # -- 5 meeting-summary ------------------------------------------------------------------------
    QuickTemplate(
        key="meeting-summary", language="en", position=5, title="Meeting summary",
        description="A short summary of a meeting with decisions, owners and deadlines.",
        body="Here are my notes from the meeting about {{meeting_topic}}: {{notes}}. Turn them into a short "
             "summary: what we decided, who does what and by when. It goes to {{recipients}}, so leave out "
             "everything that is not to the point.",
        tags=("work", "meetings"),
    ),
    QuickTemplate(
        key="meeting-summary", language="ru", position=5, title="Итоги встречи",
        description="Краткое резюме встречи: решения, ответственные и сроки.",
        body="Вот мои заметки со встречи на тему «{{тема_встречи}}»: {{заметки}}. Составь по ним краткое "
             "резюме: что решили, кто что делает и к какому сроку. Резюме получат {{получатели}}, так что "
             "всё, что не относится к делу, опусти.",
        tags=("работа", "встречи"),
    ),
    # -- 6 study-plan -----------------------------------------------------------------------------
    QuickTemplate(
        key="study-plan", language="en", position=6, title="Study plan",
        description="A step-by-step plan for learning a subject in the time you have.",
        body="Help me make a plan to learn {{subject}}. My current level: {{current_level}}. Time I have: "
             "{{available_time}}, and my goal is {{goal}}. Tell me what to study each week and how to "
             "check my progress.",
        tags=("education", "planning"),
    ),
    QuickTemplate(
        key="study-plan", language="ru", position=6, title="План обучения",
        description="Пошаговый план изучения темы за то время, которое у вас есть.",
        body="Хочу изучить {{предмет}}, помоги составить план. Мой текущий уровень: {{текущий_уровень}}. "
             "Сколько у меня времени: {{доступное_время}}, а цель — {{цель}}. Распиши, что изучать каждую "
             "неделю и как проверять свой прогресс.",
        tags=("обучение", "планирование"),
    ),
    # -- 7 job-posting ----------------------------------------------------------------------------
    QuickTemplate(
        key="job-posting", language="en", position=7, title="Job posting",
        description="A job advertisement that attracts the right candidates.",
        body="Write a job posting for the {{position}} role at {{company}}. Main duties: {{responsibilities}}. "
             "Requirements: {{requirements}}. We offer: {{conditions}}. Make it sound human, without "
             "corporate clichés.",
        tags=("hr", "recruiting"),
    ),
    QuickTemplate(
        key="job-posting", language="ru", position=7, title="Вакансия",
        description="Текст вакансии, который привлечёт подходящих кандидатов.",
        body="Напиши текст вакансии. Должность: {{должность}}, компания: {{компания}}. Основные обязанности: "
             "{{обязанности}}. Требования: {{требования}}. Мы предлагаем: {{условия}}. Пиши по-человечески, "
             "без корпоративных штампов.",
        tags=("hr", "найм"),
    ),
    # -- 8 sql-help -------------------------------------------------------------------------------
    QuickTemplate(
        key="sql-help", language="en", position=8, title="SQL query help",
        description="Help with writing, fixing or speeding up an SQL query.",
        body="I need help with an SQL query. Database: {{database}}. Tables and their columns: {{tables}}. "
             "What I want to get: {{goal}}. Here is my query so far, or the error it gives:\n{{query}}",
        tags=("sql", "databases"),
    ),
    QuickTemplate(
        key="sql-help", language="ru", position=8, title="Помощь с SQL-запросом",
        description="Помощь с SQL-запросом: написать его, исправить или ускорить.",
        body="Помоги с SQL-запросом. СУБД: {{субд}}. Таблицы и их столбцы: {{таблицы}}. Что нужно получить: "
             "{{задача}}. Вот мой текущий запрос или ошибка, которую он выдаёт:\n{{запрос}}",
        tags=("sql", "базы данных"),
    ),
    # -- 9 image-prompt ---------------------------------------------------------------------------
    QuickTemplate(
        key="image-prompt", language="en", position=9, title="Image prompt",
        description="A prompt for an image generator: subject, style, mood and format.",
        body="Create an image of {{subject}}. Style: {{style}}, mood: {{mood}}. Aspect ratio "
             "{{aspect_ratio}}, no text or watermarks in the picture.",
        tags=("image", "design"),
    ),
    QuickTemplate(
        key="image-prompt", language="ru", position=9, title="Промпт для изображения",
        description="Запрос для генератора изображений: что изобразить, стиль, настроение и формат.",
        body="Сгенерируй изображение: {{что_изобразить}}. Стиль: {{стиль}}, настроение: {{настроение}}. "
             "Соотношение сторон — {{соотношение_сторон}}, без текста и водяных знаков на картинке.",
        tags=("изображения", "дизайн"),
    ),
    # -- 10 translation-brief ---------------------------------------------------------------------
    QuickTemplate(
        key="translation-brief", language="en", position=10, title="Translation brief",
        description="A brief for translating a text: languages, readers and terms to keep.",
        body="Translate the text below from {{source_language}} into {{target_language}}. The readers are "
             "{{audience}}, so adapt idioms rather than translating them word for word. Keep these terms as "
             "they are: {{terms}}. Text: {{text}}",
        tags=("translation", "languages"),
    ),
    QuickTemplate(
        key="translation-brief", language="ru", position=10, title="Задание на перевод",
        description="Задание на перевод текста: языки, читатели и термины, которые нужно сохранить.",
        body="Переведи текст ниже. Язык оригинала: {{язык_оригинала}}, язык перевода: {{язык_перевода}}. "
             "Читатели — {{аудитория}}, поэтому адаптируй идиомы, а не переводи их дословно. Эти термины "
             "оставь без изменений: {{термины}}. Текст: {{текст}}",
        tags=("перевод", "языки"),
    ),
    # -- 11 interview-questions -------------------------------------------------------------------
    QuickTemplate(
        key="interview-questions", language="en", position=11, title="Interview questions",
        description="Questions for a job interview that test the skills the role really needs.",
        body="Prepare questions for a job interview. Position: {{position}}, candidate level: {{level}}, "
             "number of questions: {{number_of_questions}}. Key skills to check: {{skills}}. Add a couple "
             "of practical tasks, and for each question describe what a good answer looks like.",
        tags=("hr", "interview"),
    ),
    QuickTemplate(
        key="interview-questions", language="ru", position=11, title="Вопросы для собеседования",
        description="Вопросы для собеседования, которые проверяют действительно нужные навыки.",
        body="Подготовь вопросы для собеседования. Должность: {{должность}}, уровень кандидата: {{уровень}}, "
             "количество вопросов: {{количество_вопросов}}. Ключевые навыки, которые нужно проверить: "
             "{{навыки}}. Добавь пару практических заданий и к каждому вопросу опиши, как выглядит "
             "хороший ответ.",
        tags=("hr", "собеседование"),
    ),
    # -- 12 business-email ------------------------------------------------------------------------
    QuickTemplate(
        key="business-email", language="en", position=12, title="Business email",
        description="A short, polite business email with a clear purpose and next step.",
        body="Write a business email. To: {{recipient}}, subject: {{subject}}. What I need from them: "
             "{{request}}. Tone: {{tone}}. Keep it short and end with a clear next step.",
        tags=("email", "business"),
    ),
    QuickTemplate(
        key="business-email", language="ru", position=12, title="Деловое письмо",
        description="Короткое вежливое деловое письмо с понятной целью и следующим шагом.",
        body="Напиши деловое письмо. Кому: {{получатель}}, тема: {{тема}}. Чего я жду от адресата: "
             "{{просьба}}. Тон: {{тон}}. Письмо должно быть коротким и заканчиваться понятным следующим шагом.",
        tags=("письма", "деловое общение"),
    ),
    # -- 13 text-summary --------------------------------------------------------------------------
    QuickTemplate(
        key="text-summary", language="en", position=13, title="Text summary",
        description="A short summary of a long text that keeps its main points, facts and numbers.",
        body="Summarise the text below for {{audience}}. Length: about {{length}}. Keep the key facts and "
             "numbers, and do not add anything that is not in the text. Text: {{text}}",
        tags=("summary", "reading"),
    ),
    QuickTemplate(
        key="text-summary", language="ru", position=13, title="Краткий пересказ",
        description="Краткое изложение длинного текста с главными мыслями, фактами и цифрами.",
        body="Кратко перескажи текст ниже. Для кого: {{аудитория}}. Объём: примерно {{объём}}. Сохрани "
             "ключевые факты и цифры и не добавляй ничего, чего нет в тексте. Текст: {{текст}}",
        tags=("пересказ", "тексты"),
    ),
)
