"""What every screen shares: calling a service off the UI thread and showing its refusal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.screen import Screen

from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import _

if TYPE_CHECKING:
    from verkstad.app import VerkstadApp

T = TypeVar("T")
log = logging.getLogger(__name__)


async def call_service(
    app: Any, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> tuple[bool, T | None]:
    """Run a service function in a thread: (True, result), or (False, None) after showing why."""
    try:
        return True, await asyncio.to_thread(fn, *args, **kwargs)
    except DomainError as e:
        app.notify(str(e), severity="error", timeout=8)
        if isinstance(e, ValidationError):
            from verkstad.screens.dialogs import FormDialog  # (not needed to start)

            if isinstance(app.screen, FormDialog):
                app.screen.focus_field(e.field)  # the field to correct, not the last typed in
    except Exception as e:
        log.exception("service call failed")
        app.notify(_("Something went wrong: {error}").format(error=e), severity="error", timeout=10)
    return False, None


class ServiceScreen(Screen[Any]):
    @property
    def vapp(self) -> VerkstadApp:
        from verkstad.app import VerkstadApp

        assert isinstance(self.app, VerkstadApp)
        return self.app

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """The service's result, or None when it refused (the user has been told why)."""
        return (await call_service(self.app, fn, *args, **kwargs))[1]

    async def attempt(self, fn: Callable[..., object], *args: Any, **kwargs: Any) -> bool:
        """Whether the service call succeeded (for services that return nothing)."""
        return (await call_service(self.app, fn, *args, **kwargs))[0]
