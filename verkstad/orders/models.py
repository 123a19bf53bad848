"""Tables of the order domain: company, customers, vehicles, orders, lines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, false
from sqlmodel import Field, SQLModel

from verkstad.clock import now
from verkstad.db import UTCDateTime


class Company(SQLModel, table=True):
    """The workshop itself (one row)."""

    __tablename__ = "company"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=100)
    org_number: str = Field(default="", max_length=20)
    vat_number: str = Field(default="", max_length=20)
    address: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=10)
    city: str = Field(default="", max_length=60)
    phone: str = Field(default="", max_length=20)
    email: str = Field(default="", max_length=200)
    bankgiro: str = Field(default="", max_length=20)
    country: str = Field(default="SE", max_length=2)
    currency: str = Field(default="SEK", max_length=3)
    timezone: str = Field(default="Europe/Stockholm", max_length=60)
    round_to_whole: bool = True


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    name: str = Field(max_length=100, index=True)
    phone: str | None = Field(default=None, max_length=20, index=True)
    email: str | None = Field(default=None, max_length=200)
    address: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=10)
    city: str = Field(default="", max_length=60)
    language: str = Field(default="sv", max_length=2)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)


class Vehicle(SQLModel, table=True):
    __tablename__ = "vehicles"
    id: int | None = Field(default=None, primary_key=True)
    reg_number: str = Field(max_length=10, unique=True)
    make: str = Field(default="", max_length=40)
    model: str = Field(default="", max_length=60)
    year: int | None = None
    mileage_km: int | None = None
    customer_id: int = Field(foreign_key="customers.id", index=True)


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_received", "payment_received_at", "id"),
        Index("ix_orders_status", "status", "id"),
        Index("ix_orders_created", "created_at", "id"),
        Index("ix_orders_total", "total_minor", "id"),
        Index("ix_orders_customer", "customer_id", "id"),
        Index("ix_orders_vehicle", "vehicle_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    customer_id: int = Field(foreign_key="customers.id")
    vehicle_id: int | None = Field(default=None, foreign_key="vehicles.id")
    status: str = Field(max_length=12)
    currency: str = Field(default="SEK", max_length=3)
    # Totals kept on the order (recomputed by the service on every line change)
    # so the list can show and sort "Belopp" in SQL.
    net_minor: int = 0
    vat_minor: int = 0
    rounding_minor: int = 0
    total_minor: int = 0
    payment_method: str | None = Field(default=None, max_length=16)
    payment_received: bool = False
    payment_received_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    invoice_number: int | None = Field(default=None, unique=True)
    # The extra cost rules have added their lines (once, when first completed).
    extra_costs_applied: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # A credited order is reopened as a copy: the links go both ways.
    copied_from_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("orders.id"), nullable=True)
    )
    copied_to_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("orders.id"), nullable=True)
    )
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    created_by: str = Field(max_length=40)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    updated_by: str = Field(max_length=40)
    version: int = 1


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_lines"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    position: int
    kind: str = Field(max_length=10)
    article_number: str = Field(default="", max_length=40)
    description: str = Field(max_length=200)
    quantity_milli: int  # 1.5 hours = 1500
    unit: str = Field(default="st", max_length=10)
    unit_price_minor: int  # excl. VAT
    discount_bp: int = 0  # 12.5 % = 1250
    vat_rate: int = 25  # percent
