"""A realistic demo workshop: Swedish and Norwegian customers, vehicles, and orders in
every status with payment times spread over two years. Bulk-inserted so a
million orders is practical; deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, func, insert, select, text
from sqlmodel import Session, col

from verkstad.audit import AuditEvent
from verkstad.clock import local, now
from verkstad.db import Database
from verkstad.errors import DomainError
from verkstad.i18n import _
from verkstad.ledger.accounts import load_chart
from verkstad.ledger.models import Verification, VerificationRow
from verkstad.ledger.posting import invoice_rows
from verkstad.orders.extra_costs import ExtraCostRule
from verkstad.orders.models import Company, Customer, Order, OrderLine, Vehicle
from verkstad.orders.status import OrderStatus, PaymentMethod
from verkstad.orders.totals import compute_totals
from verkstad.series import reserve_block
from verkstad.users import Actor, Role, User

Progress = Callable[[str, int, int], None]
MAX_CREDITED = 100  # credited through the real service (slower), so a capped handful
ADMIN = Actor("admin", Role.ADMIN)

SE_FIRST = """
    Anna Erik Maria Lars Karin Anders Eva Johan Sara Per Lena Nils Ingrid Oskar Åsa
    Björn Märta Göran Sofia Mikael
""".split()
SE_LAST = """
    Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson
    Gustafsson Pettersson Jönsson Lindström Åberg Öberg Holm Bergström Sandberg
""".split()
NO_FIRST = """
    Ole Kari Ingrid Lars Silje Håkon Marit Øyvind Ragnhild Jørgen Solveig Bjørn Tone
    Knut Åse
""".split()
NO_LAST = """
    Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Berg Haugen
    Dahl Lie Bakken Sæther
""".split()
STREETS = ["Storgatan", "Kungsvägen", "Skolgatan", "Torggata", "Kirkeveien"]
CITIES_SE = ["Exempelby", "Uppsala", "Västerås", "Örebro", "Linköping", "Göteborg", "Malmö"]
CITIES_NO = ["Oslo", "Bergen", "Trondheim", "Drammen", "Fredrikstad"]
MAKES = [
    ("Volvo", ["V70", "XC60", "V60", "S90", "XC40"]),
    ("Volkswagen", ["Golf", "Passat", "Tiguan", "ID.4"]),
    ("Toyota", ["Corolla", "RAV4", "Yaris", "Auris"]),
    ("Saab", ["9-3", "9-5"]),
    ("Škoda", ["Octavia", "Superb", "Enyaq"]),
    ("Tesla", ["Model 3", "Model Y"]),
]
LABOUR = [
    ("Service enligt tillverkarens program", 1500, 106_000),
    ("Felsökning", 1000, 106_000),
    ("Byte av bromsbelägg fram", 1200, 106_000),
    ("Hjulskifte", 500, 106_000),
    ("Byte av kamrem", 3500, 106_000),
    ("Luftkonditionering, service", 800, 106_000),
]
PARTS = [
    ("OF-1182", "Oljefilter", 1000, 18_900),
    ("MO-5W30", "Motorolja 5W-30", 4500, 12_900),
    ("BB-2210", "Bromsbelägg fram", 1000, 119_920),
    ("TP-0099", "Torkarblad", 2000, 24_900),
    ("KR-7781", "Kamremssats", 1000, 289_000),
    ("LF-3301", "Luftfilter", 1000, 29_900),
]
FEES = [("Miljöavgift", 4_500), ("Förbrukningsmaterial", 9_500)]
SE_PLATE_LETTERS = "ABCDEFGHJKLMNOPRSTUWXYZ"  # no I, Q, V, Å, Ä, Ö


def _plate(index: int, norwegian: bool) -> str:
    """A unique, valid-looking plate for vehicle ``index`` (a bijective scramble)."""
    letters = SE_PLATE_LETTERS
    if norwegian:
        n = (index * 7919 + 4711) % (len(letters) ** 2 * 100_000)
        a, digits = divmod(n, 100_000)
        return letters[a // len(letters)] + letters[a % len(letters)] + f"{digits:05d}"
    n = (index * 7919 + 4711) % (len(letters) ** 3 * 1000)
    n, digits = divmod(n, 1000)
    word = ""
    for _i in range(3):
        n, r = divmod(n, len(letters))
        word = letters[r] + word
    return f"{word}{digits:03d}"


def _customers(rng: random.Random, count: int, first_number: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        norwegian = rng.random() < 0.2
        first = rng.choice(NO_FIRST if norwegian else SE_FIRST)
        last = rng.choice(NO_LAST if norwegian else SE_LAST)
        if norwegian:
            phone = (
                f"+47{rng.choice(('4', '9'))}{rng.choice('015678')}{rng.randrange(1_000_000):06d}"
            )
        else:
            phone = f"+467{rng.choice('0236')}{rng.randrange(10_000_000):07d}"
        domain = "example.no" if norwegian else "example.se"
        email = f"{first}.{last}{i}@{domain}".lower()
        yield {
            "number": first_number + i,
            "name": f"{first} {last}",
            "phone": phone,
            "email": email.replace("å", "a")
            .replace("ä", "a")
            .replace("ö", "o")
            .replace("ø", "o")
            .replace("æ", "ae"),
            "address": f"{rng.choice(STREETS)} {rng.randrange(1, 80)}",
            "postal_code": f"{rng.randrange(10_000, 99_999)}"
            if not norwegian
            else f"{rng.randrange(1000, 9999)}",
            "city": rng.choice(CITIES_NO if norwegian else CITIES_SE),
            "language": "nb" if norwegian else "sv",
            "created_at": now() - timedelta(days=800),
        }


class _Line:
    __slots__ = ("discount_bp", "quantity_milli", "unit_price_minor", "vat_rate")

    def __init__(self, qty: int, price: int, discount: int = 0, vat: int = 25) -> None:
        self.quantity_milli, self.unit_price_minor, self.discount_bp, self.vat_rate = (
            qty,
            price,
            discount,
            vat,
        )


def _lines(rng: random.Random) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    desc, qty, price = rng.choice(LABOUR)
    lines.append(
        {
            "kind": "labour",
            "article_number": "",
            "description": desc,
            "quantity_milli": qty,
            "unit": "tim",
            "unit_price_minor": price,
            "discount_bp": 0,
            "vat_rate": 25,
        }
    )
    for _i in range(rng.choice((0, 1, 1, 2, 3))):
        art, desc, qty, price = rng.choice(PARTS)
        lines.append(
            {
                "kind": "part",
                "article_number": art,
                "description": desc,
                "quantity_milli": qty,
                "unit": "st",
                "unit_price_minor": price,
                "discount_bp": rng.choice((0, 0, 0, 1000)),
                "vat_rate": 25,
            }
        )
    if rng.random() < 0.5:
        desc, price = rng.choice(FEES)
        lines.append(
            {
                "kind": "fee",
                "article_number": "",
                "description": desc,
                "quantity_milli": 1000,
                "unit": "st",
                "unit_price_minor": price,
                "discount_bp": 0,
                "vat_rate": 25,
            }
        )
    return lines


def _status_and_payment(rng: random.Random, created: datetime, at: datetime) -> dict[str, Any]:
    """A plausible life for an order created at ``created`` (seen from ``at``)."""
    age = at - created
    recent = age < timedelta(days=14)
    roll = rng.random()
    if recent and roll < 0.3:
        return {"status": OrderStatus.OPEN}
    if (recent and roll < 0.6) or (not recent and roll < 0.02):
        return {"status": OrderStatus.DONE}
    status = OrderStatus.POSTED  # some are credited afterwards, through the books' service
    method = rng.choices(list(PaymentMethod), weights=(5, 30, 20, 40, 5))[0]
    received_at = created + timedelta(seconds=rng.randrange(1800, 86400 * 5))
    paid = method != PaymentMethod.FAKTURA or rng.random() < 0.85
    if received_at > at:
        received_at = at - timedelta(minutes=1)
    return {
        "status": status,
        "payment_method": method,
        "payment_received": paid,
        "payment_received_at": received_at if paid else None,
        "posted_at": received_at
        if method != PaymentMethod.FAKTURA
        else created + timedelta(hours=2),
    }


def seed(
    db: Database, orders: int = 2000, seed_value: int = 2026, progress: Progress | None = None
) -> dict[str, int]:
    """Fill an empty database with a demo workshop; returns what was created."""
    if orders < 0 or orders > 10_000_000:
        raise DomainError(_("--orders must be between 0 and 10 000 000."))
    rng = random.Random(seed_value)
    report = progress or (lambda stage, done, total: None)
    at = now()
    n_customers = max(20, min(50_000, orders // 20))
    chunk = 20_000
    with db.engine.connect() as conn:
        with conn.begin():
            if conn.execute(select(func.count()).select_from(Order)).scalar_one():
                raise DomainError(
                    _("The database already has orders; demo data goes into an empty one.")
                )
            _company_and_users(conn)
            first_customer = reserve_block(conn, "customer", n_customers)
            customers = list(_customers(rng, n_customers, first_customer))
            conn.execute(insert(Customer), customers)
            ids: dict[int, int] = dict(
                conn.execute(select(col(Customer.number), col(Customer.id))).all()  # type: ignore[arg-type]
            )
            vehicles = []
            for i, c in enumerate(customers):
                make, models = rng.choice(MAKES)
                vehicles.append(
                    {
                        "reg_number": _plate(i, c["language"] == "nb"),
                        "make": make,
                        "model": rng.choice(models),
                        "year": rng.randrange(2005, 2026),
                        "mileage_km": rng.randrange(5_000, 300_000),
                        "customer_id": ids[c["number"]],
                    }
                )
            conn.execute(insert(Vehicle), vehicles)
            vehicle_of = {
                v["customer_id"]: vid
                for v, vid in zip(
                    vehicles,
                    conn.execute(select(col(Vehicle.id)).order_by(col(Vehicle.id))).scalars(),
                    strict=True,
                )
            }
            report("customers", n_customers, n_customers)

            first_order = reserve_block(conn, "order", orders)
            next_id = (conn.execute(select(func.max(col(Order.id)))).scalar_one() or 0) + 1
            customer_ids = list(ids.values())
            span = timedelta(days=730).total_seconds()
            created_times = sorted(
                at - timedelta(seconds=rng.random() * span) for _i in range(orders)
            )
            invoice = reserve_block(conn, "invoice", 0)
            # Posted orders are booked as post_order books them, in bulk.
            with Session(bind=conn) as reading:
                chart = load_chart(reading)
            verification = reserve_block(conn, "verification", 0)
            next_verification_id = (
                conn.execute(select(func.max(col(Verification.id)))).scalar_one() or 0
            ) + 1
            names = {ids[c["number"]]: f"{c['number']} {c['name']}" for c in customers}
            to_credit: list[int] = []
            done = 0
            while done < orders:
                batch_orders, batch_lines, batch_vers, batch_rows = [], [], [], []
                for k in range(done, min(orders, done + chunk)):
                    created = created_times[k]
                    customer_id = rng.choice(customer_ids)
                    life = _status_and_payment(rng, created, at)
                    lines = _lines(rng)
                    totals = compute_totals(
                        [
                            _Line(x["quantity_milli"], x["unit_price_minor"], x["discount_bp"])
                            for x in lines
                        ]
                    )
                    order_id = next_id + k
                    if life["status"] == OrderStatus.POSTED:
                        life["invoice_number"] = invoice
                        method = life["payment_method"]
                        batch_vers.append(
                            {
                                "id": next_verification_id,
                                "number": verification,
                                "booked_on": local(life["posted_at"]).date(),
                                "kind": "invoice",
                                "text": _(
                                    "Invoice {invoice}, order {order}, {customer}, {method}"
                                ).format(
                                    invoice=invoice,
                                    order=first_order + k,
                                    customer=names[customer_id],
                                    method=method.value,
                                )[:200],
                                "order_id": order_id,
                                "document_number": invoice,
                                "created_at": life["posted_at"],
                                "created_by": "admin",
                            }
                        )
                        rows = invoice_rows(
                            [SimpleNamespace(**x) for x in lines], True, method, chart
                        )
                        batch_rows += [
                            {
                                "verification_id": next_verification_id,
                                "account": r.account,
                                "amount_minor": r.amount,
                                "role": r.role,
                                "vat_rate": r.vat_rate,
                            }
                            for r in rows
                        ]
                        if rng.random() < 0.03 and len(to_credit) < MAX_CREDITED:
                            to_credit.append(first_order + k)
                        invoice += 1
                        verification += 1
                        next_verification_id += 1
                    batch_orders.append(
                        {
                            "id": order_id,
                            "number": first_order + k,
                            "customer_id": customer_id,
                            "vehicle_id": vehicle_of.get(customer_id),
                            "currency": "SEK",
                            "net_minor": totals.net,
                            "vat_minor": totals.vat,
                            "rounding_minor": totals.rounding,
                            "total_minor": totals.payable,
                            "payment_method": None,
                            "payment_received": False,
                            "payment_received_at": None,
                            "posted_at": None,
                            "invoice_number": None,
                            "notes": "",
                            "created_at": created,
                            "created_by": "admin",
                            "updated_at": created,
                            "updated_by": "admin",
                            "version": 1,
                            **life,
                        }
                    )
                    for pos, line in enumerate(lines, 1):
                        batch_lines.append({"order_id": order_id, "position": pos, **line})
                conn.execute(insert(Order), batch_orders)
                conn.execute(insert(OrderLine), batch_lines)
                if batch_vers:
                    conn.execute(insert(Verification), batch_vers)
                    conn.execute(insert(VerificationRow), batch_rows)
                done += len(batch_orders)
                report("orders", done, orders)
            for series, value in (("invoice", invoice), ("verification", verification)):
                conn.execute(
                    text("UPDATE series SET next_value = :v WHERE name = :n"),
                    {"v": value, "n": series},
                )
            if conn.dialect.name == "postgresql":
                for table in (
                    "orders",
                    "order_lines",
                    "customers",
                    "vehicles",
                    "verifications",
                    "verification_rows",
                ):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                        )
                    )
            conn.execute(
                insert(AuditEvent),
                [
                    {
                        "at": at,
                        "user_name": "system",
                        "entity": "database",
                        "entity_id": "demo",
                        "action": "demo_seed",
                        "before": None,
                        "after": f'{{"orders": {orders}, "customers": {n_customers}}}',
                        "reason": "",
                    }
                ],
            )
        _credit_some(db, to_credit)
        if db.is_sqlite:
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()
    return {"orders": orders, "customers": n_customers, "vehicles": n_customers}


def _credit_some(db: Database, numbers: list[int]) -> None:
    """Credit a few posted orders the way staff do (credit note, mirror verification, an
    editable copy); the demo's payments were not made through a provider: no refund."""
    from verkstad.ledger.credit import credit_order

    def no_provider(name: str) -> Any:
        raise AssertionError("demo credits refund nothing")

    for number in numbers:
        credit_order(db, no_provider, ADMIN, number, refund=False, reason=_("Demo"))


def _company_and_users(conn: Connection) -> None:
    conn.execute(
        Company.__table__.update()  # type: ignore[attr-defined]
        .where(Company.__table__.c.id == 1)  # type: ignore[attr-defined]
        .values(
            name="Bilverkstaden i Exempelby AB",
            org_number="556677-8899",
            vat_number="SE556677889901",
            address="Verkstadsvägen 12",
            postal_code="123 45",
            city="Exempelby",
            phone="+46101234567",
            email="kassa@bilverkstaden.example.se",
            bankgiro="5050-1055",
        )
    )
    if conn.execute(select(func.count()).select_from(ExtraCostRule)).scalar_one() == 0:
        conn.execute(  # orders completed in the demo get this fee (verkstad extra-costs)
            insert(ExtraCostRule),
            [
                {
                    "category": "service",
                    "description": "Miljöavgift",
                    "article_number": "MILJO",
                    "unit_price_minor": 7500,
                    "vat_rate": 25,
                    "created_at": now(),
                    "created_by": "admin",
                }
            ],
        )
    existing = set(conn.execute(select(col(User.name))).scalars())
    for name, full, role in (
        ("anna", "Anna Verkstad", "STAFF"),
        ("bengt", "Bengt Ekonomi", "PAYMENT_MANAGER"),
    ):
        if name not in existing:
            conn.execute(
                insert(User),
                [
                    {
                        "name": name,
                        "full_name": full,
                        "role": role,
                        "active": True,
                        "preferences": "{}",
                        "created_at": now(),
                    }
                ],
            )
