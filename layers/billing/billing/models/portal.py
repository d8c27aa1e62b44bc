"""The customer portal: a short-lived session scoped to one customer, opened by its URL.

The URL carries an unguessable token (``secrets.token_urlsafe(32)``, 256 bits); only its SHA-256 is
stored, so a copy of the table does not open anyone's portal. See docs/customers-portal.md.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

PORTAL_SESSION_ID_PREFIX = "bps_"


class PortalSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    """``bps_`` + 24 hex digits: names the session in logs and audit entries (not a secret)."""
    customer_id: str
    created_at: datetime
    expires_at: datetime
    """The link stops working at this instant (checked on every request; the item's TTL removes it
    some time later)."""
    return_url: str | None = None
    """Where "Back to {seller}" leads (the seller's own site)."""
    locale: str | None = None
    """Overrides the customer's language for this session."""
    created_by: str
    """The API key id that created the session."""
    csrf_token: str
    """The secret each form of the session carries (a hidden field), checked on every POST."""

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class SetupCheckout(BaseModel):
    """A Checkout Session in setup mode started from the portal to replace the payment method."""

    model_config = ConfigDict(frozen=True)

    checkout_session_id: str
    customer_id: str
    portal_session_id: str
    started_at: datetime
    applied_at: datetime | None = None
    """Set once the saved card became (or was refused as) the default."""
    payment_method: str | None = None
    outcome: str | None = None
    """``applied`` (the card is the default), ``superseded`` (a newer change of the payment method came
    first: the card stays attached but not default)."""
