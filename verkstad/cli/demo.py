"""Demo data: ``verkstad demo seed`` fills a database with a realistic workshop."""

from __future__ import annotations

import time

import typer

from verkstad.cli.common import ctx_of, info
from verkstad.i18n import _


def register(app: typer.Typer) -> None:
    demo = typer.Typer(
        help=_("Demo workshop: seed data; without a sub-command, open the TUI on it."),
        invoke_without_command=True,
    )
    app.add_typer(demo, name="demo")

    @demo.callback()
    def demo_root(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            from verkstad.cli.tui import open_demo

            open_demo(ctx_of(ctx))

    @demo.command(
        "seed", help=_("Fill an empty database with demo customers, vehicles and orders.")
    )
    def seed(
        ctx: typer.Context,
        orders: int = typer.Option(2000, "--orders", help=_("How many orders")),
        seed_value: int = typer.Option(
            2026, "--seed", help=_("Random seed (same seed, same data)")
        ),
    ) -> None:
        from rich.progress import Progress

        from verkstad.demo import seed as do_seed

        c = ctx_of(ctx)
        started = time.perf_counter()
        with Progress(transient=True) as bar:
            task = bar.add_task(_("Creating demo data"), total=max(orders, 1))

            def progress(stage: str, done: int, total: int) -> None:
                if stage == "orders":
                    bar.update(task, completed=done)

            result = do_seed(c.db, orders, seed_value, progress)
        info(
            _("Created {orders} orders and {customers} customers in {seconds:.1f} s.").format(
                orders=result["orders"],
                customers=result["customers"],
                seconds=time.perf_counter() - started,
            )
        )
