"""File names verkstad makes up (from numbers, translated words, customers' names and
references) and the folders it writes them into: a name is one plain file in that
folder, never a path out of it.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from verkstad.errors import ValidationError
from verkstad.i18n import _

MAX_NAME_BYTES = 200  # well below the 255 bytes of common file systems
# Separators and what Windows refuses (a print folder may be a share), besides control,
# format (e.g. right-to-left override: "fakturagpj.exe" shown as "fakturaexe.jpg") and
# unassigned characters.
_REPLACED = set('/\\<>:"|?*')


def safe_file_name(name: str) -> str:
    """``name`` as one harmless file name: separators and invisible characters become
    "_", no leading dot (no "..", no hidden file), at most MAX_NAME_BYTES (the suffix is
    kept). Nothing usable left is refused, naming the field."""
    cleaned = "".join(
        "_" if c in _REPLACED or unicodedata.category(c)[0] == "C" else c
        for c in unicodedata.normalize("NFC", name)
    )
    cleaned = cleaned.lstrip(". ").rstrip()
    if len(cleaned.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, suffix = cleaned.rpartition(".")
        suffix = dot + suffix if stem and len(suffix) <= 10 else ""
        stem = cleaned[: len(cleaned) - len(suffix)]
        while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
            stem = stem[:-1]
        cleaned = stem.rstrip() + suffix
    if not cleaned.strip("._ "):
        raise ValidationError(_("File name"), _("is required"))
    return cleaned


def path_in(folder: Path, name: str) -> Path:
    """Where the file called ``name`` goes in ``folder`` (always directly inside it)."""
    path = folder / safe_file_name(name)
    if path.parent != folder:  # cannot happen: safe_file_name leaves no separator
        raise ValidationError(_("File name"), _("is required"))
    return path
