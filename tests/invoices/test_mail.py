"""Skicka faktura via e-post: preview, then one queued e-mail with the invoice PDF attached,
in the customer's language and the order's category; refusals change nothing."""

import pytest
from sqlmodel import select

from tests.helpers import customer
from tests.ledger.builders import klart
from verkstad.audit import history
from verkstad.errors import DomainError
from verkstad.i18n import translation_for
from verkstad.invoices.mail import preview_invoice_email, send_invoice_email
from verkstad.ledger.posting import post_order
from verkstad.mpay.notify import OutboxMessage, messages_for_order
from verkstad.mpay.templates import INVOICE_EMAIL, set_template
from verkstad.orders import service
from verkstad.orders.service import CustomerInput


def _posted(db, admin, **customer_fields) -> int:
    number = service.create_customer(
        db, admin, CustomerInput("Åsa Öberg", "070-123 45 67", **customer_fields)
    ).number
    order = klart(db, admin, customer=number)
    post_order(db, admin, order)
    return order


def test_preview_shows_recipient_text_and_the_invoice_pdf(db, admin, pdf_text):
    order = _posted(db, admin, email="asa@example.se")
    invoice = service.get_order(db, order).invoice_number
    mail = preview_invoice_email(db, order)
    assert mail.to == "asa@example.se"
    subject = translation_for("sv").gettext("Invoice {invoice_number} from {company}")
    assert mail.subject == subject.format(invoice_number=invoice, company="").strip()
    assert "3\xa0812,00\xa0kr" in mail.body  # Swedish customer: Swedish amount
    assert mail.file_name == f"faktura-{invoice}.pdf"
    assert str(invoice) in pdf_text(mail.pdf)
    assert messages_for_order(db, order) == []  # a preview sends nothing


def test_sending_twice_queues_one_e_mail_with_the_pdf_and_one_audit_event(db, admin, pdf_text):
    order = _posted(db, admin, email="asa@example.se")
    first = send_invoice_email(db, admin, order)
    again = send_invoice_email(db, admin, order)
    assert first.queued and not again.queued and first.invoice_number == again.invoice_number
    with db.read() as s:
        (row,) = s.exec(select(OutboxMessage)).all()
        (attachment,) = row.attachments
    assert (attachment.filename, attachment.mime_type) == (
        f"faktura-{first.invoice_number}.pdf",
        "application/pdf",
    )
    assert str(first.invoice_number) in pdf_text(attachment.content)
    (shown,) = messages_for_order(db, order)
    assert (shown.channel, shown.recipient, shown.state) == ("email", "asa@example.se", "PENDING")
    assert shown.attachments == (attachment.filename,)
    sent = [e for e in history(db, "order", order) if e["action"] == "email_invoice"]
    assert [e["after"] for e in sent] == [{"to": "asa@example.se", "invoice": first.invoice_number}]


def test_the_customers_language_and_the_orders_category_choose_the_text(db, admin):
    set_template(db, admin, INVOICE_EMAIL, "fr", "service", "Facture {invoice_number}", "{amount}")
    order = _posted(db, admin, email="luc@example.fr", language="fr")  # labour: "service"
    mail = preview_invoice_email(db, order)
    invoice = service.get_order(db, order).invoice_number
    assert (mail.subject, mail.body) == (f"Facture {invoice}", "3\u202f812,00\xa0SEK")


def test_no_e_mail_address_or_not_posted_is_refused(db, admin):
    order = _posted(db, admin)
    with pytest.raises(DomainError, match="Åsa Öberg has no e-mail address"):
        send_invoice_email(db, admin, order)
    draft = klart(db, admin, customer=customer(db, admin, "Bo Ek"))
    with pytest.raises(DomainError, match="not posted yet"):
        preview_invoice_email(db, draft)
    with db.read() as s:
        assert s.exec(select(OutboxMessage)).all() == []
    assert not [e for e in history(db, "order", order) if e["action"] == "email_invoice"]


def test_a_paid_invoice_is_not_asked_to_be_paid_again(db, admin):
    sv = translation_for("sv").gettext
    unpaid = _posted(db, admin, email="asa@example.se")  # FAKTURA: to be paid
    body = preview_invoice_email(db, unpaid).body
    reference = sv("Please pay by {due_date} and use the reference {reference}.").split("{")[0]
    assert reference and reference in body
    number = service.create_customer(db, admin, CustomerInput("Bo Ek", "", "bo@example.se")).number
    paid = klart(db, admin, method="KORT", customer=number)
    with db.session() as s:  # paid by card at the desk
        from verkstad.clock import now
        from verkstad.orders.service import lock_order, record_payment
        from verkstad.orders.status import PaymentMethod

        record_payment(s, admin, lock_order(s, paid), PaymentMethod.KORT, now())
    post_order(db, admin, paid)
    body = preview_invoice_email(db, paid).body
    assert sv("It is already paid ({date}), thank you.").split("(")[0] in body
    assert reference not in body
