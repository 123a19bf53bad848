"""A workshop on the shared sandbox for the reliability suite, and the invariants it must keep.

``World`` is one workshop database with one provider's channel, driven through
the real services over real HTTP. ``restart()`` is what a crashed process
finds when it starts again: a new engine on the same database file and new
provider adapters (no state survives in memory). ``recover()`` is what it then
does: reconcile with the providers and deliver the outbox, a few minutes later
(so leases of messages claimed before the crash have run out).

``violations()`` checks, against the sandbox's own state (what the providers
hold, the money that moved there, the phones and the mailboxes):

* every request is in a definite state and no operation is left pending;
* each request has exactly one payment at its provider (none for one that never
  reached it) and the provider holds no payment verkstad does not know;
* verkstad's state of each request is what the provider says when asked again;
* the money that moved at the provider is what verkstad recorded (captured and
  refunded, each once);
* no order is MOBILBET without a live or paid request; an order marked paid by
  MOBIL has its money;
* every queued message was sent, and reached its phone or mailbox exactly once;

plus what the scenario meant (``Expect``): paid, cancelled, refunded so much.
"""

from __future__ import annotations

import itertools
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from verkstad import failpoints
from verkstad.clock import now
from verkstad.config import Settings
from verkstad.db import Database
from verkstad.errors import DomainError
from verkstad.failpoints import SimulatedCrash
from verkstad.mpay import recovery
from verkstad.mpay import service as mpay
from verkstad.mpay.channels import add_channel
from verkstad.mpay.gateway import Providers
from verkstad.mpay.models import PaymentChannel, PaymentOperation, PaymentRequest
from verkstad.mpay.notify import LEASE, OutboxMessage, deliver_pending
from verkstad.mpay.senders import senders
from verkstad.mpay.status import LIVE
from verkstad.mpay.status import PaymentState as P
from verkstad.mpay.views import PaymentView
from verkstad.orders import service
from verkstad.orders.models import Order
from verkstad.orders.service import CustomerInput, LineInput
from verkstad.orders.status import OrderStatus, PaymentMethod
from verkstad.sandbox.server import bind
from verkstad.sandbox.smtp import SmtpServer
from verkstad.sandbox.testing import RunningSandbox
from verkstad.series import reserve_block
from verkstad.users import Actor, Role

PROVIDERS = ("vipps", "swish", "stripe", "resurs")
RESERVES = frozenset({"vipps", "resurs"})  # approval reserves; the money moves on capture
PAID = (P.PAID, P.PARTIALLY_REFUNDED)
ENDED_UNPAID = (P.DECLINED, P.EXPIRED, P.CANCELLED, P.FAILED)
MONEY_IN = {"CAPTURE", "PAYMENT"}  # the sandbox's money movements, per provider's words
RECOVERY_DELAY = LEASE + timedelta(minutes=3)  # the restart takes a while

_phones = itertools.count(1000)


def fresh_phone(provider: str) -> str:
    """A number of its own per order (Swish allows one open request per payer)."""
    n = next(_phones) % 9000 + 1000
    return f"+479120{n:04d}" if provider == "vipps" else f"+4670120{n:04d}"


@dataclass
class Expect:
    """What a scenario meant for one order, checked after recovery."""

    order: int
    state: P | None = None  # the latest request's state
    order_status: OrderStatus | None = None
    paid: bool | None = None  # "Betalning mottagen" with MOBIL
    refunded: int | None = None  # of the latest request, in minor units
    requests: int | None = None  # how many requests the order has


@dataclass
class World:
    sandbox: RunningSandbox
    settings: Settings
    url: str
    provider: str
    actor: Actor = field(default_factory=lambda: Actor("admin", Role.ADMIN))
    ops: int = 0  # service operations run (for the suite's figures)
    problems: list[str] = field(default_factory=list)  # a scenario's own findings
    ready: list[int] = field(default_factory=list)  # KLART orders made beforehand
    db: Database | None = None  # None: its own on ``url``
    providers: Providers = field(init=False)

    def __post_init__(self) -> None:
        self.db = self.db or Database(self.url)
        self.providers = Providers(self.settings)

    # ------------------------------------------------------------ set-up

    def set_up(self, email_links: bool = False) -> None:
        if self.provider == "vipps":  # Vipps takes NOK
            service.update_company(self.db, self.actor, country="NO")
        with self.db.session() as s:
            for channel in s.exec(select(PaymentChannel)):
                channel.active = False
        add_channel(
            self.db,
            self.actor,
            f"{self.provider}-kanal",
            self.provider,
            sms=True,
            email=email_links and self.provider == "stripe",
        )

    def customer(self, email: str = "asa@example.se") -> int:
        return service.create_customer(
            self.db, self.actor, CustomerInput("Åsa Öberg", fresh_phone(self.provider), email)
        ).number

    def order(self, email: str = "asa@example.se") -> int:
        """A KLART order of a customer of its own (one of the template's, while they last)."""
        if self.ready and email == "asa@example.se":
            return self.ready.pop(0)
        customer = self.customer(email)
        self.ops += 5
        order = service.create_order(self.db, self.actor, customer)
        service.add_line(
            self.db, self.actor, order.number, LineInput("Bromsbelägg", "1", "1 199,20")
        )
        service.add_line(
            self.db, self.actor, order.number, LineInput("Arbete", "1", "1 850", kind="labour")
        )
        service.complete(self.db, self.actor, order.number)
        return order.number

    def send(self, order: int, **kwargs: object) -> PaymentView:
        self.ops += 1
        return mpay.send(self.db, self.providers, self.actor, order, **kwargs)  # type: ignore[arg-type]

    def approve(self, reference: str) -> None:
        self.sandbox.act(reference, "approve")

    def total(self, order: int) -> int:
        """What the customer pays (3 812,00 kr; in NOK 3 811,50, Norway rounds differently)."""
        return service.get_order(self.db, order).totals.payable

    def requests(self) -> list[PaymentRequest]:
        with self.db.read() as s:
            return list(s.exec(select(PaymentRequest).order_by(col(PaymentRequest.id))))

    def next_invoice_number(self) -> int:
        with self.db.read() as s:
            return reserve_block(s, "invoice", 0)

    def db_dir(self) -> Path:
        return Path(make_url(self.url).database or ".").parent

    def paid_order(self) -> tuple[int, int]:
        """An order sent, approved and (where it reserves) captured: (order, request id)."""
        self.ops += 3
        order = self.order()
        view = self.send(order)
        self.approve(view.reference)
        if mpay.check(self.db, self.providers, self.actor, order).state == P.RESERVED:
            mpay.capture(self.db, self.providers, self.actor, order)
        return order, view.id

    def reserved_order(self) -> tuple[int, int]:
        self.ops += 2
        order = self.order()
        view = self.send(order)
        self.approve(view.reference)
        assert mpay.check(self.db, self.providers, self.actor, order).state == P.RESERVED
        return order, view.id

    # ------------------------------------------------------------ crashing and recovering

    def crash(self, point: str, call: Callable[[], object]) -> None:
        """Run ``call`` with ``point`` armed: it must die there."""
        failpoints.arm(point)
        try:
            with pytest.raises(SimulatedCrash, match=point.replace(".", r"\.")):
                call()
        finally:
            failpoints.disarm_all()

    def restart(self) -> None:
        """A new process: no connection, no adapter, no token survives; the same database file.
        (The engine's statement cache is kept: it holds SQL, not data, and compiling every
        statement anew for each case would cost the suite a third of its time.)"""
        self.providers.close()
        self.db.dispose()
        self.providers = Providers(self.settings)

    def recover(self, delay: timedelta = RECOVERY_DELAY) -> mpay.ReconcileReport:
        """What the restarted process does: reconcile, then deliver the outbox."""
        with freeze_time(now() + delay):
            report = recovery.reconcile(self.db, self.providers, self.actor)
            deliver_pending(self.db, senders(self.settings))
        self.ops += 2
        return report

    def close(self) -> None:
        failpoints.disarm_all()
        self.providers.close()
        self.db.dispose()

    # ------------------------------------------------------------ the invariants

    def violations(self, expects: list[Expect] = ()) -> list[str]:  # type: ignore[assignment]
        found: list[str] = []
        store = self.sandbox.sandbox.store
        with self.db.read() as s:
            requests = list(s.exec(select(PaymentRequest).order_by(col(PaymentRequest.id))))
            pending = list(
                s.exec(select(PaymentOperation).where(PaymentOperation.state == "PENDING"))
            )
            orders = {o.id: o for o in s.exec(select(Order))}
            outbox = list(s.exec(select(OutboxMessage)))
        for op in pending:
            found.append(f"operation {op.kind} of request {op.request_id} still PENDING")
        at_provider = {p.id: p for p in store.payments_of(self.provider)}
        refs = Counter(r.provider_ref for r in requests if r.provider_ref)
        for ref, n in refs.items():
            if n > 1:
                found.append(f"{n} requests share the provider payment {ref}")
        for pid in at_provider:
            if pid not in refs:
                found.append(f"payment {pid} at {self.provider} is unknown to verkstad")
        moved_in: Counter[str] = Counter()
        moved_out: Counter[str] = Counter()
        for _at, tx in store.transactions(self.provider):
            target = moved_in if tx["kind"] in MONEY_IN else moved_out
            target[tx["payment_id"]] += int(tx["amount_minor"])
        for req in requests:
            name = f"request {req.reference}"
            state = P(req.state)
            if state == P.CREATING:
                found.append(f"{name} is still CREATING")
            if req.provider_ref is None:
                if state not in (P.FAILED, P.CANCELLED):
                    found.append(f"{name} is {state} but has no payment at the provider")
                continue
            if req.provider_ref not in at_provider:
                found.append(f"{name}: its payment {req.provider_ref} is not at the provider")
                continue
            try:
                fresh = self.providers(self.provider).status(req.provider_ref)
            except DomainError as e:
                found.append(f"{name}: the provider could not be asked: {e}")
                continue
            if fresh.state != state and not (fresh.state in ENDED_UNPAID and state in ENDED_UNPAID):
                found.append(f"{name} is {state} in verkstad but {fresh.state} at the provider")
            if (fresh.captured_minor, fresh.refunded_minor) != (
                req.captured_minor,
                req.refunded_minor,
            ):
                found.append(
                    f"{name}: captured/refunded {req.captured_minor}/{req.refunded_minor} in "
                    f"verkstad, {fresh.captured_minor}/{fresh.refunded_minor} at the provider"
                )
            if moved_in[req.provider_ref] != req.captured_minor:
                found.append(
                    f"{name}: {moved_in[req.provider_ref]} moved in at the provider, "
                    f"{req.captured_minor} captured in verkstad"
                )
            if moved_out[req.provider_ref] != req.refunded_minor:
                found.append(
                    f"{name}: {moved_out[req.provider_ref]} refunded at the provider, "
                    f"{req.refunded_minor} in verkstad"
                )
        by_order: dict[int, list[PaymentRequest]] = {}
        for req in requests:
            if req.order_id is not None:
                by_order.setdefault(req.order_id, []).append(req)
        for order_id, order in orders.items():
            reqs = by_order.get(order_id or 0, [])
            latest = reqs[-1] if reqs else None
            if order.status == OrderStatus.MPAY and (
                latest is None or P(latest.state) not in (*LIVE, *PAID)
            ):
                found.append(
                    f"order {order.number} is MOBILBET without a live request "
                    f"({latest.state if latest else 'none'})"
                )
            if (
                order.status in (OrderStatus.DONE, OrderStatus.MPAY)
                and order.payment_received
                and order.payment_method == PaymentMethod.MOBIL
                and sum(r.captured_minor - r.refunded_minor for r in reqs) <= 0
            ):
                found.append(f"order {order.number} is paid by MOBIL but holds no money")
        found += self.problems
        found += self._outbox_violations(outbox)
        found += self._expect_violations(expects)
        return found

    def _outbox_violations(self, outbox: list[OutboxMessage]) -> list[str]:
        found = []
        store = self.sandbox.sandbox.store
        for m in outbox:
            if m.state != "SENT":
                found.append(f"{m.channel} {m.dedupe_key} is {m.state} ({m.last_error})")
                continue
            if m.channel == "sms":
                texts = [x for x in store.messages(m.recipient.lstrip("+")) if x["text"] == m.body]
                if len(texts) != 1:
                    found.append(f"sms {m.dedupe_key} reached the phone {len(texts)} times")
            else:
                mails = [x for x in store.mails(m.recipient.lower()) if x["subject"] == m.subject]
                if len(mails) != 1:
                    found.append(f"e-mail {m.dedupe_key} reached the inbox {len(mails)} times")
        return found

    def _expect_violations(self, expects: list[Expect]) -> list[str]:
        found = []
        for e in expects:
            order = service.get_order(self.db, e.order)
            with self.db.read() as s:
                reqs = list(
                    s.exec(
                        select(PaymentRequest)
                        .join(Order, Order.id == PaymentRequest.order_id)  # type: ignore[arg-type]
                        .where(Order.number == e.order)
                        .order_by(col(PaymentRequest.id))
                    )
                )
            latest = reqs[-1] if reqs else None
            what = f"order {e.order}"
            if e.requests is not None and len(reqs) != e.requests:
                found.append(f"{what} has {len(reqs)} requests, meant {e.requests}")
            if e.state is not None and (latest is None or latest.state != e.state):
                found.append(f"{what}: request {latest.state if latest else None}, meant {e.state}")
            if e.order_status is not None and order.status != e.order_status:
                found.append(f"{what} is {order.status}, meant {e.order_status}")
            if e.paid is not None:
                paid = order.payment_received and order.payment_method == PaymentMethod.MOBIL
                if paid != e.paid:
                    found.append(f"{what}: paid by MOBIL is {paid}, meant {e.paid}")
            if e.refunded is not None and (latest is None or latest.refunded_minor != e.refunded):
                got = latest.refunded_minor if latest else None
                found.append(f"{what}: refunded {got}, meant {e.refunded}")
        return found


@pytest.fixture(scope="session")
def mail_sandbox(_sandbox_server: RunningSandbox) -> Iterator[RunningSandbox]:
    """The session's sandbox with its SMTP server started, and settings that use it."""
    server = SmtpServer(_sandbox_server.sandbox, bind("127.0.0.1", 0))
    server.start()
    smtp = _sandbox_server.settings.smtp.model_copy(
        update={"host": "127.0.0.1", "port": server.port, "security": "none"}
    )
    settings = _sandbox_server.settings.model_copy(update={"smtp": smtp})
    yield RunningSandbox(
        _sandbox_server.url, settings, _sandbox_server.sandbox, _sandbox_server.client, server.port
    )
    server.stop()


READY_ORDERS = 3  # KLART orders each template holds, ready to send


@dataclass(frozen=True)
class Template:
    path: Path
    ready: tuple[int, ...]


class Templates:
    """Per provider, a database set up once (its channel, a few KLART orders), copied for each
    test over one file that one ``Database`` serves (its statement cache outlives the tests)."""

    def __init__(self, migrated: Path, folder: Path, sandbox: RunningSandbox) -> None:
        self.migrated, self.folder, self.sandbox = migrated, folder, sandbox
        self.made: dict[str, Template] = {}
        self.path = folder / "world.db"
        self.db = Database(f"sqlite:///{self.path}")

    def template(self, provider: str) -> Template:
        if provider not in self.made:
            path = self.folder / f"{provider}.db"
            shutil.copy(self.migrated, path)
            world = World(self.sandbox, self.sandbox.settings, f"sqlite:///{path}", provider)
            world.set_up(email_links=True)
            ready = tuple(world.order() for _ in range(READY_ORDERS))
            world.close()
            assert world.db is not None
            world.db.dispose()  # closing the last connection checkpoints the WAL
            self.made[provider] = Template(path, ready)
        return self.made[provider]

    def fresh(self, provider: str) -> Database:
        """The shared database, now a copy of the provider's template."""
        template = self.template(provider)
        self.db.dispose()
        for leftover in (self.path.with_name("world.db-wal"), self.path.with_name("world.db-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copy(template.path, self.path)
        return self.db


@pytest.fixture(scope="session")
def world_templates(
    _migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory, mail_sandbox: RunningSandbox
) -> Iterator[Templates]:
    templates = Templates(_migrated_sqlite, tmp_path_factory.mktemp("world"), mail_sandbox)
    yield templates
    templates.db.dispose()


@contextmanager
def make_world(sandbox: RunningSandbox, templates: Templates, provider: str) -> Iterator[World]:
    """A fresh copy of the provider's template on an emptied sandbox."""
    sandbox.reset()
    # The providers' own request limits would trip the invariant checks; 429 is injected.
    sandbox.control("POST", "/_sandbox/faults", {"rate_limits": False})
    db = templates.fresh(provider)
    world = World(sandbox, sandbox.settings, db.url, provider, db=db)
    world.ready = list(templates.template(provider).ready)
    try:
        yield world
    finally:
        world.close()
