"""Gettext for every user-visible string; Swedish is the default language.

Message ids are English. Catalogues live in the top-level ``locales/`` folder
(shipped inside the wheel as ``verkstad/locales``).
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

LANGUAGES = ("sv", "en", "nb", "fr")
DEFAULT_LANGUAGE = "sv"
_BABEL_LOCALES = {"sv": "sv_SE", "en": "en_GB", "nb": "nb_NO", "fr": "fr_FR"}

_current = DEFAULT_LANGUAGE
_translation: gettext.NullTranslations = gettext.NullTranslations()
# A document for a customer is written in the customer's language while staff (and the
# other threads of the app) keep theirs: the override is per thread and per task.
_override: ContextVar[tuple[str, gettext.NullTranslations] | None] = ContextVar(
    "verkstad_language", default=None
)


def locale_dir() -> Path:
    """The catalogue folder: inside the installed package, else the source tree's."""
    packaged = Path(__file__).parent / "locales"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "locales"


@functools.cache
def translation_for(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang``, looked up once per process (the CLI switches language at
    every invocation it runs)."""
    return gettext.translation("verkstad", localedir=locale_dir(), languages=[lang], fallback=True)


def set_language(lang: str) -> None:
    """Switch every later ``_()`` to ``lang`` (one of LANGUAGES)."""
    global _current, _translation
    if lang not in LANGUAGES:
        raise ValueError(lang)
    _current = lang
    _translation = translation_for(lang)


@contextmanager
def using_language(lang: str) -> Iterator[None]:
    """Within the block, ``_()`` and Babel formatting in this thread use ``lang``."""
    if lang not in LANGUAGES:
        raise ValueError(lang)
    token = _override.set((lang, translation_for(lang)))
    try:
        yield
    finally:
        _override.reset(token)


def current_language() -> str:
    override = _override.get()
    return override[0] if override else _current


def babel_locale(lang: str | None = None) -> str:
    """The Babel locale used to format numbers and dates for ``lang``."""
    return _BABEL_LOCALES[lang or current_language()]


def _active() -> gettext.NullTranslations:
    override = _override.get()
    return override[1] if override else _translation


def _(message: str) -> str:
    return _active().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _active().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction; translate it later with ``_()`` when shown."""
    return message


set_language(DEFAULT_LANGUAGE)
