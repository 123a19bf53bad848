"""Small builders the tests share."""

from __future__ import annotations

from verkstad.db import Database
from verkstad.orders import service
from verkstad.orders.service import CustomerInput, LineInput
from verkstad.orders.views import OrderView
from verkstad.users import Actor


def customer(
    db: Database,
    actor: Actor,
    name: str = "Anna Andersson",
    phone: str = "070-123 45 67",
    language: str = "sv",
) -> int:
    data = CustomerInput(name=name, phone=phone, email="anna@example.se", language=language)
    return service.create_customer(db, actor, data).number


def order_with_lines(db: Database, actor: Actor, customer_number: int | None = None) -> OrderView:
    """The worked example: parts 1 199,20 + labour 1 850,00 at 25 %."""
    number = customer_number or customer(db, actor)
    order = service.create_order(db, actor, number)
    service.add_line(
        db, actor, order.number, LineInput("Bromsbelägg", "1", "1 199,20", "25", "part")
    )
    return service.add_line(
        db, actor, order.number, LineInput("Arbete", "1", "1 850,00", "25", "labour")
    )
