"""The demo workshop is realistic: every customer can receive a payment request."""

import phonenumbers

from verkstad.demo import seed
from verkstad.orders.service import search_customers
from verkstad.orders.status import OrderStatus


def test_every_demo_phone_number_is_a_valid_mobile_and_every_status_is_there(db):
    seed(db, orders=600, seed_value=11)
    customers = search_customers(db, limit=10_000)
    assert len(customers) >= 20 and {c.language for c in customers} == {"sv", "nb"}
    for c in customers:
        number = phonenumbers.parse(c.phone)
        assert phonenumbers.is_valid_number(number), c.phone
        assert phonenumbers.number_type(number) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
    from verkstad.orders.queries import OrderFilter, count_orders

    for status in (OrderStatus.OPEN, OrderStatus.DONE, OrderStatus.POSTED, OrderStatus.CREDITED):
        assert count_orders(db, OrderFilter(statuses=(status,))) > 0, status


def test_the_demos_books_agree_with_its_orders(db):
    from sqlalchemy import func, select

    from verkstad.invoices.pdf import invoice_pdf
    from verkstad.ledger.models import Verification, VerificationRow
    from verkstad.orders.models import Order

    seed(db, orders=600, seed_value=5)
    with db.read() as s:
        posted = s.execute(
            select(Order.id, Order.number).where(
                Order.status.in_([OrderStatus.POSTED.value, OrderStatus.CREDITED.value])
            )
        ).all()
        invoiced = set(
            s.execute(select(Verification.order_id).where(Verification.kind == "invoice")).scalars()
        )
        unbalanced = s.execute(
            select(VerificationRow.verification_id)
            .group_by(VerificationRow.verification_id)
            .having(func.sum(VerificationRow.amount_minor) != 0)
        ).all()
        credits = s.execute(select(func.count()).where(Verification.kind == "credit")).scalar_one()
    assert posted and {order_id for order_id, _n in posted} <= invoiced
    assert unbalanced == [] and credits > 0
    number = posted[0][1]
    assert invoice_pdf(db, number).startswith(b"%PDF")  # a demo invoice can be shown
