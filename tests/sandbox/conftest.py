"""The sandbox on a free loopback port for the whole session, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from verkstad.config import Settings
from verkstad.sandbox.testing import RunningSandbox, WebhookReceiver, run_sandbox


@pytest.fixture(scope="session")
def _sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with run_sandbox(tmp_path_factory.mktemp("sandbox") / "sandbox.db") as running:
        yield running


@pytest.fixture
def sandbox(_sandbox_server: RunningSandbox) -> RunningSandbox:
    _sandbox_server.reset()
    return _sandbox_server


@pytest.fixture
def settings(sandbox: RunningSandbox) -> Settings:
    """verkstad's settings with every provider pointing at the sandbox."""
    return sandbox.settings


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.close()
