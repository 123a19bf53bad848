"""Invoice, credit-note and receipt PDFs (fpdf2, A4, the DejaVu fonts shipped in fonts/).

Everything ML 17 kap. 24 § asks for is on the invoice: date, unique number,
the seller's VAT and organisation numbers, both parties' names and
addresses, quantity and kind of goods and services, unit price excl. VAT,
discounts, the taxable amount and VAT per rate, the rounding and the total;
plus the vehicle, the due date, the bankgiro and an OCR (or KID) reference.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from babel.numbers import format_decimal
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from verkstad.clock import format_date, format_datetime
from verkstad.db import Database
from verkstad.i18n import _, babel_locale, using_language
from verkstad.invoices.documents import (
    Amounts,
    DocLine,
    InvoiceDocument,
    ReceiptDocument,
    credit_note_document,
    invoice_document,
    receipt_document,
)
from verkstad.money import Money
from verkstad.orders.status import PAYMENT_METHOD_LABELS, PaymentMethod
from verkstad.orders.views import CompanyView

FONTS = Path(__file__).parent / "fonts"
FONT = "DejaVu"
LEFT, RIGHT_X, WIDTH = 15.0, 115.0, 180.0
GREY = (110, 110, 110)


def _quantity(milli: int) -> str:
    return format_decimal(Decimal(milli) / 1000, locale=babel_locale())


def _percent(basis_points: int) -> str:
    return format_decimal(Decimal(basis_points) / 100, locale=babel_locale()) + " %"


def _method(method: str | None) -> str:
    return _(PAYMENT_METHOD_LABELS[PaymentMethod(method)]) if method else ""


class _Page(FPDF):
    def __init__(self, seller: CompanyView, title: str) -> None:
        super().__init__(format="A4")
        self.seller = seller
        self.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_title(title)
        self.set_author(seller.name)
        self.set_creator("verkstad")
        self.set_margins(LEFT, 15, LEFT)
        self.set_auto_page_break(True, margin=32)
        self.add_page()

    def text_at(self, x: float, w: float, text: str, size: float = 9, bold: bool = False) -> None:
        self.set_x(x)
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(w, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def title_at(self, x: float, w: float, text: str) -> None:
        """The document's title on one line, smaller if it would not fit."""
        size = 16.0
        self.set_font(FONT, "B", size)
        while self.get_string_width(text) > w and size > 9:
            size -= 1
            self.set_font(FONT, "B", size)
        self.text_at(x, w, text, size, bold=True)

    def pairs(self, x: float, rows: list[tuple[str, str]], label_w: float, w: float) -> None:
        for label, value in rows:
            self.set_x(x)
            self.set_font(FONT, "", 8)
            self.set_text_color(*GREY)
            self.cell(label_w, 4.6, label)
            self.set_text_color(0)
            self.set_font(FONT, "", 9)
            self.multi_cell(w - label_w, 4.6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def footer(self) -> None:
        s = self.seller
        self.set_y(-28)
        self.set_draw_color(180)
        self.line(LEFT, self.get_y(), LEFT + WIDTH, self.get_y())
        self.ln(1.5)
        top = self.get_y()
        columns = [
            [s.name, s.address, f"{s.postal_code} {s.city}".strip()],
            [
                _("Org. no. {n}").format(n=s.org_number),
                _("VAT reg. no. {n}").format(n=s.vat_number),
                _("Registered office: {city}").format(city=s.city) if s.city else "",
            ],
            [
                s.phone,
                s.email,
                f"{_account_label(s.country)} {s.bankgiro}" if s.bankgiro else "",
            ],
        ]
        for i, lines in enumerate(columns):
            self.set_xy(LEFT + i * 62, top)
            self.set_font(FONT, "", 7.5)
            self.multi_cell(60, 3.6, "\n".join(x for x in lines if x.strip()))
        self.set_xy(LEFT, -10)
        self.set_font(FONT, "", 7)
        self.cell(
            WIDTH,
            4,
            _("Page {n} of {total}").format(n=self.page_no(), total="{nb}"),
            align="R",
        )


def _account_label(country: str) -> str:
    return _("Account no.") if country == "NO" else _("Bankgiro")


def _seller_block(pdf: _Page) -> None:
    s = pdf.seller
    pdf.set_y(15)
    pdf.text_at(LEFT, 95, s.name, 14, bold=True)
    address = [s.address, f"{s.postal_code} {s.city}".strip(), s.phone, s.email]
    pdf.text_at(LEFT, 95, "\n".join(x for x in address if x))


def _lines_table(pdf: _Page, lines: list[DocLine], currency: str) -> None:
    pdf.set_y(max(pdf.get_y(), 90) + 4)
    pdf.set_font(FONT, "", 8)
    headings = [
        _("Art. no."),
        _("Description"),
        _("Qty"),
        _("Unit"),
        _("Unit price excl. VAT"),
        _("Discount"),
        _("VAT"),
        _("Amount excl. VAT"),
    ]
    right = {2, 4, 5, 6, 7}
    with pdf.table(
        col_widths=(19, 50, 13, 12, 29, 18, 12, 27),
        width=WIDTH,
        borders_layout="HORIZONTAL_LINES",
        line_height=4.4,
        padding=(1, 1),
    ) as table:
        heading = table.row()
        for i, text in enumerate(headings):
            heading.cell(text, align="R" if i in right else "L")
        for line in lines:
            row = table.row()
            if line.kind == "text":
                row.cell("")
                row.cell(line.description, colspan=7)
                continue
            values = [
                line.article_number,
                line.description,
                _quantity(line.quantity_milli),
                line.unit,
                Money(line.unit_price_minor, currency).format(),
                _percent(line.discount_bp) if line.discount_bp else "",
                f"{line.vat_rate} %",
                Money(line.net_minor, currency).format(),
            ]
            for i, text in enumerate(values):
                row.cell(text, align="R" if i in right else "L")


def _totals(pdf: _Page, amounts: Amounts, currency: str, total_label: str) -> None:
    def money(minor: int) -> str:
        return Money(minor, currency).format()

    rows: list[tuple[str, str]] = []
    for r in amounts.rates:
        rows.append((_("Taxable amount {rate} %").format(rate=r.rate), money(r.net_minor)))
        rows.append((_("VAT {rate} %").format(rate=r.rate), money(r.vat_minor)))
    rows += [
        (_("Total excl. VAT"), money(amounts.net_minor)),
        (_("Total VAT"), money(amounts.vat_minor)),
        (_("Rounding"), money(amounts.rounding_minor)),
    ]
    pdf.ln(4)
    if pdf.get_y() > 220:
        pdf.add_page()
    for label, value in rows:
        pdf.set_x(RIGHT_X - 10)
        pdf.set_font(FONT, "", 9)
        pdf.cell(55, 5, label)
        pdf.cell(35, 5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(RIGHT_X - 10)
    pdf.set_font(FONT, "B", 11)
    pdf.cell(55, 7, total_label, border="T")
    pdf.cell(
        35,
        7,
        money(amounts.total_minor),
        border="T",
        align="R",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def _payment_box(pdf: _Page, doc: InvoiceDocument, to_pay: int) -> None:
    pdf.ln(6)
    if pdf.get_y() > 235:
        pdf.add_page()
    cells = [
        (_account_label(doc.seller.country), doc.seller.bankgiro or "—"),
        (doc.reference_label, doc.reference),
        (_("Due date"), format_date(doc.due)),
        (_("Amount to pay"), Money(to_pay, doc.currency).format()),
    ]
    top = pdf.get_y()
    pdf.set_draw_color(0)
    pdf.rect(LEFT, top, WIDTH, 14)
    for i, (label, value) in enumerate(cells):
        pdf.set_xy(LEFT + 2 + i * 45, top + 1.5)
        pdf.set_font(FONT, "", 7.5)
        pdf.set_text_color(*GREY)
        pdf.cell(43, 4, label, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_text_color(0)
        pdf.set_font(FONT, "B", 11)
        pdf.cell(43, 6, value)
    pdf.set_y(top + 16)


def render_invoice(doc: InvoiceDocument) -> bytes:
    """An invoice, or (``doc.kind == "credit"``) a credit note referring to its original,
    in the customer's language."""
    with using_language(doc.buyer.language):
        return _invoice(doc)


def _invoice(doc: InvoiceDocument) -> bytes:
    credit = doc.kind == "credit"
    title = _("Credit note") if credit else _("Invoice")
    pdf = _Page(doc.seller, f"{title} {doc.number}")
    _seller_block(pdf)
    pdf.set_y(15)
    pdf.title_at(RIGHT_X, 80, title.upper())
    pdf.ln(1)
    head = [
        (_("Credit note no.") if credit else _("Invoice no."), str(doc.number)),
        (_("Invoice date"), format_date(doc.issued)),
        (_("Customer no."), str(doc.buyer.number)),
    ]
    if not credit:
        head.append((doc.reference_label, doc.reference))
    pdf.pairs(RIGHT_X, head, 30, 80)

    pdf.set_y(52)
    pdf.text_at(RIGHT_X, 80, _("Invoice address"), 7.5)
    buyer = [doc.buyer.address, f"{doc.buyer.postal_code} {doc.buyer.city}".strip()]
    pdf.text_at(RIGHT_X, 80, doc.buyer.name, 10, bold=True)
    pdf.text_at(RIGHT_X, 80, "\n".join(x for x in buyer if x), 10)

    details: list[tuple[str, str]] = [(_("Order no."), str(doc.order_number))]
    if doc.vehicle:
        v = doc.vehicle
        described = " ".join(str(x) for x in (v.reg_number, v.make, v.model, v.year or "") if x)
        details.append((_("Vehicle"), described))
        if v.mileage_km is not None:
            km = format_decimal(v.mileage_km, locale=babel_locale())
            details.append((_("Mileage"), f"{km} km"))
    if credit:
        assert doc.original_number is not None and doc.original_issued is not None
        details.append(
            (
                _("Credits invoice"),
                _("no. {n} of {date}").format(
                    n=doc.original_number, date=format_date(doc.original_issued)
                ),
            )
        )
        if doc.reason:
            details.append((_("Reason"), doc.reason))
    else:
        details.append((_("Delivery date"), format_date(doc.delivered or doc.issued)))
        details.append((_("Payment terms"), _("{n} days").format(n=(doc.due - doc.issued).days)))
        details.append((_("Due date"), format_date(doc.due)))
    if doc.payment_method:
        details.append((_("Payment method"), _method(doc.payment_method)))
    pdf.set_y(52)
    pdf.pairs(LEFT, details, 32, 92)

    _lines_table(pdf, doc.lines, doc.currency)
    _totals(pdf, doc.amounts, doc.currency, _("Total credited") if credit else _("To pay"))
    pdf.ln(3)
    pdf.set_font(FONT, "", 9)
    if credit:
        pdf.multi_cell(WIDTH, 5, _credit_note_text(doc), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return bytes(pdf.output())
    to_pay = doc.amounts.total_minor
    if doc.paid_on is not None:
        pdf.multi_cell(
            WIDTH,
            5,
            _("Paid {date} ({method}). Nothing left to pay.").format(
                date=format_date(doc.paid_on), method=_method(doc.payment_method)
            ),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        to_pay = 0
    _payment_box(pdf, doc, to_pay)
    return bytes(pdf.output())


def _credit_note_text(doc: InvoiceDocument) -> str:
    if doc.refund_minor:
        return _(
            "The amount of {amount} has been refunded to you through the mobile payment "
            "(payment {ref})."
        ).format(amount=Money(doc.refund_minor, doc.currency).format(), ref=doc.refund_reference)
    return _(
        "{amount} is credited. If you have paid invoice {n}, it is paid back to you; "
        "otherwise pay only what is left of it."
    ).format(amount=Money(-doc.amounts.total_minor, doc.currency).format(), n=doc.original_number)


def render_receipt(doc: ReceiptDocument) -> bytes:
    """A receipt for a mobile payment (or its refunds), in the customer's language."""
    with using_language(doc.language):
        return _receipt(doc)


def _receipt(doc: ReceiptDocument) -> bytes:
    title = _("Receipt – refund") if doc.refund else _("Receipt")
    pdf = _Page(doc.seller, f"{title} {doc.reference}")
    _seller_block(pdf)
    pdf.set_y(15)
    pdf.title_at(RIGHT_X, 80, title.upper())
    pdf.ln(1)
    head = [
        (_("Payment"), f"{doc.payment_id} / {doc.reference}"),
        (_("Paid"), format_datetime(doc.paid_at)),
        (_("Paid with"), " ".join(x for x in (doc.provider.capitalize(), doc.method or "") if x)),
        (_("Customer"), f"{doc.customer_number} {doc.customer_name}"),
    ]
    if doc.order_number is not None:
        head.append((_("Order no."), str(doc.order_number)))
    pdf.pairs(RIGHT_X, head, 26, 80)
    pdf.set_y(52)
    seller = doc.seller
    pdf.pairs(
        LEFT,
        [(_("Org. no."), seller.org_number), (_("VAT reg. no."), seller.vat_number)],
        32,
        92,
    )
    if doc.lines:
        _lines_table(pdf, doc.lines, doc.currency)
    if doc.amounts is not None:
        _totals(pdf, doc.amounts, doc.currency, _("Total"))
    pdf.ln(4)
    pdf.set_font(FONT, "B", 11)
    paid = Money(doc.amount_minor, doc.currency)
    pdf.cell(WIDTH, 7, _("Paid: {amount}").format(amount=paid.format()), new_x=XPos.LMARGIN)
    pdf.ln(8)
    if doc.refunds:
        pdf.set_font(FONT, "", 9)
        refunded = 0
        for refund in doc.refunds:
            refunded += refund.amount_minor
            text = _("Refunded {time}: {amount}").format(
                time=format_datetime(refund.at),
                amount=Money(refund.amount_minor, doc.currency).format(),
            )
            pdf.multi_cell(
                WIDTH, 5, f"{text}  {refund.note}".strip(), new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
        pdf.set_font(FONT, "B", 11)
        net = Money(doc.amount_minor - refunded, doc.currency).format()
        pdf.cell(WIDTH, 7, _("Kept after refunds: {amount}").format(amount=net))
    return bytes(pdf.output())


def invoice_pdf(db: Database, order_number: int) -> bytes:
    return render_invoice(invoice_document(db, order_number))


def credit_note_pdf(db: Database, credit_number: int) -> bytes:
    return render_invoice(credit_note_document(db, credit_number))


def receipt_pdf(db: Database, payment_id: int, refund: bool = False) -> bytes:
    return render_receipt(receipt_document(db, payment_id, refund))
