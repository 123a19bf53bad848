"""Product categories: what an order sells, which chooses its message texts and extra costs."""

from __future__ import annotations

from sqlmodel import Session, select

from verkstad.orders.models import OrderLine

# "default" is every order: the fallback text, and extra costs added to all orders.
CATEGORIES = ("default", "service", "parts")


def order_category(s: Session, order_id: int | None) -> str:
    """ "service" if the order has labour, "parts" if it sells goods only, else "default"."""
    if order_id is None:
        return "default"
    kinds = set(s.exec(select(OrderLine.kind).where(OrderLine.order_id == order_id)).all())
    if "labour" in kinds:
        return "service"
    return "parts" if "part" in kinds else "default"
