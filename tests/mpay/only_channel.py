"""Make one provider the workshop's only payment channel (the sandbox serves it)."""

from sqlmodel import select

from verkstad.db import Database
from verkstad.mpay.channels import add_channel
from verkstad.mpay.models import PaymentChannel
from verkstad.users import Actor


def use_only_channel(db: Database, admin: Actor, provider: str) -> None:
    with db.session() as s:
        for channel in s.exec(select(PaymentChannel)):
            channel.active = False
    add_channel(db, admin, provider.capitalize(), provider)
