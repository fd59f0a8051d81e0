"""Schemathesis over every operation of /api/v1/openapi.json (issue 3 item 7, issue 6 item 1).

In-process over WSGI, on a fresh PostgreSQL database, with the OpenRouter stand-in as upstream.
Every case is sent with a fresh bearer token of a confirmed administrator with a high daily limit,
so the protected and the admin operations answer for real instead of 401/403.

Destructive operations stay covered: before each case the fuzzed account is put back as it must
be (exists, active, admin, confirmed, high limit) and a new access token is minted, so a case that
deletes the account, changes its password, revokes its refresh tokens (logout) or lowers its limit
through PATCH /admin/users/{id} cannot poison the cases after it.

Phases: schema examples, coverage (boundary and invalid values, missing bodies, wrong media types
and methods) and fuzzing, in positive and negative mode. CI runs a fixed-seed sample; ``make fuzz``
runs the same test longer with a random seed:

    PROMPTCORE_FUZZ_EXAMPLES   examples per operation in the fuzzing phase (default 25)
    PROMPTCORE_FUZZ_SEED       the seed (default fixed; ``random`` picks one, printed in the figures)
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from promptcore.domain.access import Actor
from promptcore.domain.billing import Owner, effective_plan
from promptcore.domain.catalogue import STYLES
from promptcore.domain.prompts import FEEDBACK_MAX
from promptcore.domain.teams import invitation_token_hash
from tests.conftest import fresh_postgres_database, make_settings
from tests.integration.fuzz_support import (
    EMAIL,
    MODELS,
    PASSWORD,
    FuzzedApp,
    fuzzed_app,
)
from tests.integration.team_support import last_token

OPENAPI = "/api/v1/openapi.json"
SEEDED_RECORDS = 5
DEFAULT_EXAMPLES = 25
DEFAULT_SEED = 20240607


def _examples() -> int:
    return max(1, int(os.environ.get("PROMPTCORE_FUZZ_EXAMPLES") or DEFAULT_EXAMPLES))


def _seed() -> int:
    raw = os.environ.get("PROMPTCORE_FUZZ_SEED", "").strip()
    if raw.lower() == "random":
        return random.SystemRandom().randrange(2**31)
    return int(raw) if raw else DEFAULT_SEED


EXAMPLES = _examples()
SEED = _seed()

# The checks run on every response. Left out, on purpose:
# - positive_data_acceptance: schema-valid input is often refused for business reasons the schema
#   cannot express (a style or model not in the catalogue is 422, a random e-mailed token is 400
#   invalid_token, a random refresh token 401, a wrong password 401/422, an unknown id 404), so it
#   would fail on correct behaviour.
# - max_response_time: timing is the benchmark's business, not a correctness check.
# - use_after_free, ensure_resource_availability, object_level_authorization: stateful checks for
#   link-driven runs with several identities; "others' records are 404" is the security suite's.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    # Every JSON body and query schema is strict (additionalProperties: false, bounded lengths,
    # enums, minimums), so input outside the document must be refused with a 4xx. The one lenient
    # schema, the RFC 6749 form of /auth/token, declares nothing negative data could break.
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    # A protected operation that answers 2xx is probed again without a token and with a bogus one.
    ignored_auth,
]


def _spec_app():
    """An app used only to read the OpenAPI document at collection time (it never touches its
    database); the cases run against the fixture's app on PostgreSQL."""
    from entrypoints.app import create_app
    from entrypoints.container import build_container

    return create_app(build_container(make_settings(Path(tempfile.mkdtemp(prefix="promptcore-fuzz-spec-")))))


# Loaded at import, one pytest item per operation: schemathesis's lazy `from_fixture` loader reads
# pytest's private `Function._nodeid`, which pytest 9 no longer has.
schema = schemathesis.openapi.from_wsgi(OPENAPI, _spec_app(), config=schemathesis.Config.from_dict({
    "seed": SEED,
    "generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none"},
    # schemathesis's default list plus 413: a negative body past a maxLength (prompt: 100 000
    # characters) can also be past the 256 KiB request limit, and 413 is a correct refusal of it.
    # 5xx is dropped: not_a_server_error already fails those, an invalid input must never get one.
    "checks": {"negative_data_rejection": {"expected-statuses": [
        "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]}},
}))


PROMPT_OPERATIONS = ("/api/v1/prompts", "/api/v1/generate-prompt")
# The library (SPEC §13): the fuzzed account's templates and custom styles, seeded by fuzz_env,
# and the quick templates; map_case steers ids and bodies to them.
LIBRARY_PREFIXES = ("/api/v1/templates/{template_id}", "/api/v1/custom-styles/{style_id}",
                    "/api/v1/templates/from-record")
SEEDED_TEMPLATES = 6
SEEDED_STYLES = 3
SEEDED: dict[str, list[int]] = {"owner": [], "templates": [], "quick": [], "styles": [], "records": [],
                                "rounds": []}
SEED_ROUNDS = 10  # a library that stays full or empty is not seeded again and again
TEMPLATE_BODY = "Write a {{kind}} about {{ topic }} for {{audience}}.\nKeep it short."
# Teams (SPEC §14): a team the fuzzed account owns, with a teammate (an admin) and pending
# invitations, and an invitation to the fuzzed account's own address from the teammate's team, all
# seeded by seed_teams; map_case steers team, member and invitation ids and the accept token to them.
TEAM_PREFIX = "/api/v1/teams/{team_id}"
ACCEPT_OPERATION = "/api/v1/invitations/accept"
TEAMMATE = "fuzz-teammate@example.com"
SEEDED_INVITATIONS = 3
TEAMS: dict[str, list] = {"team": [], "members": [], "invitations": [], "tokens": [], "rounds": []}
# The team pool (SPEC §12, §14): a team with a team plan that the fuzzed account belongs to (owned by
# another account, so no team case steered to TEAMS can delete it), seeded by seed_pool; map_case
# steers a team_id in POST /prompts and POST /templates/{id}/improve to it, or now and then to the
# plan-less seeded team (402 team_plan_required).
POOL_OWNER = "fuzz-pool-owner@example.com"
POOL: dict[str, list] = {"team": [], "rounds": []}
POOL_OPERATIONS = PROMPT_OPERATIONS + ("/api/v1/templates/{template_id}/improve",)
# Try it (SPEC §15.3): a seeded record, and a model the stand-in answers with.
COMPARE_OPERATION = "/api/v1/prompts/{record_id}/compare"
SHARE_OPERATION = "/api/v1/prompts/{record_id}/share"  # SPEC §14: a seeded record shared with the seeded team
# Personal API keys (SPEC §15.1): revocations aimed at the first ids, the keys the fuzzed POST /api-keys
# cases made (which also keeps room under the cap of 20, so creations succeed too).
API_KEY_OPERATION = "/api/v1/api-keys/{key_id}"
ID_OPERATIONS = ("/api/v1/prompts/{record_id}", "/api/v1/admin/users/{user_id}",
                 "/api/v1/billing/payments/{payment_id}", "/api/v1/admin/payments/{payment_id}/refund",
                 COMPARE_OPERATION, API_KEY_OPERATION, SHARE_OPERATION)


@schema.hook
def map_case(context, case):
    """Half the positive cases are steered to rows and values that exist, so the success paths are
    fuzzed too, not only 404 and 422: GET/DELETE /prompts/{record_id} and PATCH /admin/users/{id}
    get a small id (the seeded records, the fuzzed admin, registered users); POST /prompts names a
    real style (and model and parent, when the case has them) and reaches the stand-in upstream.

    Negative cases are left alone: their metadata says what is invalid, and a hook that made them
    valid would turn the negative_data_rejection check against correct answers."""
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return case
    pick = zlib.crc32(repr((case.path_parameters, case.body)).encode("utf-8", "surrogatepass"))
    if pick % 2:
        return case
    if case.operation.path.startswith(LIBRARY_PREFIXES):
        return _steer_library(case, pick // 2)
    if case.operation.path.startswith(TEAM_PREFIX) or case.operation.path == ACCEPT_OPERATION:
        return _steer_teams(case, pick // 2)
    if case.operation.path in ID_OPERATIONS and case.path_parameters:
        (name,) = case.path_parameters
        case.path_parameters[name] = 1 + pick // 2 % (SEEDED_RECORDS + 2)
        if case.operation.path == SHARE_OPERATION and isinstance(case.body, dict) and "team_id" in case.body:
            case.body["team_id"] = _one_of(TEAMS["team"], pick // 3)
        if case.operation.path == COMPARE_OPERATION and isinstance(case.body, dict) \
                and case.body.get("model") is not None:
            case.body["model"] = MODELS[pick // 2 % len(MODELS)]
    elif case.operation.path in PROMPT_OPERATIONS and isinstance(case.body, dict):
        body = case.body
        body["style"] = STYLES[pick // 2 % len(STYLES)].slug
        if pick // 2 % 4 == 0 and SEEDED["styles"]:  # one of the account's custom styles
            body["style"] = f"custom:{_one_of(SEEDED['styles'], pick)}"
        if body.get("model") is not None:
            body["model"] = MODELS[pick // 2 % len(MODELS)]
        if body.get("team_id") is not None:
            body["team_id"] = _team_to_draw_from(pick // 2)
        if body.get("parent_id") is not None:  # iteration: a seeded parent and something to change
            body["parent_id"] = 1 + pick // 2 % SEEDED_RECORDS
            if not (body.get("feedback") or "").strip() or len(body["feedback"]) > FEEDBACK_MAX:
                body["feedback"] = "make it shorter"
        else:  # a first version: the generated prompt text is kept when it is usable
            if "feedback" in body:
                body["feedback"] = None
            if not (body.get("prompt") or "").strip():
                body["prompt"] = "write a post about our new coffee machine {{name}}"
    return case


def _one_of(ids: list[int], pick: int) -> int:
    return ids[pick % len(ids)] if ids else 1


def _team_to_draw_from(pick: int) -> int:
    """The pool team (a unit of its pool), one time in four the seeded team without a plan (402)."""
    return _one_of(TEAMS["team"], pick) if pick % 4 == 0 else _one_of(POOL["team"], pick)


def _steer_library(case, pick):
    """Library cases aimed at rows that exist, with bodies that can succeed: a seeded template
    (or a quick one, which is read-only), a seeded style, versions 1 and 2, values for every
    variable, a real style and model, a seeded record."""
    params = case.path_parameters or {}
    if "template_id" in params:
        params["template_id"] = _one_of(SEEDED["templates"] + SEEDED["quick"][:2], pick)
    if "style_id" in params:
        params["style_id"] = _one_of(SEEDED["styles"], pick)
    if "number" in params:
        params["number"] = 1 + pick // 7 % 2
    path, body = case.operation.path, case.body
    if path.endswith("/diff") and isinstance(case.query, dict):
        case.query.update({"from": 1, "to": 1 + pick // 7 % 2})
    if not isinstance(body, dict):
        return case
    if path.endswith("/restore"):
        body["version"] = 1
    elif path.endswith("/render"):
        body["values"] = {name: f"value {i}" for i, name in enumerate(("kind", "topic", "audience"))}
        body["version"] = None
    elif path.endswith("/improve"):
        body["style"] = STYLES[pick % len(STYLES)].slug
        if pick // 3 % 3 == 0 and SEEDED["styles"]:
            body["style"] = f"custom:{_one_of(SEEDED['styles'], pick)}"
        if body.get("model") is not None:
            body["model"] = MODELS[pick % len(MODELS)]
        if body.get("team_id") is not None:
            body["team_id"] = _team_to_draw_from(pick // 5)
    elif path.endswith("/from-record"):
        body["record_id"] = _one_of(SEEDED["records"], pick)
    return case


def seed_library(env: FuzzedApp) -> None:
    """A small library for the fuzzed account (templates with two versions, custom styles, a few
    records to make templates from) and the quick templates' ids; made again when a case deleted
    the account (the seeds went with it) or most of the seeds (DELETE /prompts/{record_id} is
    steered to the first ids too)."""
    user = env.ensure_account()
    with env.container.uow() as uow:
        alive = sum(uow.templates.get(i) is not None for i in SEEDED["templates"])
        styles = sum(uow.custom_styles.get(i) is not None for i in SEEDED["styles"])
        records = sum(uow.prompts.get(user.id, i) is not None for i in SEEDED["records"])
    healthy = alive >= 2 and styles >= 1 and records >= 1
    if SEEDED["owner"] == [user.id] and (healthy or len(SEEDED["rounds"]) >= SEED_ROUNDS):
        return
    SEEDED["rounds"].append(user.id)
    client = env.app.test_client()
    headers = env.fresh_headers()
    SEEDED.update(owner=[user.id], templates=[], styles=[], records=[])
    for i in range(SEEDED_TEMPLATES):
        r = client.post("/api/v1/templates", headers=headers,
                        json={"title": f"Seed template {i} {time.monotonic_ns()}", "body": TEMPLATE_BODY})
        if r.status_code != 201:  # the library is full (500 templates): the cases keep what is there
            break
        SEEDED["templates"].append(r.json["id"])
        client.patch(f"/api/v1/templates/{r.json['id']}", headers=headers,
                     json={"body": TEMPLATE_BODY.replace("short", "very short")})
    for i in range(SEEDED_STYLES):
        r = client.post("/api/v1/custom-styles", headers=headers,
                        json={"title": f"Seed style {i} {time.monotonic_ns()}", "instructions": "Be brief."})
        if r.status_code != 201:
            break
        SEEDED["styles"].append(r.json["id"])
    for i in range(2):
        r = client.post("/api/v1/prompts", headers=headers, json={"prompt": f"seed idea {i}", "style": "general"})
        assert r.status_code == 201, r.json
        SEEDED["records"].append(r.json["id"])
    SEEDED["quick"] = [t["id"] for t in client.get("/api/v1/quick-templates", headers=headers).json]


def _steer_teams(case, pick):
    """Team cases aimed at the seeded team, its members (the fuzzed owner and the teammate) and its
    pending invitations; an invitation to a new address; the accept token of the invitation
    addressed to the fuzzed account."""
    params = case.path_parameters or {}
    if "team_id" in params:
        params["team_id"] = _one_of(TEAMS["team"], pick)
    if "user_id" in params:
        params["user_id"] = _one_of(TEAMS["members"], pick)
    if "invitation_id" in params:
        params["invitation_id"] = _one_of(TEAMS["invitations"], pick)
    body = case.body
    if isinstance(body, dict):
        if case.operation.path == ACCEPT_OPERATION and TEAMS["tokens"]:
            body["token"] = TEAMS["tokens"][-1]
        elif case.operation.path.endswith("/invitations") and case.method.upper() == "POST":
            body["email"] = f"fuzz-guest-{pick % 100_000}@example.com"
    return case


def _bearer(env: FuzzedApp, user) -> dict[str, str]:
    token = env.container.access_tokens().issue(user.id, user.role.value, env.container.clock().now(),
                                                user.session_generation)
    return {"Authorization": f"Bearer {token}"}


def _invitation_token(client, env: FuzzedApp, headers, team_id: int, email: str, role: str) -> str | None:
    r = client.post(f"/api/v1/teams/{team_id}/invitations", headers=headers, json={"email": email, "role": role})
    return last_token(env.container, email) if r.status_code == 201 else None


def seed_teams(env: FuzzedApp) -> None:
    """A team of the fuzzed account (its owner) with the teammate as an admin and a few pending
    invitations, and a pending invitation to the fuzzed account from the teammate's team; made
    again when a case deleted the team, removed a member, used up the invitations or accepted the
    token (or the account itself was deleted and made again)."""
    user = env.ensure_account()
    container = env.container
    now = container.clock().now()
    with container.uow() as uow:
        mate = uow.users.get_by_email(TEAMMATE)
        team_id = TEAMS["team"][0] if TEAMS["team"] else None
        healthy = (
            mate is not None and mate.is_active and team_id is not None
            and uow.teams.roles_of(user.id).get(team_id) == "owner"
            and uow.teams.member(team_id, mate.id) is not None
            and sum((i := uow.invitations.get(n)) is not None and i.pending(now) for n in TEAMS["invitations"]) >= 1
            and any((i := uow.invitations.by_token_hash(invitation_token_hash(t))) is not None and i.pending(now)
                    for t in TEAMS["tokens"]))
    if healthy or len(TEAMS["rounds"]) >= SEED_ROUNDS:
        return
    TEAMS["rounds"].append(user.id)
    client = env.app.test_client()
    headers = env.fresh_headers()
    mate = container.accounts().create_admin(TEAMMATE, PASSWORD)  # exists, active and confirmed again
    mate_headers = _bearer(env, mate)

    # POST /teams is fuzzed too: make room under the per-user limit of teams
    name = {"name": f"Seed team {time.monotonic_ns()}"}
    r = client.post("/api/v1/teams", headers=headers, json=name)
    if r.status_code == 409:
        for team in client.get("/api/v1/teams", headers=headers).json:
            if team["role"] == "owner":
                client.delete(f"/api/v1/teams/{team['id']}", headers=headers)
        r = client.post("/api/v1/teams", headers=headers, json=name)
    assert r.status_code == 201, r.json
    team_id = r.json["id"]
    token = _invitation_token(client, env, headers, team_id, TEAMMATE, "admin")
    assert token, "the teammate could not be invited"
    assert client.post(ACCEPT_OPERATION, headers=mate_headers, json={"token": token}).status_code == 200
    invitations = []
    for i in range(SEEDED_INVITATIONS):
        r = client.post(f"/api/v1/teams/{team_id}/invitations", headers=headers,
                        json={"email": f"fuzz-seed-{i}-{time.monotonic_ns()}@example.com"})
        if r.status_code == 201:
            invitations.append(r.json["id"])

    # the teammate's own team invites the fuzzed account: a token POST /invitations/accept can use
    theirs = [t["id"] for t in client.get("/api/v1/teams", headers=mate_headers).json if t["role"] == "owner"]
    if theirs:
        mate_team = theirs[0]
        client.delete(f"/api/v1/teams/{mate_team}/members/{user.id}", headers=mate_headers)  # joined earlier
        for invitation in client.get(f"/api/v1/teams/{mate_team}/invitations", headers=mate_headers).json:
            client.delete(f"/api/v1/teams/{mate_team}/invitations/{invitation['id']}", headers=mate_headers)
    else:
        r = client.post("/api/v1/teams", headers=mate_headers, json={"name": "Teammate's team"})
        assert r.status_code == 201, r.json
        mate_team = r.json["id"]
    accept_token = _invitation_token(client, env, mate_headers, mate_team, EMAIL, "member")
    TEAMS.update(team=[team_id], members=[user.id, mate.id], invitations=invitations,
                 tokens=[accept_token] if accept_token else [])


def seed_pool(env: FuzzedApp) -> None:
    """A team of another account's with a granted team plan and the fuzzed account as a member;
    made again when the account was deleted and made again, left the team, or the plan ran out."""
    user = env.ensure_account()
    container = env.container
    now = container.clock().now()
    with container.uow() as uow:
        team_id = POOL["team"][0] if POOL["team"] else None
        healthy = (team_id is not None and uow.teams.member(team_id, user.id) is not None
                   and effective_plan(uow.subscriptions.get(Owner.team(team_id)), now) == "team")
    if healthy or len(POOL["rounds"]) >= SEED_ROUNDS:
        return
    POOL["rounds"].append(user.id)
    client = env.app.test_client()
    owner_headers = _bearer(env, container.accounts().create_admin(POOL_OWNER, PASSWORD))
    r = client.post("/api/v1/teams", headers=owner_headers, json={"name": f"Pool {time.monotonic_ns()}"})
    assert r.status_code == 201, r.json
    team_id = r.json["id"]
    token = _invitation_token(client, env, owner_headers, team_id, EMAIL, "member")
    assert token, "the fuzzed account could not be invited to the pool team"
    assert client.post(ACCEPT_OPERATION, headers=env.fresh_headers(), json={"token": token}).status_code == 200
    container.billing().grant(None, "team", team_id=team_id)
    POOL["team"] = [team_id]


@dataclass
class Figures:
    started: float = 0.0
    cases: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    by_operation: defaultdict = field(default_factory=lambda: defaultdict(Counter))


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory, postgres_server_url):
    with fresh_postgres_database(postgres_server_url, "promptcore_fuzz") as url, \
            fuzzed_app(tmp_path_factory.mktemp("fuzz"), url) as env:
        # A little history, so record ids 1..SEEDED_RECORDS exist for /prompts/{record_id}.
        client = env.app.test_client()
        for i in range(SEEDED_RECORDS):
            r = client.post("/api/v1/prompts", headers=env.fresh_headers(),
                            json={"prompt": f"seed prompt {i}", "style": "general"})
            assert r.status_code == 201, r.json
        seed_library(env)
        seed_teams(env)
        seed_pool(env)
        env.figures = Figures()
        yield env


@schema.parametrize()
def test_operation_conforms_to_the_document(case, fuzz_env: FuzzedApp):
    figures = fuzz_env.figures
    figures.started = figures.started or time.monotonic()
    if case.operation.path.startswith(LIBRARY_PREFIXES) and figures.cases[case.operation.label] % 5 == 0:
        seed_library(fuzz_env)  # for the cases generated after this one
    team_case = case.operation.path.startswith(TEAM_PREFIX) or case.operation.path == ACCEPT_OPERATION
    if team_case and figures.cases[case.operation.label] % 5 == 0:
        seed_teams(fuzz_env)
    if case.operation.path in POOL_OPERATIONS and figures.cases[case.operation.label] % 5 == 0:
        seed_pool(fuzz_env)
    response = case.call_and_validate(headers=fuzz_env.fresh_headers(), checks=CHECKS, app=fuzz_env.app)
    figures.cases[case.operation.label] += 1
    figures.statuses[response.status_code] += 1
    figures.by_operation[case.operation.label][response.status_code] += 1


def test_every_operation_was_fuzzed(fuzz_env: FuzzedApp):
    """Runs after the per-operation items: every operation of the document got cases. Prints the
    figures (run with -s to see them)."""
    figures = fuzz_env.figures
    assert figures.cases, "run the whole module: the per-operation fuzz items come first"
    operations = {result.ok().label for result in schema.get_all_operations()}
    elapsed = time.monotonic() - figures.started
    print(f"\nschemathesis: {len(figures.cases)}/{len(operations)} operations, {sum(figures.cases.values())} cases "
          f"(fuzzing max-examples {EXAMPLES}), seed {SEED}, {elapsed:.1f}s; "
          f"statuses {dict(sorted(figures.statuses.items()))}; account restored {fuzz_env.restored} times")
    if POOL["team"]:
        pool = fuzz_env.container.quota().team_usage(Actor(fuzz_env.ensure_account().id, teams={
            POOL["team"][0]: "member"}), POOL["team"][0]).quota
        print(f"  the team pool: {pool.used}/{pool.limit} units drawn, seeded {len(POOL['rounds'])} times")
    for label in sorted(figures.by_operation):
        print(f"  {label}: {dict(sorted(figures.by_operation[label].items()))}")
    assert set(figures.cases) == operations, operations - set(figures.cases)
