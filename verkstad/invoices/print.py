"""Skriv ut: the PDF goes to the configured folder and, if a print command is set, to it.

The command is run without a shell: ``lp -d verkstad`` gets the file appended,
or put ``{file}`` where the path belongs (``lpr -P kassa {file}``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from verkstad.config import Settings
from verkstad.db import Database
from verkstad.errors import DomainError
from verkstad.files import path_in
from verkstad.i18n import _

PRINT_TIMEOUT_SECONDS = 60


def save_pdf(data: bytes, folder: Path, file_name: str) -> Path:
    """Write the file atomically (a half-written PDF never appears in the folder), always
    directly in ``folder``, whatever ``file_name`` holds (see verkstad.files)."""
    target = path_in(folder, file_name)
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def print_pdf(data: bytes, folder: Path, file_name: str, command: str = "") -> Path:
    """Save the PDF in ``folder`` and send it to ``command`` if one is configured."""
    path = save_pdf(data, folder, file_name)
    if not command.strip():
        return path
    args = shlex.split(command)
    if any("{file}" in a for a in args):
        args = [a.replace("{file}", str(path)) for a in args]
    else:
        args.append(str(path))
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=PRINT_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError:
        raise DomainError(
            _("The print command {cmd} was not found; the PDF is saved as {path}.").format(
                cmd=args[0], path=path
            )
        ) from None
    except subprocess.TimeoutExpired:
        raise DomainError(
            _("The print command did not finish; the PDF is saved as {path}.").format(path=path)
        ) from None
    if done.returncode != 0:
        raise DomainError(
            _("Printing failed ({detail}); the PDF is saved as {path}.").format(
                detail=(done.stderr or done.stdout).strip() or done.returncode, path=path
            )
        )
    return path


def print_invoice(db: Database, settings: Settings, order_number: int) -> Path:
    """Skriv ut faktura: the order's invoice PDF to the print folder (and command, if set)."""
    from verkstad.invoices.pdf import invoice_pdf
    from verkstad.orders.service import get_order

    order = get_order(db, order_number)
    if order.invoice_number is None:
        raise DomainError(_("Order {n} has no invoice yet; post it first.").format(n=order_number))
    data = invoice_pdf(db, order_number)
    name = f"faktura-{order.invoice_number}.pdf"
    return print_pdf(data, settings.print_folder(), name, settings.printing.command)
