"""The PDFs carry every field ML 17 kap. 24 § asks for, a valid OCR/KID, and Nordic letters,
in the customer's language (the customers here read English, like the tests' staff)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.helpers import customer
from tests.ledger.builders import klart, paid_by_mobile
from verkstad.clock import format_date, today
from verkstad.errors import DomainError
from verkstad.invoices.ocr import valid_kid, valid_ocr
from verkstad.invoices.pdf import credit_note_pdf, invoice_pdf, receipt_pdf
from verkstad.ledger.credit import credit_order
from verkstad.ledger.posting import post_order
from verkstad.money import Money
from verkstad.orders import service
from verkstad.orders.service import CustomerInput, LineInput, VehicleInput


def money(minor: int, currency: str = "SEK") -> str:
    return " ".join(Money(minor, currency).format().replace("\u00a0", " ").split())


def set_up_company(db, admin, country: str = "SE") -> None:
    service.update_company(
        db,
        admin,
        name="Bilverkstaden i Exempelby AB",
        org_number="556677-8899",
        vat_number="SE556677889901",
        address="Verkstadsgatan 12",
        postal_code="123 45",
        city="Exempelby",
        bankgiro="5050-1055",
        country=country,
    )


def customer_with_car(db, admin, name: str = "Åsa Öberg", language: str = "en") -> int:
    number = service.create_customer(
        db,
        admin,
        CustomerInput(
            name=name,
            address="Storgatan 1 – lgh 1102",
            postal_code="111 22",
            city="Stockholm",
            language=language,
        ),
    ).number
    car = VehicleInput("ABC123", "Volvo", "V70", "2015", "123456")
    service.add_vehicle(db, admin, number, car)
    return number


def test_invoice_has_every_required_field_and_a_valid_ocr(db, admin, pdf_text):
    set_up_company(db, admin)
    number = klart(db, admin, "FAKTURA", customer_with_car(db, admin))
    service.update_order(db, admin, number, vehicle_reg="ABC123")
    service.add_line(db, admin, number, LineInput("Tack för besöket!", kind="text"))
    post_order(db, admin, number)
    text = pdf_text(invoice_pdf(db, number))
    issued = today()
    for field in [
        "INVOICE",
        "Invoice no. 1",  # (2) unique number
        f"Invoice date {format_date(issued)}",  # (1) date
        "VAT reg. no. SE556677889901",  # (3) seller's VAT number
        "Org. no. 556677-8899",
        "Registered office: Exempelby",
        "Bilverkstaden i Exempelby AB",  # (5) both names and addresses
        "Verkstadsgatan 12",
        "123 45 Exempelby",
        "Åsa Öberg",
        "Storgatan 1 – lgh 1102",
        "111 22 Stockholm",
        "Bromsbelägg",  # (6) kind and quantity
        "Arbete",
        "Tack för besöket!",
        f"Delivery date {format_date(issued)}",  # (7)
        f"1 st {money(119920)} 25 % {money(119920)}",  # (8) unit price excl. VAT, (9) rate
        f"1 tim {money(185000)} 25 % {money(185000)}",
        f"Taxable amount 25 % {money(304920)}",  # (8) taxable amount per rate
        f"VAT 25 % {money(76230)}",  # (10) VAT amount
        f"Rounding {money(50)}",
        f"To pay {money(381200)}",
        "Vehicle ABC123 Volvo V70 2015",
        "Mileage 123,456 km",
        "Payment terms 30 days",
        f"Due date {format_date(issued + timedelta(days=30))}",
        "Bankgiro",
        "5050-1055",
    ]:
        assert field in text, field
    ocr = re.search(r"OCR (\d+)", text)
    assert ocr is not None and valid_ocr(ocr.group(1))


def test_invoice_paid_by_mobile_says_so(db, admin, provider, pdf_text):
    set_up_company(db, admin)
    number = paid_by_mobile(db, admin, provider, customer(db, admin, language="en"))
    post_order(db, admin, number)
    text = pdf_text(invoice_pdf(db, number))
    assert "Payment method Mobile payment" in text
    assert "Nothing left to pay." in text
    assert f"Amount to pay {money(0)}" in text or money(0) in text


def test_credit_note_refers_to_the_original_and_the_refund(db, admin, provider, pdf_text):
    set_up_company(db, admin)
    number = paid_by_mobile(db, admin, provider, customer(db, admin, language="en"))
    post_order(db, admin, number)
    credit = credit_order(db, provider, admin, number, reason="Fel pris")
    text = pdf_text(credit_note_pdf(db, credit.number))
    assert "CREDIT NOTE" in text
    assert "Credit note no. 2" in text
    assert f"Credits invoice no. 1 of {format_date(today())}" in text
    assert "Reason Fel pris" in text
    assert f"VAT 25 % {money(-76230)}" in text
    assert f"Total credited {money(-381200)}" in text
    assert f"{money(381200)} has been refunded to you through the mobile payment" in text
    assert "VAT reg. no. SE556677889901" in text


def test_norwegian_invoice_has_a_kid_and_nordic_letters(db, admin, pdf_text):
    set_up_company(db, admin, "NO")
    customer = customer_with_car(db, admin, "Øyvind Ærø – Sørli")
    number = klart(db, admin, "FAKTURA", customer)
    post_order(db, admin, number)
    text = pdf_text(invoice_pdf(db, number))
    assert "Øyvind Ærø – Sørli" in text
    assert f"To pay {money(381150, 'NOK')}" in text  # øre kept: no rounding in Norway
    kid = re.search(r"KID (\d+)", text)
    assert kid is not None and valid_kid(kid.group(1))
    assert "Account no. 5050-1055" in text


def test_long_invoice_breaks_pages_and_keeps_the_total(db, admin, pdf_text):
    set_up_company(db, admin)
    number = klart(db, admin, customer=customer(db, admin, language="en"))
    for i in range(70):
        service.add_line(db, admin, number, LineInput(f"Skruv {i}", "1", "10", "25", "part"))
    post_order(db, admin, number)
    text = pdf_text(invoice_pdf(db, number))
    pages = int(re.findall(r"Page 1 of (\d+)", text)[0])
    assert pages > 1 and f"Page {pages} of {pages}" in text
    assert f"To pay {money(381200 + 70 * 1250)}" in text.split(f"Page {pages - 1} of")[1]


def test_receipts_for_a_mobile_payment_and_its_refund(db, admin, provider, pdf_text):
    set_up_company(db, admin)
    number = paid_by_mobile(db, admin, provider, customer(db, admin, language="en"))
    with pytest.raises(DomainError, match="Nothing of payment"):
        receipt_pdf(db, 1, refund=True)
    text = pdf_text(receipt_pdf(db, 1))
    assert "RECEIPT" in text and f"Paid: {money(381200)}" in text
    assert f"Order no. {number}" in text and "Bromsbelägg" in text
    assert f"VAT 25 % {money(76230)}" in text
    post_order(db, admin, number)
    credit_order(db, provider, admin, number)
    text = pdf_text(receipt_pdf(db, 1, refund=True))
    assert "RECEIPT – REFUND" in text
    assert f"{money(381200)}" in text and "Refunded" in text
    assert f"Kept after refunds: {money(0)}" in text


def test_unposted_order_has_no_invoice(db, admin):
    with pytest.raises(DomainError, match="not posted"):
        invoice_pdf(db, klart(db, admin))


def test_credit_note_of_an_unpaid_invoice_says_what_is_left_to_pay(db, admin, provider, pdf_text):
    set_up_company(db, admin)
    number = klart(db, admin, "FAKTURA", customer(db, admin, language="en"))
    post_order(db, admin, number)
    parts = service.get_order(db, number).lines[0].id
    credit = credit_order(db, provider, admin, number, [parts])
    text = pdf_text(credit_note_pdf(db, credit.number))
    assert f"{money(149900)} is credited. If you have paid invoice 1" in text
    assert "Bromsbelägg" in text and "Arbete" not in text


def test_documents_are_in_the_customers_language_not_the_staffs(db, admin, provider, pdf_text):
    from verkstad.i18n import _, translation_for

    set_up_company(db, admin, "NO")
    swedish = klart(db, admin, "FAKTURA", customer_with_car(db, admin, "Åsa", language="sv"))
    post_order(db, admin, swedish)
    ola = customer(db, admin, "Ola", phone="412 34 567", language="nb")
    norwegian = paid_by_mobile(db, admin, provider, ola)
    sv, nb = translation_for("sv").gettext, translation_for("nb").gettext
    invoice = pdf_text(invoice_pdf(db, swedish))
    assert sv("Invoice").upper() in invoice and f"{sv('Customer no.')} " in invoice
    assert f"{sv('To pay')} {Money(381150, 'NOK').format('sv')}".replace("\xa0", " ") in invoice
    receipt = pdf_text(receipt_pdf(db, 1))
    assert nb("Receipt").upper() in receipt and f"{nb('Order no.')} {norwegian}" in receipt
    assert "RECEIPT" not in receipt and "INVOICE" not in invoice
    assert _("Invoice") == "Invoice"  # staff keep their language
