"""Extra costs by rule: fees (environmental fee, delivery) added to an order as it is completed.

An administrator keeps rules per product category (verkstad/orders/categories.py;
"default" rules apply to every order). When an order is first marked complete
(KLART), the matching rules add their lines — before a payment request is sent or
the invoice is posted, since neither may change afterwards. Staff see the lines and
may remove one (Open order, delete, complete again): the rules are applied once per
order, so a removed fee does not come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, select

from verkstad.audit import record
from verkstad.clock import now
from verkstad.db import Database, UTCDateTime
from verkstad.errors import NotFoundError, ValidationError
from verkstad.i18n import _
from verkstad.orders.categories import CATEGORIES, order_category
from verkstad.orders.models import Order, OrderLine
from verkstad.users import Actor, Role, require_role


class ExtraCostRule(SQLModel, table=True):
    __tablename__ = "extra_cost_rules"
    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=20)
    description: str = Field(max_length=200)
    article_number: str = Field(default="", max_length=40)
    unit_price_minor: int  # excl. VAT, once per order
    vat_rate: int = 25
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    created_by: str = Field(max_length=40)


@dataclass(frozen=True)
class RuleView:
    id: int
    category: str
    description: str
    article_number: str
    unit_price_minor: int
    vat_rate: int

    @classmethod
    def of(cls, rule: ExtraCostRule) -> RuleView:
        assert rule.id is not None
        return cls(
            rule.id,
            rule.category,
            rule.description,
            rule.article_number,
            rule.unit_price_minor,
            rule.vat_rate,
        )


_RULE_KEYS = ("category", "description", "article_number", "unit_price_minor", "vat_rate")


def list_rules(db: Database) -> list[RuleView]:
    with db.read() as s:
        rules = s.exec(select(ExtraCostRule).order_by(col(ExtraCostRule.id))).all()
        return [RuleView.of(r) for r in rules]


def add_rule(
    db: Database,
    actor: Actor,
    category: str,
    description: str,
    price: str,
    vat_rate: str = "25",
    article_number: str = "",
) -> RuleView:
    """A fee added once to every order of ``category`` when it is completed (administrators)."""
    from verkstad.orders.service import LineInput, company_row, parse_line

    require_role(db, actor, "add_extra_cost_rule", Role.ADMIN)
    if category not in CATEGORIES:
        raise ValidationError(
            _("Category"), _("must be one of: {choices}").format(choices=", ".join(CATEGORIES))
        )
    with db.session() as s:
        line = LineInput(description, "1", price, vat_rate, "fee", article_number=article_number)
        values = parse_line(line, company_row(s).country)
        if values["unit_price_minor"] <= 0:
            raise ValidationError(_("Unit price excl. VAT"), _("must be more than zero"))
        rule = ExtraCostRule(
            category=category,
            created_by=actor.name,
            **{k: values[k] for k in _RULE_KEYS if k != "category"},
        )
        s.add(rule)
        s.flush()
        record(s, actor, "extra_cost_rule", rule.id, "add", None, _values(rule))
        return RuleView.of(rule)


def remove_rule(db: Database, actor: Actor, rule_id: int) -> None:
    """Stop adding the fee; orders that already have it keep their line (administrators)."""
    require_role(db, actor, "remove_extra_cost_rule", Role.ADMIN)
    with db.session() as s:
        rule = s.get(ExtraCostRule, rule_id)
        if rule is None:
            raise NotFoundError(_("There is no extra cost rule {id}.").format(id=rule_id))
        record(s, actor, "extra_cost_rule", rule_id, "remove", _values(rule), None)
        s.delete(rule)


def _values(rule: ExtraCostRule) -> dict[str, object]:
    return {k: getattr(rule, k) for k in _RULE_KEYS}


def add_extra_costs(s: Session, actor: Actor, order: Order) -> list[OrderLine]:
    """The first time ``order`` is completed: its category's and the default rules' lines."""
    if order.extra_costs_applied:
        return []
    order.extra_costs_applied = True
    category = order_category(s, order.id)
    rules = s.exec(
        select(ExtraCostRule)
        .where(col(ExtraCostRule.category).in_(["default", category]))
        .order_by(col(ExtraCostRule.id))
    ).all()
    last = s.exec(
        select(OrderLine.position)
        .where(OrderLine.order_id == order.id)
        .order_by(col(OrderLine.position).desc())
    ).first()
    assert order.id is not None
    added = []
    for position, rule in enumerate(rules, (last or 0) + 1):
        line = OrderLine(
            order_id=order.id,
            position=position,
            kind="fee",
            article_number=rule.article_number,
            description=rule.description,
            quantity_milli=1000,
            unit="st",
            unit_price_minor=rule.unit_price_minor,
            vat_rate=rule.vat_rate,
        )
        s.add(line)
        record(
            s, actor, "order", order.number, "extra_cost", None, {"rule": rule.id, **_values(rule)}
        )
        added.append(line)
    s.flush()
    return added
