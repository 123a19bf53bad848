"""M-Pay recovery and timers: reconcile after a crash or a lost reply, poll open requests,
end expired ones and capture reservations left past the capture window.

Each asks the providers and feeds the answers to the same rules as the counter's own
calls (verkstad.mpay.service); the scheduler (verkstad.mpay.scheduler) runs them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from verkstad.clock import now
from verkstad.db import Database
from verkstad.errors import DomainError
from verkstad.failpoints import reach
from verkstad.i18n import _
from verkstad.mpay.answers import apply_status
from verkstad.mpay.capture_window import capture_window
from verkstad.mpay.models import PaymentOperation, PaymentRequest
from verkstad.mpay.operations import ReconcileReport, _as_state, _run_capture, _run_operations
from verkstad.mpay.providers.base import ProviderRefused, ProviderStatus, ProviderUnavailable
from verkstad.mpay.requests import _deliver, _take_answer, refresh
from verkstad.mpay.rows import (
    ENDED_UNPAID,
    SETTLE,
    P,
    Providers,
    _latest_request,
    _operation,
    _pending,
    _provider_request,
    _request_for_update,
    _view,
    new_key,
)
from verkstad.mpay.status import LIVE, PaymentState
from verkstad.mpay.views import PaymentView
from verkstad.orders.models import Order
from verkstad.orders.service import transition
from verkstad.orders.status import Action, OrderStatus
from verkstad.users import SYSTEM, Actor

POLL_CONCURRENCY = 8  # provider calls in flight at once while polling
# Requests ended here while their link could still be used are looked up until this long
# after it would have expired, in case the customer uses it after all (then it is undone).
LATE_LOOKUP = timedelta(hours=1)


def reconcile(db: Database, providers: Providers, actor: Actor = SYSTEM) -> ReconcileReport:
    """Finish everything a crash or a lost reply left open, by asking the providers."""
    report = ReconcileReport()
    with db.read() as s:
        creating = [
            r.id for r in s.exec(select(PaymentRequest).where(PaymentRequest.state == P.CREATING))
        ]
        pending = [
            (o.id, o.kind)
            for o in s.exec(select(PaymentOperation).where(PaymentOperation.state == "PENDING"))
        ]
    for request_id in creating:
        try:
            assert request_id is not None
            _deliver(db, providers, actor, request_id, first_attempt=False)
            report.created += 1
        except DomainError as e:
            report.errors.append(str(e))
    _run_operations(db, providers, actor, [(i, k) for i, k in pending if i is not None], report)
    report.refreshed = len(poll(db, providers, actor))
    _look_for_late(db, providers, actor, report)
    with db.read() as s:  # what polling and the sweep found to undo
        queued = [
            (o.id or 0, o.kind)
            for o in s.exec(select(PaymentOperation).where(PaymentOperation.state == "PENDING"))
            if (o.id, o.kind) not in set(pending)
        ]
    _run_operations(db, providers, actor, queued, report)
    _heal_orphan_locks(db, actor)
    return report


def _look_for_late(
    db: Database, providers: Providers, actor: Actor, report: ReconcileReport
) -> None:
    """Requests ended here while their link could still be used are looked up again: one
    cancelled as "never reached the provider" (a create that landed after all), and a late
    one the provider would not cancel yet (Vipps while the customer is approving: they may
    pay it a moment later). What is found is undone (see ``_late``)."""
    with db.read() as s:
        last_cancel = dict(  # per request, the state of its latest cancel
            s.exec(
                select(PaymentOperation.request_id, PaymentOperation.state)
                .where(PaymentOperation.kind == "cancel")
                .order_by(col(PaymentOperation.id))
            ).all()
        )
        refused = {i for i, state in last_cancel.items() if state == "FAILED"}
        ended = s.exec(
            select(PaymentRequest).where(col(PaymentRequest.state).in_(ENDED_UNPAID))
        ).all()
        again = [
            (r.id, r.provider_ref)
            for r in ended
            if ((r.state == P.CANCELLED and r.provider_ref is None) or r.id in refused)
            and (r.expires_at or r.created_at + timedelta(days=1)) + LATE_LOOKUP > now()
        ]
    for request_id, provider_ref in again:
        with db.read() as s:
            req = s.get(PaymentRequest, request_id)
            assert req is not None
            wire, name = _provider_request(s, req), req.provider
        try:
            provider = providers(name)
            found = provider.status(provider_ref) if provider_ref else provider.lookup(wire)
        except DomainError as e:
            report.errors.append(str(e))
            continue
        if found is None:
            continue
        with db.session() as s:
            req = _request_for_update(s, request_id or 0)
            req.provider_ref = found.provider_ref  # known now: looked up no more
            apply_status(s, actor, req, found)


def poll_due(req: PaymentRequest, at: datetime) -> bool:
    """Backoff: a fresh request is asked every poll, an older one less and less often."""
    age = at - req.created_at
    since = at - req.updated_at
    if age < timedelta(minutes=5):
        return True
    if age < timedelta(hours=1):
        return since >= timedelta(seconds=30)
    return since >= timedelta(minutes=5)


def poll(
    db: Database, providers: Providers, actor: Actor = SYSTEM, force: bool = False
) -> list[int]:
    """Refresh the live requests that are due (all with ``force``); the scheduler runs it.

    Returns the ids of the requests the providers answered about. Most answers
    change nothing ("still waiting"): those cost no write of their own — one
    statement at the end notes when each was last heard of (the backoff counts
    from then) — so polling many requests waits for the providers, not for the
    database's one writer.
    """
    at = now()
    with db.read() as s:
        due = [
            _Polled(r.id, r.provider, r.provider_ref, _held(r))
            for r in s.exec(
                select(PaymentRequest).where(
                    col(PaymentRequest.state).in_([x.value for x in LIVE if x != P.CREATING]),
                    col(PaymentRequest.provider_ref).is_not(None),
                )
            )
            if r.id is not None and r.provider_ref and (force or poll_due(r, at))
        ]
        # A request whose create went unanswered: looked up (and sent, if it never arrived)
        # once the create can no longer be on its way, without waiting for reconcile.
        creating = s.exec(
            select(PaymentRequest.id).where(
                PaymentRequest.state == P.CREATING, col(PaymentRequest.updated_at) <= at - SETTLE
            )
        ).all()

    def ask(req: _Polled) -> tuple[int, bool] | None:
        """(id, whether the answer changed nothing), or None if it stays for the next poll."""
        try:
            status = providers(req.provider).status(req.provider_ref)
            if _changes_nothing(req.held, status):
                return req.id, True
            _take_answer(db, providers, actor, req.id, status)
        except (DomainError, ProviderUnavailable):
            return None  # the next poll tries again
        return req.id, False

    def ask_again(request_id: int) -> tuple[int, bool] | None:
        try:
            refresh(db, providers, actor, request_id)
        except DomainError:
            return None
        return request_id, False

    # The time goes to waiting for the providers: ask several at once.
    with ThreadPoolExecutor(POLL_CONCURRENCY) as pool:
        answered = [
            a
            for a in [*pool.map(ask, due), *pool.map(ask_again, [i for i in creating if i])]
            if a is not None
        ]
    unchanged = [i for i, same in answered if same]
    if unchanged:
        with db.session() as s:
            s.execute(
                update(PaymentRequest)
                .where(col(PaymentRequest.id).in_(unchanged))
                .values(updated_at=now())
            )
    return [i for i, _same in answered]


@dataclass(frozen=True)
class _Polled:
    id: int
    provider: str
    provider_ref: str
    held: tuple[object, ...]


def _held(req: PaymentRequest) -> tuple[object, ...]:
    """What a provider's answer can change on a live request (see apply_status)."""
    return (
        req.state,
        req.provider_ref,
        req.link,
        req.method,
        req.captured_minor,
        req.refunded_minor,
        req.failed_attempts,
        req.sent_at is None,
        req.reserved_at is None,
    )


def _changes_nothing(held: tuple[object, ...], status: ProviderStatus) -> bool:
    """Whether apply_status would leave the request as it is (but for when it was heard of)."""
    state, ref, link, method, captured, refunded, failed, unsent, unreserved = held
    return (
        status.state == state
        and (status.provider_ref or ref) == ref
        and (status.link or link) == link
        and (status.method or method) == method
        and status.captured_minor == captured
        and status.refunded_minor == refunded
        and status.failed_attempts <= failed  # type: ignore[operator]
        and not unsent
        and not (status.state == P.RESERVED and unreserved)
    )


def expire_due(db: Database, providers: Providers, actor: Actor = SYSTEM) -> list[PaymentView]:
    """End every request past its lifetime: ask the provider first (it may have been paid),
    and if it is still open there, cancel it so the link dies; the order returns to KLART."""
    with db.read() as s:
        due = [
            r.id
            for r in s.exec(
                select(PaymentRequest).where(
                    col(PaymentRequest.state).in_(
                        [x.value for x in LIVE if x not in (P.CREATING, P.RESERVED)]
                    ),
                    col(PaymentRequest.expires_at) < now(),
                )
            )
        ]
    ended = []
    for request_id in due:
        assert request_id is not None
        try:
            view = refresh(db, providers, actor, request_id)
            if view.state in LIVE:
                view = _expire_at_provider(db, providers, actor, request_id)
        except DomainError:
            continue
        ended.append(view)
    return ended


def _expire_at_provider(
    db: Database, providers: Providers, actor: Actor, request_id: int
) -> PaymentView:
    with db.read() as s:
        req = s.get(PaymentRequest, request_id)
        assert req is not None and req.provider_ref is not None
        ref, name = req.provider_ref, req.provider
    try:
        status = providers(name).cancel(ref, new_key())
    except ProviderRefused:
        status = providers(name).status(ref)
    reach("expire.after_provider")
    with db.session() as s:
        req = _request_for_update(s, request_id)
        apply_status(s, actor, req, _as_state(status, P.CANCELLED, P.EXPIRED), "expired")
        return _view(s, req)


def capture_due(
    db: Database, providers: Providers, window: timedelta | None = None, actor: Actor = SYSTEM
) -> list[PaymentView]:
    """Capture every reserved payment that staff did not end within the capture window."""
    window = window or capture_window()
    with db.read() as s:
        due = [
            (r.id, r.order_id)
            for r in s.exec(
                select(PaymentRequest).where(
                    PaymentRequest.state == P.RESERVED,
                    col(PaymentRequest.reserved_at) <= now() - window,
                )
            )
        ]
    done = []
    for request_id, _order_id in due:
        with db.session() as s:
            req = _request_for_update(s, request_id or 0)
            if req.state != P.RESERVED or _pending(s, req, "capture"):
                continue
            op_id = _operation(
                s,
                actor,
                req,
                "capture",
                req.amount_minor - req.captured_minor,
                _("capture window ended"),
            )
        reach("capture.after_commit")
        done.append(_run_capture(db, providers, actor, op_id))
    return done


def _heal_orphan_locks(db: Database, actor: Actor) -> None:
    """An order must never stay MOBILBET without a live or paid request (invariant repair)."""
    with db.session() as s:
        locked = s.exec(
            select(Order)
            .where(Order.status == OrderStatus.MPAY)
            .order_by(col(Order.id))
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        ).all()
        for order in locked:
            assert order.id is not None
            latest = _latest_request(s, order.id)
            if (
                latest is None
                or PaymentState(latest.state) in ENDED_UNPAID
                or latest.state == P.REFUNDED
            ):
                transition(s, actor, order, Action.CANCEL_PAYMENT, _("no live payment request"))
