"""The repository contracts of tests/contract, on a fresh, migrated PostgreSQL database each."""

from __future__ import annotations

import pytest

from tests.contract.backends import SqlBackend
from tests.contract.test_accounts_contract import *  # noqa: F403 - the same tests, another backend
from tests.contract.test_api_keys_contract import *  # noqa: F403
from tests.contract.test_billing_contract import *  # noqa: F403
from tests.contract.test_compare_contract import *  # noqa: F403
from tests.contract.test_library_contract import *  # noqa: F403
from tests.contract.test_mail_contract import *  # noqa: F403
from tests.contract.test_notifications_contract import *  # noqa: F403
from tests.contract.test_prompts_contract import *  # noqa: F403
from tests.contract.test_team_library_contract import *  # noqa: F403
from tests.contract.test_teams_contract import *  # noqa: F403

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend(postgres_url):
    made = SqlBackend(postgres_url)
    yield made
    made.close()


@pytest.fixture
def sql_backend(backend):
    return backend
