"""What runs on its own: the headless scheduler and the provider-callback receiver."""

from __future__ import annotations

import typer

from verkstad.cli.common import ctx_of, info
from verkstad.i18n import _


def register(app: typer.Typer) -> None:
    scheduler = typer.Typer(help=_("The scheduler: polling, expiry, capture window, messages."))
    callbacks = typer.Typer(help=_("Receive payment providers' callbacks."))
    app.add_typer(scheduler, name="scheduler")
    app.add_typer(callbacks, name="callbacks")

    @scheduler.command(
        "run", help=_("Run the scheduler without the TUI (for a back-office machine).")
    )
    def run(ctx: typer.Context) -> None:
        from verkstad.mpay.scheduler import run_headless

        c = ctx_of(ctx)
        info(_("The scheduler is running; Ctrl+C stops it."))
        run_headless(c.db, c.settings)

    @callbacks.command("serve", help=_("Serve POST /callbacks/<provider> for the providers."))
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host"),
        port: int = typer.Option(8766, "--port", min=1, max=65535),
    ) -> None:
        from verkstad.mpay.webhooks import serve as do

        c = ctx_of(ctx)
        info(
            _("Receiving callbacks on http://{host}:{port}/callbacks/<provider>").format(
                host=host, port=port
            )
        )
        do(c.db, c.settings, host, port)
