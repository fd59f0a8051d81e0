"""`promptcore plans ...` against a real database (SPEC §4)."""

from __future__ import annotations

from tests.integration.test_cli import run


def test_plans_list_set_and_grant(tmp_path):
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
           "PROMPTCORE_VAR_DIR": str(tmp_path), "PROMPTCORE_DAILY_LIMIT": "5"}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    listed = run(["plans", "list"], env, tmp_path).stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["free", "pro", "team"]
    assert "5 a day" in listed[0] and "490.00 RUB / 30 days" in listed[1]

    r = run(["plans", "set", "pro", "--daily-limit", "150", "--price", "590.00", "--hidden"], env, tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "pro: 150 a day, 590.00 RUB, hidden"
    assert run(["plans", "set", "pro", "--price", "5.999"], env, tmp_path).returncode == 1
    assert run(["plans", "set", "free", "--daily-limit", "9"], env, tmp_path).returncode == 1
    assert run(["plans", "set", "nope", "--public"], env, tmp_path).returncode == 1
    assert run(["plans", "set", "pro", "--public"], env, tmp_path).stdout.strip().endswith("public")

    assert run(["users", "create-admin", "ann@example.com"], env, tmp_path, stdin="correct horse battery\n"
               ).returncode == 0
    r = run(["plans", "grant", "--user", "ann@example.com", "pro", "--days", "7"], env, tmp_path)
    assert r.returncode == 0 and "pro until" in r.stdout and "(granted)" in r.stdout
    r = run(["users", "set-limit", "ann@example.com", "default"], env, tmp_path)
    assert r.stdout.strip().startswith("ann@example.com: daily limit 150")
    assert run(["plans", "grant", "--user", "ghost@example.com", "pro"], env, tmp_path).returncode == 1
    assert run(["plans", "grant", "--team", "3", "team"], env, tmp_path).returncode == 2
