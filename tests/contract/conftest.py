"""Contract tests: the same assertions against the fake and the SQL unit of work on SQLite.
tests/integration/test_contracts_postgres.py runs the repository contracts on PostgreSQL too."""

from __future__ import annotations

import pytest

from tests.contract.backends import make_backend


@pytest.fixture(params=["fake", "sqlite"])
def backend(request, tmp_path):
    made = make_backend(request.param, tmp_path)
    yield made
    made.close()
