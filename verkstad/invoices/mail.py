"""Skicka faktura via e-post: the posted invoice as a PDF attached to the customer's e-mail.

Staff preview the text and the PDF first; sending queues the e-mail in the outbox in the
same transaction as the audit event, under one dedupe key per order and invoice, so
pressing send twice sends one e-mail. The text is the invoice e-mail template for the
customer's language and the order's category.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlmodel import Session, select

from verkstad.audit import record
from verkstad.clock import format_date
from verkstad.db import Database
from verkstad.errors import DomainError, NotFoundError
from verkstad.i18n import N_, _, translation_for
from verkstad.invoices.documents import InvoiceDocument, invoice_document
from verkstad.invoices.pdf import render_invoice
from verkstad.money import Money
from verkstad.mpay.notify import queue
from verkstad.mpay.templates import INVOICE_EMAIL, render
from verkstad.orders.categories import order_category
from verkstad.orders.models import Customer, Order
from verkstad.users import Actor


class InvoiceEmail(NamedTuple):
    to: str
    subject: str
    body: str
    pdf: bytes
    file_name: str


class InvoiceEmailSent(NamedTuple):
    to: str
    invoice_number: int
    queued: bool  # False: this invoice had already been e-mailed; nothing new was queued


def _order(s: Session, order_number: int) -> Order:
    order = s.exec(select(Order).where(Order.number == order_number)).first()
    if order is None:
        raise NotFoundError(_("There is no order number {n}.").format(n=order_number))
    return order


def _compose(s: Session, order: Order, doc: InvoiceDocument) -> InvoiceEmail:
    customer = s.get(Customer, order.customer_id)
    assert customer is not None
    if not customer.email:
        raise DomainError(
            _("Customer {name} has no e-mail address; add one on the customer card.").format(
                name=customer.name
            )
        )
    lang = customer.language
    t = translation_for(lang).gettext
    if order.payment_received and order.payment_received_at:
        payment = t(N_("It is already paid ({date}), thank you.")).format(
            date=format_date(order.payment_received_at, lang)
        )
    else:
        payment = t(N_("Please pay by {due_date} and use the reference {reference}.")).format(
            due_date=format_date(doc.due, lang), reference=doc.reference
        )
    values = {
        "amount": Money(doc.amounts.total_minor, doc.currency).format(lang),
        "invoice_number": str(doc.number),
        "order_number": str(order.number),
        "due_date": format_date(doc.due, lang),
        "reference": doc.reference,
        "company": doc.seller.name,
        "customer": customer.name,
        "payment": payment,
    }
    subject, body = render(s, INVOICE_EMAIL, lang, order_category(s, order.id), values)
    file_name = t(N_("invoice-{n}.pdf")).format(n=doc.number)
    return InvoiceEmail(customer.email, subject, body, render_invoice(doc), file_name)


def preview_invoice_email(db: Database, order_number: int) -> InvoiceEmail:
    """What the customer would receive: recipient, subject, text and the PDF."""
    doc = invoice_document(db, order_number)  # refuses an order that is not posted
    with db.read() as s:
        return _compose(s, _order(s, order_number), doc)


def send_invoice_email(db: Database, actor: Actor, order_number: int) -> InvoiceEmailSent:
    """Queue the invoice e-mail with the PDF attached (once per order and invoice)."""
    doc = invoice_document(db, order_number)
    with db.session() as s:
        order = _order(s, order_number)
        mail = _compose(s, order, doc)
        queued = queue(
            s,
            "email",
            mail.to,
            mail.body,
            f"invoice-email:{order.id}:{doc.number}",
            mail.subject,
            order_id=order.id,
            attachments=[(mail.file_name, "application/pdf", mail.pdf)],
        )
        if queued:
            after = {"to": mail.to, "invoice": doc.number}
            record(s, actor, "order", order.number, "email_invoice", None, after)
        return InvoiceEmailSent(mail.to, doc.number, queued)


def mail_header(to: str, subject: str, attachment: str) -> str:
    """The lines staff see above an e-mail's text in a preview."""
    return "\n".join(
        (
            _("To: {to}").format(to=to),
            _("Subject: {subject}").format(subject=subject),
            _("Attachment: {name}").format(name=attachment),
        )
    )
