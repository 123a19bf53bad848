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
