"""The crash matrix: every failpoint × every operation that reaches it × the four providers.

At each point the process dies (``SimulatedCrash`` raised there, or a child
process SIGKILLed there); then it restarts (new engine, new adapters), runs
reconcile and the outbox a few minutes later, and finishes what the user meant
(pays the request it sent, credits again…). The invariants of
``mpay_world.World.violations`` must hold, and the outcome must be what was
meant. The points come from ``verkstad.failpoints.POINTS``; a test greps the
sources so no ``reach("…")`` can stay out of the matrix.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlmodel import col, select

from tests.reliability import mpay_world
from tests.reliability.mpay_world import (
    PROVIDERS,
    RESERVES,
    Expect,
    Templates,
    World,
    make_world,
)
from verkstad.clock import now, today
from verkstad.errors import DomainError
from verkstad.failpoints import KILL_ENV, POINTS
from verkstad.invoices.mail import send_invoice_email
from verkstad.ledger.credit import credit_order
from verkstad.ledger.journal import balance
from verkstad.ledger.models import CreditNote, SettledPayment
from verkstad.ledger.posting import post_order
from verkstad.ledger.settlement import import_settlement
from verkstad.mpay import operations as mpay_operations
from verkstad.mpay import recovery
from verkstad.mpay import rows as mpay_rows
from verkstad.mpay import service as mpay
from verkstad.mpay.notify import deliver_pending
from verkstad.mpay.senders import senders
from verkstad.mpay.service import SendForm
from verkstad.mpay.status import PaymentState as P
from verkstad.orders.models import Order
from verkstad.orders.status import OrderStatus
from verkstad.sandbox.settlement import report
from verkstad.sandbox.testing import RunningSandbox

pytestmark = pytest.mark.reliability
mail_sandbox = mpay_world.mail_sandbox
world_templates = mpay_world.world_templates

ROOT = Path(__file__).resolve().parents[2]
AREA = "crash matrix"

Scenario = Callable[[World, str], list[Expect]]


def _finish_payment(w: World, order: int, reference: str) -> None:
    """The customer pays the request that survived the crash; staff capture it."""
    w.approve(reference)
    w.ops += 2
    if mpay.check(w.db, w.providers, w.actor, order).state == P.RESERVED:
        mpay.capture(w.db, w.providers, w.actor, order)
        w.ops += 1


# ---------------------------------------------------------------- the scenarios


def s_send(w: World, point: str) -> list[Expect]:
    """Ctrl+S dies; after the restart the one request is sent and can be paid."""
    order = w.order()
    w.crash(point, lambda: w.send(order))
    w.restart()
    # What the restart finds: the order locked, its request still being sent.
    [req] = w.requests()
    there = len(w.sandbox.sandbox.store.payments_of(w.provider))
    if (service_status(w, order), req.state, there) != (
        OrderStatus.MPAY,
        P.CREATING,
        0 if point == "send.after_commit" else 1,
    ):
        w.problems.append(f"after the crash: {service_status(w, order)}, {req.state}, {there}")
    w.recover()
    [req] = w.requests()
    w.problems += [f"after reconcile the request is {req.state}"] if req.state != P.SENT else []
    w.recover()  # again: nothing more happens (the invariants count the payments)
    _finish_payment(w, order, req.reference)
    return [Expect(order, state=P.PAID, order_status=OrderStatus.MPAY, paid=True, requests=1)]


def s_cancel_sending(w: World, point: str) -> list[Expect]:
    """Ctrl+S dies; after the restart staff cancel at once (Öppna order), before reconcile.
    Whether the create arrived is not known yet: the cancel waits until it is certain, then
    nothing is left at the provider."""
    order = w.order()
    w.crash(point, lambda: w.send(order))
    w.restart()
    try:
        mpay.cancel(w.db, w.providers, w.actor, order)
    except DomainError as e:  # "may still be on its way … try again in two minutes"
        if "on its way" not in str(e):
            w.problems.append(f"the cancel right after the restart said {e}")
    w.recover()
    w.ops += 3
    return [Expect(order, state=P.CANCELLED, order_status=OrderStatus.DONE, paid=False)]


def s_request_payment(w: World, point: str) -> list[Expect]:
    """A free request from the customer card (a deposit) dies the same way."""
    customer = w.customer()
    form = SendForm(amount="500")
    w.crash(point, lambda: mpay.request_payment(w.db, w.providers, w.actor, customer, form))
    w.ops += 1
    w.restart()
    w.recover()
    [req] = w.requests()
    if req.state != P.SENT:
        w.problems.append(f"after reconcile the free request is {req.state}")
    w.approve(req.reference)
    view = mpay.refresh(w.db, w.providers, w.actor, req.id or 0)
    if view.state == P.RESERVED:
        w.problems += _capture_free(w, req.id or 0)
    w.ops += 2
    return []


def _capture_free(w: World, request_id: int) -> list[str]:
    with w.db.session() as s:
        req = s.get(mpay.PaymentRequest, request_id)
        assert req is not None
        op = mpay_rows._operation(s, w.actor, req, "capture", req.amount_minor)
    view = mpay_operations._run_capture(w.db, w.providers, w.actor, op)
    return [] if view.state == P.PAID else [f"the free request could not be captured: {view}"]


def s_check(w: World, point: str) -> list[Expect]:
    """Ctrl+L dies after the provider said "approved": reconcile sees it again."""
    order = w.order()
    view = w.send(order)
    w.approve(view.reference)
    w.crash(point, lambda: mpay.check(w.db, w.providers, w.actor, order))
    w.restart()
    w.recover()
    if w.provider in RESERVES:
        mpay.capture(w.db, w.providers, w.actor, order)
    w.ops += 4
    return [Expect(order, state=P.PAID, order_status=OrderStatus.MPAY, paid=True, requests=1)]


def s_cancel(w: World, point: str) -> list[Expect]:
    """Öppna order dies: the link is dead at the provider and the order KLART again."""
    order = w.order()
    w.send(order)
    w.crash(point, lambda: mpay.cancel(w.db, w.providers, w.actor, order))
    w.restart()
    if service_status(w, order) != OrderStatus.MPAY:  # not open until confirmed
        w.problems.append(f"after the crash the order is {service_status(w, order)}")
    w.recover()
    w.ops += 3
    return [Expect(order, state=P.CANCELLED, order_status=OrderStatus.DONE, paid=False)]


def s_cancel_free(w: World, point: str) -> list[Expect]:
    """Cancelling a free request from the payments list dies."""
    customer = w.customer()
    view = mpay.request_payment(w.db, w.providers, w.actor, customer, SendForm(amount="500"))
    w.crash(point, lambda: mpay.cancel_request(w.db, w.providers, w.actor, view.id))
    w.restart()
    w.recover()
    w.ops += 3
    [req] = w.requests()
    if req.state != P.CANCELLED:
        w.problems.append(f"the free request is {req.state} after its cancellation")
    return []


def s_cancel_reserved(w: World, point: str) -> list[Expect]:
    """Cancelling a reserved (not captured) payment releases the reservation, once."""
    order, _request = w.reserved_order()
    w.crash(point, lambda: mpay.cancel(w.db, w.providers, w.actor, order))
    w.restart()
    w.recover()
    w.ops += 5
    return [Expect(order, state=P.CANCELLED, order_status=OrderStatus.DONE, paid=False)]


def s_cancel_paid(w: World, point: str) -> list[Expect]:
    """Cancelling a paid request refunds it, exactly once, and opens the order."""
    order, _request = w.paid_order()
    w.crash(point, lambda: mpay.cancel(w.db, w.providers, w.actor, order))
    w.restart()
    w.recover()
    w.ops += 6
    if service_status(w, order) == OrderStatus.MPAY:
        # The refund was confirmed by reconcile; staff open the order (cancel again).
        mpay.cancel(w.db, w.providers, w.actor, order)
        w.ops += 1
    return [
        Expect(
            order,
            state=P.REFUNDED,
            order_status=OrderStatus.DONE,
            paid=False,
            refunded=w.total(order),
        )
    ]


def s_expire(w: World, point: str) -> list[Expect]:
    """The scheduler ends a request past its lifetime and dies before committing that."""
    order = w.order()
    w.send(order, lifetime=timedelta(minutes=31))
    with freeze_time(now() + timedelta(minutes=35)):
        w.crash(point, lambda: recovery.expire_due(w.db, w.providers, w.actor))
    w.restart()
    w.recover(timedelta(minutes=40))
    w.ops += 3
    [req] = w.requests()
    if req.state not in (P.CANCELLED, P.EXPIRED):
        w.problems.append(f"the expired request is {req.state}")
    return [Expect(order, order_status=OrderStatus.DONE, paid=False)]


def s_capture(w: World, point: str) -> list[Expect]:
    order, _request = w.reserved_order()
    w.crash(point, lambda: mpay.capture(w.db, w.providers, w.actor, order))
    w.restart()
    w.recover()
    w.ops += 5
    return [Expect(order, state=P.PAID, order_status=OrderStatus.MPAY, paid=True)]


def s_capture_due(w: World, point: str) -> list[Expect]:
    """The capture window ends; the scheduler's capture dies."""
    order, _request = w.reserved_order()
    with freeze_time(now() + timedelta(minutes=16)):
        w.crash(point, lambda: recovery.capture_due(w.db, w.providers, timedelta(minutes=15)))
    w.restart()
    w.recover(timedelta(minutes=20))
    w.ops += 5
    return [Expect(order, state=P.PAID, order_status=OrderStatus.MPAY, paid=True)]


def s_refund(w: World, point: str) -> list[Expect]:
    """A partial refund (a returned part) dies; it happens once."""
    order, request = w.paid_order()
    w.crash(point, lambda: mpay.refund(w.db, w.providers, w.actor, request, "100"))
    w.restart()
    w.recover()
    w.ops += 6
    return [Expect(order, state=P.PARTIALLY_REFUNDED, paid=True, refunded=10_000)]


def s_credit(w: World, point: str) -> list[Expect]:
    """Kreditera of a posted mobile payment dies; staff credit again: refunded once."""
    order, _request = w.paid_order()
    post_order(w.db, w.actor, order)
    w.crash(point, lambda: credit_order(w.db, w.providers, w.actor, order))
    w.restart()
    w.recover()
    credit_order(w.db, w.providers, w.actor, order)
    w.ops += 8
    with w.db.read() as s:
        notes = s.exec(
            select(CreditNote).join(Order, col(Order.id) == CreditNote.order_id)
            .where(Order.number == order)
        ).all()  # fmt: skip
    if [n.refund_minor for n in notes] != [w.total(order)]:
        w.problems.append(f"credit notes refunding {[n.refund_minor for n in notes]}")
    if balance(w.db, "1931") != 0:
        w.problems.append(f"1931 holds {balance(w.db, '1931')} after posting and crediting")
    return [
        Expect(order, state=P.REFUNDED, order_status=OrderStatus.CREDITED, refunded=w.total(order))
    ]


def s_post(w: World, point: str) -> list[Expect]:
    """Bokför dies before its commit: nothing is posted; posting again takes number 1."""
    order, _request = w.paid_order()
    expected = w.next_invoice_number()
    w.crash(point, lambda: post_order(w.db, w.actor, order))
    w.restart()
    w.recover()
    posted = post_order(w.db, w.actor, order)
    w.ops += 6
    if posted.invoice_number != expected:
        w.problems.append(f"the invoice series has a gap: {posted.invoice_number}")
    if balance(w.db, "1931") != w.total(order):
        w.problems.append(f"1931 holds {balance(w.db, '1931')} after one posting")
    return [Expect(order, state=P.PAID, order_status=OrderStatus.POSTED, paid=True)]


def s_settlement(w: World, point: str) -> list[Expect]:
    """Importing the provider's settlement report dies; importing again books it once."""
    order, _request = w.paid_order()
    post_order(w.db, w.actor, order)
    store = w.sandbox.sandbox.store
    data = report(store, w.provider, today() - timedelta(days=1), today() + timedelta(days=20))
    name = f"{w.provider}.csv"
    w.crash(point, lambda: import_settlement(w.db, w.actor, data.encode(), name))
    w.restart()
    w.recover()
    first = import_settlement(w.db, w.actor, data.encode(), name)
    again = import_settlement(w.db, w.actor, data.encode(), name)
    w.ops += 8
    if [o.status for o in first.outcomes] != ["booked"]:
        w.problems.append(f"the import after the crash: {first.outcomes}")
    if [o.status for o in again.outcomes] != ["already_booked"]:
        w.problems.append(f"the second import: {again.outcomes}")
    with w.db.read() as s:
        settled = len(s.exec(select(SettledPayment)).all())
    if settled != 1 or balance(w.db, "1931") != 0:
        w.problems.append(f"{settled} settled lines, 1931 holds {balance(w.db, '1931')}")
    return [Expect(order, state=P.PAID, order_status=OrderStatus.POSTED, paid=True)]


def s_outbox(w: World, point: str) -> list[Expect]:
    """Delivering the outbox dies (the pay link, the invoice e-mail): each arrives once."""
    order, _request = w.paid_order()
    post_order(w.db, w.actor, order)
    send_invoice_email(w.db, w.actor, order)
    w.crash(point, lambda: deliver_pending(w.db, senders(w.settings)))
    w.restart()
    w.recover()
    w.ops += 7
    return [Expect(order, state=P.PAID, order_status=OrderStatus.POSTED, paid=True)]


def service_status(w: World, order: int) -> str:
    from verkstad.orders.service import get_order

    return get_order(w.db, order).status


ALL = frozenset(PROVIDERS)
# point → operation → (scenario, providers it applies to)
MATRIX: dict[str, dict[str, tuple[Scenario, frozenset[str]]]] = {
    "send.after_commit": {
        "send": (s_send, ALL),
        "cancel sending": (s_cancel_sending, ALL),
        "request": (s_request_payment, ALL),
    },
    "send.after_provider": {
        "send": (s_send, ALL),
        "cancel sending": (s_cancel_sending, ALL),
        "request": (s_request_payment, ALL),
    },
    "check.after_provider": {"check": (s_check, ALL)},
    "cancel.after_commit": {"cancel": (s_cancel, ALL), "cancel free": (s_cancel_free, ALL)},
    "cancel.after_provider": {
        "cancel": (s_cancel, ALL),
        "cancel reserved": (s_cancel_reserved, RESERVES),
        "cancel paid": (s_cancel_paid, ALL),
    },
    "cancel.after_refund_commit": {"cancel paid": (s_cancel_paid, ALL)},
    "expire.after_provider": {"expire": (s_expire, ALL)},
    # Swish and Stripe take the money at once: they have nothing to capture.
    "capture.after_commit": {"capture": (s_capture, RESERVES), "window": (s_capture_due, RESERVES)},
    "capture.after_provider": {
        "capture": (s_capture, RESERVES),
        "window": (s_capture_due, RESERVES),
    },
    "refund.after_commit": {"refund": (s_refund, ALL)},
    "refund.after_provider": {
        "refund": (s_refund, ALL),
        "cancel paid": (s_cancel_paid, ALL),
        "credit": (s_credit, ALL),
    },
    "outbox.after_claim": {"outbox": (s_outbox, ALL)},
    "outbox.after_send": {"outbox": (s_outbox, ALL)},
    "credit.after_refund": {"credit": (s_credit, ALL)},
    "ledger.before_commit": {
        "post": (s_post, ALL),
        "credit": (s_credit, ALL),
        "settlement": (s_settlement, ALL),
    },
    "settlement.before_commit": {"settlement": (s_settlement, ALL)},
}

CASES = [
    pytest.param(point, op, provider, id=f"{point}-{op}-{provider}".replace(" ", "_"))
    for point in POINTS
    for op, (_scenario, applies) in MATRIX.get(point, {"(no scenario)": (s_send, ALL)}).items()
    for provider in PROVIDERS
    if provider in applies
]


def test_every_failpoint_in_the_code_is_declared_and_in_the_matrix() -> None:
    """A ``reach("…")`` added anywhere must be declared and get its scenarios here."""
    pattern = re.compile(r"""\breach\(\s*["']([A-Za-z0-9_.]+)["']\s*\)""")
    in_code = {
        name
        for path in (ROOT / "verkstad").rglob("*.py")
        for name in pattern.findall(path.read_text(encoding="utf-8"))
    }
    assert in_code == set(POINTS), "declare every failpoint in verkstad.failpoints.POINTS"
    assert set(MATRIX) == set(POINTS), "give every failpoint its scenarios in MATRIX"


@pytest.mark.parametrize(("point", "op", "provider"), CASES)
def test_crash_restart_reconcile(
    point: str,
    op: str,
    provider: str,
    mail_sandbox: RunningSandbox,
    world_templates: Templates,
    figures,
) -> None:
    scenario, _applies = MATRIX[point][op]
    with make_world(mail_sandbox, world_templates, provider) as w:
        expects = scenario(w, point)
        problems = w.violations(expects)
    figures.add(AREA, cases=1, faults=1, operations=w.ops, violations=len(problems))
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- real process kills

KILLS = [
    ("send.after_provider", "send", "resurs"),  # the provider without idempotency
    ("capture.after_provider", "capture", "vipps"),
    ("refund.after_provider", "refund", "swish"),
    ("cancel.after_refund_commit", "cancel", "stripe"),
    ("outbox.after_send", "outbox", "stripe"),
    ("settlement.before_commit", "settlement", "resurs"),
]


def _kill_child(w: World, point: str, op: str, arg: str) -> None:
    """Run ``op`` in a child process that SIGKILLs itself at ``point``."""
    smtp = w.settings.smtp
    env = {
        **os.environ,
        KILL_ENV: point,
        "VERKSTAD_SANDBOX_URL": w.sandbox.url,
        "VERKSTAD_SMTP__HOST": smtp.host,
        "VERKSTAD_SMTP__PORT": str(smtp.port),
        "VERKSTAD_SMTP__SECURITY": "none",
    }
    command = [sys.executable, "-m", "tests.reliability.crash_child", w.url, op, arg]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]


@pytest.mark.parametrize(("point", "op", "provider"), KILLS, ids=["-".join(k) for k in KILLS])
def test_killed_process_restart_reconcile(
    point: str,
    op: str,
    provider: str,
    mail_sandbox: RunningSandbox,
    world_templates: Templates,
    figures,
) -> None:
    with make_world(mail_sandbox, world_templates, provider) as w:
        expects: list[Expect]
        if op == "send":
            order = w.order()
            _kill_child(w, point, op, str(order))
            w.restart()
            w.recover()
            [req] = w.requests()
            _finish_payment(w, order, req.reference)
            expects = [Expect(order, state=P.PAID, paid=True, requests=1)]
        elif op == "capture":
            order, _request = w.reserved_order()
            _kill_child(w, point, op, str(order))
            w.restart()
            w.recover()
            expects = [Expect(order, state=P.PAID, order_status=OrderStatus.MPAY, paid=True)]
        elif op == "refund":
            order, request = w.paid_order()
            _kill_child(w, point, op, str(request))
            w.restart()
            w.recover()
            expects = [Expect(order, state=P.PARTIALLY_REFUNDED, paid=True, refunded=10_000)]
        elif op == "cancel":
            order, _request = w.paid_order()
            _kill_child(w, point, op, str(order))
            w.restart()
            w.recover()
            if service_status(w, order) == OrderStatus.MPAY:
                mpay.cancel(w.db, w.providers, w.actor, order)
            expects = [Expect(order, state=P.REFUNDED, order_status=OrderStatus.DONE, paid=False)]
        elif op == "outbox":
            order, _request = w.paid_order()
            post_order(w.db, w.actor, order)
            send_invoice_email(w.db, w.actor, order)
            _kill_child(w, point, op, "")
            w.restart()
            w.recover()
            expects = [Expect(order, state=P.PAID, order_status=OrderStatus.POSTED, paid=True)]
        else:
            order, _request = w.paid_order()
            post_order(w.db, w.actor, order)
            start, end = today() - timedelta(days=1), today() + timedelta(days=20)
            path = w.db_dir() / "settlement.csv"
            path.write_text(report(w.sandbox.sandbox.store, provider, start, end))
            _kill_child(w, point, op, str(path))
            w.restart()
            w.recover()
            booked = import_settlement(w.db, w.actor, path.read_bytes(), path.name)
            if [o.status for o in booked.outcomes] != ["booked"] or balance(w.db, "1931"):
                w.problems.append(f"after the kill: {booked.outcomes}")
            expects = [Expect(order, state=P.PAID, order_status=OrderStatus.POSTED, paid=True)]
        w.ops += 8
        problems = w.violations(expects)
    figures.add(AREA, cases=1, faults=1, operations=w.ops, violations=len(problems))
    assert not problems, "\n".join(problems)
