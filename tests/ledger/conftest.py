"""The fake payment provider the books' tests refund through."""

from __future__ import annotations

import pytest

from tests.ledger.fakes import FakeProvider


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()
