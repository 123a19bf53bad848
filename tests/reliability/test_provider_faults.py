"""Provider faults from the sandbox: every call of send, check, capture, refund, cancel and the
outbox's SMS meets each fault once, for each provider.

Faults: a timeout (the provider does nothing and answers too late), a slow answer past the
timeout (it does the work after verkstad gave up), 500, 429, a malformed answer, a
connection reset on the way (nothing done) and a reply dropped after the work. After each
faulted call the user sees a clear message, presses Ctrl+L at once (the natural reaction;
it must never create a second payment), and the scheduler's reconcile runs. At the end the
world's invariants hold: one payment per intended one, every request definite, the money
that moved is what verkstad recorded, every message sent once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from tests.reliability import mpay_world
from tests.reliability.mpay_world import PROVIDERS, RESERVES, Expect, Templates, World, make_world
from verkstad.clock import now, today
from verkstad.errors import DomainError
from verkstad.ledger.journal import balance
from verkstad.ledger.posting import post_order
from verkstad.ledger.settlement import import_settlement
from verkstad.mpay import service as mpay
from verkstad.mpay.gateway import Providers
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.notify import deliver_pending
from verkstad.mpay.payments import get_payment
from verkstad.mpay.senders import senders
from verkstad.mpay.service import SETTLE
from verkstad.mpay.status import PaymentState as P
from verkstad.orders.service import get_order, update_order
from verkstad.orders.status import OrderStatus
from verkstad.sandbox.settlement import report
from verkstad.sandbox.testing import RunningSandbox

pytestmark = pytest.mark.reliability
mail_sandbox = mpay_world.mail_sandbox
world_templates = mpay_world.world_templates

AREA = "provider faults"
TIMEOUT = 0.12  # verkstad's HTTP timeout for the faulted call (seconds)
LATE_MS = 300  # how late the slow provider answers
# How late the create of the late-landing cases lands: well after the cancel that follows
# the send's timeout is over, even on a loaded machine (at 600 ms a run beside another
# test run once saw the cancel find the create already there).
LANDS_LATE_MS = 2000

FAULTS: dict[str, list[dict[str, Any]]] = {
    "timeout": [{"kind": "latency", "latency_ms": LATE_MS}, {"kind": "error"}],
    "slow": [{"kind": "latency", "latency_ms": LATE_MS}],
    "error 500": [{"kind": "error"}],
    "429": [{"kind": "rate_limit"}],
    "malformed": [{"kind": "malformed"}],
    "reset": [{"kind": "reset"}],
    "drop": [{"kind": "drop"}],
}
LATE = {"timeout", "slow"}

# The call each operation's fault hits: (method, path) per provider.
TARGETS: dict[str, dict[str, tuple[str, str]]] = {
    "send": {
        "vipps": ("POST", r"^/epayment/v1/payments$"),
        "swish": ("PUT", r"^/api/v2/paymentrequests/"),
        "stripe": ("POST", r"^/v1/checkout/sessions$"),
        "resurs": ("POST", r"^/v2/payments$"),
    },
    "check": {
        "vipps": ("GET", r"^/epayment/v1/payments/[^/]+$"),
        "swish": ("GET", r"^/api/v1/paymentrequests/"),
        "stripe": ("GET", r"^/v1/checkout/sessions/[^/]+$"),
        "resurs": ("GET", r"^/v2/payments/[^/]+$"),
    },
    "capture": {
        "vipps": ("POST", r"/capture$"),
        "resurs": ("POST", r"/capture$"),
    },
    "refund": {
        "vipps": ("POST", r"/refund$"),
        "swish": ("PUT", r"^/api/v2/refunds/"),
        "stripe": ("POST", r"^/v1/refunds$"),
        "resurs": ("POST", r"/refund$"),
    },
    "cancel": {
        "vipps": ("POST", r"/cancel$"),
        "swish": ("PATCH", r"^/api/v1/paymentrequests/"),
        "stripe": ("POST", r"/expire$"),
        "resurs": ("POST", r"/cancel$"),
    },
}
LABELS = {"vipps": "Vipps", "swish": "Swish", "stripe": "Stripe", "resurs": "Resurs"}
# What a message to staff must never show.
UNCLEAR = re.compile(r"Traceback|Exception|httpx|None\b|\{|\}|<|>|Errno|HTTPError", re.I)


class Run:
    """One provider's run through the faults: counts and what went wrong."""

    def __init__(self, w: World, fault: str) -> None:
        self.w = w
        self.fault = fault
        self.faults = 0
        fast = w.settings.model_copy(update={"http_timeout_seconds": TIMEOUT})
        self.fast = Providers(fast)

    def close(self) -> None:
        self.fast.close()

    def providers_for_fault(self) -> Providers:
        """Late faults meet a short timeout; the others the ordinary one."""
        return self.fast if self.fault in LATE else self.w.providers

    def inject(self, op: str, provider: str | None = None) -> None:
        method, path = TARGETS[op][self.w.provider] if op in TARGETS else ("POST", r"^/a1/sms")
        for rule in FAULTS[self.fault]:
            self.w.sandbox.fault(
                rule["kind"],
                provider=provider or self.w.provider,
                method=method,
                path=path,
                remaining=1,
                **{k: v for k, v in rule.items() if k != "kind"},
            )
        self.faults += 1

    def faulted(self, op: str, call: Callable[[Providers], object]) -> None:
        """Run ``op`` with its fault: it works, or the user gets a clear message."""
        self.inject(op)
        try:
            call(self.providers_for_fault())
            self.w.ops += 1
        except DomainError as e:
            self.w.ops += 1
            self.clear(op, str(e))
        self.w.sandbox.control("POST", "/_sandbox/faults", {"rules": []})  # rules not met

    def faulted_sms(self) -> None:
        """The outbox texts the pay link and the SMS gateway meets the fault (retried later)."""
        self.inject("sms", provider="sms")
        settings = self.fast.settings if self.fault in LATE else self.w.settings
        deliver_pending(self.w.db, senders(settings))
        self.w.ops += 1
        self.w.sandbox.control("POST", "/_sandbox/faults", {"rules": []})

    def clear(self, op: str, message: str) -> None:
        label = LABELS[self.w.provider]
        names_it = label in message or "payment provider" in message
        if not message.strip() or UNCLEAR.search(message) or not names_it:
            self.w.problems.append(f"{op} under {self.fault}: unclear message {message!r}")

    def meanwhile(self, order: int) -> None:
        """Staff press Ctrl+L right away: a view or a clear message, never a second payment."""
        try:
            mpay.check(self.w.db, self.w.providers, self.w.actor, order)
        except DomainError as e:
            self.clear("check meanwhile", str(e))
        self.w.ops += 1
        self.w.sandbox.wait_idle()  # a slow call finishes its work at the provider

    def settle(self, order: int) -> None:
        self.meanwhile(order)
        self.w.recover()


def service_status(w: World, order: int) -> str:
    return get_order(w.db, order).status


def _pay_under_faults(run: Run) -> int:
    """Order A: sent, checked, captured and partly refunded, each call meeting the fault."""
    w = run.w
    order = w.order()
    run.faulted("send", lambda p: mpay.send(w.db, p, w.actor, order))
    if service_status(w, order) != OrderStatus.MPAY:  # kept as it is, never sent again blindly
        w.problems.append(f"after the faulted send the order is {service_status(w, order)}")
    if w.provider == "stripe":  # verkstad texts Stripe's link itself, through the outbox
        run.faulted_sms()
    run.settle(order)
    [req] = w.requests()
    if req.state != P.SENT:
        w.problems.append(f"the send under {run.fault} ended {req.state} after reconcile")
    w.approve(req.reference)
    run.faulted("check", lambda p: mpay.check(w.db, p, w.actor, order))
    run.settle(order)
    if w.provider in RESERVES:
        run.faulted("capture", lambda p: mpay.capture(w.db, p, w.actor, order))
        run.settle(order)
    run.faulted("refund", lambda p: mpay.refund(w.db, p, w.actor, req.id or 0, "100"))
    run.settle(order)
    return order


def _cancel_under_faults(run: Run) -> int:
    """Order B: sent, then cancelled (Öppna order) with the cancel call meeting the fault."""
    w = run.w
    order = w.order()
    w.send(order)
    run.faulted("cancel", lambda p: mpay.cancel(w.db, p, w.actor, order))
    run.settle(order)
    return order


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_call_meets_every_fault(
    fault: str,
    provider: str,
    mail_sandbox: RunningSandbox,
    world_templates: Templates,
    figures,
) -> None:
    with make_world(mail_sandbox, world_templates, provider) as w:
        run = Run(w, fault)
        try:
            paid = _pay_under_faults(run)
            cancelled = _cancel_under_faults(run)
            w.recover(timedelta(minutes=30))  # the outbox's backoff has passed
        finally:
            run.close()
        problems = w.violations(
            [
                Expect(paid, state=P.PARTIALLY_REFUNDED, paid=True, refunded=10_000, requests=1),
                Expect(cancelled, state=P.CANCELLED, order_status=OrderStatus.DONE, paid=False),
            ]
        )
    figures.add(AREA, cases=1, faults=run.faults, operations=w.ops, violations=len(problems))
    assert not problems, "\n".join(problems)


LATE_CASES = [(p, "FAKTURA") for p in PROVIDERS] + [("swish", "KONTANT"), ("vipps", "KONTANT")]


@pytest.mark.parametrize(("provider", "method"), LATE_CASES)
def test_a_create_that_lands_after_its_cancellation(
    provider: str,
    method: str,
    mail_sandbox: RunningSandbox,
    world_templates: Templates,
    figures,
) -> None:
    """The known edge: a send times out, staff cancel it minutes later (verkstad concludes it
    never arrived) and post the order another way — then the slow create lands and the
    customer pays it. An unpaid FAKTURA invoice of exactly that amount takes the money as its
    payment (1931 debited, 1510 credited; the provider's payout then clears 1931); an order
    paid another way (KONTANT) gets it given back. Either way the order stays as posted."""
    with make_world(mail_sandbox, world_templates, provider) as w:
        run = Run(w, "slow")
        try:
            order = w.order()
            verb, path = TARGETS["send"][provider]
            w.sandbox.fault(
                "latency", provider=provider, method=verb, path=path, latency_ms=LANDS_LATE_MS
            )
            with pytest.raises(DomainError) as sent:
                mpay.send(w.db, run.fast, w.actor, order)
            run.clear("send", str(sent.value))
            with freeze_time(now() + SETTLE + timedelta(seconds=10)):
                view = mpay.cancel(w.db, w.providers, w.actor, order)
            if view.state != P.CANCELLED:
                w.problems.append(f"the cancel ended {view.state}")
            update_order(w.db, w.actor, order, payment_method=method)
            post_order(w.db, w.actor, order)
            w.sandbox.wait_idle()  # the create lands at the provider now
            w.approve(view.reference)  # and the customer pays it
            w.ops += 6
            w.recover()
        finally:
            run.close()
        [req] = w.requests()
        events = [e.kind for e in get_payment(w.db, req.id or 0).events or ()]
        if "late" not in events:  # found by reconcile's sweep, not by the cancel's own lookup
            w.problems.append(f"the late payment was not recognised: {events}")
        total = w.total(order)
        posted = get_order(w.db, order)
        if method == "FAKTURA":
            _taken_as_invoice_payment(w, req, posted, total)
        else:
            given_back = P.CANCELLED if provider in RESERVES else P.REFUNDED
            if req.state != given_back or balance(w.db, "1931") != 0:
                w.problems.append(f"the late payment is {req.state}, 1931 {balance(w.db, '1931')}")
        if posted.payment_method != method:
            w.problems.append(f"the order's payment method became {posted.payment_method}")
        problems = w.violations([Expect(order, order_status=OrderStatus.POSTED)])
    figures.add(AREA, cases=1, faults=1, operations=w.ops, violations=len(problems))
    assert not problems, "\n".join(problems)


def test_a_late_link_the_provider_will_not_cancel_yet_is_looked_at_again(
    mail_sandbox: RunningSandbox, world_templates: Templates, figures
) -> None:
    """The same edge on Vipps, with the customer already approving in the app when
    reconcile undoes the late link: Vipps answers "Cannot cancel pending". The link is
    looked at again by the next reconcile, and the reservation the customer made meanwhile
    is cancelled — not left holding their money at the provider."""
    with make_world(mail_sandbox, world_templates, "vipps") as w:
        run = Run(w, "slow")
        try:
            order = w.order()
            verb, path = TARGETS["send"]["vipps"]
            w.sandbox.fault("latency", provider="vipps", method=verb, path=path, latency_ms=600)
            with pytest.raises(DomainError):
                mpay.send(w.db, run.fast, w.actor, order)
            with freeze_time(now() + SETTLE + timedelta(seconds=10)):
                view = mpay.cancel(w.db, w.providers, w.actor, order)
            update_order(w.db, w.actor, order, payment_method="KONTANT")
            post_order(w.db, w.actor, order)
            w.sandbox.wait_idle()  # the create lands at the provider now
            w.sandbox.act(view.reference, "start")  # the customer opens it in the app
            refused = w.recover()
            if not any("cannot cancel" in e.lower() for e in refused.errors):
                w.problems.append(f"the late link's cancel was not refused: {refused.errors}")
            w.approve(view.reference)  # and approves: the money is reserved
            w.recover()
        finally:
            run.close()
        [req] = w.requests()
        at_vipps = w.sandbox.sandbox.store.payment("vipps", req.provider_ref or "")
        held = at_vipps.doc["aggregate"] if at_vipps else {}  # Vipps keeps what it released
        if req.state != P.CANCELLED or held.get("cancelled") != held.get("authorized", -1):
            w.problems.append(f"the late reservation is {req.state}, at Vipps {held}")
        problems = w.violations([Expect(order, order_status=OrderStatus.POSTED)])
    figures.add(AREA, cases=1, faults=2, operations=w.ops + 2, violations=len(problems))
    assert not problems, "\n".join(problems)


def _taken_as_invoice_payment(w: World, req: PaymentRequest, posted: Any, total: int) -> None:
    """The invoice is paid by the late money, and the payout settles it through 1931."""
    if req.state != P.PAID or not posted.payment_received:
        w.problems.append(f"the late payment is {req.state}, the invoice paid: {posted}")
    if posted.payment_received_at != req.paid_at:
        w.problems.append("the invoice's payment time is not the provider's")
    if (balance(w.db, "1510"), balance(w.db, "1931")) != (0, total):
        w.problems.append(f"1510 {balance(w.db, '1510')}, 1931 {balance(w.db, '1931')}")
    store = w.sandbox.sandbox.store
    data = report(store, w.provider, today() - timedelta(days=1), today() + timedelta(days=20))
    booked = import_settlement(w.db, w.actor, data.encode(), "late.csv")
    if [o.status for o in booked.outcomes] != ["booked"] or balance(w.db, "1931") != 0:
        w.problems.append(f"the payout: {booked.outcomes}, 1931 {balance(w.db, '1931')}")
