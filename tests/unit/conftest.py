import pytest

from promptcore.services.accounts import Accounts
from tests.fakes import (
    FakeAccessTokenCodec,
    FakeClock,
    FakeMailTemplates,
    FakePasswordHasher,
    FakeSignedTokenCodec,
    FakeStore,
    FakeUnitOfWork,
)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store():
    return FakeStore()


@pytest.fixture
def hasher():
    return FakePasswordHasher()


@pytest.fixture
def signed(clock):
    return FakeSignedTokenCodec(clock)


@pytest.fixture
def accounts(store, hasher, signed, clock):
    return Accounts(
        uow=lambda: FakeUnitOfWork(store),
        hasher=hasher,
        access_tokens=FakeAccessTokenCodec(),
        signed_tokens=signed,
        mail=FakeMailTemplates(),
        clock=clock,
        base_url="http://test.local",
        styles=lambda: frozenset({"general"}),
        models=("offline",),
    )
