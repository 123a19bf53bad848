"""One counter terminal in the PostgreSQL race (tests/reliability/test_race_pg.py).

Runs in its own process (multiprocessing, "spawn"): its own ``Database`` and
``Providers``, a seeded random mix of real service calls on the shared orders,
each with the version read just before (now and then the one its screen showed on
the previous visit, as a terminal left open would). A ``DomainError`` is one of the product's
refusals and a normal outcome; anything else — and a ``DatabaseUnavailable``, the
database being perfectly reachable — is a violation, reported with its traceback.
Customers' actions (approve, decline, open) go to the sandbox over HTTP.
"""

from __future__ import annotations

import random
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from verkstad.config import Settings
from verkstad.db import Database, DatabaseUnavailable
from verkstad.errors import DomainError

# Order lines the workers add: (description, quantity, unit price, VAT rate, kind).
LINES = (
    ("Oljefilter", "1", "189", "25", "part"),
    ("Arbete", "0,5", "950", "25", "labour"),
    ("Torkarblad", "2", "249,50", "25", "part"),
    ("Miljöavgift", "1", "45", "25", "fee"),
    ("Kaffe", "3", "12,40", "12", "part"),
    ("Notering", "", "", "", "text"),
)


# Calls by the order's status (a weight each); calls the status does not allow are refused.
WEIGHTS: dict[str, dict[str, float]] = {
    "ÖPPEN": {
        **{"add_line": 25, "update_line": 20, "delete_line": 4, "notes": 10, "method": 5},
        **{"complete": 30, "send": 1, "post": 2, "check": 1, "reopen": 1},
    },
    "KLART": {
        **{"send": 5, "method": 20, "post": 25, "reopen": 8, "add_line": 10, "update_line": 6},
        **{"notes": 6, "complete": 2, "cancel": 1, "check": 1, "credit": 1},
    },
    "MOBILBET": {
        **{"check": 20, "cancel": 8, "capture": 6, "post": 12, "add_line": 6, "notes": 4},
        **{"send": 3, "refund": 1, "reopen": 4, "method": 3},
    },
    "BOKFÖRD": {
        **{"credit": 12, "credit_part": 3, "refund": 2, "post": 6, "add_line": 6, "reopen": 4},
        **{"cancel": 2, "method": 3, "notes": 3, "check": 1},
    },
}
REFUSALS_ONLY = {"credit": 1, "add_line": 1, "post": 1}  # KREDITERAD without a copy
CUSTOMER = {"approve": 25, "decline": 2, "open": 2}  # the phone, while the order is MOBILBET
STALE_SCREENS = 0.25  # calls made with the version a terminal saw on its previous visit


@dataclass(frozen=True)
class Plan:
    """What one worker is told: where, who, which orders, how many calls, until when."""

    worker: int
    seed: int
    pg_url: str
    sandbox_url: str
    settings: Settings
    slots: tuple[int, ...]  # the orders' numbers at the start (credits follow the copy)
    channels: dict[int, str]  # slot → payment channel
    operations: int
    seconds: float  # a safety net: the worker stops after this long whatever it has done
    role: str
    customer_actions: bool  # this worker also plays the customers' phones


@dataclass
class Outcome:
    worker: int
    operations: int = 0
    customer_actions: int = 0
    ok: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # refusals' messages, numbers out
    seconds_by_kind: Counter[str] = field(default_factory=Counter)
    # (kind, order number, what the call returned) for the audit cross-check
    changes: list[tuple[str, int, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class OrderState:
    id: int
    number: int
    version: int
    status: str
    payment_method: str | None
    copied_to_id: int | None
    request_id: int | None
    request_state: str | None
    reference: str | None


STATE_SQL = text(
    """
    SELECT o.id, o.number, o.version, o.status, o.payment_method, o.copied_to_id,
           r.id, r.state, r.reference
      FROM orders o
      LEFT JOIN LATERAL (
            SELECT id, state, reference FROM payment_requests
             WHERE order_id = o.id ORDER BY id DESC LIMIT 1) r ON true
     WHERE o.number = :n
    """
)
COPY_SQL = text("SELECT number FROM orders WHERE id = :id")
LINES_SQL = text("SELECT id FROM order_lines WHERE order_id = :id ORDER BY position")


class Terminal:
    def __init__(self, plan: Plan) -> None:
        from verkstad.mpay.gateway import Providers
        from verkstad.users import Actor, Role

        self.plan = plan
        self.db = Database(plan.pg_url)
        self.providers = Providers(plan.settings)
        self.customer = httpx.Client(base_url=plan.sandbox_url, timeout=30)
        self.actor = Actor(f"kassa{plan.worker}", Role(plan.role))
        self.rng = random.Random(f"{plan.seed}/{plan.worker}")
        self.current = {slot: slot for slot in plan.slots}  # slot → its order now
        self.out = Outcome(plan.worker)
        self.seen: dict[int, int] = {}  # order → the version this terminal last read
        self.serial = 0
        # What the terminal's screen shows is read on a connection of its own (autocommit),
        # connected before the start.
        self.reader = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def close(self) -> None:
        self.reader.close()
        self.customer.close()
        self.providers.close()
        self.db.dispose()

    # ------------------------------------------------------------ reading

    def state(self, slot: int) -> OrderState:
        while True:
            row = self.reader.execute(STATE_SQL, {"n": self.current[slot]}).one()
            state = OrderState(*row)
            if state.status != "KREDITERAD" or state.copied_to_id is None:
                return state
            copy = self.reader.execute(COPY_SQL, {"id": state.copied_to_id}).scalar_one()
            self.current[slot] = copy  # a credited order's copy is the one to work on

    def line_ids(self, order_id: int) -> list[int]:
        return list(self.reader.execute(LINES_SQL, {"id": order_id}).scalars())

    # ------------------------------------------------------------ choosing

    def pick_slot(self) -> int:
        # Half of the calls go to a few hot orders, so that terminals collide often.
        slots = self.plan.slots
        return self.rng.choice(slots[:8] if self.rng.random() < 0.5 else slots)

    def choose(self, st: OrderState) -> str:
        """What a terminal does next, mostly what the status allows (some of it not).

        The mix is heavy in local work — an HTTP call to the sandbox costs several local
        calls' time on a small machine — but every kind of call is in it.
        """
        weights = dict(WEIGHTS.get(st.status, REFUSALS_ONLY))
        if st.status == "MOBILBET" and self.plan.customer_actions:
            weights |= CUSTOMER
        if st.request_state in ("PAID", "PARTIALLY_REFUNDED"):  # the customer returns a part
            weights["refund"] = weights.get("refund", 0) + 4
        kinds = list(weights)
        return self.rng.choices(kinds, [weights[k] for k in kinds])[0]

    def version(self, st: OrderState) -> int:
        """The version just read, or now and then the one this terminal's screen showed
        the last time it had the order open (someone may have changed it since)."""
        seen = self.seen.get(st.number)
        self.seen[st.number] = st.version
        if seen is not None and self.rng.random() < STALE_SCREENS:
            return seen
        return st.version

    # ------------------------------------------------------------ acting

    def line_input(self) -> Any:
        from verkstad.orders.service import LineInput

        description, quantity, price, vat, kind = self.rng.choice(LINES)
        self.serial += 1
        tag = f"{description} w{self.plan.worker}-{self.serial}"
        if kind == "text":
            return LineInput(tag, kind="text")
        return LineInput(tag, quantity, price, vat, kind)

    def call(self, st: OrderState, kind: str) -> Callable[[], Any] | None:
        from verkstad.ledger.credit import credit_order
        from verkstad.ledger.posting import post_order
        from verkstad.mpay import service as mpay
        from verkstad.orders import service

        db, actor, p, n, v = self.db, self.actor, self.providers, st.number, self.version(st)
        if kind == "add_line":
            data = self.line_input()
            return lambda: service.add_line(db, actor, n, data, expected_version=v)
        if kind in ("update_line", "delete_line"):
            ids = self.line_ids(st.id)
            if not ids:
                return None
            line_id = self.rng.choice(ids)
            if kind == "delete_line":
                return lambda: service.delete_line(db, actor, n, line_id, expected_version=v)
            data = self.line_input()
            return lambda: service.update_line(db, actor, n, line_id, data, expected_version=v)
        if kind == "notes":
            note = f"w{self.plan.worker}-{self.rng.randrange(10**6)}"
            return lambda: service.update_order(db, actor, n, notes=note, expected_version=v)
        if kind == "method":
            method = self.rng.choice(["KONTANT", "KORT", "FAKTURA", "FAKTURA", "MOBIL"])
            return lambda: service.update_order(
                db, actor, n, payment_method=method, expected_version=v
            )
        if kind == "complete":
            return lambda: service.complete(db, actor, n, expected_version=v)
        if kind == "reopen":
            return lambda: service.reopen(db, actor, n, expected_version=v)
        if kind == "send":
            form = mpay.SendForm(channel=self.plan.channels[self.slot])
            return lambda: mpay.send(db, p, actor, n, form, expected_version=v)
        if kind == "check":
            return lambda: mpay.check(db, p, actor, n)
        if kind == "cancel":
            return lambda: mpay.cancel(db, p, actor, n)
        if kind == "capture":
            return lambda: mpay.capture(db, p, actor, n)
        if kind == "refund":
            if st.request_id is None:
                return None
            request_id = st.request_id
            amount = self.rng.choice(["10", "25,50", "100"])
            return lambda: mpay.refund(db, p, actor, request_id, amount, "race")
        if kind == "post":
            return lambda: post_order(db, actor, n, expected_version=v)
        if kind in ("credit", "credit_part"):
            line_ids = None
            if kind == "credit_part":
                ids = self.line_ids(st.id)
                line_ids = self.rng.sample(ids, max(1, len(ids) // 2)) if ids else None
            return lambda: credit_order(
                db, p, actor, n, line_ids, expected_version=v, reason="race"
            )
        raise AssertionError(kind)

    def customer_act(self, st: OrderState, action: str) -> None:
        """The customer on their phone: the sandbox answers 4xx when the request is past it."""
        if st.reference is None:
            return
        self.out.customer_actions += 1
        response = self.customer.post(
            f"/_sandbox/customer/{action}", json={"reference": st.reference, "method": None}
        )
        if response.status_code >= 500:
            self.out.violations.append(f"sandbox {action}: {response.status_code} {response.text}")

    def step(self) -> None:
        self.slot = self.pick_slot()
        st = self.state(self.slot)
        kind = self.choose(st)
        if kind in ("approve", "decline", "open"):
            self.customer_act(st, kind)
            return
        call = self.call(st, kind)
        if call is None:
            return
        self.out.operations += 1
        started = time.perf_counter()
        try:
            result = call()
        except DatabaseUnavailable as e:
            self.violation(kind, st, e)
        except DomainError as e:
            self.out.refused[f"{kind}: {type(e).__name__}"] += 1
            self.out.reasons[f"{kind}: {re.sub(r'[0-9][-0-9:., ]*', '#', str(e))[:120]}"] += 1
        except Exception as e:  # noqa: BLE001 - anything but a refusal is what we look for
            self.violation(kind, st, e)
        else:
            self.out.ok[kind] += 1
            self.out.changes.append((kind, st.number, summary(kind, result)))
        finally:
            self.out.seconds_by_kind[kind] += time.perf_counter() - started

    def violation(self, kind: str, st: OrderState, e: BaseException) -> None:
        where = f"worker {self.plan.worker}, {kind} on order {st.number} ({st.status})"
        message = str(e).split("\n[SQL")[0][:400]
        frames = [
            f"  {f.filename.split('/verkstad/')[-1]}:{f.lineno} {f.name}"
            for f in traceback.extract_tb(e.__traceback__)
            if "/verkstad/" in f.filename and "/site-packages/" not in f.filename
        ]
        trail = "\n".join(frames[-5:])
        self.out.violations.append(f"{where}: {type(e).__name__}: {message}\n{trail}")

    def run(self) -> Outcome:
        start = time.monotonic()
        deadline = start + self.plan.seconds
        while self.out.operations < self.plan.operations and time.monotonic() < deadline:
            self.step()
        self.out.seconds = time.monotonic() - start
        return self.out


def summary(kind: str, result: Any) -> Any:
    """What the audit log must show for a successful call."""
    if kind in ("credit", "credit_part"):
        return {"credit_note": result.number, "status": result.status}
    if kind == "post":
        return {"invoice": result.invoice_number, "version": result.version}
    if kind in ("send", "check", "cancel", "capture", "refund"):
        return {"reference": result.reference, "state": str(result.state)}
    return {"version": result.version, "status": str(result.status)}


def main(plans: Any, barrier: Any, results: Any) -> None:
    """The process's entry point: start up while the parent builds the workshop, take a
    plan, wait for the others, race, report."""
    import verkstad.ledger.credit
    import verkstad.ledger.posting
    import verkstad.mpay.providers.registry  # noqa: F401
    from verkstad.i18n import set_language

    set_language("en")
    plan: Plan | None = plans.get(timeout=300)
    if plan is None:  # the parent's set-up failed
        return
    terminal = Terminal(plan)
    try:
        barrier.wait(timeout=300)
        results.put(terminal.run())
    except Exception as e:  # noqa: BLE001 - report it, never leave the parent waiting
        terminal.out.violations.append("".join(traceback.format_exception(e)))
        results.put(terminal.out)
    finally:
        terminal.close()
