"""Concurrency on PostgreSQL: eight counter terminals race on one hundred orders.

Eight processes (tests/reliability/race_worker.py), each with its own database
engine and provider adapters, make a seeded random mix of real service calls —
edit, complete, reopen, send, check, cancel, capture, refund, post, credit —
with the version each read just before, while some of them play the customers'
phones at the sandbox. Refusals are normal; anything else is a violation. After
the race and a reconcile pass the books, the payments and the audit log must
agree: at most one live request per order, no lost update, gapless series,
balanced verifications, the ledger matching the orders and every change audited.

``VERKSTAD_RACE_SEED`` picks another seed (the default is fixed, so a failure
can be replayed — as far as the processes' timing allows);
``VERKSTAD_RACE_OPERATIONS`` the number of service calls; ``VERKSTAD_RACE_REASONS=1``
prints every refusal's message (numbers left out) to look for refusals that
should not be.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import freezegun
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.reliability.mpay_world import MONEY_IN
from tests.reliability.race_worker import Outcome, Plan, main
from verkstad.db import Database
from verkstad.ledger.accounts import load_chart
from verkstad.mpay.channels import add_channel
from verkstad.mpay.gateway import Providers
from verkstad.mpay.recovery import reconcile
from verkstad.mpay.service import SETTLE
from verkstad.mpay.status import LIVE
from verkstad.orders import service
from verkstad.orders.service import CustomerInput, LineInput
from verkstad.orders.totals import compute_totals
from verkstad.users import Actor

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

WORKERS = 8
ORDERS = 100
OPERATIONS = int(os.environ.get("VERKSTAD_RACE_OPERATIONS", "10000"))
SEED = int(os.environ.get("VERKSTAD_RACE_SEED", "20260309"))
REASONS = bool(os.environ.get("VERKSTAD_RACE_REASONS"))  # print every refusal's message
RACE_SECONDS = 240  # a safety net: the workers stop here whatever they have done
CHANNELS = ("M-Pay", "Swish", "Stripe")  # Resurs (the default channel), Swish, Stripe
ROLES = ("PAYMENT_MANAGER",) * 6 + ("STAFF",) * 2  # staff meet the refund limit

# Audit actions on an order that do not change its version.
NOT_VERSIONED = {"create", "copied", "extra_cost", "email_invoice", "reminder"}
TRANSITIONS = {"complete", "reopen", "send_payment", "cancel_payment", "post", "credit"}
PAID = ("PAID", "PARTIALLY_REFUNDED", "REFUNDED")
KINDS = ("add_line", "update_line", "complete", "reopen", "send", "check", "cancel", "capture")
KINDS += ("refund", "post", "credit", "credit_part")


def _workshop(db: Database, admin: Actor) -> list[int]:
    """One hundred orders, each its own customer; two in three are KLART, the rest ÖPPEN."""
    add_channel(db, admin, "Swish", "swish")
    add_channel(db, admin, "Stripe", "stripe")
    numbers = []
    for i in range(ORDERS):
        data = CustomerInput(f"Kund {i}", f"070-12{i:05d}", f"kund{i}@example.se")
        owner = service.create_customer(db, admin, data).number
        order = service.create_order(db, admin, owner)
        service.add_line(db, admin, order.number, LineInput("Bromsbelägg", "1", "1 199,20"))
        service.add_line(db, admin, order.number, LineInput("Arbete", "2", "925", kind="labour"))
        if i % 3:
            service.complete(db, admin, order.number)
        numbers.append(order.number)
    return numbers


def _without_fsync(url: str) -> str:
    """The race is about concurrency, not durability (the crash matrix covers that): its
    connections skip waiting for the WAL flush at commit, which would dominate the time."""
    parsed = make_url(url)
    options = str(parsed.query.get("options", ""))
    options = f"{options} -csynchronous_commit=off".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


class Terminals:
    """Eight processes that start (import, connect) while the parent builds the workshop."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.plans = ctx.Queue()
        self.results = ctx.Queue()
        self.barrier = ctx.Barrier(WORKERS)  # kept: the children unpickle it after start()
        self.processes = [
            ctx.Process(target=main, args=(self.plans, self.barrier, self.results))
            for _ in range(WORKERS)
        ]
        for process in self.processes:
            process.start()
        self.started = False

    def race(self, plans: list[Plan]) -> list[Outcome]:
        for plan in plans:
            self.plans.put(plan)
        self.started = True
        outcomes: list[Outcome] = []
        give_up = time.monotonic() + RACE_SECONDS + 300
        while len(outcomes) < len(plans):
            try:
                outcomes.append(self.results.get(timeout=1))
            except queue.Empty:
                dead = [p.exitcode for p in self.processes if p.exitcode not in (None, 0)]
                if dead or time.monotonic() > give_up:
                    pytest.fail(
                        f"only {len(outcomes)} of {len(plans)} terminals reported "
                        f"(exit codes {[p.exitcode for p in self.processes]})"
                    )
        return outcomes

    def close(self) -> None:
        if not self.started:  # the set-up failed: send the terminals home
            for _ in self.processes:
                self.plans.put(None)
        deadline = time.monotonic() + 30
        for process in self.processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()


def test_eight_terminals_race_on_a_hundred_orders(pg_url, sandbox, settings, admin, figures):
    started = time.monotonic()
    url = _without_fsync(pg_url)
    terminals = Terminals()
    try:
        sandbox.control("POST", "/_sandbox/faults", {"rate_limits": False})  # faults: part 2
        db = Database(url)
        db.upgrade()
        slots = tuple(_workshop(db, admin))
        channels = {slot: CHANNELS[i % len(CHANNELS)] for i, slot in enumerate(slots)}
        plans = [
            Plan(
                worker=w,
                seed=SEED,
                pg_url=url,
                sandbox_url=sandbox.url,
                settings=settings,
                slots=slots,
                channels=channels,
                operations=OPERATIONS // WORKERS + (w < OPERATIONS % WORKERS),
                seconds=RACE_SECONDS,
                role=ROLES[w],
                customer_actions=w % 2 == 0,
            )
            for w in range(WORKERS)
        ]
        race_start = time.monotonic()
        outcomes = terminals.race(plans)
        race_seconds = time.monotonic() - race_start
    finally:
        terminals.close()

    providers = Providers(settings)
    try:
        # A create that a cancel overtook may still be on its way for SETTLE: reconcile
        # once that has passed, twice (the first may find money to give back, queued).
        with freezegun.freeze_time(datetime.now(UTC) + SETTLE + timedelta(seconds=1), tick=True):
            violations = [
                f"reconcile: {e}" for _ in range(2) for e in reconcile(db, providers).errors
            ]
        for outcome in outcomes:
            violations += outcome.violations
        violations += check_invariants(db, outcomes)
        violations += _money_at_the_providers(db, sandbox.sandbox.store)
    finally:
        providers.close()
        db.dispose()

    operations = sum(o.operations for o in outcomes)
    ok = sum((o.ok for o in outcomes), Counter())
    refused = sum((o.refused for o in outcomes), Counter())
    print(
        f"\nrace seed {SEED}: {operations} service calls in {race_seconds:.1f} s "
        f"({operations / race_seconds:.0f}/s), "
        f"{sum(o.customer_actions for o in outcomes)} customer actions, "
        f"{time.monotonic() - started:.1f} s in all"
    )
    print("succeeded:", dict(sorted(ok.items())))
    print("refused:", dict(sorted(refused.items())))
    if REASONS:
        reasons = sum((o.reasons for o in outcomes), Counter())
        print("\n".join(f"{n:6} {reason}" for reason, n in sorted(reasons.items())))
    spent = sum((Counter(o.seconds_by_kind) for o in outcomes), Counter())
    calls = ok + sum((Counter({k.split(":")[0]: n}) for k, n in refused.items()), Counter())
    print("ms per call:", {k: round(1000 * spent[k] / calls[k]) for k in sorted(spent)})
    figures.add(
        "concurrency",
        cases=ORDERS,
        operations=operations,
        violations=len(violations),
    )
    assert violations == [], "\n\n".join(violations[:12])
    assert operations >= OPERATIONS, f"only {operations} of {OPERATIONS} calls in time"
    # Every kind of call succeeded somewhere, and terminals did collide.
    for kind in (*KINDS, "delete_line", "notes", "method"):
        assert ok[kind] > 0, f"no {kind} succeeded"
    assert any(k.endswith("ConflictError") for k in refused), "no version conflict at all"


# ---------------------------------------------------------------- invariants


def check_invariants(db: Database, outcomes: list[Outcome]) -> list[str]:
    problems: list[str] = []
    with db.read_connection() as conn:

        def rows(sql: str, **params: Any) -> list[Any]:
            return list(conn.execute(text(sql), params))

        problems += _one_live_request(rows)
        problems += _versions_and_audit(rows, outcomes)
        problems += _series(rows)
        problems += _books(rows, conn)
        problems += _payments(rows)
        problems += _lines_and_totals(rows)
    return problems


def _one_live_request(rows: Any) -> list[str]:
    live = ", ".join(f"'{s.value}'" for s in LIVE)
    problems = [
        f"order id {order_id} has {n} live payment requests"
        for order_id, n in rows(
            f"SELECT order_id, count(*) FROM payment_requests WHERE state IN ({live}) "
            "GROUP BY order_id HAVING count(*) > 1"
        )
    ]
    # MOBILBET means a live or paid request; a live request means MOBILBET.
    for number, status, state, received in rows(
        """SELECT o.number, o.status, r.state, o.payment_received FROM orders o
           LEFT JOIN LATERAL (SELECT state FROM payment_requests WHERE order_id = o.id
                              ORDER BY id DESC LIMIT 1) r ON true"""
    ):
        if status == "MOBILBET" and not (state in {s.value for s in LIVE} or state in PAID):
            problems.append(f"order {number} is MOBILBET, its latest request is {state}")
        if state in {s.value for s in LIVE} and status != "MOBILBET":
            problems.append(
                f"order {number} is {status} with a live request ({state})\n" + _story(rows, number)
            )
        if status == "MOBILBET" and state in PAID and not received:
            problems.append(f"order {number}: its request is {state}, payment not received")
    return problems


def _versions_and_audit(rows: Any, outcomes: list[Outcome]) -> list[str]:
    problems = []
    events: dict[str, list[tuple[str, Any, Any]]] = defaultdict(list)
    audited: Counter[tuple[int, str]] = Counter()  # what the terminals did themselves
    for entity_id, user, action, before, after in rows(
        "SELECT entity_id, user_name, action, before, after FROM audit_events "
        "WHERE entity = 'order' ORDER BY id"
    ):
        events[entity_id].append(
            (action, json.loads(before) if before else None, json.loads(after) if after else None)
        )
        if user.startswith("kassa"):
            audited[(int(entity_id), action)] += 1
    orders = rows("SELECT number, version, status, payment_received FROM orders")
    for number, version, status, received in orders:
        history = events[str(number)]
        bumps = sum(1 for action, _b, _a in history if action not in NOT_VERSIONED)
        # No lost update: every change bumped the version once, and every bump is audited.
        if version != 1 + bumps:
            problems.append(f"order {number}: version {version}, {bumps} audited changes")
        # The status is explained by the chain of audited transitions.
        chain = "ÖPPEN"
        for action, before, after in history:
            if action in TRANSITIONS:
                if before != chain:
                    problems.append(f"order {number}: {action} from {before}, was {chain}")
                chain = after
        if chain != status:
            problems.append(f"order {number} is {status}, its audit log says {chain}")
        paid = None
        for action, _before, after in history:
            if action in ("payment_received", "payment_cleared"):
                paid = after["payment_received"]
        if bool(paid) != bool(received):
            problems.append(f"order {number}: received {received}, audit log says {paid}")
    # Every change a terminal was told succeeded is in the audit log, as often as it was told.
    told: Counter[tuple[int, str]] = Counter()
    for outcome in outcomes:
        for kind, number, _summary in outcome.changes:
            told[(number, kind)] += 1
    audit_of = {
        "add_line": ("add_line",),
        "update_line": ("update_line",),
        "delete_line": ("delete_line",),
        "notes": ("update",),
        "method": ("update",),
        "complete": ("complete",),
        "reopen": ("reopen",),
        "send": ("send_payment",),
        "post": ("post",),
        "credit": ("credit", "credit_partial"),
        "credit_part": ("credit", "credit_partial"),
    }
    for number, _version, _status, _received in orders:
        for kinds in set(audit_of.values()):
            said = sum(told[(number, k)] for k, a in audit_of.items() if a == kinds)
            logged = sum(audited[(number, a)] for a in kinds)
            # send and credit may also change the order when they end in a refusal
            # (the provider said no after the commit); the others change it only on success.
            if said > logged or (said != logged and kinds[0] not in ("send_payment", "credit")):
                problems.append(f"order {number}: {said} × {kinds} succeeded, {logged} audited")
    # Every payment request's state is explained by its audited transitions.
    pay_events: dict[str, list[tuple[str, Any, Any]]] = defaultdict(list)
    for entity_id, action, before, after in rows(
        "SELECT entity_id, action, before, after FROM audit_events "
        "WHERE entity = 'payment' ORDER BY id"
    ):
        pay_events[entity_id].append((action, before and json.loads(before), json.loads(after)))
    for reference, state in rows("SELECT reference, state FROM payment_requests"):
        chain = "CREATING"
        for action, before, after in pay_events[reference]:
            if action == "create":
                continue
            if before != chain:
                problems.append(f"payment {reference}: {action} from {before}, was {chain}")
            chain = after
        if chain != state:
            problems.append(f"payment {reference} is {state}, its audit log says {chain}")
    return problems


def _lines_and_totals(rows: Any) -> list[str]:
    """No line lost or doubled: each order has the lines its audit log added (a credited
    order's copy starts with the lines of its last credit note); its totals match them."""
    problems = []
    count: Counter[str] = Counter()
    for number, action, n in rows(
        "SELECT entity_id, action, count(*) FROM audit_events WHERE entity = 'order' "
        "AND action IN ('add_line', 'extra_cost', 'delete_line') GROUP BY entity_id, action"
    ):
        count[number] += -n if action == "delete_line" else n
    for number, n in rows(
        """SELECT c.number, count(*) FROM orders c JOIN orders o ON o.id = c.copied_from_id
             JOIN credit_notes n ON n.order_id = o.id
             JOIN credit_note_lines l ON l.credit_note_id = n.id
            WHERE n.number = (SELECT max(number) FROM credit_notes WHERE order_id = o.id)
            GROUP BY c.number"""
    ):
        count[str(number)] += n
    lines: dict[int, list[Any]] = defaultdict(list)
    for order_id, *line in rows(
        "SELECT order_id, kind, quantity_milli, unit_price_minor, discount_bp, vat_rate "
        "FROM order_lines"
    ):
        lines[order_id].append(SimpleNamespace(**dict(zip(LINE_FIELDS, line, strict=True))))
    (round_to_whole,) = rows("SELECT round_to_whole FROM company")[0]
    for order_id, number, net, vat, rounding, total in rows(
        "SELECT id, number, net_minor, vat_minor, rounding_minor, total_minor FROM orders"
    ):
        if len(lines[order_id]) != count[str(number)]:
            problems.append(
                f"order {number} has {len(lines[order_id])} lines, "
                f"its audit log {count[str(number)]}"
            )
        t = compute_totals(lines[order_id], round_to_whole)
        if (net, vat, rounding, total) != (t.net, t.vat, t.rounding, t.payable):
            problems.append(
                f"order {number}: totals {net}/{vat}/{rounding}/{total}, its lines make "
                f"{t.net}/{t.vat}/{t.rounding}/{t.payable}"
            )
    return problems


LINE_FIELDS = ("kind", "quantity_milli", "unit_price_minor", "discount_bp", "vat_rate")


def _series(rows: Any) -> list[str]:
    problems = []
    invoices = sorted(
        [n for (n,) in rows("SELECT invoice_number FROM orders WHERE invoice_number IS NOT NULL")]
        + [n for (n,) in rows("SELECT number FROM credit_notes")]
    )
    for name, numbers, first in (
        ("invoice", invoices, 1),
        ("order", sorted(n for (n,) in rows("SELECT number FROM orders")), 1001),
        ("verification", sorted(n for (n,) in rows("SELECT number FROM verifications")), 1),
    ):
        (next_value,) = rows("SELECT next_value FROM series WHERE name = :n", n=name)[0]
        if numbers != list(range(first, next_value)):
            missing = sorted(set(range(first, next_value)) - set(numbers))
            twice = [n for n, k in Counter(numbers).items() if k > 1]
            problems.append(f"{name} series: missing {missing[:10]}, twice {twice[:10]}")
    return problems


def _books(rows: Any, conn: Any) -> list[str]:
    from sqlmodel import Session

    problems = []
    for number, total in rows(
        "SELECT v.number, sum(r.amount_minor) FROM verifications v "
        "JOIN verification_rows r ON r.verification_id = v.id GROUP BY v.number"
    ):
        if total != 0:
            problems.append(f"verification {number} is off by {total} öre")
    with Session(conn) as s:
        chart = load_chart(s)
    payment_rows = {
        (order_id, kind, document): (account, amount)
        for order_id, kind, document, account, amount in rows(
            """SELECT v.order_id, v.kind, v.document_number, r.account, r.amount_minor
                 FROM verifications v JOIN verification_rows r ON r.verification_id = v.id
                WHERE r.role = 'payment'"""
        )
    }
    per_order = Counter(order_id for (order_id, kind, _d) in payment_rows if kind == "invoice")
    for order_id, number, status, invoice, total, method in rows(
        "SELECT id, number, status, invoice_number, total_minor, payment_method FROM orders"
    ):
        posted = status in ("BOKFÖRD", "KREDITERAD")
        if posted != (invoice is not None) or per_order[order_id] != (1 if posted else 0):
            problems.append(
                f"order {number} ({status}): invoice {invoice}, "
                f"{per_order[order_id]} invoice verifications"
            )
            continue
        if not posted:
            continue
        account, amount = payment_rows[(order_id, "invoice", invoice)]
        if method is None or (account, amount) != (chart.payment(method), total):
            problems.append(
                f"order {number}: invoice {invoice} debits {account} {amount}, "
                f"the order is {method} {total}"
            )
    # Credit notes: each mirrors its own verification, and together they never exceed the
    # invoice; a KREDITERAD order's accounts net to zero.
    for number, order_id, credit_total, v_kind, v_doc in rows(
        """SELECT c.number, c.order_id, c.total_minor, v.kind, v.document_number
             FROM credit_notes c JOIN verifications v ON v.id = c.verification_id"""
    ):
        _account, amount = payment_rows.get((order_id, "credit", number), (None, None))
        if (v_kind, v_doc) != ("credit", number) or amount != -credit_total:
            problems.append(f"credit note {number}: verification pays {amount}, {credit_total}")
    for number, status, total, credited in rows(
        """SELECT o.number, o.status, o.total_minor, coalesce(sum(c.total_minor), 0)
             FROM orders o LEFT JOIN credit_notes c ON c.order_id = o.id
            WHERE o.invoice_number IS NOT NULL GROUP BY o.id"""
    ):
        if credited > total or (status == "KREDITERAD") != (credited == total and total > 0):
            problems.append(f"order {number} ({status}): {credited} of {total} credited")
    for number, account, net in rows(
        """SELECT o.number, r.account, sum(r.amount_minor) FROM orders o
             JOIN verifications v ON v.order_id = o.id
             JOIN verification_rows r ON r.verification_id = v.id
            WHERE o.status = 'KREDITERAD' GROUP BY o.number, r.account
           HAVING sum(r.amount_minor) <> 0"""
    ):
        problems.append(f"credited order {number}: account {account} left at {net}")
    return problems


def _payments(rows: Any) -> list[str]:
    """Money: never more refunded than captured; a posted mobile payment was paid in full."""
    problems = [
        f"payment {reference}: refunded {refunded} of {captured}"
        for reference, captured, refunded in rows(
            "SELECT reference, captured_minor, refunded_minor FROM payment_requests "
            "WHERE refunded_minor > captured_minor"
        )
    ]
    # Reconcile finished every money movement: no cancel, capture or refund left pending.
    for reference, kind, number in rows(
        """SELECT r.reference, p.kind, o.number FROM payment_operations p
             JOIN payment_requests r ON r.id = p.request_id JOIN orders o ON o.id = r.order_id
            WHERE p.state = 'PENDING'"""
    ):
        problems.append(f"payment {reference}: a {kind} is still pending\n{_story(rows, number)}")
    for number, total in rows(
        """SELECT o.number, o.total_minor FROM orders o
            WHERE o.payment_method = 'MOBIL' AND o.payment_received AND NOT EXISTS (
                  SELECT 1 FROM payment_requests r WHERE r.order_id = o.id
                     AND r.state IN ('PAID', 'PARTIALLY_REFUNDED', 'REFUNDED')
                     AND r.captured_minor = o.total_minor)"""
    ):
        problems.append(f"order {number}: paid by MOBIL, but no request captured {total}")
    for number, paid in rows(
        """SELECT o.number, count(*) FROM orders o JOIN payment_requests r ON r.order_id = o.id
            WHERE r.state IN ('PAID', 'PARTIALLY_REFUNDED', 'RESERVED')
            GROUP BY o.number HAVING count(*) > 1"""
    ):
        problems.append(
            f"order {number}: {paid} payments hold the customer's money\n{_story(rows, number)}"
        )
    return problems


def _money_at_the_providers(db: Database, store: Any) -> list[str]:
    """No payment lost or doubled: what moved at each provider is what verkstad recorded."""
    problems = []
    with db.read_connection() as conn:
        requests = list(
            conn.execute(
                text(
                    "SELECT provider, provider_ref, reference, captured_minor, refunded_minor "
                    "FROM payment_requests"
                )
            )
        )
    ours = Counter((provider, ref) for provider, ref, *_rest in requests if ref)
    problems += [f"{n} requests share {ref} at {p}" for (p, ref), n in ours.items() if n > 1]
    moved: Counter[tuple[str, str, bool]] = Counter()
    for provider in {provider for provider, *_rest in requests}:
        problems += [
            f"payment {payment.id} at {provider} is unknown to verkstad"
            for payment in store.payments_of(provider)
            if (provider, payment.id) not in ours
        ]
        for _at, tx in store.transactions(provider):
            money_in = tx["kind"] in MONEY_IN
            moved[(provider, tx["payment_id"], money_in)] += int(tx["amount_minor"])
    for provider, ref, reference, captured, refunded in requests:
        if ref is None:
            continue
        paid_in, paid_back = moved[(provider, ref, True)], moved[(provider, ref, False)]
        if (paid_in, paid_back) != (captured, refunded):
            problems.append(
                f"payment {reference}: {paid_in} in and {paid_back} back at {provider}, "
                f"verkstad has {captured} captured and {refunded} refunded"
            )
    return problems


def _story(rows: Any, number: int) -> str:
    """What happened to one order and its payments, in order (for a violation's message)."""
    lines = [
        f"  {at:%H:%M:%S.%f} {user} order {action} {before or ''} → {after or ''}"
        for at, user, action, before, after in rows(
            "SELECT at, user_name, action, before, after FROM audit_events "
            "WHERE entity = 'order' AND entity_id = :n",
            n=str(number),
        )
    ]
    lines += [
        f"  {at:%H:%M:%S.%f} {user} {reference} {kind} {state} {detail[:80]}"
        for at, user, reference, kind, state, detail in rows(
            """SELECT e.at, e.user_name, r.reference, e.kind, e.state, e.detail
                 FROM payment_events e JOIN payment_requests r ON r.id = e.request_id
                 JOIN orders o ON o.id = r.order_id WHERE o.number = :n""",
            n=number,
        )
    ]
    return "\n".join(sorted(lines))
