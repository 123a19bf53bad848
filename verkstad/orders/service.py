"""Order services: each public function is one unit of work with its rules.

Screens and the CLI call these and render what they return. The functions
that take a ``Session`` (``lock_order``, ``transition``, ``record_payment``,
``clear_payment``) are for other services (payments, books) to compose into
their own unit of work.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from verkstad.audit import record
from verkstad.clock import format_datetime, now
from verkstad.db import Database
from verkstad.errors import ConflictError, DomainError, NotFoundError, ValidationError
from verkstad.i18n import _
from verkstad.money import parse_minor
from verkstad.orders import fields as F
from verkstad.orders.extra_costs import add_extra_costs
from verkstad.orders.models import Company, Customer, Order, OrderLine, Vehicle
from verkstad.orders.status import (
    LOCK_REASONS,
    LOCKED,
    Action,
    OrderStatus,
    PaymentMethod,
    next_status,
)
from verkstad.orders.totals import compute_totals
from verkstad.orders.views import CompanyView, CustomerView, OrderView, VehicleView, order_view
from verkstad.series import take_number
from verkstad.users import Actor, Role, require_role

# ---------------------------------------------------------------- company


def company_row(session: Session) -> Company:
    company = session.get(Company, 1)
    assert company is not None, "the initial migration creates the company row"
    return company


def get_company(db: Database) -> CompanyView:
    with db.read() as s:
        return CompanyView.of(company_row(s))


COMPANY_FIELDS = {
    "name": 100,
    "org_number": 20,
    "vat_number": 20,
    "address": 200,
    "postal_code": 10,
    "city": 60,
    "phone": 20,
    "email": 200,
    "bankgiro": 20,
}
COUNTRY_CURRENCY = {"SE": "SEK", "NO": "NOK"}


def _company_label(key: str) -> str:
    """The field's name as the user sees it (a refusal names it, translated)."""
    labels = {
        "name": _("Company name"),
        "org_number": _("Organisation number"),
        "vat_number": _("VAT reg. no."),
        "address": _("Address"),
        "postal_code": _("Postal code"),
        "city": _("City"),
        "phone": _("Phone"),
        "email": _("E-mail"),
        "bankgiro": _("Bankgiro"),
    }
    return labels[key]


def update_company(db: Database, actor: Actor, **changes: Any) -> CompanyView:
    """Change company settings (ADMIN). Country decides the currency and the rounding."""
    require_role(db, actor, "update_company", Role.ADMIN)
    with db.session() as s:
        company = company_row(s)
        before = CompanyView.of(company)
        for key, value in changes.items():
            if value is None:
                continue
            if key in COMPANY_FIELDS:
                label = _company_label(key)
                text = F.clean_text(str(value), label, COMPANY_FIELDS[key])
                if key == "email" and text:
                    text = F.normalise_email(text, label)
                setattr(company, key, text)
            elif key == "country":
                country = str(value).strip().upper()
                if country not in COUNTRY_CURRENCY:
                    raise ValidationError(_("Country"), _("must be SE or NO"))
                company.country = country
                company.currency = COUNTRY_CURRENCY[country]
                company.round_to_whole = country == "SE"
            elif key == "timezone":
                from verkstad.clock import valid_timezone

                zone = str(value).strip()
                if not valid_timezone(zone):
                    raise ValidationError(_("Time zone"), _("unknown time zone"))
                company.timezone = zone
            else:
                raise ValidationError(key, _("unknown setting"))
        after = CompanyView.of(company)
        record(s, actor, "company", 1, "update", before.__dict__, after.__dict__)
        return after


# ---------------------------------------------------------------- customers


@dataclass
class CustomerInput:
    """What staff typed on the customer card; parsed and normalised by the service."""

    name: str
    phone: str = ""
    email: str = ""
    address: str = ""
    postal_code: str = ""
    city: str = ""
    language: str = "sv"


def _parse_customer(data: CustomerInput, country: str) -> dict[str, Any]:
    return {
        "name": F.clean_text(data.name, _("Name"), 100, required=True),
        "phone": F.normalise_phone(data.phone, country) if data.phone.strip() else None,
        "email": F.normalise_email(data.email) if data.email.strip() else None,
        "address": F.clean_text(data.address, _("Address"), 200),
        "postal_code": F.clean_text(data.postal_code, _("Postal code"), 10),
        "city": F.clean_text(data.city, _("City"), 60),
        "language": F.parse_language(data.language or "sv"),
    }


def create_customer(db: Database, actor: Actor, data: CustomerInput) -> CustomerView:
    with db.session() as s:
        values = _parse_customer(data, company_row(s).country)
        customer = Customer(number=take_number(s, "customer"), **values)
        s.add(customer)
        s.flush()
        record(s, actor, "customer", customer.number, "create", None, values)
        return CustomerView.of(customer)


def _customer(s: Session, number: int) -> Customer:
    customer = s.exec(select(Customer).where(Customer.number == number)).first()
    if customer is None:
        raise NotFoundError(_("There is no customer number {n}.").format(n=number))
    return customer


def _vehicles_of(s: Session, customer: Customer) -> list[Vehicle]:
    return list(
        s.exec(select(Vehicle).where(Vehicle.customer_id == customer.id).order_by(col(Vehicle.id)))
    )


def update_customer(db: Database, actor: Actor, number: int, data: CustomerInput) -> CustomerView:
    with db.session() as s:
        customer = _customer(s, number)
        values = _parse_customer(data, company_row(s).country)
        before = {k: getattr(customer, k) for k in values}
        for k, v in values.items():
            setattr(customer, k, v)
        record(s, actor, "customer", number, "update", before, values)
        return CustomerView.of(customer, _vehicles_of(s, customer))


def get_customer(db: Database, number: int) -> CustomerView:
    with db.read() as s:
        customer = _customer(s, number)
        return CustomerView.of(customer, _vehicles_of(s, customer))


def search_customers(db: Database, text: str = "", limit: int = 50) -> list[CustomerView]:
    """By name, customer number, phone as the customer says it, or registration number."""
    query = select(Customer)
    term = unicodedata.normalize("NFC", text).strip()
    if term:
        conditions = [func.lower(Customer.name).contains(term.lower())]
        if term.isascii() and term.isdigit() and len(term) < 16:  # ² is a digit, not for int()
            conditions.append(col(Customer.number) == int(term))
        try:
            conditions.append(col(Customer.phone) == F.normalise_phone(term))
        except ValidationError:
            pass
        reg = "".join(c for c in term.upper() if c.isalnum())
        if reg:
            conditions.append(
                col(Customer.id).in_(
                    select(Vehicle.customer_id).where(col(Vehicle.reg_number).startswith(reg))
                )
            )
        query = query.where(or_(*conditions))
    with db.read() as s:
        customers = s.exec(query.order_by(col(Customer.name), col(Customer.id)).limit(limit)).all()
        return [CustomerView.of(c, _vehicles_of(s, c)) for c in customers]


@dataclass
class VehicleInput:
    reg_number: str
    make: str = ""
    model: str = ""
    year: str = ""
    mileage_km: str = ""


def _parse_vehicle(data: VehicleInput) -> dict[str, Any]:
    def optional_int(text: str, field: str, low: int, high: int) -> int | None:
        value = text.strip().replace(" ", "")
        if not value:
            return None
        if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
            raise ValidationError(
                field, _("must be a whole number from {low} to {high}").format(low=low, high=high)
            )
        return int(value)

    return {
        "reg_number": F.normalise_reg(data.reg_number),
        "make": F.clean_text(data.make, _("Make"), 40),
        "model": F.clean_text(data.model, _("Model"), 60),
        "year": optional_int(data.year, _("Model year"), 1900, 2100),
        "mileage_km": optional_int(data.mileage_km, _("Mileage"), 0, 9_999_999),
    }


def add_vehicle(
    db: Database, actor: Actor, customer_number: int, data: VehicleInput
) -> VehicleView:
    values = _parse_vehicle(data)
    with db.session() as s:
        customer = _customer(s, customer_number)
        if s.exec(select(Vehicle).where(Vehicle.reg_number == values["reg_number"])).first():
            raise ConflictError(
                _("The vehicle {reg} is already registered.").format(reg=values["reg_number"])
            )
        assert customer.id is not None
        vehicle = Vehicle(customer_id=customer.id, **values)
        s.add(vehicle)
        record(s, actor, "vehicle", values["reg_number"], "create", None, values)
        return VehicleView.of(vehicle, customer.number)


def update_vehicle(
    db: Database,
    actor: Actor,
    reg_number: str,
    data: VehicleInput,
    customer_number: int | None = None,
) -> VehicleView:
    """Change a vehicle's data, or move it to another owner."""
    values = _parse_vehicle(data)
    with db.session() as s:
        vehicle = _vehicle(s, F.normalise_reg(reg_number))
        before = {k: getattr(vehicle, k) for k in values}
        if (
            values["reg_number"] != vehicle.reg_number
            and s.exec(select(Vehicle).where(Vehicle.reg_number == values["reg_number"])).first()
        ):
            raise ConflictError(
                _("The vehicle {reg} is already registered.").format(reg=values["reg_number"])
            )
        for k, v in values.items():
            setattr(vehicle, k, v)
        owner = s.get(Customer, vehicle.customer_id)
        if customer_number is not None:
            owner = _customer(s, customer_number)
            assert owner.id is not None
            vehicle.customer_id = owner.id
        assert owner is not None
        record(s, actor, "vehicle", vehicle.reg_number, "update", before, values)
        return VehicleView.of(vehicle, owner.number)


def _vehicle(s: Session, reg: str) -> Vehicle:
    vehicle = s.exec(select(Vehicle).where(Vehicle.reg_number == reg)).first()
    if vehicle is None:
        raise NotFoundError(_("There is no vehicle {reg}.").format(reg=reg))
    return vehicle


# ---------------------------------------------------------------- orders


def lock_order(s: Session, number: int, expected_version: int | None = None) -> Order:
    """Load an order for change, holding its row lock until the unit of work ends.

    ``expected_version`` is the version the user's screen showed: if someone
    changed the order since, the change is refused instead of overwriting theirs.
    """
    order = s.exec(_locked(select(Order).where(Order.number == number))).first()
    if order is None:
        raise NotFoundError(_("There is no order number {n}.").format(n=number))
    if expected_version is not None and order.version != expected_version:
        raise ConflictError(
            _(
                "Order {n} was changed by {user} at {time} after you opened it. "
                "Reload it and make your change again."
            ).format(n=number, user=order.updated_by, time=format_datetime(order.updated_at))
        )
    return order


def lock_order_id(s: Session, order_id: int) -> Order:
    """The order a payment belongs to, locked for change like ``lock_order``.

    Every write to an order goes through a row lock taken before the order is
    read: a change computed from an unlocked read (the version, the status)
    would overwrite what another terminal committed meanwhile.
    """
    return s.exec(_locked(select(Order).where(Order.id == order_id))).one()


def _locked(query: Any) -> Any:
    """FOR NO KEY UPDATE, re-reading the row even if the session loaded it before.

    The weaker row lock still serialises every change of the order, but lets
    other units of work insert rows that refer to it (lines, payment requests,
    audit and payment events) — with FOR UPDATE those inserts' key checks queue
    behind the lock and two terminals can deadlock.
    """
    return query.with_for_update(key_share=True).execution_options(populate_existing=True)


def _touch(order: Order, actor: Actor) -> None:
    order.version += 1
    order.updated_at = now()
    order.updated_by = actor.name


def _require_editable(order: Order) -> None:
    status = OrderStatus(order.status)
    if status in LOCKED:
        raise DomainError(
            _("Order {n} is locked ({status}). {why}").format(
                n=order.number, status=status.value, why=_(LOCK_REASONS[status])
            )
        )


def transition(s: Session, actor: Actor, order: Order, action: Action, reason: str = "") -> None:
    """Move the order along the status table (refusing anything else) and audit it."""
    before = OrderStatus(order.status)
    after = next_status(before, action)
    order.status = after
    _touch(order, actor)
    record(s, actor, "order", order.number, action.value, before.value, after.value, reason)


def record_payment(
    s: Session,
    actor: Actor,
    order: Order,
    method: PaymentMethod,
    received_at: datetime,
    reason: str = "",
) -> None:
    """Set "Betalning mottagen" with the time the money was received (not the time we noticed)."""
    before = _payment_fields(order)
    order.payment_method = method
    order.payment_received = True
    order.payment_received_at = received_at
    _touch(order, actor)
    record(
        s, actor, "order", order.number, "payment_received", before, _payment_fields(order), reason
    )


def clear_payment(s: Session, actor: Actor, order: Order, reason: str = "") -> None:
    before = _payment_fields(order)
    order.payment_method = None
    order.payment_received = False
    order.payment_received_at = None
    _touch(order, actor)
    record(
        s, actor, "order", order.number, "payment_cleared", before, _payment_fields(order), reason
    )


def _payment_fields(order: Order) -> dict[str, Any]:
    return {
        "payment_method": order.payment_method,
        "payment_received": order.payment_received,
        "payment_received_at": order.payment_received_at,
    }


def load_view(s: Session, order: Order) -> OrderView:
    customer = s.get(Customer, order.customer_id)
    assert customer is not None
    vehicle = s.get(Vehicle, order.vehicle_id) if order.vehicle_id else None
    lines = _lines(s, order)
    linked = [i for i in (order.copied_from_id, order.copied_to_id) if i]
    numbers = (
        {
            i: n
            for i, n in s.exec(select(Order.id, Order.number).where(col(Order.id).in_(linked)))
            if i is not None
        }
        if linked
        else {}
    )
    return order_view(order, customer, vehicle, lines, company_row(s).round_to_whole, numbers)


def get_order(db: Database, number: int) -> OrderView:
    with db.read() as s:
        order = s.exec(select(Order).where(Order.number == number)).first()
        if order is None:
            raise NotFoundError(_("There is no order number {n}.").format(n=number))
        return load_view(s, order)


def create_order(
    db: Database,
    actor: Actor,
    customer_number: int,
    vehicle_reg: str | None = None,
    notes: str = "",
) -> OrderView:
    with db.session() as s:
        customer = _customer(s, customer_number)
        vehicle_id = None
        if vehicle_reg:
            vehicle = _vehicle(s, F.normalise_reg(vehicle_reg))
            if vehicle.customer_id != customer.id:
                raise ValidationError(
                    _("Vehicle"),
                    _(
                        "{reg} belongs to another customer; move it on the vehicle card first."
                    ).format(reg=vehicle.reg_number),
                )
            vehicle_id = vehicle.id
        assert customer.id is not None
        order = Order(
            number=take_number(s, "order"),
            customer_id=customer.id,
            vehicle_id=vehicle_id,
            status=OrderStatus.OPEN,
            currency=company_row(s).currency,
            notes=F.clean_text(notes, _("Notes"), 2000),
            created_by=actor.name,
            updated_by=actor.name,
        )
        s.add(order)
        s.flush()
        record(s, actor, "order", order.number, "create", None, {"customer": customer.number})
        return load_view(s, order)


@dataclass
class LineInput:
    """One order line as typed: amounts and quantities are text, parsed by the service."""

    description: str
    quantity: str = "1"
    unit_price: str = "0"
    vat_rate: str = "25"
    kind: str = "part"
    discount: str = ""
    unit: str = ""
    article_number: str = ""


DEFAULT_UNITS = {"part": "st", "labour": "tim", "fee": "st", "text": ""}


def parse_line(data: LineInput, country: str) -> dict[str, Any]:
    kind = F.parse_kind(data.kind)
    text_only = kind == "text"
    return {
        "kind": kind,
        "description": F.clean_text(data.description, _("Description"), 200, required=True),
        "article_number": F.clean_text(data.article_number, _("Article number"), 40),
        "unit": F.clean_text(data.unit or DEFAULT_UNITS[kind], _("Unit"), 10),
        "quantity_milli": 0 if text_only else F.parse_quantity(data.quantity),
        "unit_price_minor": (
            0 if text_only else parse_minor(data.unit_price, field=_("Unit price excl. VAT"))
        ),
        "discount_bp": 0 if text_only else F.parse_discount(data.discount),
        "vat_rate": F.parse_vat_rate(data.vat_rate, country) if not text_only else 0,
    }


def _lines(s: Session, order: Order) -> list[OrderLine]:
    return list(
        s.exec(
            select(OrderLine)
            .where(OrderLine.order_id == order.id)
            .order_by(col(OrderLine.position))
        )
    )


def _refresh_totals(s: Session, order: Order) -> None:
    totals = compute_totals(_lines(s, order), company_row(s).round_to_whole)
    order.net_minor = totals.net
    order.vat_minor = totals.vat
    order.rounding_minor = totals.rounding
    order.total_minor = totals.payable


LINE_KEYS = (
    "kind",
    "description",
    "article_number",
    "unit",
    "quantity_milli",
    "unit_price_minor",
    "discount_bp",
    "vat_rate",
)

MAX_LINES = 500


def add_line(
    db: Database, actor: Actor, number: int, data: LineInput, expected_version: int | None = None
) -> OrderView:
    with db.session() as s:
        order = lock_order(s, number, expected_version)
        _require_editable(order)
        values = parse_line(data, company_row(s).country)
        lines = _lines(s, order)
        if len(lines) >= MAX_LINES:
            raise DomainError(_("An order can have at most {n} lines.").format(n=MAX_LINES))
        assert order.id is not None
        line = OrderLine(
            order_id=order.id, position=max((x.position for x in lines), default=0) + 1, **values
        )
        s.add(line)
        s.flush()
        _refresh_totals(s, order)
        _touch(order, actor)
        record(s, actor, "order", number, "add_line", None, values)
        return load_view(s, order)


def _line_of(s: Session, order: Order, line_id: int) -> OrderLine:
    line = s.get(OrderLine, line_id)
    if line is None or line.order_id != order.id:
        raise NotFoundError(_("Order {n} has no line {line}.").format(n=order.number, line=line_id))
    return line


def update_line(
    db: Database,
    actor: Actor,
    number: int,
    line_id: int,
    data: LineInput,
    expected_version: int | None = None,
) -> OrderView:
    with db.session() as s:
        order = lock_order(s, number, expected_version)
        _require_editable(order)
        line = _line_of(s, order, line_id)
        values = parse_line(data, company_row(s).country)
        before = {k: getattr(line, k) for k in LINE_KEYS}
        for k, v in values.items():
            setattr(line, k, v)
        s.flush()
        _refresh_totals(s, order)
        _touch(order, actor)
        record(s, actor, "order", number, "update_line", before, values)
        return load_view(s, order)


def delete_line(
    db: Database, actor: Actor, number: int, line_id: int, expected_version: int | None = None
) -> OrderView:
    with db.session() as s:
        order = lock_order(s, number, expected_version)
        _require_editable(order)
        line = _line_of(s, order, line_id)
        before = {k: getattr(line, k) for k in LINE_KEYS}
        s.delete(line)
        s.flush()
        _refresh_totals(s, order)
        _touch(order, actor)
        record(s, actor, "order", number, "delete_line", before, None)
        return load_view(s, order)


def update_order(
    db: Database,
    actor: Actor,
    number: int,
    *,
    notes: str | None = None,
    payment_method: str | None = None,
    vehicle_reg: str | None = None,
    expected_version: int | None = None,
) -> OrderView:
    """Change the order's notes, payment method or vehicle (only while it is editable)."""
    with db.session() as s:
        order = lock_order(s, number, expected_version)
        _require_editable(order)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if notes is not None:
            before["notes"], order.notes = order.notes, F.clean_text(notes, _("Notes"), 2000)
            after["notes"] = order.notes
        if payment_method is not None:
            method = parse_payment_method(payment_method) if payment_method else None
            if method in (PaymentMethod.MOBIL, PaymentMethod.MANUELL_MOBIL):
                raise ValidationError(
                    _("Payment method"),
                    _("{method} is set by the mobile payment functions, not by hand.").format(
                        method=method.value
                    ),
                )
            before["payment_method"], order.payment_method = order.payment_method, method
            after["payment_method"] = method
        if vehicle_reg is not None:
            vehicle_id, reg = None, None
            if vehicle_reg.strip():
                vehicle = _vehicle(s, F.normalise_reg(vehicle_reg))
                if vehicle.customer_id != order.customer_id:
                    raise ValidationError(
                        _("Vehicle"),
                        _(
                            "{reg} belongs to another customer; move it on the vehicle card first."
                        ).format(reg=vehicle.reg_number),
                    )
                vehicle_id, reg = vehicle.id, vehicle.reg_number
            current = s.get(Vehicle, order.vehicle_id) if order.vehicle_id else None
            before["vehicle"] = current.reg_number if current else None  # (the log shows it)
            after["vehicle"], order.vehicle_id = reg, vehicle_id
        if after:
            _touch(order, actor)
            record(s, actor, "order", number, "update", before, after)
        return load_view(s, order)


def parse_payment_method(text: str) -> PaymentMethod:
    try:
        return PaymentMethod(text.strip().upper())
    except ValueError:
        raise ValidationError(
            _("Payment method"),
            _("must be one of: {choices}").format(choices=", ".join(PaymentMethod)),
        ) from None


def complete(
    db: Database, actor: Actor, number: int, expected_version: int | None = None
) -> OrderView:
    """Klarmarkera: the order is ready for the customer's final payment."""
    with db.session() as s:
        order = lock_order(s, number, expected_version)
        if OrderStatus(order.status) == OrderStatus.OPEN and not any(
            line.kind != "text" for line in _lines(s, order)
        ):
            raise DomainError(
                _(
                    "Order {n} has no lines to charge; add at least one before marking it complete."
                ).format(n=number)
            )
        if add_extra_costs(s, actor, order):
            _refresh_totals(s, order)
        transition(s, actor, order, Action.COMPLETE)
        return load_view(s, order)


def reopen(
    db: Database, actor: Actor, number: int, expected_version: int | None = None
) -> OrderView:
    """Öppna order: back from KLART to ÖPPEN."""
    with db.session() as s:
        order = lock_order(s, number, expected_version)
        transition(s, actor, order, Action.REOPEN)
        return load_view(s, order)


def order_history(db: Database, number: int) -> list[dict[str, Any]]:
    from verkstad.audit import history

    return history(db, "order", number)


def count_orders(db: Database) -> int:
    with db.read() as s:
        return int(s.exec(select(func.count()).select_from(Order)).one())
