"""The Textual app: screens, global keys, Swedish everywhere, background payment polling."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.notifications import SeverityLevel
from textual.screen import Screen

from verkstad.clock import now
from verkstad.db import Database
from verkstad.i18n import _
from verkstad.mpay.gateway import Providers
from verkstad.screens.actions import ACTIONS, bindings, key_label
from verkstad.screens.base import call_service
from verkstad.screens.order_list import OrderListScreen
from verkstad.users import Actor

if TYPE_CHECKING:
    from verkstad.config import Settings

# Exit once the order list has painted (cold-start benchmark; see BENCHMARKS.md).
EXIT_AFTER_FIRST_PAINT = "VERKSTAD_EXIT_AFTER_FIRST_PAINT"


def _load_scheduler() -> None:
    """Import what the scheduler and its jobs need (run in a thread after the first paint)."""
    import verkstad.models
    import verkstad.mpay.scheduler
    import verkstad.mpay.service  # noqa: F401


class ActionCommands(Provider):
    """The command palette lists the registry's actions that the current screen can run."""

    def _actions(self) -> Iterable[tuple[str, str, str]]:
        screen = self.screen
        for a in ACTIONS:
            if a.id == "command_palette":
                continue
            if a.scope != "app" and (
                not hasattr(screen, f"action_{a.id}") or screen.check_action(a.id, ()) is not True
            ):
                continue
            yield a.id, _(a.label), key_label(a.key)

    async def discover(self) -> Hits:
        for action_id, label, key in self._actions():
            yield DiscoveryHit(f"{label}  ({key})", self._runner(action_id))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action_id, label, key in self._actions():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(f"{label}  ({key})"), self._runner(action_id))

    def _runner(self, action_id: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            await self.screen.run_action(action_id)

        return run


class VerkstadApp(App[None]):
    TITLE = "verkstad"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = bindings("app")
    COMMANDS = {ActionCommands}  # noqa: RUF012 - Textual's own class attribute

    def __init__(
        self,
        db: Database,
        actor: Actor,
        settings: Settings,
        pick_user: bool = False,
        scheduler: bool = True,
    ) -> None:
        super().__init__()
        self.db, self.actor, self.settings = db, actor, settings
        self.providers = Providers(settings)
        self.pick_user = pick_user
        self.run_scheduler = scheduler
        self._scheduler: Any = None
        self.company_country = "SE"
        self._notified: set[int] = set()
        self._started = now()
        self.exit_after_first_paint = os.environ.get(EXIT_AFTER_FIRST_PAINT) == "1"
        self._background_started = False

    def get_default_screen(self) -> Screen[Any]:
        # The list is the first screen itself: pushed over Textual's blank default screen,
        # it was styled and resumed once more before its first paint (cold start).
        return OrderListScreen()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is plain text, whoever sends it: messages quote what was typed
        ("[/x]"), and Textual would read them as markup (a name's text lost, a failed paint)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    async def on_mount(self) -> None:
        from verkstad.mpay.capture_window import set_capture_window
        from verkstad.orders.queries import company_basics

        self.set_keymap(self.settings.keys)
        set_capture_window(self.settings.capture_window_minutes)
        company = await call_service(self, company_basics, self.db)
        if company[1] is not None:
            self.company_country = company[1].country
        self.sub_title = self.actor.name

    def first_page_shown(self) -> None:
        """The order list's first page is in (or could not be read): now what the counter
        does in the background (Harlequin's lesson: nothing the first screen does not show
        delays it)."""
        if self._background_started:
            return
        self._background_started = True
        if self.exit_after_first_paint:
            self.call_after_refresh(self.exit)  # once the page is painted
        else:
            self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        gc.enable()  # held off by open_tui while the first page was built (cold start)
        self.run_worker(self._start_background(), name="after-first-paint")

    async def _start_background(self) -> None:
        full = getattr(self.settings, "full", None)  # read quickly: validate the rest now
        if full is not None:
            await asyncio.to_thread(full)
        if self.pick_user:
            self.run_worker(self._pick_user())
        if self.run_scheduler:
            # The scheduler's modules (APScheduler, the ORM) load in a thread, so the list
            # stays responsive meanwhile; it then runs in this event loop.
            await asyncio.to_thread(_load_scheduler)
            from verkstad.mpay.scheduler import build_scheduler

            scheduler = build_scheduler(self.db, self.settings, asyncio=True)
            scheduler.start()
            self._scheduler = scheduler
        self.set_interval(self.settings.poll_interval_seconds, self._notify_sender)

    async def _pick_user(self) -> None:
        from verkstad.screens.dialogs import ChoiceDialog
        from verkstad.users import Role, list_users

        _ok, users = await call_service(self, list_users, self.db)
        active = [u for u in users or [] if u["active"]]
        if len(active) < 2:
            return
        choices = [(u["name"], f"{u['name']:<12} {u['full_name']}", True) for u in active]
        name = await self.push_screen_wait(ChoiceDialog(_("Who is at the counter?"), choices))
        chosen = next((u for u in active if u["name"] == name), None)
        if chosen:
            self.actor = Actor(chosen["name"], Role(chosen["role"]))
            self.sub_title = self.actor.name

    async def _notify_sender(self) -> None:
        """Tell the sender when one of their requests is paid, or ended unpaid (expired,
        declined, failed: the order is KLART again and can be sent anew), wherever they are."""
        from verkstad.money import Money
        from verkstad.mpay.payments import PaymentFilter, list_payments
        from verkstad.mpay.status import PaymentState as P

        _ok, paid = await call_service(
            self, list_payments, self.db, self.actor, PaymentFilter(mine=True, unread_paid=True), 20
        )
        ended_unpaid = PaymentFilter(
            mine=True, states=(P.EXPIRED, P.DECLINED, P.FAILED), ended_from=self._started
        )
        _ok, ended = await call_service(self, list_payments, self.db, self.actor, ended_unpaid, 20)
        for view in [*(paid or []), *(ended or [])]:
            if view.id in self._notified:
                continue
            self._notified.add(view.id)
            if view.state == P.PAID:
                message = _("Payment received: order {order}, {amount}").format(
                    order=view.order_number or "—",
                    amount=Money(view.amount_minor, view.currency).format(),
                )
            else:
                message = _(
                    "Payment request for order {order}: {state}. It can be sent again."
                ).format(order=view.order_number or "—", state=view.state_label)
            self.notify(message, title=_("Mobile payment"), timeout=15)

    # ------------------------------------------------------------ global actions

    async def action_order_list(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, OrderListScreen):
            self.pop_screen()
        if isinstance(self.screen, OrderListScreen):
            await self.screen.reload()

    async def action_customers(self) -> None:
        from verkstad.screens.customers import CustomersScreen

        for screen in self.screen_stack:
            if isinstance(screen, CustomersScreen):
                while self.screen is not screen:
                    self.pop_screen()
                return
        await self.push_screen(CustomersScreen())

    async def action_payments(self) -> None:
        from verkstad.screens.payments import PaymentsScreen

        for screen in self.screen_stack:
            if isinstance(screen, PaymentsScreen):
                while self.screen is not screen:
                    self.pop_screen()
                return
        await self.push_screen(PaymentsScreen())

    def action_help(self) -> None:
        from verkstad.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_command_palette(self) -> None:
        if not CommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(CommandPalette(placeholder=_("Search for commands…")))

    def action_help_quit(self) -> None:
        self.notify(_("Press Ctrl+Q to quit."), title=_("Quit?"))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield SystemCommand(_("Quit"), _("Quit verkstad"), self.action_quit)
        yield SystemCommand(_("Help"), _("All keys and actions"), self.action_help)

    def on_unmount(self) -> None:
        if self._scheduler is not None:
            from verkstad.mpay.scheduler import stop

            self._scheduler.shutdown(wait=False)
            stop(self.db)
        self.providers.close()
