"""Every role-restricted action × every role: refused for the wrong role, and audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select

from tests.helpers import customer, order_with_lines
from verkstad.audit import AuditEvent
from verkstad.errors import DomainError, PermissionDenied
from verkstad.ledger.accounts import set_account, set_setting
from verkstad.ledger.posting import post_order
from verkstad.mpay import service as mpay
from verkstad.mpay.channels import add_channel
from verkstad.mpay.gateway import Providers
from verkstad.mpay.payments import consolidate, mark_read
from verkstad.mpay.status import PaymentState as P
from verkstad.orders import service
from verkstad.orders.service import LineInput
from verkstad.users import Actor, Role, add_user

pytestmark = pytest.mark.reliability

ROLES = {
    Role.STAFF: Actor("anna", Role.STAFF),
    Role.PAYMENT_MANAGER: Actor("bengt", Role.PAYMENT_MANAGER),
    Role.ADMIN: Actor("admin", Role.ADMIN),
}
S, M, A = Role.STAFF, Role.PAYMENT_MANAGER, Role.ADMIN


@pytest.fixture
def world(db, admin, settings, sandbox):
    """A paid M-Pay payment sent by someone else (kassa2), and a posted order."""
    providers = Providers(settings)
    number = order_with_lines(db, admin, customer(db, admin, phone="070-123 45 67")).number
    service.complete(db, admin, number)
    sender = Actor("kassa2", Role.STAFF)
    view = mpay.send(db, providers, sender, number)
    sandbox.act(view.reference, "approve")
    if mpay.check(db, providers, sender, number).state == P.RESERVED:
        mpay.capture(db, providers, sender, number)
    posted = order_with_lines(db, admin).number
    service.complete(db, admin, posted)
    service.update_order(db, admin, posted, payment_method="KORT")
    post_order(db, admin, posted)
    yield {"db": db, "providers": providers, "payment": view.id, "posted": posted}
    providers.close()


def _actions(w) -> dict[str, tuple[Callable[[Actor], object], set[Role]]]:
    db = w["db"]
    return {
        "consolidate": (lambda a: consolidate(db, a, w["payment"]), {M}),
        "mark another's payment read": (lambda a: mark_read(db, a, w["payment"]), set()),
        "edit a posted order": (
            lambda a: service.add_line(db, a, w["posted"], LineInput("x", "1", "1")),
            set(),
        ),
        "reopen a posted order": (lambda a: service.reopen(db, a, w["posted"]), set()),
        "add a payment channel": (lambda a: add_channel(db, a, f"K {a.name}", "swish"), {A}),
        "change an account": (lambda a: set_account(db, a, "payment.MOBIL", "1932"), {A}),
        "change a books setting": (lambda a: set_setting(db, a, "invoice.terms_days", "20"), {A}),
        "change company settings": (lambda a: service.update_company(db, a, name="X AB"), {A}),
        "add a user": (lambda a: add_user(db, a, f"ny{a.name}", Role.STAFF), {A}),
        "refund above the staff limit": (
            lambda a: mpay.refund(db, w["providers"], a, w["payment"], "1 500"),
            {M, A},
        ),
    }


CASES = [
    (name, role)
    for name in (
        "consolidate",
        "mark another's payment read",
        "edit a posted order",
        "reopen a posted order",
        "add a payment channel",
        "change an account",
        "change a books setting",
        "change company settings",
        "add a user",
        "refund above the staff limit",
    )
    for role in ROLES
]


@pytest.mark.parametrize(("action", "role"), CASES, ids=[f"{a}-{r.name}" for a, r in CASES])
def test_role_table(world, figures, action: str, role: Role):
    do, allowed = _actions(world)[action]
    actor = ROLES[role]
    db = world["db"]
    with db.read() as s:
        before = len(s.exec(select(AuditEvent)).all())
    if role in allowed:
        do(actor)
        figures.add("roles", cases=1, operations=1)
        return
    with pytest.raises(DomainError) as refused:  # PermissionDenied, or the lock's refusal
        do(actor)
    audited = True
    if isinstance(refused.value, PermissionDenied):
        with db.read() as s:
            events = s.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).all()  # type: ignore[union-attr]
        audited = (
            len(events) == before + 1
            and events[0].user_name == actor.name
            and events[0].action.endswith("refused")
        )
    explained = bool(str(refused.value))
    figures.add("roles", cases=1, operations=1, violations=int(not (audited and explained)))
    assert explained and audited
