"""Plain data about payment requests, as the CLI and the TUI show them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from verkstad.i18n import _
from verkstad.mpay.capture_window import capture_window
from verkstad.mpay.status import EVENT_LABELS, STATE_LABELS, PaymentState

if TYPE_CHECKING:
    from verkstad.mpay.models import PaymentEvent, PaymentRequest


def link_tail(link: str | None) -> str | None:
    """Staff see only the last four characters of a payment link."""
    return f"…{link[-4:]}" if link else None


@dataclass(frozen=True)
class EventView:
    at: datetime
    user: str
    kind: str
    state: str | None
    detail: str

    @property
    def kind_label(self) -> str:
        return _(EVENT_LABELS[self.kind]) if self.kind in EVENT_LABELS else self.kind

    @property
    def state_label(self) -> str:
        return _(STATE_LABELS[PaymentState(self.state)]) if self.state else ""


@dataclass(frozen=True)
class PaymentView:
    id: int
    reference: str
    order_number: int | None
    customer_number: int
    customer_name: str
    channel: str
    provider: str
    state: PaymentState
    amount_minor: int
    currency: str
    captured_minor: int
    refunded_minor: int
    link: str | None  # the last four characters only
    method: str | None
    failure_reason: str | None
    failed_attempts: int
    phone: str | None
    email: str | None
    send_sms: bool
    send_email: bool
    explanation: str
    created_at: datetime
    created_by: str
    sent_at: datetime | None
    paid_at: datetime | None
    expires_at: datetime | None
    capture_deadline: datetime | None
    read: bool
    consolidated_at: datetime | None
    consolidated_by: str | None
    events: tuple[EventView, ...] = ()

    @property
    def state_label(self) -> str:
        return _(STATE_LABELS[self.state])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat().replace("+00:00", "Z")
        data["events"] = [
            {**asdict(e), "at": e.at.isoformat().replace("+00:00", "Z")} for e in self.events
        ]
        return data


def payment_view(
    req: PaymentRequest,
    order_number: int | None,
    customer_number: int,
    customer_name: str,
    channel: str,
    events: list[PaymentEvent] | None = None,
) -> PaymentView:
    assert req.id is not None
    state = PaymentState(req.state)
    return PaymentView(
        id=req.id,
        reference=req.reference,
        order_number=order_number,
        customer_number=customer_number,
        customer_name=customer_name,
        channel=channel,
        provider=req.provider,
        state=state,
        amount_minor=req.amount_minor,
        currency=req.currency,
        captured_minor=req.captured_minor,
        refunded_minor=req.refunded_minor,
        link=link_tail(req.link),
        method=req.method,
        failure_reason=req.failure_reason,
        failed_attempts=req.failed_attempts,
        phone=req.phone,
        email=req.email,
        send_sms=req.send_sms,
        send_email=req.send_email,
        explanation=req.explanation,
        created_at=req.created_at,
        created_by=req.created_by,
        sent_at=req.sent_at,
        paid_at=req.paid_at,
        expires_at=req.expires_at,
        capture_deadline=(
            req.reserved_at + capture_window()
            if state == PaymentState.RESERVED and req.reserved_at
            else None
        ),
        read=req.read_at is not None,
        consolidated_at=req.consolidated_at,
        consolidated_by=req.consolidated_by,
        events=tuple(EventView(e.at, e.user_name, e.kind, e.state, e.detail) for e in events or []),
    )
