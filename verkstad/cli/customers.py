"""Customers and vehicles from the command line."""

from __future__ import annotations

from typing import Any

import typer

from verkstad.cli.common import FORMAT_HELP, OutputFormat, ctx_of, emit, emit_json, info
from verkstad.i18n import _
from verkstad.orders.views import CustomerView


def _row(c: CustomerView) -> dict[str, Any]:
    return {
        "number": c.number,
        "name": c.name,
        "phone": c.phone,
        "email": c.email,
        "address": c.address,
        "postal_code": c.postal_code,
        "city": c.city,
        "language": c.language,
        "vehicles": [v.reg_number for v in c.vehicles],
    }


def _columns() -> list[tuple[str, str]]:
    return [
        ("number", _("Cust. no.")),
        ("name", _("Name")),
        ("phone", _("Mobile phone")),
        ("email", _("E-mail")),
        ("city", _("City")),
        ("language", _("Language")),
        ("vehicles", _("Vehicles")),
    ]


def _display(key: str, value: Any) -> str:
    from verkstad.orders.fields import display_phone

    if key == "phone":
        return display_phone(value)
    if key == "vehicles":
        return ", ".join(value)
    return "" if value is None else str(value)


def register(app: typer.Typer) -> None:
    customers = typer.Typer(help=_("Customers."), no_args_is_help=True)
    vehicles = typer.Typer(help=_("Vehicles."), no_args_is_help=True)
    app.add_typer(customers, name="customers")
    app.add_typer(vehicles, name="vehicles")

    @customers.command("add", help=_("Add a customer."))
    def add(
        ctx: typer.Context,
        name: str = typer.Option(..., "--name"),
        phone: str = typer.Option("", "--phone", help=_("Mobile phone, e.g. 070-123 45 67")),
        email: str = typer.Option("", "--email"),
        address: str = typer.Option("", "--address"),
        postal_code: str = typer.Option("", "--postal-code"),
        city: str = typer.Option("", "--city"),
        language: str = typer.Option("sv", "--language", help="sv | nb | en | fr"),
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
    ) -> None:
        from verkstad.orders.service import CustomerInput, create_customer

        c = ctx_of(ctx)
        customer = create_customer(
            c.db, c.actor, CustomerInput(name, phone, email, address, postal_code, city, language)
        )
        if fmt is OutputFormat.json:
            emit_json(_row(customer))
        else:
            info(_("Customer {n} added: {name}.").format(n=customer.number, name=customer.name))

    @customers.command("edit", help=_("Change a customer (every field is replaced)."))
    def edit(
        ctx: typer.Context,
        number: int = typer.Argument(...),
        name: str = typer.Option(None, "--name"),
        phone: str = typer.Option(None, "--phone"),
        email: str = typer.Option(None, "--email"),
        address: str = typer.Option(None, "--address"),
        postal_code: str = typer.Option(None, "--postal-code"),
        city: str = typer.Option(None, "--city"),
        language: str = typer.Option(None, "--language"),
    ) -> None:
        from verkstad.orders.service import CustomerInput, get_customer, update_customer

        c = ctx_of(ctx)
        old = get_customer(c.db, number)

        def pick(new: str | None, current: str | None) -> str:
            return (current or "") if new is None else new

        update_customer(
            c.db,
            c.actor,
            number,
            CustomerInput(
                pick(name, old.name),
                pick(phone, old.phone),
                pick(email, old.email),
                pick(address, old.address),
                pick(postal_code, old.postal_code),
                pick(city, old.city),
                pick(language, old.language),
            ),
        )
        info(_("Customer {n} saved.").format(n=number))

    @customers.command("list", help=_("List or search customers (name, number, phone, reg. no.)."))
    def list_(
        ctx: typer.Context,
        search: str = typer.Option("", "--search"),
        limit: int = typer.Option(50, "--limit", min=1, max=10000),
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
    ) -> None:
        from verkstad.orders.service import search_customers

        rows = [_row(c) for c in search_customers(ctx_of(ctx).db, search, limit)]
        emit(fmt, _columns(), rows, _display)

    @customers.command("show", help=_("Show one customer with vehicles."))
    def show(
        ctx: typer.Context,
        number: int = typer.Argument(...),
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
    ) -> None:
        from verkstad.orders.service import get_customer

        customer = _row(get_customer(ctx_of(ctx).db, number))
        if fmt is OutputFormat.json:
            emit_json(customer)
        else:
            emit(
                fmt,
                [*_columns(), ("address", _("Address")), ("postal_code", _("Postal code"))],
                [customer],
                _display,
            )

    @vehicles.command("add", help=_("Register a vehicle to a customer."))
    def vehicle_add(
        ctx: typer.Context,
        customer: int = typer.Option(..., "--customer"),
        reg: str = typer.Option(..., "--reg"),
        make: str = typer.Option("", "--make"),
        model: str = typer.Option("", "--model"),
        year: str = typer.Option("", "--year"),
        mileage: str = typer.Option("", "--mileage"),
    ) -> None:
        from verkstad.orders.service import VehicleInput, add_vehicle

        c = ctx_of(ctx)
        vehicle = add_vehicle(
            c.db, c.actor, customer, VehicleInput(reg, make, model, year, mileage)
        )
        info(
            _("Vehicle {reg} registered to customer {n}.").format(
                reg=vehicle.reg_number, n=customer
            )
        )
