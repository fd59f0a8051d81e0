import pytest

from entrypoints.config import ConfigError, load_settings

PROD = {"PROMPTCORE_ENV": "production", "PROMPTCORE_SECRET_KEY": "p" * 40, "PROMPTCORE_SMTP_URL": "smtp://mail:25",
        "OPENROUTER_API_KEY": "sk-x", "PROMPTCORE_DATABASE_URL": "postgresql://u@db/promptcore"}


def test_defaults_in_development(tmp_path):
    s = load_settings({"PROMPTCORE_VAR_DIR": str(tmp_path)})
    assert s.env == "development" and s.llm == "offline" and s.daily_limit == 3
    assert s.database_url == f"sqlite:///{tmp_path}/promptcore.db"
    assert len(s.secret_key) >= 32
    assert load_settings({"PROMPTCORE_VAR_DIR": str(tmp_path)}).secret_key == s.secret_key, "kept in var/"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_accepts_a_complete_configuration():
    s = load_settings(PROD)
    assert s.llm == "openrouter" and s.log_format == "json"
    assert s.database_url.startswith("postgresql+psycopg://")
    assert "sk-x" not in repr(s) and "p" * 40 not in repr(s)


@pytest.mark.parametrize("change,variable", [
    ({"PROMPTCORE_SECRET_KEY": ""}, "PROMPTCORE_SECRET_KEY"),
    ({"PROMPTCORE_SECRET_KEY": "short"}, "PROMPTCORE_SECRET_KEY"),
    ({"PROMPTCORE_SMTP_URL": ""}, "PROMPTCORE_SMTP_URL"),
    ({"OPENROUTER_API_KEY": ""}, "OPENROUTER_API_KEY"),
    ({"PROMPTCORE_SMTP_URL": "http://mail"}, "PROMPTCORE_SMTP_URL"),
    ({"PROMPTCORE_DAILY_LIMIT": "three"}, "PROMPTCORE_DAILY_LIMIT"),
    ({"PROMPTCORE_DAILY_LIMIT": "-1"}, "PROMPTCORE_DAILY_LIMIT"),
    ({"PROMPTCORE_QUOTA_WINDOW": "weekly"}, "PROMPTCORE_QUOTA_WINDOW"),
    ({"PROMPTCORE_QUOTA_TIMEZONE": "Mars/Base"}, "PROMPTCORE_QUOTA_TIMEZONE"),
    ({"PROMPTCORE_LLM": "gpt"}, "PROMPTCORE_LLM"),
    ({"PROMPTCORE_LLM_TIMEOUT": "soon"}, "PROMPTCORE_LLM_TIMEOUT"),
    ({"PROMPTCORE_ENV": "staging"}, "PROMPTCORE_ENV"),
    ({"PROMPTCORE_BASE_URL": "ftp://x"}, "PROMPTCORE_BASE_URL"),
    ({"PROMPTCORE_LOG_FORMAT": "xml"}, "PROMPTCORE_LOG_FORMAT"),
    ({"PROMPTCORE_AUTH_RATE_LIMIT": "lots"}, "PROMPTCORE_AUTH_RATE_LIMIT"),
    ({"PROMPTCORE_MAIL_RATE_LIMIT": "5 per never"}, "PROMPTCORE_MAIL_RATE_LIMIT"),
])
def test_bad_production_settings_name_the_variable(change, variable):
    with pytest.raises(ConfigError) as info:
        load_settings({**PROD, **change})
    message = str(info.value)
    assert variable in message and "\n" not in message


def test_production_offline_must_be_explicit():
    s = load_settings({**PROD, "OPENROUTER_API_KEY": "", "PROMPTCORE_LLM": "offline"})
    assert s.llm == "offline" and s.model_choices == ("offline",)
