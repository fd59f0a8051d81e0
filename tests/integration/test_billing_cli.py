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
    assert run(["plans", "grant", "--team", "3", "team"], env, tmp_path).returncode == 1  # no team 3


def test_plans_grant_to_a_team_gives_it_a_pool(tmp_path):
    from promptcore.domain.access import Actor
    from tests.conftest import build_test_app, make_settings

    url = f"sqlite:///{tmp_path}/cli.db"
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": url, "PROMPTCORE_VAR_DIR": str(tmp_path)}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["users", "create-admin", "ann@example.com"], env, tmp_path, stdin="correct horse battery\n"
               ).returncode == 0
    _, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=url))
    try:
        ann = container.accounts().authenticate("ann@example.com", "correct horse battery")
        team_id = container.teams().create(Actor(ann.id), "Desk").team.id
        owner = Actor(ann.id, teams={team_id: "owner"})
        assert container.quota().team_usage(owner, team_id).quota.limit == 0

        r = run(["plans", "grant", "--team", str(team_id), "team", "--days", "3"], env, tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"team {team_id}: team until ") and "(granted)" in r.stdout
        assert container.quota().team_usage(owner, team_id).quota.limit == 500
        r = run(["plans", "grant", "--team", str(team_id), "pro"], env, tmp_path)
        assert r.returncode == 1 and "for personal accounts" in r.stderr
        r = run(["plans", "grant", "--user", "ann@example.com", "team"], env, tmp_path)
        assert r.returncode == 1 and "for teams" in r.stderr
        assert container.quota().team_usage(owner, team_id).quota.limit == 500
    finally:
        container.engine().dispose()
