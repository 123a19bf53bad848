"""Messages from the command line: the invoice e-mail and the message templates."""

from __future__ import annotations

import typer

from verkstad.cli.common import ctx_of, info
from verkstad.i18n import _


def _invoice_group(app: typer.Typer) -> typer.Typer:
    for group in app.registered_groups:
        if group.name == "invoice" and group.typer_instance is not None:
            return group.typer_instance
    raise AssertionError("books.register adds the invoice group first")


def register(app: typer.Typer) -> None:
    invoice = _invoice_group(app)

    @invoice.command("email", help=_("Skicka faktura via e-post: the invoice PDF to the customer."))
    def invoice_email(
        ctx: typer.Context,
        order: int = typer.Argument(..., help=_("Order number")),
        preview: bool = typer.Option(False, "--preview", help=_("Show the e-mail, send nothing")),
    ) -> None:
        from verkstad.invoices.mail import mail_header, preview_invoice_email, send_invoice_email

        c = ctx_of(ctx)
        if preview:
            mail = preview_invoice_email(c.db, order)
            typer.echo(mail_header(mail.to, mail.subject, mail.file_name))
            typer.echo(f"\n{mail.body}")
            return
        sent = send_invoice_email(c.db, c.actor, order)
        message = (
            _("Invoice {n} is queued for e-mail to {to}.")
            if sent.queued
            else _("Invoice {n} has already been e-mailed to {to}.")
        )
        info(message.format(n=sent.invoice_number, to=sent.to))

    templates = typer.Typer(
        help=_("Message templates (SMS and e-mail texts)."), no_args_is_help=True
    )
    app.add_typer(templates, name="templates")
    kind_opt = typer.Option(
        ..., "--kind", help="pay_link_sms | pay_link_email | invoice_email | reminder"
    )
    lang_opt = typer.Option(..., "--lang", help="sv | nb | en | fr")
    category_opt = typer.Option("default", "--category", help="default | service | parts")

    @templates.command("list", help=_("Every template: kind, language, category, own or built-in."))
    def list_(ctx: typer.Context) -> None:
        from verkstad.mpay.templates import list_templates

        for t in list_templates(ctx_of(ctx).db):
            own = _("own") if t.custom else _("built-in")
            typer.echo(f"{t.kind:<15} {t.language}  {t.category:<8} {own:<9} {t.subject}")

    @templates.command("show", help=_("The text used for a kind, language and category."))
    def show(
        ctx: typer.Context, kind: str = kind_opt, lang: str = lang_opt, category: str = category_opt
    ) -> None:
        from verkstad.mpay.templates import get_template

        t = get_template(ctx_of(ctx).db, kind, lang, category)
        subject = _("Subject")
        typer.echo(f"{subject}: {t.subject}\n\n{t.body}")

    @templates.command("set", help=_("Save a template (administrators)."))
    def set_(
        ctx: typer.Context,
        kind: str = kind_opt,
        lang: str = lang_opt,
        category: str = category_opt,
        subject: str = typer.Option("", "--subject"),
        body: str = typer.Option(..., "--body"),
    ) -> None:
        from verkstad.mpay.templates import set_template

        c = ctx_of(ctx)
        set_template(c.db, c.actor, kind, lang, category, subject, body)
        info(_("The template is saved."))
