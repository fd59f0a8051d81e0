"""The teams' rules (SPEC §14): domain/teams.py and the team part of domain/access.py."""

from __future__ import annotations

import itertools
import re
import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from promptcore.domain.access import Actor, require_member, require_team_action, team_role
from promptcore.domain.errors import Forbidden, NotFound, ValidationFailed
from promptcore.domain.teams import (
    INVITATION_TTL,
    NAME_MAX,
    Invitation,
    TeamRole,
    clean_team_name,
    invitation_token_hash,
    may_change_role,
    may_delete_team,
    may_invite,
    may_remove,
    may_rename_team,
    may_see_invitations,
    may_set_cap,
    parse_role,
)

OWNER, ADMIN, MEMBER = TeamRole.OWNER, TeamRole.ADMIN, TeamRole.MEMBER
ROLES = list(TeamRole)
Y, N = True, False

# -- the role rules, written out ----------------------------------------------------------------
#
# Who may do what to whom. Every combination is listed; the tests below hold the functions of
# domain/teams.py to this table, cell by cell.

# (actor's role, action) → may they act on a target of role:  owner  admin  member
ON_TARGET = {
    (OWNER, "invite"): (Y, Y, Y),
    (OWNER, "remove"): (Y, Y, Y),
    (OWNER, "cap"): (Y, Y, Y),
    (ADMIN, "invite"): (N, Y, Y),
    (ADMIN, "remove"): (N, Y, Y),
    (ADMIN, "cap"): (N, Y, Y),
    (MEMBER, "invite"): (N, N, N),
    (MEMBER, "remove"): (N, N, N),  # (anyone may remove themselves: that is leaving, in the use case)
    (MEMBER, "cap"): (N, N, N),
}

# (actor's role, the target's current role) → may they make the target:  owner  admin  member
CHANGE_ROLE = {
    (OWNER, OWNER): (Y, Y, Y),
    (OWNER, ADMIN): (Y, Y, Y),
    (OWNER, MEMBER): (Y, Y, Y),
    (ADMIN, OWNER): (N, N, N),
    (ADMIN, ADMIN): (N, Y, Y),
    (ADMIN, MEMBER): (N, Y, Y),
    (MEMBER, OWNER): (N, N, N),
    (MEMBER, ADMIN): (N, N, N),
    (MEMBER, MEMBER): (N, N, N),
}

# actor's role → may they:  rename the team  delete the team  set caps at all  see the pending invitations
ON_TEAM = {
    OWNER: (Y, Y, Y, Y),
    ADMIN: (N, N, Y, Y),
    MEMBER: (N, N, N, N),
}

TARGET_RULES = {"invite": may_invite, "remove": may_remove, "cap": may_set_cap}
TEAM_RULES = (may_rename_team, may_delete_team, may_set_cap, may_see_invitations)


def test_the_tables_cover_every_combination():
    assert set(ON_TARGET) == set(itertools.product(ROLES, TARGET_RULES))
    assert set(CHANGE_ROLE) == set(itertools.product(ROLES, ROLES))
    assert set(ON_TEAM) == set(ROLES)
    assert [r.value for r in ROLES] == ["owner", "admin", "member"]  # the column order above


@pytest.mark.parametrize("actor, action, target", [
    (actor, action, target) for (actor, action), _ in ON_TARGET.items() for target in ROLES])
def test_rules_on_a_target_follow_the_table(actor, action, target):
    assert TARGET_RULES[action](actor, target) is ON_TARGET[actor, action][ROLES.index(target)]


@pytest.mark.parametrize("actor, current, new", list(itertools.product(ROLES, ROLES, ROLES)))
def test_role_changes_follow_the_table(actor, current, new):
    assert may_change_role(actor, current, new) is CHANGE_ROLE[actor, current][ROLES.index(new)]


@pytest.mark.parametrize("actor, rule", list(itertools.product(ROLES, TEAM_RULES)))
def test_rules_on_the_team_follow_the_table(actor, rule):
    assert rule(actor) is ON_TEAM[actor][TEAM_RULES.index(rule)]


roles = st.sampled_from(ROLES)


@given(roles, roles)
def test_no_admin_rule_ever_touches_an_owner(current, new):
    assert not may_invite(ADMIN, OWNER)
    assert not may_remove(ADMIN, OWNER)
    assert not may_set_cap(ADMIN, OWNER)
    if OWNER in (current, new):
        assert not may_change_role(ADMIN, current, new)


@given(roles, roles)
def test_only_owners_make_owners(actor, current):
    assert may_change_role(actor, current, OWNER) == (actor is OWNER)
    assert may_invite(actor, OWNER) == (actor is OWNER)


@given(roles, roles, roles, roles)
def test_a_higher_role_may_do_everything_a_lower_one_may(lower, higher, current, new):
    if higher.rank < lower.rank:
        lower, higher = higher, lower
    for allowed_lower, allowed_higher in [
        (may_invite(lower, new), may_invite(higher, new)),
        (may_remove(lower, current), may_remove(higher, current)),
        (may_set_cap(lower, current), may_set_cap(higher, current)),
        (may_change_role(lower, current, new), may_change_role(higher, current, new)),
        *((rule(lower), rule(higher)) for rule in TEAM_RULES),
    ]:
        assert allowed_higher or not allowed_lower


def test_ranks_order_the_roles():
    assert OWNER.rank > ADMIN.rank > MEMBER.rank


@pytest.mark.parametrize("raw", ["owner", "admin", "member", OWNER])
def test_parse_role_accepts_the_three_roles(raw):
    assert parse_role(raw) is TeamRole(raw)


@pytest.mark.parametrize("raw", ["Owner", "", " member", "viewer", None, 1, ["admin"]])
def test_parse_role_refuses_anything_else_on_the_field(raw):
    with pytest.raises(ValidationFailed) as info:
        parse_role(raw, "new_role")
    assert list(info.value.errors) == ["new_role"]


# -- require_member / require_team_action --------------------------------------------------------

team_ids = st.integers(min_value=1, max_value=2**63 - 1)
memberships = st.dictionaries(team_ids, st.sampled_from([r.value for r in ROLES]), max_size=5)
any_rule = st.sampled_from([
    may_rename_team, may_delete_team, may_set_cap,
    lambda role: True, lambda role: False,
    lambda role: may_invite(role, OWNER), lambda role: may_remove(role, MEMBER),
])


@given(st.integers(min_value=1), memberships, team_ids, any_rule)
def test_non_members_get_not_found_whatever_the_rule(user_id, teams, team_id, rule):
    teams.pop(team_id, None)
    actor = Actor(user_id, teams=teams)
    asked = []

    def watched(role):
        asked.append(role)
        return rule(role)

    assert team_role(actor, team_id) is None
    with pytest.raises(NotFound):
        require_member(actor, team_id)
    with pytest.raises(NotFound):
        require_team_action(actor, team_id, watched)
    assert asked == [], "the rule is not even asked for a stranger"


@given(memberships, any_rule)
def test_no_team_is_nobodys_team(teams, rule):
    actor = Actor(1, teams=teams)
    assert team_role(actor, None) is None
    with pytest.raises(NotFound):
        require_member(actor, None)
    with pytest.raises(NotFound):
        require_team_action(actor, None, rule)


@given(st.integers(min_value=1), memberships, team_ids, roles, any_rule)
def test_members_pass_or_get_forbidden_as_the_rule_says(user_id, teams, team_id, role, rule):
    actor = Actor(user_id, teams={**teams, team_id: role.value})
    assert team_role(actor, team_id) is role
    assert require_member(actor, team_id) is role
    if rule(role):
        assert require_team_action(actor, team_id, rule) is role
    else:
        with pytest.raises(Forbidden):
            require_team_action(actor, team_id, rule)


def test_the_not_found_message_can_be_chosen():
    with pytest.raises(NotFound, match="No such team"):
        require_team_action(Actor(1), 5, may_set_cap, "No such team.")


# -- team names -----------------------------------------------------------------------------------

# printable characters of every script (letters, marks, digits, punctuation, symbols)
printable = st.characters(categories=["L", "M", "N", "P", "S"])
words = st.text(printable, min_size=1, max_size=12)
whitespace = st.text(" \t\n\r\x0b\x0c\u00a0\u2003\u3000", min_size=1, max_size=4)


@given(st.lists(words, min_size=1, max_size=6), st.data())
@example(["Ада", "и", "Бэббидж"], None)
@example(["東京", "チーム"], None)
@example(["فريق", "القاهرة"], None)
def test_names_of_any_alphabet_are_kept_with_whitespace_collapsed(parts, data):
    gaps = [" "] * (len(parts) + 1) if data is None else [data.draw(whitespace) for _ in range(len(parts) + 1)]
    raw = gaps[0] + "".join(part + gap for part, gap in zip(parts, gaps[1:], strict=True))
    expected = " ".join(parts)
    if len(expected) <= NAME_MAX:
        assert clean_team_name(raw) == expected
        assert clean_team_name(expected) == expected
    else:
        with pytest.raises(ValidationFailed):
            clean_team_name(raw)


@given(st.text(printable, min_size=NAME_MAX, max_size=NAME_MAX), whitespace)
def test_a_hundred_characters_are_enough_and_surrounding_space_does_not_count(name, pad):
    assert clean_team_name(pad + name + pad) == name


@given(st.text(printable, min_size=NAME_MAX + 1, max_size=NAME_MAX + 40))
def test_more_than_a_hundred_characters_are_refused(name):
    with pytest.raises(ValidationFailed) as info:
        clean_team_name(name)
    assert list(info.value.errors) == ["name"]
    assert str(NAME_MAX) in info.value.errors["name"][0]


def test_a_hundred_and_one_is_one_too_many():
    assert clean_team_name("x" * 100) == "x" * 100
    with pytest.raises(ValidationFailed):
        clean_team_name("x" * 101)
    assert clean_team_name("x" * 50 + "   " + "y" * 49) == "x" * 50 + " " + "y" * 49  # 100 once collapsed


# control characters other than the whitespace ones (which are collapsed like any space)
controls = st.characters(categories=["Cc"]).filter(lambda c: not c.isspace())


@given(words, controls, st.data())
@example("Team", "\x00", None)
@example("Team", "\x1b", None)
@example("Team", "\x7f", None)
def test_control_characters_are_refused(name, control, data):
    at = 0 if data is None else data.draw(st.integers(0, len(name)))
    with pytest.raises(ValidationFailed) as info:
        clean_team_name(name[:at] + control + name[at:], "team_name")
    assert list(info.value.errors) == ["team_name"]


@pytest.mark.parametrize("name", [
    "\u06a9\u062a\u0627\u0628\u200c\u062e\u0627\u0646\u0647",  # Persian, with the zero-width non-joiner
    "\u0915\u094d\u200d\u0937 \u091f\u0940\u092e",  # Devanagari, a conjunct with the zero-width joiner
    "Design \U0001f469\u200d\U0001f4bb",  # an emoji sequence
    "Team \U0001f1f7\U0001f1fa",
])
def test_the_joiners_that_scripts_and_emoji_need_are_kept(name):
    assert clean_team_name(name) == name


# format characters (bidi overrides, invisible separators, ...) but the two joiners
formats = st.characters(categories=["Cf"]).filter(lambda c: c not in "\u200c\u200d" and not c.isspace())


@given(words, formats)
@example("evil", "\u202e")
@example("Team", "\u2066")
@example("Team", "\ufeff")
def test_other_format_characters_are_refused(name, invisible):
    with pytest.raises(ValidationFailed):
        clean_team_name(name + invisible)


@pytest.mark.parametrize("raw", ["", " ", "\t\n ", "\u200d", "\u200c \u200d", None, 5, b"team", ["team"]])
def test_empty_or_non_text_names_are_refused(raw):
    with pytest.raises(ValidationFailed) as info:
        clean_team_name(raw)
    assert list(info.value.errors) == ["name"]


# -- invitation tokens and state ----------------------------------------------------------------

tokens = st.text(min_size=1, max_size=200)


@given(tokens)
@example("a" * 43)
def test_the_token_hash_is_deterministic_hex_of_64_characters(token):
    digest = invitation_token_hash(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert invitation_token_hash(token) == digest
    assert digest != token


@given(tokens, tokens)
def test_different_tokens_hash_differently(one, other):
    if one != other:
        assert invitation_token_hash(one) != invitation_token_hash(other)


def test_tokens_differing_by_one_character_hash_differently():
    base = "".join(string.ascii_letters[:43])
    hashes = {invitation_token_hash(base[:i] + "_" + base[i + 1:]) for i in range(len(base))}
    assert len(hashes | {invitation_token_hash(base)}) == len(base) + 1


NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def invitation(**changes) -> Invitation:
    fields = dict(team_id=1, email="ada@example.com", role=MEMBER, token_hash=invitation_token_hash("t" * 43),
                  invited_by=2, created_at=NOW, expires_at=NOW + INVITATION_TTL)
    return Invitation(**{**fields, **changes})


offsets = st.timedeltas(min_value=-timedelta(days=30), max_value=timedelta(days=30))


@given(offsets)
@example(INVITATION_TTL)
@example(INVITATION_TTL - timedelta(microseconds=1))
@example(timedelta(0))
def test_an_invitation_is_pending_until_it_expires(offset):
    assert invitation().pending(NOW + offset) == (NOW + offset < NOW + INVITATION_TTL)


@given(offsets, st.booleans(), st.booleans(), offsets)
def test_an_accepted_or_revoked_invitation_is_never_pending(offset, accepted, revoked, when):
    used = invitation(accepted_at=NOW + when if accepted else None, revoked_at=NOW + when if revoked else None)
    at = NOW + offset
    assert used.pending(at) == (not accepted and not revoked and at < used.expires_at)
