"""What can be checked of the deployment files without a container engine."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_dockerfile_final_stage_is_non_root_with_healthcheck_and_no_compilers():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM "):]
    assert re.search(r"^USER promptcore$", final, re.M)
    assert "HEALTHCHECK" in final and "/healthz" in final
    assert "build-essential" not in final and "gcc" not in final
    assert "COPY --from=build /opt/venv /opt/venv" in final


def test_compose_runs_app_worker_database_mail_and_redis():
    text = (ROOT / "docker" / "compose.yaml").read_text()
    services = text.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    names = set(re.findall(r"^  ([a-z]+):$", services, re.M))
    assert {"app", "worker", "migrate", "db", "redis", "mail"} <= names
    assert "redis://redis:6379" in text and '"promptcore", "worker"' in text


def test_every_setting_is_documented_in_the_readme_and_env_example():
    config = (ROOT / "src" / "entrypoints" / "config.py").read_text()
    variables = set(re.findall(r'env\.get\("([A-Z_]+)"', config))
    readme = (ROOT / "README.md").read_text()
    missing = sorted(v for v in variables if f"`{v}`" not in readme)
    assert missing == []
    example = (ROOT / "docker" / ".env.example").read_text()
    for required in ("PROMPTCORE_SECRET_KEY", "PROMPTCORE_BASE_URL", "OPENROUTER_API_KEY", "POSTGRES_PASSWORD"):
        assert required in example


def test_the_build_stage_compiles_the_catalogues_before_installing_the_package():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    build = text[:text.rindex("\nFROM ")]
    compile_at = build.index("pybabel compile -d src/entrypoints/web/translations")
    assert compile_at < build.index("pip install .")
    babel = re.search(r'"babel(>=[^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert f"'babel{babel}'" in build, "the build stage's Babel is the range pyproject.toml declares"
    makefile = (ROOT / "Makefile").read_text()
    stamp = makefile.split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "pybabel compile -d $(WEB)/translations" in stamp
