"""Plain data the order services return (no ORM objects leave a unit of work)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from verkstad.orders.models import Company, Customer, Order, OrderLine, Vehicle
from verkstad.orders.status import LOCKED, OrderStatus
from verkstad.orders.totals import Totals, compute_totals, line_net


@dataclass(frozen=True)
class CompanyView:
    name: str
    org_number: str
    vat_number: str
    address: str
    postal_code: str
    city: str
    phone: str
    email: str
    bankgiro: str
    country: str
    currency: str
    timezone: str
    round_to_whole: bool

    @classmethod
    def of(cls, c: Company) -> CompanyView:
        return cls(**{f: getattr(c, f) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class VehicleView:
    reg_number: str
    make: str
    model: str
    year: int | None
    mileage_km: int | None
    customer_number: int

    @classmethod
    def of(cls, v: Vehicle, customer_number: int) -> VehicleView:
        return cls(v.reg_number, v.make, v.model, v.year, v.mileage_km, customer_number)


@dataclass(frozen=True)
class CustomerView:
    number: int
    name: str
    phone: str | None
    email: str | None
    address: str
    postal_code: str
    city: str
    language: str
    vehicles: list[VehicleView] = field(default_factory=list)

    @classmethod
    def of(cls, c: Customer, vehicles: list[Vehicle] | None = None) -> CustomerView:
        return cls(
            c.number,
            c.name,
            c.phone,
            c.email,
            c.address,
            c.postal_code,
            c.city,
            c.language,
            [VehicleView.of(v, c.number) for v in vehicles or []],
        )


@dataclass(frozen=True)
class LineView:
    id: int
    position: int
    kind: str
    article_number: str
    description: str
    quantity_milli: int
    unit: str
    unit_price_minor: int
    discount_bp: int
    vat_rate: int
    net_minor: int

    @classmethod
    def of(cls, line: OrderLine) -> LineView:
        assert line.id is not None
        return cls(
            line.id,
            line.position,
            line.kind,
            line.article_number,
            line.description,
            line.quantity_milli,
            line.unit,
            line.unit_price_minor,
            line.discount_bp,
            line.vat_rate,
            line_net(line),
        )


@dataclass(frozen=True)
class OrderView:
    number: int
    status: OrderStatus
    version: int
    currency: str
    customer: CustomerView
    vehicle: VehicleView | None
    lines: list[LineView]
    totals: Totals
    payment_method: str | None
    payment_received: bool
    payment_received_at: datetime | None
    posted_at: datetime | None
    invoice_number: int | None
    copied_from: int | None
    copied_to: int | None
    notes: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    @property
    def locked(self) -> bool:
        return self.status in LOCKED

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape: amounts in minor units, times ISO 8601 UTC."""
        data = asdict(self)
        data["status"] = self.status.value
        data["locked"] = self.locked
        for key in ("payment_received_at", "posted_at", "created_at", "updated_at"):
            value = getattr(self, key)
            data[key] = value.isoformat().replace("+00:00", "Z") if value else None
        data["totals"] = {
            "net_minor": self.totals.net,
            "vat_minor": self.totals.vat,
            "rounding_minor": self.totals.rounding,
            "total_minor": self.totals.payable,
            "per_rate": [
                {"vat_rate": r.rate, "net_minor": r.net, "vat_minor": r.vat}
                for r in self.totals.rates
            ],
        }
        return data


def order_view(
    order: Order,
    customer: Customer,
    vehicle: Vehicle | None,
    lines: list[OrderLine],
    round_to_whole: bool,
    order_numbers: dict[int, int],
) -> OrderView:
    return OrderView(
        number=order.number,
        status=OrderStatus(order.status),
        version=order.version,
        currency=order.currency,
        customer=CustomerView.of(customer),
        vehicle=VehicleView.of(vehicle, customer.number) if vehicle else None,
        lines=[LineView.of(line) for line in lines],
        totals=compute_totals(lines, round_to_whole),
        payment_method=order.payment_method,
        payment_received=order.payment_received,
        payment_received_at=order.payment_received_at,
        posted_at=order.posted_at,
        invoice_number=order.invoice_number,
        copied_from=order_numbers.get(order.copied_from_id or 0),
        copied_to=order_numbers.get(order.copied_to_id or 0),
        notes=order.notes,
        created_at=order.created_at,
        created_by=order.created_by,
        updated_at=order.updated_at,
        updated_by=order.updated_by,
    )
