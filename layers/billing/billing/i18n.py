"""Languages of what customers read: which locale a document is written in, and its translations.

* **Catalogs**: GNU gettext, maintained with Babel's tooling (``make i18n``: extract the marked
  strings of the templates and the Python code into ``locales/messages.pot``, update each
  ``locales/<lang>/LC_MESSAGES/messages.po``, compile the ``.mo`` files that ship in the layer).
  English is the source language: it has no catalog, the marked strings are the English text.
* **Marking strings**: in templates ``{{ _("Amount due") }}`` and, with values,
  ``{{ _("Due by %(date)s", date=invoice.due) }}`` (jinja2's i18n extension, new-style gettext:
  placeholders are named and escaped); in Python, functions take a ``gettext`` callable and call it
  as ``_("...")`` so ``pybabel extract`` finds the string.
* **Which locale**: ``document_locale`` picks the first of the customer's ``preferred_locales``
  (Stripe's field) whose language has a catalog, then the customer's ``locale``, then the seller's
  ``default_locale``, then English. The full tag is kept for formatting (``de_CH`` writes German
  with Swiss number formats); the language picks the catalog.

Babel is imported lazily: only functions that render documents pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel.support import NullTranslations

SOURCE_LANGUAGE = "en"
SUPPORTED_LANGUAGES = ("en", "sv", "de", "fr", "es", "ja")
"""Languages with a complete catalog (English is the source text itself)."""
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"

Gettext = Callable[..., str]


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here: it is stored in English (a tax's
    legal mention, say) and translated when a document prints it."""
    return message


def normalize_locale(tag: str) -> str | None:
    """A locale tag (``sv``, ``sv-SE``, ``de_CH``, ``zh-Hant-TW``) in Babel's form (``sv_SE``), or
    None when Babel does not know it (``xx``, ``english``)."""
    from babel.core import Locale, UnknownLocaleError

    text = str(tag or "").strip()
    if not text or len(text) > 35:
        return None
    try:
        return str(Locale.parse(text.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def language_of(locale: str) -> str:
    return locale.replace("-", "_").split("_", 1)[0].lower()


def is_supported(locale: str) -> bool:
    return language_of(locale) in SUPPORTED_LANGUAGES


def document_locale(
    preferred_locales: Iterable[str] = (),
    *,
    customer_locale: str | None = None,
    default_locale: str | None = None,
) -> str:
    """The locale a customer's documents are written in (see the module docstring)."""
    for candidate in (*preferred_locales, customer_locale, default_locale):
        if not candidate:
            continue
        normalized = normalize_locale(candidate)
        if normalized is not None and is_supported(normalized):
            return normalized
    return SOURCE_LANGUAGE


@lru_cache(maxsize=16)
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (English and unknown languages: the source text)."""
    from babel.support import NullTranslations, Translations

    language = language_of(language)
    if language == SOURCE_LANGUAGE or language not in SUPPORTED_LANGUAGES:
        return NullTranslations()
    mo = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.exists():  # a deployment fault: the catalog was not compiled into the layer
        raise FileNotFoundError(f"no compiled catalog for {language!r} at {mo}; run `make i18n`")
    with mo.open("rb") as handle:
        return Translations(handle, domain=DOMAIN)


def gettext_for(locale: str) -> Gettext:
    """``_`` for Python code: ``_("Paid on %(date)s", date=...)`` (named placeholders, like the
    templates' new-style gettext)."""
    catalog = translations(language_of(locale))

    def _(message: str, **values: object) -> str:
        text = str(catalog.gettext(message))
        return text % values if values else text

    return _
