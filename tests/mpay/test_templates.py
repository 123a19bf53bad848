"""Message templates: built-in texts in every language, admin texts per category, refused
placeholders, and payment links texted in the customer's language and locale."""

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from tests.helpers import order_with_lines
from verkstad.audit import history
from verkstad.errors import PermissionDenied, ValidationError
from verkstad.i18n import LANGUAGES
from verkstad.mpay.channels import list_channels
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.notify import OutboxMessage, queue_payment_link
from verkstad.mpay.templates import (
    INVOICE_EMAIL,
    KINDS,
    PAY_LINK_EMAIL,
    PAY_LINK_SMS,
    PLACEHOLDERS,
    check_placeholders,
    get_template,
    list_templates,
    set_template,
)
from verkstad.orders import service
from verkstad.orders.models import Order
from verkstad.orders.service import CustomerInput
from verkstad.users import Actor, Role

STAFF = Actor("kassa", Role.STAFF)


def test_every_kind_has_a_built_in_text_in_every_language(db):
    views = list_templates(db)
    assert {(v.kind, v.language) for v in views} == {(k, lang) for k in KINDS for lang in LANGUAGES}
    for v in views:
        assert v.body and not v.custom and v.category == "default"
        assert bool(v.subject) == (v.kind != PAY_LINK_SMS)
        check_placeholders("body", v.body, PLACEHOLDERS[v.kind])
        check_placeholders("subject", v.subject, PLACEHOLDERS[v.kind])


def test_an_admins_category_text_falls_back_to_the_language_default(db, admin):
    set_template(
        db, admin, INVOICE_EMAIL, "nb", "default", "Faktura {invoice_number}", "Hei {customer}"
    )
    set_template(db, admin, INVOICE_EMAIL, "nb", "service", "Service {invoice_number}", "Takk!")
    assert get_template(db, INVOICE_EMAIL, "nb", "service").body == "Takk!"
    parts = get_template(db, INVOICE_EMAIL, "nb", "parts")
    assert (parts.subject, parts.body, parts.custom) == (
        "Faktura {invoice_number}",
        "Hei {customer}",
        True,
    )
    assert not get_template(db, INVOICE_EMAIL, "sv", "service").custom  # other languages untouched
    listed = [(v.language, v.category) for v in list_templates(db) if v.kind == INVOICE_EMAIL]
    assert listed.index(("nb", "default")) + 1 == listed.index(("nb", "service"))
    assert history(db, "template", "invoice_email/nb/service")[0]["after"]["body"] == "Takk!"


def test_only_an_admin_edits_templates(db):
    with pytest.raises(PermissionDenied):
        set_template(db, STAFF, PAY_LINK_SMS, "sv", "default", "", "Betala {amount}: {link}")
    assert not get_template(db, PAY_LINK_SMS, "sv").custom


@pytest.mark.parametrize(
    ("subject", "body", "message"),
    [
        ("Faktura", "Betala {amout}", "Text: unknown placeholder {amout}; allowed: {amount}"),
        ("Faktura {nummer}", "x", "Subject: unknown placeholder {nummer}"),
        ("Faktura", "{amount.__class__}", "Text: unknown placeholder {amount.__class__}"),
        ("Faktura", "Betala {0}", "Text: unknown placeholder {0}"),
        ("Faktura", "Betala {amount", "Text: has an unmatched brace"),
        ("", "Betala {amount}", "Subject: must not be empty"),
        ("Faktura", "  ", "Text: must not be empty"),
    ],
)
def test_a_bad_template_is_refused_naming_the_field(db, admin, subject, body, message):
    with pytest.raises(ValidationError) as e:
        set_template(db, admin, INVOICE_EMAIL, "sv", "default", subject, body)
    assert message in str(e.value)
    assert not get_template(db, INVOICE_EMAIL, "sv").custom


def test_unknown_kind_language_or_category_is_refused(db, admin):
    for kind, lang, category, field in [
        ("fax", "sv", "default", "Kind"),
        (PAY_LINK_SMS, "de", "default", "Language"),
        (PAY_LINK_SMS, "sv", "tyres", "Category"),
    ]:
        with pytest.raises(ValidationError, match=f"^{field}: must be one of"):
            set_template(db, admin, kind, lang, category, "", "{link}")


def _request(db, admin, language: str) -> PaymentRequest:
    number = service.create_customer(
        db, admin, CustomerInput("Ola Nordmann", "+4791234567", "ola@example.no", language=language)
    ).number
    view = order_with_lines(db, admin, number)  # labour: a "service" order
    with db.session() as s:
        order = s.exec(select(Order).where(Order.number == view.number)).one()
        req = PaymentRequest(
            reference="V-1001",
            idempotency_key="k-1001",
            order_id=order.id,
            customer_id=order.customer_id,
            channel_id=list_channels(db)[0].id,
            provider="stripe",
            state="SENT",
            amount_minor=381200,
            currency="SEK",
            phone="+4791234567",
            email="ola@example.no",
            send_sms=True,
            send_email=True,
            link="https://pay.example/x",
            expires_at=datetime(2026, 3, 6, 13, 0, tzinfo=UTC),
            created_by="admin",
        )
        s.add(req)
        s.flush()
        queue_payment_link(s, req)
    return req


def test_a_payment_link_uses_the_customers_language_template_and_locale(db, admin):
    set_template(
        db, admin, PAY_LINK_SMS, "nb", "service", "", "Betal {amount} innen {expires}: {link}"
    )
    set_template(db, admin, PAY_LINK_EMAIL, "nb", "default", "Betaling {reference}", "{amount}")
    req = _request(db, admin, "nb")
    with db.read() as s:
        sms, mail = s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert sms.body == "Betal 3\xa0812,00\xa0SEK innen 06.03.2026, 14:00: https://pay.example/x"
    assert (mail.subject, mail.body) == ("Betaling V-1001", "3\xa0812,00\xa0SEK")
    assert sms.order_id == mail.order_id == req.order_id
    assert sms.payment_request_id == req.id
