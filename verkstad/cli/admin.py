"""Administration: database, configuration, users, company settings."""

from __future__ import annotations

import typer

from verkstad.cli.common import FORMAT_HELP, OutputFormat, ctx_of, emit, emit_json, info
from verkstad.i18n import _


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help=_("Database schema."), no_args_is_help=True)
    config_app = typer.Typer(help=_("Settings."), no_args_is_help=True)
    users_app = typer.Typer(help=_("Users and roles."), no_args_is_help=True)
    company_app = typer.Typer(help=_("The workshop's company settings."), no_args_is_help=True)
    app.add_typer(db_app, name="db")
    app.add_typer(config_app, name="config")
    app.add_typer(users_app, name="users")
    app.add_typer(company_app, name="company")

    @db_app.command("upgrade", help=_("Apply the database migrations (also done at every start)."))
    def db_upgrade(ctx: typer.Context) -> None:
        from verkstad.db import current_revision

        c = ctx_of(ctx)
        info(_("Database at revision {rev}.").format(rev=current_revision(c.db.engine)))

    @config_app.command("show", help=_("Print the effective settings, secrets masked."))
    def config_show(
        ctx: typer.Context,
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
    ) -> None:
        from verkstad.config import config_file

        data = ctx_of(ctx).settings.masked()
        if fmt is OutputFormat.json:
            emit_json({"config_file": str(config_file()), **data})
            return
        rows = [{"key": "config_file", "value": str(config_file())}]
        for key, value in data.items():
            if isinstance(value, dict):
                rows += [{"key": f"{key}.{k}", "value": v} for k, v in value.items()]
            else:
                rows.append({"key": key, "value": value})
        emit(fmt, [("key", _("Setting")), ("value", _("Value"))], rows)

    @users_app.command("add", help=_("Add a user (ADMIN)."))
    def users_add(
        ctx: typer.Context,
        name: str = typer.Argument(..., help=_("Login name")),
        role: str = typer.Option("STAFF", "--role", help="STAFF | PAYMENT_MANAGER | ADMIN"),
        full_name: str = typer.Option("", "--full-name"),
    ) -> None:
        from verkstad.users import add_user, parse_role

        c = ctx_of(ctx)
        added = add_user(c.db, c.actor, name, parse_role(role), full_name)
        info(_("User {name} added with role {role}.").format(name=added.name, role=added.role))

    @users_app.command("list", help=_("List users."))
    def users_list(
        ctx: typer.Context,
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
    ) -> None:
        from verkstad.users import list_users

        columns = [
            ("name", _("Name")),
            ("full_name", _("Full name")),
            ("role", _("Role")),
            ("active", _("Active")),
        ]
        emit(fmt, columns, list_users(ctx_of(ctx).db))

    @company_app.command("show", help=_("Show the company settings."))
    def company_show(
        ctx: typer.Context,
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
    ) -> None:
        from verkstad.orders.service import get_company

        data = get_company(ctx_of(ctx).db).__dict__
        if fmt is OutputFormat.json:
            emit_json(data)
            return
        emit(
            fmt,
            [("key", _("Setting")), ("value", _("Value"))],
            [{"key": k, "value": v} for k, v in data.items()],
        )

    @company_app.command("set", help=_("Change company settings (ADMIN)."))
    def company_set(
        ctx: typer.Context,
        name: str = typer.Option(None, "--name"),
        org_number: str = typer.Option(None, "--org-number"),
        vat_number: str = typer.Option(None, "--vat-number"),
        address: str = typer.Option(None, "--address"),
        postal_code: str = typer.Option(None, "--postal-code"),
        city: str = typer.Option(None, "--city"),
        phone: str = typer.Option(None, "--phone"),
        email: str = typer.Option(None, "--email"),
        bankgiro: str = typer.Option(None, "--bankgiro"),
        country: str = typer.Option(None, "--country", help="SE | NO"),
        timezone: str = typer.Option(None, "--timezone"),
    ) -> None:
        from verkstad.orders.service import update_company

        c = ctx_of(ctx)
        update_company(
            c.db,
            c.actor,
            name=name,
            org_number=org_number,
            vat_number=vat_number,
            address=address,
            postal_code=postal_code,
            city=city,
            phone=phone,
            email=email,
            bankgiro=bankgiro,
            country=country,
            timezone=timezone,
        )
        info(_("Company settings saved."))
