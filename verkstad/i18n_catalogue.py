"""Maintaining the gettext catalogues: extract, update, compile, check.

    python -m verkstad.i18n_catalogue update   # after changing user-visible strings
    python -m verkstad.i18n_catalogue check    # what is missing or out of date

Message ids are English; sv, nb and fr must translate every one (en may
leave them empty: the id is the English text).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from verkstad.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "verkstad"
LOCALES = ROOT / "locales"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
MUST_TRANSLATE = ("sv", "nb", "fr")


def extract() -> Catalog:
    template = Catalog(project="verkstad", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        template.add(
            message,
            None,
            [(f"verkstad/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "verkstad.po"


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, no_location=True, sort_output=True, width=100)
    path.write_bytes(buffer.getvalue())


def load(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def compiled(lang: str) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, load(lang))
    return buffer.getvalue()


def update() -> None:
    template = extract()
    _write(template, LOCALES / "messages.pot")
    for lang in LANGUAGES:
        catalog = load(lang) if po_path(lang).exists() else Catalog(locale=lang, project="verkstad")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write(catalog, po_path(lang))
        po_path(lang).with_suffix(".mo").write_bytes(compiled(lang))


def problems() -> list[str]:
    """Everything that makes the catalogues out of date with the code; empty when all is well."""
    wanted = {m.id for m in extract() if m.id}
    found: list[str] = []
    for lang in LANGUAGES:
        if not po_path(lang).exists():
            found.append(f"{lang}: no catalogue")
            continue
        catalog = load(lang)
        ids = {m.id for m in catalog if m.id}
        found += [f"{lang}: missing {i!r}" for i in sorted(map(str, wanted - ids))]
        found += [f"{lang}: unused {i!r}" for i in sorted(map(str, ids - wanted))]
        for m in catalog:
            if not m.id:
                continue
            if m.fuzzy:
                found.append(f"{lang}: fuzzy {m.id!r}")
            elif lang in MUST_TRANSLATE and not (
                m.string[0] if isinstance(m.string, tuple) else m.string
            ):
                found.append(f"{lang}: untranslated {m.id!r}")
        mo = po_path(lang).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled(lang):
            found.append(f"{lang}: verkstad.mo is not compiled from verkstad.po")
    return found


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
    issues = problems()
    print("\n".join(issues) or "catalogues are complete")
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
