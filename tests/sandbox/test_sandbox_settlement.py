"""Settlement reports: payouts, fees and the payments they cover, per provider's file format."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from verkstad.config import Settings
from verkstad.money import Money
from verkstad.mpay.providers.base import PaymentLine, PaymentRequest
from verkstad.mpay.providers.resurs import ResursProvider
from verkstad.mpay.providers.stripe import StripeProvider
from verkstad.mpay.providers.swish import SwishProvider
from verkstad.mpay.providers.vipps import VippsProvider
from verkstad.sandbox.cli import app
from verkstad.sandbox.settlement import PROVIDER_ZONE, payout_date
from verkstad.sandbox.testing import RunningSandbox

AUTO = {"NOK": "+4791299906", "SEK": "+46701299906"}  # numbers that approve at once


def req(minor: int, currency: str, **kw: object) -> PaymentRequest:
    return PaymentRequest(
        uuid.uuid4().hex,
        f"M-{minor}",
        Money(minor, currency),
        phone=AUTO[currency],
        **kw,  # type: ignore[arg-type]
    )


def report(sandbox: RunningSandbox, provider: str) -> list[dict[str, str]]:
    today = sandbox.sandbox.now().astimezone(PROVIDER_ZONE).date()
    text = sandbox.control(
        "GET",
        f"/_sandbox/settlement?provider={provider}&from={today}&to={today + timedelta(days=14)}",
    )
    delimiter = "," if provider == "stripe" else ";"
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def test_each_provider_reports_gross_fee_and_net(
    settings: Settings, sandbox: RunningSandbox
) -> None:
    vipps = VippsProvider(settings)
    v = req(50_000, "NOK")
    ref = vipps.create(v).provider_ref
    vipps.capture(ref, v.amount, uuid.uuid4().hex)
    vipps.refund(ref, Money(10_000, "NOK"), uuid.uuid4().hex)
    vipps.close()

    swish = SwishProvider(settings)
    swish.create(req(99_950, "SEK"))
    swish.close()

    stripe = StripeProvider(settings)
    s = PaymentRequest(uuid.uuid4().hex, "M-S1", Money(249_900, "SEK"))
    sandbox.act(stripe.create(s).provider_ref, "approve")
    stripe.close()

    resurs = ResursProvider(settings)
    r = req(250_000, "SEK", lines=(PaymentLine("Service", 1000, "st", 200_000, 25, 250_000),))
    rref = resurs.create(r).provider_ref
    resurs.capture(rref, r.amount, uuid.uuid4().hex)
    resurs.close()

    vipps_rows = report(sandbox, "vipps")
    assert [
        (x["TransactionType"], x["GrossAmount"], x["Fee"], x["NetAmount"]) for x in vipps_rows
    ] == [
        ("CAPTURE", "500.00", "8.75", "491.25"),
        ("REFUND", "-100.00", "0.00", "-100.00"),
        ("PAYOUT", "400.00", "8.75", "391.25"),
    ]
    assert vipps_rows[0]["Reference"] == ref and vipps_rows[0]["VerkstadReference"] == "M-50000"

    swish_rows = report(sandbox, "swish")
    assert [(x["Typ"], x["Brutto"], x["Avgift"], x["Netto"]) for x in swish_rows] == [
        ("BETALNING", "999.50", "2.00", "997.50"),
        ("UTBETALNING", "999.50", "2.00", "997.50"),
    ]

    stripe_rows = report(sandbox, "stripe")
    assert [(x["reporting_category"], x["gross"], x["fee"], x["net"]) for x in stripe_rows] == [
        ("charge", "2499.00", "39.29", "2459.71"),  # 1.5 % + 1.80
        ("payout", "2499.00", "39.29", "2459.71"),
    ]
    assert stripe_rows[0]["client_reference_id"] == "M-S1"

    resurs_rows = report(sandbox, "resurs")
    assert [(x["Typ"], x["Brutto"], x["Avgift"]) for x in resurs_rows] == [
        ("DEBITERING", "2500.00", "22.50"),  # paid in full (card): 0.9 %
        ("UTBETALNING", "2500.00", "22.50"),
    ]
    assert resurs_rows[0]["Betalnings-ID"] == rref


def test_payout_dates_follow_each_providers_delay() -> None:
    friday = datetime(2024, 3, 8, 15, 0, tzinfo=PROVIDER_ZONE)
    assert payout_date("vipps", friday) == date(2024, 3, 12)  # two banking days
    assert payout_date("resurs", friday) == date(2024, 3, 11)
    assert payout_date("swish", friday) == date(2024, 3, 8)  # instant
    assert payout_date("stripe", friday) == date(2024, 3, 15)


def test_cli_writes_the_file(sandbox: RunningSandbox, tmp_path: Path) -> None:
    out = tmp_path / "swish.csv"
    result = CliRunner().invoke(
        app,
        ["settlement", "--provider", "swish", "--from", "2024-01-01", "--to", "2024-01-31",
         "-o", str(out), "--url", sandbox.url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("Utbetalningsnummer;Utbetalningsdag;")
    bad = CliRunner().invoke(
        app,
        ["settlement", "--provider", "paypal", "--from", "2024-01-01", "--to", "2024-01-31",
         "-o", str(out), "--url", sandbox.url],
    )  # fmt: skip
    assert "provider must be one of" in str(bad.exception)
