"""Message templates: what the customer reads, per kind, language and product category.

A template is chosen by the customer's language and the order's category, falling
back to the language's "default" category and then to the built-in text (gettext,
so every language has one). Categories come from what the order sells: an order with
labour is "service", one with goods only is "parts" (tyres, parts over the counter).
Placeholders are ``{name}`` fields; values arrive already formatted for the customer's
locale, and a template naming an unknown field is refused when it is saved.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from verkstad.audit import record
from verkstad.clock import now
from verkstad.db import Database, UTCDateTime
from verkstad.errors import ValidationError
from verkstad.i18n import LANGUAGES, N_, _, translation_for
from verkstad.orders.categories import CATEGORIES
from verkstad.users import Actor, Role, require_role

PAY_LINK_SMS = "pay_link_sms"
PAY_LINK_EMAIL = "pay_link_email"
INVOICE_EMAIL = "invoice_email"
REMINDER = "reminder"  # by e-mail with the invoice attached, else by SMS
KINDS = (PAY_LINK_SMS, PAY_LINK_EMAIL, INVOICE_EMAIL, REMINDER)

_PAY_LINK_FIELDS = ("amount", "reference", "link", "expires", "explanation", "company")
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    PAY_LINK_SMS: _PAY_LINK_FIELDS,
    PAY_LINK_EMAIL: _PAY_LINK_FIELDS,
    INVOICE_EMAIL: (
        "amount",
        "invoice_number",
        "order_number",
        "due_date",
        "reference",
        "company",
        "customer",
        "payment",  # how to pay (due date, reference), or that it is already paid
    ),
    REMINDER: (
        "level",
        "invoice_number",
        "amount",  # left to pay, without the fee
        "due_date",
        "pay_to",  # account and payment reference
        "fee",  # the sentence about the reminder fee, or nothing
        "total",  # amount + fee
        "customer",
        "company",
    ),
}

_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")

_PAY_LINK_TEXT = N_("Pay {amount} for {reference}: {link} (valid until {expires}). {explanation}")
# (subject, body) in English; translated into the customer's language when used.
BUILT_IN: dict[str, tuple[str, str]] = {
    PAY_LINK_SMS: ("", _PAY_LINK_TEXT),
    PAY_LINK_EMAIL: (N_("Payment request {reference}"), _PAY_LINK_TEXT),
    INVOICE_EMAIL: (
        N_("Invoice {invoice_number} from {company}"),
        N_(
            "Hello {customer},\n\nAttached is invoice {invoice_number} for order {order_number}, "
            "{amount}. {payment}\n\nKind regards,\n{company}"
        ),
    ),
    REMINDER: (
        N_("Payment reminder: invoice {invoice_number}"),
        N_(
            "Reminder {level}: we have not received payment for invoice {invoice_number}.\n"
            "Amount: {amount}\nDue date: {due_date}\n{pay_to}\n{fee}\n\n"
            "If you have already paid, please disregard this reminder.\n{company}"
        ),
    ),
}


class MessageTemplate(SQLModel, table=True):
    """An admin's text; built-in defaults are used where there is none."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("kind", "language", "category"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    language: str = Field(max_length=2)
    category: str = Field(max_length=20)
    subject: str = Field(default="", max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    updated_by: str = Field(max_length=40)


@dataclass(frozen=True)
class TemplateView:
    kind: str
    language: str
    category: str
    subject: str
    body: str
    custom: bool  # False: the built-in text
    updated_by: str = ""


def _check_choice(field: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValidationError(
            field, _("must be one of: {choices}").format(choices=", ".join(choices))
        )
    return value


def _check_key(kind: str, lang: str, category: str) -> None:
    _check_choice(_("Kind"), kind, KINDS)
    _check_choice(_("Language"), lang, LANGUAGES)
    _check_choice(_("Category"), category, CATEGORIES)


def check_placeholders(field: str, text: str, allowed: tuple[str, ...]) -> None:
    """Refuse unbalanced braces and any field but ``allowed`` (no attribute or index access)."""
    try:
        names = [
            name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None
        ]
    except ValueError:
        raise ValidationError(
            field, _("has an unmatched brace; write {{{{ or }}}} for a brace itself")
        ) from None
    for name in names:
        if name not in allowed:
            raise ValidationError(
                field,
                _("unknown placeholder {{{name}}}; allowed: {allowed}").format(
                    name=name, allowed=", ".join("{" + a + "}" for a in allowed)
                ),
            )


def _stored(s: Session, kind: str, lang: str, category: str) -> MessageTemplate | None:
    return s.exec(
        select(MessageTemplate).where(
            MessageTemplate.kind == kind,
            MessageTemplate.language == lang,
            MessageTemplate.category == category,
        )
    ).first()


def _view(kind: str, lang: str, category: str, row: MessageTemplate | None) -> TemplateView:
    if row is not None:
        return TemplateView(kind, lang, category, row.subject, row.body, True, row.updated_by)
    t = translation_for(lang).gettext
    subject, body = BUILT_IN[kind]
    return TemplateView(kind, lang, category, t(subject) if subject else "", t(body), False)


def _effective(s: Session, kind: str, lang: str, category: str) -> TemplateView:
    """The category's own text, else the language's default one, else the built-in."""
    row = _stored(s, kind, lang, category) or _stored(s, kind, lang, "default")
    return _view(kind, lang, category, row)


def get_template(db: Database, kind: str, lang: str, category: str = "default") -> TemplateView:
    _check_key(kind, lang, category)
    with db.read() as s:
        return _effective(s, kind, lang, category)


def list_templates(db: Database) -> list[TemplateView]:
    """Every kind and language's default text, and the category texts an admin has written."""
    with db.read() as s:
        rows = s.exec(select(MessageTemplate).order_by(col(MessageTemplate.id))).all()
        stored = {(r.kind, r.language, r.category): r for r in rows}
    keys = {(k, lang, "default") for k in KINDS for lang in LANGUAGES} | set(stored)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return [
        _view(k, lang, c, stored.get((k, lang, c)))
        for k, lang, c in sorted(
            keys, key=lambda x: (KINDS.index(x[0]), LANGUAGES.index(x[1]), order[x[2]])
        )
    ]


def set_template(
    db: Database,
    actor: Actor,
    kind: str,
    lang: str,
    category: str,
    subject: str,
    body: str,
) -> TemplateView:
    """Save an admin's text for (kind, language, category), checked first."""
    _check_key(kind, lang, category)
    require_role(db, actor, "templates.set", Role.ADMIN)
    subject, body = subject.strip(), body.strip()
    allowed = PLACEHOLDERS[kind]
    if kind == PAY_LINK_SMS and subject:
        raise ValidationError(_("Subject"), _("a text message has no subject"))
    if kind != PAY_LINK_SMS and not subject:
        raise ValidationError(_("Subject"), _("must not be empty"))
    if len(subject) > 200:
        raise ValidationError(_("Subject"), _("at most {n} characters").format(n=200))
    if not body:
        raise ValidationError(_("Text"), _("must not be empty"))
    check_placeholders(_("Subject"), subject, allowed)
    check_placeholders(_("Text"), body, allowed)
    with db.session() as s:
        row = _stored(s, kind, lang, category)
        before = None if row is None else {"subject": row.subject, "body": row.body}
        if row is None:
            row = MessageTemplate(
                kind=kind, language=lang, category=category, body=body, updated_by=actor.name
            )
        row.subject, row.body = subject, body
        row.updated_at, row.updated_by = now(), actor.name
        s.add(row)
        key = f"{kind}/{lang}/{category}"
        record(s, actor, "template", key, "set", before, {"subject": subject, "body": body})
        return _view(kind, lang, category, row)


def render(
    s: Session, kind: str, lang: str, category: str, values: dict[str, str]
) -> tuple[str, str]:
    """(subject, body) for the customer, placeholders filled in."""
    template = _effective(s, kind, lang, category)
    body = template.body.format(**values).strip()
    # A placeholder that is empty here (no reminder fee, say) leaves no run of blank lines.
    return template.subject.format(**values).strip(), _BLANK_LINES.sub("\n\n", body)
