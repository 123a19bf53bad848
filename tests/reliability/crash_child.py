"""A child process for the crash matrix's real kills: runs one operation and dies at the
failpoint named by VERKSTAD_FAILPOINT_KILL (SIGKILL: no finally, no rollback).

    python -m tests.reliability.crash_child DATABASE_URL OPERATION ARGUMENT
"""

from __future__ import annotations

import sys
from pathlib import Path

from verkstad.config import Settings, SmtpSettings
from verkstad.db import Database
from verkstad.i18n import set_language
from verkstad.ledger.settlement import import_settlement
from verkstad.mpay import service as mpay
from verkstad.mpay.gateway import Providers
from verkstad.mpay.notify import deliver_pending
from verkstad.mpay.senders import senders
from verkstad.users import Actor, Role


def main(url: str, op: str, arg: str) -> int:
    import os

    set_language("en")
    settings = Settings(
        sandbox_url=os.environ["VERKSTAD_SANDBOX_URL"],
        smtp=SmtpSettings(
            host=os.environ["VERKSTAD_SMTP__HOST"],
            port=int(os.environ["VERKSTAD_SMTP__PORT"]),
            security="none",
        ),
    )
    db = Database(url)
    providers = Providers(settings)
    actor = Actor("admin", Role.ADMIN)
    if op == "send":
        mpay.send(db, providers, actor, int(arg))
    elif op == "capture":
        mpay.capture(db, providers, actor, int(arg))
    elif op == "refund":
        mpay.refund(db, providers, actor, int(arg), "100")
    elif op == "cancel":
        mpay.cancel(db, providers, actor, int(arg))
    elif op == "outbox":
        deliver_pending(db, senders(settings))
    elif op == "settlement":
        path = Path(arg)
        import_settlement(db, actor, path.read_bytes(), path.name)
    else:
        raise SystemExit(f"unknown operation {op}")
    return 0  # not killed: the parent reports it


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
