"""Every key of the single BillingTable is built here and nowhere else.

See docs/data-model.md for the access patterns these keys serve.
"""

from __future__ import annotations

ACCOUNT = "ACCOUNT"


def api_key(key_id: str) -> dict[str, str]:
    """An API key lives in the account partition: GetItem by id, Query to list."""
    return {"pk": ACCOUNT, "sk": f"APIKEY#{key_id}"}


API_KEY_PREFIX = "APIKEY#"
