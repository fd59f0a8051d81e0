"""The dependency rule (SPEC §2): the core imports only the standard library."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

CORE = pathlib.Path(__file__).resolve().parents[2] / "src" / "promptcore"
FORBIDDEN = {"flask", "flask_smorest", "sqlalchemy", "psycopg", "requests", "tenacity", "jwt", "argon2",
             "itsdangerous", "dependency_injector", "marshmallow", "jinja2", "adapters", "entrypoints", "alembic"}


def test_no_core_module_imports_outside_the_standard_library():
    offenders = []
    stdlib = set(sys.stdlib_module_names)
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top in FORBIDDEN or (top not in stdlib and top != "promptcore"):
                    offenders.append(f"{path.relative_to(CORE)}: {name}")
    assert offenders == []


def test_importing_promptcore_loads_no_framework():
    code = ("import sys, promptcore, promptcore.services.accounts, promptcore.services.mail;"
            "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(subprocess.check_output([sys.executable, "-c", code], text=True).strip().split(","))
    assert loaded & FORBIDDEN == set()
