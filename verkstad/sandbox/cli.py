"""``verkstad sandbox …``: run the provider emulator, and play the customer against a running one.

Every command but ``serve`` talks to the sandbox over HTTP at ``--url``
(default: the ``sandbox_url`` setting, i.e. VERKSTAD_SANDBOX_URL).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import httpx
import typer

from verkstad.config import Settings, SmtpSettings, load_settings
from verkstad.errors import DomainError
from verkstad.i18n import _

app = typer.Typer(
    help=_("The local payment-provider sandbox: Vipps, Swish, Stripe, Resurs and an SMS gateway."),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

URL_OPTION = typer.Option("", "--url", help=_("The sandbox's URL (default: sandbox_url setting)"))


def _settings() -> Settings:
    return load_settings()


def _call(url: str, method: str, path: str, json: Any = None, params: Any = None) -> Any:
    base = (url or _settings().sandbox_url).rstrip("/")
    try:
        response = httpx.request(method, base + path, json=json, params=params, timeout=30)
    except httpx.HTTPError:
        raise DomainError(
            _("No sandbox answers at {url}; start it with `verkstad sandbox serve`.").format(
                url=base
            )
        ) from None
    if response.status_code >= 400:
        try:
            message = response.json().get("error") or response.text
        except ValueError:
            message = response.text
        raise DomainError(str(message))
    if "json" in response.headers.get("content-type", ""):
        return response.json()
    return response.text


def _print_payment(p: dict[str, Any]) -> None:
    typer.echo(
        f"{p['provider']:7} {p['reference']}  {p['amount']}  {p['state']}"
        + (f"  ({p['customer']})" if p.get("customer") else "")
    )


@app.command("serve", help=_("Run the sandbox (loopback only unless --host says otherwise)."))
def serve(
    port: int = typer.Option(8765, "--port", help=_("Port (0: any free port)")),
    host: str = typer.Option("127.0.0.1", "--host", help=_("Interface to listen on")),
    db: Path = typer.Option(
        None, "--db", help=_("State file (default: sandbox.db in the data dir)")
    ),
    webhook_url: str = typer.Option(
        "", "--webhook-url", help=_("Where Vipps and Stripe events go ({provider} is replaced)")
    ),
    latency_ms: int = typer.Option(0, "--latency-ms", help=_("Added latency on every call")),
    error_rate: float = typer.Option(0.0, "--error-rate", help=_("Share of calls answered 500")),
    malformed_rate: float = typer.Option(
        0.0, "--malformed-rate", help=_("Share of garbled replies")
    ),
    drop_rate: float = typer.Option(
        0.0, "--drop-rate", help=_("Share of calls done but never answered")
    ),
    rate_limits: bool = typer.Option(
        True, "--rate-limits/--no-rate-limits", help=_("Enforce the providers' request limits")
    ),
    smtp_port: int = typer.Option(
        SmtpSettings.model_fields["port"].default,
        "--smtp-port",
        help=_("Port of the SMTP server for e-mail (0: none)"),
    ),
) -> None:
    import uvicorn

    from verkstad.sandbox.faults import Faults
    from verkstad.sandbox.server import bind, default_db, make_config
    from verkstad.sandbox.smtp import SmtpServer

    settings = _settings()
    path = db or default_db()
    sock = bind(host, port)
    config, sandbox = make_config(sock, path, settings)
    rules = [
        {"kind": kind, "rate": rate}
        for kind, rate in (
            ("error", error_rate),
            ("malformed", malformed_rate),
            ("drop", drop_rate),
        )
        if rate
    ]
    if latency_ms:
        rules.append({"kind": "latency", "latency_ms": latency_ms})
    try:
        Faults(sandbox).configure(rules, rate_limits)
    except ValueError as e:
        raise DomainError(str(e)) from None
    if webhook_url:
        sandbox.webhooks.configure({"url": webhook_url})
    mail_server = None
    if smtp_port:
        try:
            mail_server = SmtpServer(sandbox, bind(host, smtp_port))
        except OSError as e:  # e.g. a second sandbox: it still serves the providers
            message = _("Port {port} cannot be used for SMTP ({error}); e-mail is off.")
            typer.echo(message.format(port=smtp_port, error=e.strerror), err=True)
    typer.echo(
        _("Sandbox on {url} (state in {path}); Ctrl+C stops it.").format(
            url=sandbox.config.public_url, path=path
        )
    )
    try:
        if mail_server is not None:
            mail_server.start()
            typer.echo(
                _("SMTP on {host}:{port}; the inbox is {url}/inbox.").format(
                    host=host, port=mail_server.port, url=sandbox.config.public_url
                )
            )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if mail_server is not None:
            mail_server.stop()
        sandbox.store.close()


@app.command("phone", help=_("The texts and pushes a phone number has received."))
def phone(number: str = typer.Argument(...), url: str = URL_OPTION) -> None:
    data = _call(url, "GET", f"/phone/{number.lstrip('+')}")
    typer.echo(f"+{data['number']}: {data['description']}")
    for m in data["messages"]:
        typer.echo(f"  {m['at'][:19]}  {m['provider']} {m['kind']}: {m['text']}")
        if m.get("link"):
            typer.echo(f"      {m['link']}")
    for p in data["payments"]:
        typer.echo("  ", nl=False)
        _print_payment(p)


@app.command("inbox", help=_("The e-mails an address has received."))
def inbox(address: str = typer.Argument(...), url: str = URL_OPTION) -> None:
    mails = _call(url, "GET", f"/inbox/{address}")["mails"]
    if not mails:
        typer.echo(_("No e-mails yet."))
    for m in mails:
        typer.echo(f"{m['at'][:19]}  {m['from']}: {m['subject']}")
        for line in m["text"].splitlines():
            typer.echo(f"    {line}")
        for a in m["attachments"]:
            typer.echo(f"    [{a['name']}, {a['size']} B]")


def _act(action: str, reference: str, url: str, method: str | None = None) -> None:
    body = {"reference": reference, "method": method}
    _print_payment(_call(url, "POST", f"/_sandbox/customer/{action}", body))


@app.command("open", help=_("The customer opens the link or push."))
def open_(reference: str = typer.Argument(...), url: str = URL_OPTION) -> None:
    _act("open", reference, url)


@app.command("start", help=_("The customer starts entering details."))
def start(reference: str = typer.Argument(...), url: str = URL_OPTION) -> None:
    _act("start", reference, url)


@app.command("approve", help=_("The customer approves (choosing how to pay where offered)."))
def approve(
    reference: str = typer.Argument(...),
    method: str = typer.Option(
        None, "--method", help="full | invoice | part_payment | instalments | card"
    ),
    url: str = URL_OPTION,
) -> None:
    _act("approve", reference, url, method)


@app.command("decline", help=_("The customer declines."))
def decline(reference: str = typer.Argument(...), url: str = URL_OPTION) -> None:
    _act("decline", reference, url)


@app.command("expire", help=_("The request runs out now (as if the customer never answered)."))
def expire(reference: str = typer.Argument(...), url: str = URL_OPTION) -> None:
    _act("expire", reference, url)


@app.command("payments", help=_("Payments in the sandbox: the live ones, or those matching."))
def payments(reference: str = typer.Argument(None), url: str = URL_OPTION) -> None:
    for p in _call(
        url, "GET", "/_sandbox/payments", params={"reference": reference} if reference else None
    ):
        _print_payment(p)


@app.command("advance", help=_("Move the sandbox's clock forward (expiry, windows, webhooks)."))
def advance(
    minutes: float = typer.Option(0, "--minutes"),
    hours: float = typer.Option(0, "--hours"),
    days: float = typer.Option(0, "--days"),
    url: str = URL_OPTION,
) -> None:
    state = _call(
        url, "POST", "/_sandbox/clock/advance", {"minutes": minutes, "hours": hours, "days": days}
    )
    typer.echo(_("Sandbox time is now {now}.").format(now=state["now"]))


@app.command(
    "fault", help=_("Add a fault (error, rate_limit, malformed, drop, latency), or clear.")
)
def fault(
    kind: str = typer.Argument(
        None, help="error | rate_limit | malformed | drop | reset | latency"
    ),
    provider: str = typer.Option(None, "--provider", help="vipps | swish | stripe | resurs | sms"),
    rate: float = typer.Option(1.0, "--rate", help=_("Share of matching calls (0-1)")),
    count: int = typer.Option(None, "--count", help=_("Only the next N matching calls")),
    path: str = typer.Option(None, "--path", help=_("Only paths matching this regular expression")),
    method: str = typer.Option(None, "--method", help="GET | POST | PUT | PATCH"),
    latency_ms: int = typer.Option(0, "--latency-ms"),
    clear: bool = typer.Option(False, "--clear", help=_("Remove every fault")),
    rate_limits: bool = typer.Option(
        None, "--rate-limits/--no-rate-limits", help=_("Enforce the providers' request limits")
    ),
    url: str = URL_OPTION,
) -> None:
    if clear:
        state = _call(url, "DELETE", "/_sandbox/faults")
    elif kind:
        rule = {
            "kind": kind,
            "provider": provider,
            "rate": rate,
            "remaining": count,
            "path": path,
            "method": method,
            "latency_ms": latency_ms,
        }
        state = _call(url, "POST", "/_sandbox/faults", {"add": rule})
    else:
        state = _call(url, "GET", "/_sandbox/faults")
    if rate_limits is not None:
        state = _call(url, "POST", "/_sandbox/faults", {"rate_limits": rate_limits})
    typer.echo(_("Rate limits: {on}").format(on=_("on") if state["rate_limits"] else _("off")))
    for r in state["rules"]:
        typer.echo(f"  {r}")


@app.command(
    "webhooks", help=_("Webhook switches (URL, drop, duplicate, delay, reorder); deliver.")
)
def webhooks(
    webhook_url: str = typer.Option(None, "--webhook-url"),
    drop: bool = typer.Option(None, "--drop/--no-drop"),
    duplicate: bool = typer.Option(None, "--duplicate/--no-duplicate"),
    delay: float = typer.Option(None, "--delay", help=_("Seconds of sandbox time")),
    reorder: bool = typer.Option(None, "--reorder/--no-reorder"),
    deliver: bool = typer.Option(False, "--deliver", help=_("Send what is due now")),
    url: str = URL_OPTION,
) -> None:
    changes = {
        k: v
        for k, v in {
            "url": webhook_url,
            "drop": drop,
            "duplicate": duplicate,
            "delay_seconds": delay,
            "reorder": reorder,
        }.items()
        if v is not None
    }
    if changes:
        _call(url, "POST", "/_sandbox/webhooks", changes)
    if deliver:
        for d in _call(url, "POST", "/_sandbox/webhooks/deliver")["delivered"]:
            typer.echo(f"  {d['provider']} #{d['seq']}: {d['status']}")
    typer.echo(str(_call(url, "GET", "/_sandbox/webhooks")["switches"]))


@app.command("settlement", help=_("Write a provider's settlement report for a period."))
def settlement(
    provider: str = typer.Option(..., "--provider", help="vipps | swish | stripe | resurs"),
    start: str = typer.Option(..., "--from", help=_("First payout date (YYYY-MM-DD)")),
    end: str = typer.Option(..., "--to", help=_("Last payout date (YYYY-MM-DD)")),
    output: Path = typer.Option(..., "-o", "--output", help=_("File to write")),
    url: str = URL_OPTION,
) -> None:
    for text in (start, end):
        try:
            date.fromisoformat(text)
        except ValueError:
            raise DomainError(_("{value} is not a date (YYYY-MM-DD).").format(value=text)) from None
    params = {"provider": provider, "from": start, "to": end}
    report = _call(url, "GET", "/_sandbox/settlement", params=params)
    output.write_text(report, encoding="utf-8")
    rows = report.count("\n") - 1
    typer.echo(_("{n} rows written to {path}.").format(n=rows, path=output))


@app.command("reset", help=_("Forget every payment, message, fault and clock offset."))
def reset(url: str = URL_OPTION) -> None:
    _call(url, "POST", "/_sandbox/reset")
    typer.echo(_("The sandbox is empty."))
