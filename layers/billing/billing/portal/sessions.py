"""Portal session tokens, links and the checks every form of the portal passes. Pure: no I/O.

* **Token**: ``secrets.token_urlsafe(32)`` (256 bits, 43 characters) in the link's path; only its
  SHA-256 is stored. A slow hash adds nothing at 256 bits of entropy (as for API keys, D2).
* **CSRF**: the session's own random ``csrf_token`` travels in a hidden field of every form and is
  compared in constant time; an ``Origin`` (or, without one, a ``Referer``) that names another site
  is refused too. The pages send ``Referrer-Policy: same-origin`` so that browsers send the real
  ``Origin`` on the forms' POSTs (``no-referrer`` makes them send ``Origin: null``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from urllib.parse import urlsplit

from billing import i18n
from billing.errors import ValidationFailed
from billing.models.portal import PORTAL_SESSION_ID_PREFIX

TOKEN_BYTES = 32
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_URL_LENGTH = 2048
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_session_id() -> str:
    return PORTAL_SESSION_ID_PREFIX + secrets.token_hex(12)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_token(value: str) -> bool:
    """The shape of a token (anything else is not looked up)."""
    return bool(TOKEN_PATTERN.match(value))


def portal_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/p/{token}"


def check_return_url(value: str) -> str:
    """An ``https://`` URL, or ``http://`` on localhost (a developer's machine); nothing else: the
    portal links to it as "Back to {seller}", so it must not be ``javascript:`` or a relative path."""
    url = value.strip()
    problem = "return_url must be an https:// URL (http:// only on localhost), at most 2,048 characters"
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValidationFailed(problem, code="invalid_return_url", param="return_url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValidationFailed(problem, code="invalid_return_url", param="return_url") from None
    if not host or parts.username or parts.password:
        raise ValidationFailed(problem, code="invalid_return_url", param="return_url")
    if parts.scheme == "https" or (parts.scheme == "http" and _is_local(host)):
        return url
    raise ValidationFailed(problem, code="invalid_return_url", param="return_url")


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_locale(value: str) -> str:
    """A locale the portal is written in (``sv``, ``de-CH``, ``fr_FR``), normalized (``de_CH``)."""
    locale = i18n.normalize_locale(value)
    if locale is None or not i18n.is_supported(locale):
        raise ValidationFailed(
            f"{value!r}: the portal is written in {', '.join(i18n.SUPPORTED_LANGUAGES)} "
            "(a region may follow: de_CH, en_GB)",
            code="unknown_locale",
            param="locale",
        )
    return locale


def same_site(*, origin: str | None, referer: str | None, host: str | None, public_url: str | None) -> bool:
    """Whether a form POST comes from the portal's own pages: its ``Origin`` (or, without one, its
    ``Referer``) names the host the request was sent to, or the public URL's. Neither header: allowed
    (older clients send none; the CSRF token still decides)."""
    source = origin if origin is not None else referer
    if source is None:
        return True
    if source.strip() == "null":
        return False
    try:
        netloc = urlsplit(source.strip()).netloc.lower()
    except ValueError:
        return False
    allowed = {h.lower() for h in (host, urlsplit(public_url).netloc if public_url else None) if h}
    return bool(netloc) and netloc in allowed


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
