"""Gettext for every user-visible string; Swedish is the default language.

Message ids are English. Catalogues live in the top-level ``locales/`` folder
(shipped inside the wheel as ``verkstad/locales``).
"""

from __future__ import annotations

import gettext
from pathlib import Path

LANGUAGES = ("sv", "en", "nb", "fr")
DEFAULT_LANGUAGE = "sv"
_BABEL_LOCALES = {"sv": "sv_SE", "en": "en_GB", "nb": "nb_NO", "fr": "fr_FR"}

_current = DEFAULT_LANGUAGE
_translation: gettext.NullTranslations = gettext.NullTranslations()


def locale_dir() -> Path:
    """The catalogue folder: inside the installed package, else the source tree's."""
    packaged = Path(__file__).parent / "locales"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "locales"


def translation_for(lang: str) -> gettext.NullTranslations:
    return gettext.translation("verkstad", localedir=locale_dir(), languages=[lang], fallback=True)


def set_language(lang: str) -> None:
    """Switch every later ``_()`` to ``lang`` (one of LANGUAGES)."""
    global _current, _translation
    if lang not in LANGUAGES:
        raise ValueError(lang)
    _current = lang
    _translation = translation_for(lang)


def babel_locale(lang: str | None = None) -> str:
    """The Babel locale used to format numbers and dates for ``lang``."""
    return _BABEL_LOCALES[lang or _current]


def _(message: str) -> str:
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction; translate it later with ``_()`` when shown."""
    return message


set_language(DEFAULT_LANGUAGE)
