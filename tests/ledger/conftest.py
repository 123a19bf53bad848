"""The fake payment provider the books' tests refund through."""

from __future__ import annotations

import pytest

from tests.ledger.fakes import FakeProvider
from tests.mpay.conftest import shop  # noqa: F401  (a workshop on the sandbox, per provider)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()
