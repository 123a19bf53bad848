"""Payment channels: which provider, for which transaction types, delivered how, used by whom."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from verkstad.audit import record
from verkstad.db import Database
from verkstad.errors import ConflictError, DomainError, NotFoundError, ValidationError
from verkstad.i18n import _
from verkstad.mpay.models import PaymentChannel
from verkstad.users import Actor, Role, require_role

PROVIDER_NAMES = ("resurs", "vipps", "swish", "stripe")


class TransactionType(StrEnum):
    RECEIVE = "receive"
    REFUND = "refund"
    PAYOUT = "payout"


@dataclass(frozen=True)
class ChannelView:
    id: int
    name: str
    provider: str
    transaction_types: tuple[str, ...]
    sms_enabled: bool
    email_enabled: bool
    link_lifetime_minutes: int
    users: tuple[str, ...]
    active: bool

    @classmethod
    def of(cls, c: PaymentChannel) -> ChannelView:
        assert c.id is not None
        return cls(
            c.id,
            c.name,
            c.provider,
            tuple(t for t in c.transaction_types.split(",") if t),
            c.sms_enabled,
            c.email_enabled,
            c.link_lifetime_minutes,
            tuple(u for u in c.users.split(",") if u),
            c.active,
        )

    def usable_by(self, actor: Actor) -> bool:
        return not self.users or actor.name in self.users


def add_channel(
    db: Database,
    actor: Actor,
    name: str,
    provider: str,
    transaction_types: tuple[str, ...] = ("receive", "refund"),
    sms: bool = True,
    email: bool = False,
    lifetime_minutes: int = 24 * 60,
    users: tuple[str, ...] = (),
) -> ChannelView:
    require_role(db, actor, "add_channel", Role.ADMIN)
    name = name.strip()
    if not name or len(name) > 40:
        raise ValidationError(_("Channel name"), _("1–40 characters"))
    if provider not in PROVIDER_NAMES:
        raise ValidationError(
            _("Provider"), _("must be one of: {choices}").format(choices=", ".join(PROVIDER_NAMES))
        )
    try:
        types = tuple(TransactionType(t.strip().lower()).value for t in transaction_types)
    except ValueError:
        raise ValidationError(
            _("Transaction types"),
            _("must be one of: {choices}").format(choices=", ".join(TransactionType)),
        ) from None
    if not types:
        raise ValidationError(_("Transaction types"), _("is required"))
    if not 10 <= lifetime_minutes <= 30 * 24 * 60:
        raise ValidationError(_("Link lifetime"), _("must be from 10 minutes to 30 days"))
    if not (sms or email) and provider in ("resurs", "stripe"):
        raise ValidationError(_("Delivery"), _("enable SMS, e-mail or both"))
    with db.session() as s:
        if s.exec(select(PaymentChannel).where(PaymentChannel.name == name)).first():
            raise ConflictError(_("A channel called {name} already exists.").format(name=name))
        channel = PaymentChannel(
            name=name,
            provider=provider,
            transaction_types=",".join(types),
            sms_enabled=sms,
            email_enabled=email,
            link_lifetime_minutes=lifetime_minutes,
            users=",".join(u.strip().lower() for u in users if u.strip()),
        )
        s.add(channel)
        s.flush()
        view = ChannelView.of(channel)
        record(s, actor, "channel", name, "create", None, view.__dict__)
        return view


def list_channels(db: Database) -> list[ChannelView]:
    with db.read() as s:
        return [
            ChannelView.of(c)
            for c in s.exec(select(PaymentChannel).order_by(col(PaymentChannel.name)))
        ]


def choose_channel(
    s: Session, actor: Actor, kind: TransactionType, name: str | None = None
) -> PaymentChannel:
    """The channel to use: the named one, or the only one that fits, or a clear refusal."""
    rows = s.exec(
        select(PaymentChannel).where(PaymentChannel.active).order_by(col(PaymentChannel.name))
    )
    fitting = [
        c
        for c in rows
        if kind.value in c.transaction_types.split(",") and ChannelView.of(c).usable_by(actor)
    ]
    if not fitting:
        raise DomainError(_("No payment channels are defined for the selected transaction type."))
    if name:
        for channel in fitting:
            if channel.name.lower() == name.strip().lower():
                return channel
        raise NotFoundError(
            _("There is no usable channel called {name}; choose one of: {choices}.").format(
                name=name, choices=", ".join(c.name for c in fitting)
            )
        )
    if len(fitting) > 1:
        raise ValidationError(
            _("Channel"),
            _("choose one of: {choices}").format(choices=", ".join(c.name for c in fitting)),
        )
    return fitting[0]


def fitting_channels(db: Database, actor: Actor, kind: TransactionType) -> list[ChannelView]:
    """The channels the user may pick from (the send dialog shows a choice only if > 1)."""
    with db.read() as s:
        rows = s.exec(
            select(PaymentChannel).where(PaymentChannel.active).order_by(col(PaymentChannel.name))
        )
        views = [ChannelView.of(c) for c in rows]
    return [v for v in views if kind.value in v.transaction_types and v.usable_by(actor)]
