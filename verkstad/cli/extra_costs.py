"""Extra cost rules from the command line: fees added to orders of a category when completed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import typer

from verkstad.cli.common import FORMAT_HELP, OutputFormat, ctx_of, emit, info
from verkstad.i18n import _


def register(app: typer.Typer) -> None:
    costs = typer.Typer(
        help=_("Extra costs added to orders when they are marked complete (ADMIN)."),
        no_args_is_help=True,
    )
    app.add_typer(costs, name="extra-costs")

    @costs.command("list", help=_("The extra cost rules."))
    def list_(
        ctx: typer.Context,
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
    ) -> None:
        from verkstad.money import Money
        from verkstad.orders.extra_costs import list_rules
        from verkstad.orders.service import get_company

        c = ctx_of(ctx)
        currency = get_company(c.db).currency

        def display(key: str, value: Any) -> str:
            if key == "unit_price_minor":
                return Money(value, currency).format()
            return f"{value} %" if key == "vat_rate" else str(value)

        columns = [
            ("id", _("Id")),
            ("category", _("Category")),
            ("description", _("Description")),
            ("article_number", _("Article number")),
            ("unit_price_minor", _("Unit price excl. VAT")),
            ("vat_rate", _("VAT")),
        ]
        emit(fmt, columns, [asdict(r) for r in list_rules(c.db)], display)

    @costs.command("add", help=_("Add a fee to every order of a category (ADMIN)."))
    def add(
        ctx: typer.Context,
        category: str = typer.Option(..., "--category", help="default | service | parts"),
        description: str = typer.Option(..., "--description"),
        price: str = typer.Option(..., "--price", help=_("Unit price excl. VAT")),
        vat: str = typer.Option("25", "--vat"),
        article_number: str = typer.Option("", "--article-number"),
    ) -> None:
        from verkstad.orders.extra_costs import add_rule

        c = ctx_of(ctx)
        rule = add_rule(c.db, c.actor, category, description, price, vat, article_number)
        info(_("Extra cost rule {id} added.").format(id=rule.id))

    @costs.command("remove", help=_("Stop adding a fee; orders keep the lines they have (ADMIN)."))
    def remove(ctx: typer.Context, rule: int = typer.Argument(..., help=_("Rule id"))) -> None:
        from verkstad.orders.extra_costs import remove_rule

        c = ctx_of(ctx)
        remove_rule(c.db, c.actor, rule)
        info(_("Extra cost rule {id} removed.").format(id=rule))
